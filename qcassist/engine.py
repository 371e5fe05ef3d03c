"""Encoding on a Dask cluster: workers encode batches of texts, this process keeps the vectors.

The coordinator (the qcassist command) sends each worker a spec of the encoder, not the
model: a worker plugin (``engine_worker``) rebuilds it there once per worker process, also on
a worker that joins or restarts later. Batches of texts go out as tasks; float32 vectors come
back and the coordinator commits each batch to the project's embedding cache (the same table
``CachedEncoder`` reads) as it arrives. The command then runs its ordinary local path, which
finds every vector in the cache, so the units and suggestions it writes are those of a run
without the engine.

Crash safety follows from that: a killed worker's batch is run again by the scheduler on
another worker (Dask reschedules the tasks of a lost worker); a killed coordinator leaves the
batches committed so far in the cache, and a re-run sends only the texts still missing.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import import_module

import numpy as np

from .embed import CachedEncoder, Encoder, SentenceTransformerEncoder, TfidfEncoder
from .errors import QcaError

ENGINES = ("local", "dask")
LOOKUP_CHUNK = 500  # SQLite's limit on bound parameters is 999 in old builds


class EngineError(QcaError):
    """A cluster that cannot be reached or used, or an encoder a worker cannot rebuild."""


@dataclass(frozen=True)
class EngineOptions:
    """Where and how to encode: an existing scheduler's address, or a local cluster of ``workers`` processes."""

    scheduler: str | None = None
    workers: int = 2
    batch_size: int = 256
    in_flight_per_worker: int = 4  # batches queued per worker thread: keeps workers busy, memory bounded
    connect_timeout: float = 30.0


@dataclass(frozen=True)
class EncoderSpec:
    """What a worker needs to rebuild an encoder: its kind, a name or state, and the id it must have.

    kinds: ``sentence-transformers`` (``model``: 'default', a model name or a path the workers can
    read), ``tfidf`` (``state``: the fitted arrays), ``factory`` (``model``: 'module:callable'
    called with ``state`` as keyword arguments, for an encoder of your own).
    """

    kind: str
    id: str
    model: str | None = None
    state: dict = field(default_factory=dict)


@dataclass
class EngineReport:
    texts: int = 0  # distinct texts asked for
    cached: int = 0  # already in the embedding cache: not sent
    encoded: int = 0  # encoded by the workers and committed
    batches: int = 0  # batches sent
    committed_batches: int = 0
    workers: int = 0  # workers the scheduler had at the start
    seconds: float = 0.0
    setup_seconds: float = 0.0  # of those: connecting (or starting a local cluster) and loading the encoder

    def as_dict(self) -> dict:
        return dict(self.__dict__)


# --- encoder specs ----------------------------------------------------------------------


def encoder_spec(encoder: Encoder) -> EncoderSpec:
    """The spec a worker rebuilds ``encoder`` from; EngineError for an encoder that has none."""
    if isinstance(encoder, CachedEncoder):
        encoder = encoder.encoder
    if isinstance(encoder, SentenceTransformerEncoder):
        return EncoderSpec("sentence-transformers", encoder.id, model=encoder.model)
    if isinstance(encoder, TfidfEncoder):
        state = {"dimension": encoder.dimension, "vocabulary": encoder.vocabulary_, "idf": encoder.idf_,
                 "components": encoder.components_}
        return EncoderSpec("tfidf", encoder.id, state=state)
    own = getattr(encoder, "engine_spec", None)
    if callable(own):
        return own()
    raise EngineError(f"the encoder {getattr(encoder, 'id', type(encoder).__name__)!r} cannot be rebuilt on a Dask "
                      "worker; use 'default', 'tfidf' or a sentence-transformers model, or give it an engine_spec() method.")


def build_encoder(spec: EncoderSpec) -> Encoder:
    """Rebuild the encoder a spec names (in a worker) and check it is the coordinator's, by id."""
    if spec.kind == "sentence-transformers":
        encoder: Encoder = SentenceTransformerEncoder(spec.model)
    elif spec.kind == "tfidf":
        encoder = TfidfEncoder(dimension=spec.state["dimension"])
        encoder.vocabulary_, encoder.idf_, encoder.components_ = (
            spec.state["vocabulary"], spec.state["idf"], spec.state["components"])
    elif spec.kind == "factory":
        module, _, name = (spec.model or "").partition(":")
        encoder = getattr(import_module(module), name)(**spec.state)
    else:
        raise EngineError(f"unknown encoder kind {spec.kind!r} in an engine spec (known: sentence-transformers, tfidf, factory).")
    if encoder.id != spec.id:
        # a worker on another machine may hold another version of the model: its vectors must not enter the cache
        raise EngineError(f"a worker rebuilt the encoder as {encoder.id}, not {spec.id}; install the same model "
                          "on every worker.")
    return encoder


# --- the coordinator ----------------------------------------------------------------------


def encode_with_engine(
    cached: CachedEncoder,
    texts: Iterable[str],
    *,
    options: EngineOptions = EngineOptions(),
    on_batch: Callable[[EngineReport], None] | None = None,
) -> EngineReport:
    """Encode on the cluster the texts the embedding cache lacks, committing each batch as it arrives.

    ``on_batch`` is called after each commit (progress; tests stop the coordinator there).
    """
    started = time.perf_counter()
    unique = list(dict.fromkeys(texts))
    spec = encoder_spec(cached)
    # texts of like length share a batch: less padding for a transformer (sentence-transformers sorts within a call)
    missing = sorted(_missing(cached, spec.id, unique), key=len)
    report = EngineReport(texts=len(unique), cached=len(unique) - len(missing))
    batches = [missing[i : i + options.batch_size] for i in range(0, len(missing), options.batch_size)]
    report.batches = len(batches)
    if batches:
        with _connected(options) as client, _encoder_on_workers(client, spec):
            threads = client.nthreads()  # worker address -> threads
            report.workers = len(threads)
            report.setup_seconds = time.perf_counter() - started
            window = max(1, sum(threads.values()) * options.in_flight_per_worker)
            for batch, vectors in _encoded(client, spec.id, batches, window):
                _commit(cached, spec.id, batch, vectors)
                report.encoded += len(batch)
                report.committed_batches += 1
                if on_batch:
                    on_batch(report)
    report.seconds = time.perf_counter() - started
    return report


def _encoded(client, encoder_id: str, batches: list[list[str]], window: int) -> Iterator[tuple[list[str], np.ndarray]]:
    """(batch, vectors) in the order they finish, with at most ``window`` batches submitted at a time."""
    from distributed import as_completed

    from .engine_worker import encode_batch

    def submit(index: int):
        batch = batches[index]
        key = f"qcassist-encode-{_batch_token(encoder_id, batch)}"
        return client.submit(encode_batch, encoder_id, batch, key=key, pure=False)

    queued = iter(range(len(batches)))
    futures = {}
    running = as_completed(loop=client.loop)
    for index in _take(queued, window):
        future = submit(index)
        futures[future.key] = index
        running.add(future)
    for future in running:
        index = futures.pop(future.key)
        vectors = future.result()
        future.release()
        yield batches[index], _checked(vectors, len(batches[index]))
        for following in _take(queued, 1):
            nxt = submit(following)
            futures[nxt.key] = following
            running.add(nxt)


def _take(iterator: Iterator[int], n: int) -> list[int]:
    return [i for _, i in zip(range(n), iterator)]


def _batch_token(encoder_id: str, batch: Sequence[str]) -> str:
    digest = hashlib.sha256(encoder_id.encode())
    for text in batch:
        digest.update(_text_key(text))
    return digest.hexdigest()[:24]


def _checked(vectors, rows: int) -> np.ndarray:
    vectors = np.asarray(vectors)
    if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[0] != rows or not np.isfinite(vectors).all():
        raise EngineError(f"a worker returned {vectors.dtype} vectors of shape {vectors.shape} for {rows} texts; "
                          "expected finite float32 rows, one per text.")
    return vectors


# --- the embedding cache (the table CachedEncoder reads) ------------------------------------


def _text_key(text: str) -> bytes:
    """The cache key of a text: the same digest CachedEncoder.encode uses."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _missing(cached: CachedEncoder, encoder_id: str, texts: list[str]) -> list[str]:
    """The texts whose vectors the cache does not hold, in their order."""
    keys = [_text_key(t) for t in texts]
    known: set[bytes] = set()
    try:
        db = cached._connect()
        try:
            for i in range(0, len(keys), LOOKUP_CHUNK):
                chunk = keys[i : i + LOOKUP_CHUNK]
                rows = db.execute(f"SELECT text_sha256 FROM embeddings WHERE encoder = ? AND text_sha256 IN "
                                  f"({','.join('?' * len(chunk))})", [encoder_id, *chunk])
                known.update(key for (key,) in rows)
        finally:
            db.close()
    except (sqlite3.Error, OSError) as exc:
        raise _cache_error(cached, exc) from None
    return [t for t, k in zip(texts, keys) if k not in known]


def _commit(cached: CachedEncoder, encoder_id: str, batch: list[str], vectors: np.ndarray) -> None:
    """One batch's vectors into the cache in one transaction: all of the batch or none of it."""
    rows = [(encoder_id, _text_key(t), v.tobytes()) for t, v in zip(batch, vectors)]
    try:
        db = cached._connect()
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)
        finally:
            db.close()
    except (sqlite3.Error, OSError) as exc:
        raise _cache_error(cached, exc) from None


def _cache_error(cached: CachedEncoder, exc: Exception) -> EngineError:
    return EngineError(f"{cached.cache_path}: the embedding cache cannot be used ({exc}); the engine keeps its "
                       "vectors there. Free the disk or fix the folder's permissions and run the command again.")


# --- the cluster ----------------------------------------------------------------------------


@contextmanager
def _connected(options: EngineOptions):
    """A client of the scheduler at ``options.scheduler``, or of a local cluster started (and closed) here."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise EngineError("--engine dask needs the 'distributed' package: pip install 'distributed' "
                          "(scripts/setup.sh installs it).") from None
    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout=options.connect_timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise EngineError(f"cannot reach the Dask scheduler at {options.scheduler} ({exc}); start one with "
                              "'dask scheduler', or leave out --scheduler to start a local cluster.") from None
        with client:
            _wait_for_workers(client, options)
            yield client
        return
    # local workers are separate processes (the encoders hold the GIL), one thread each, on the loopback only
    with warnings.catch_warnings():  # "Port 8787 is already in use": its status page then takes another port
        warnings.simplefilter("ignore", UserWarning)
        cluster = LocalCluster(n_workers=options.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR)
    with cluster, Client(cluster, set_as_default=False) as client:
        _wait_for_workers(client, options)
        yield client


def _wait_for_workers(client, options: EngineOptions) -> None:
    try:
        client.wait_for_workers(1, timeout=options.connect_timeout)
    except TimeoutError:
        raise EngineError(f"the Dask scheduler {client.scheduler.address} has no workers after "
                          f"{options.connect_timeout:g} s; start some with 'dask worker ADDRESS'.") from None


@contextmanager
def _encoder_on_workers(client, spec: EncoderSpec):
    """The encoder loaded once in every worker (also those that join later), removed again afterwards."""
    from .engine_worker import EncoderPlugin

    name = f"qcassist-encoder-{hashlib.sha256(spec.id.encode()).hexdigest()[:16]}"
    try:
        client.register_plugin(EncoderPlugin(spec), name=name)  # raises what a worker's setup raised
        yield
    finally:
        try:
            client.unregister_worker_plugin(name)
        except Exception:  # the cluster may be going down with us; the plugin only holds memory
            pass


# --- what the commands encode ----------------------------------------------------------------


def encode_sentences_with_engine(cached: CachedEncoder, transcripts: Iterable, segment_options, *,
                                 options: EngineOptions = EngineOptions()) -> EngineReport:
    """Encode on the cluster every sentence cohesive segmentation will compare (the project's centre
    is the mean over all transcripts' sentences, so all of them), ahead of the local segmentation."""
    from .segment import load_nlp, unit_sentences

    nlp = load_nlp(segment_options.language, segment_options.spacy_model)
    return encode_with_engine(cached, (s for t in transcripts for s in unit_sentences(t, segment_options, nlp)),
                              options=options)
