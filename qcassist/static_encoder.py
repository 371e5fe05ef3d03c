"""The static encoder: a model2vec embedding distilled from the packaged all-MiniLM-L6-v2, for large corpora.

A static model keeps one vector per token (MiniLM's output for that token alone, reduced by
PCA and weighted by token frequency) and encodes a text as the mean of its tokens' vectors:
no transformer runs at encoding time, so it encodes about a hundred times faster than MiniLM
at a cost in kappa (benchmarks/README.md, "The static encoder").

It is distilled on first use, offline, from the packaged model files, and kept in the user
cache (``$XDG_CACHE_HOME/qcassist/static``, else ``~/.cache/qcassist/static``) rather than in
each project: it depends only on the packaged model, so every project on the machine shares
one distillation instead of spending a minute on it per project. Its files are listed with
their sha256 in ``qcassist-static.json``, verified on every load; the encoder id carries the
vectors' checksum, so a model trained on one distillation is never used with another.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .embed import EncoderError, _verify, encoder_manifest, normalize_rows, packaged_model_dir, sha256_file
from .errors import OS_REASONS, warn_user

STATIC_ENCODER = "static"
PCA_DIMS = 256  # model2vec's default; MiniLM's own width is 384
MANIFEST = "qcassist-static.json"
# what model2vec's save_pretrained writes that the encoder needs (README.md and modules.json are not read)
CHECKED_FILES = ("model.safetensors", "tokenizer.json", "config.json")


def static_cache_root() -> Path:
    """Where distilled static encoders are kept: the user cache, as XDG says."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qcassist" / "static"


def default_source() -> tuple[Path, str]:
    """The packaged MiniLM's directory and a short fingerprint of its weights (checksums verified)."""
    directory, entry = packaged_model_dir()
    return directory, f"{encoder_manifest()['default']}-{entry['sha256']['model.safetensors'][:12]}"


class StaticEncoder:
    """model2vec static embeddings distilled from a local sentence-transformers model (the packaged MiniLM by default)."""

    def __init__(self, *, source: Path | None = None, cache_root: Path | None = None, pca_dims: int = PCA_DIMS):
        self.source = source
        self.cache_root = cache_root
        self.pca_dims = pca_dims
        self._model = None
        self._id: str | None = None

    @property
    def id(self) -> str:
        if self._id is None:
            self._load()
        return self._id

    def directory(self) -> Path:
        """The folder this encoder's distillation lives in (it may not exist yet)."""
        _, name = self._source()
        return (self.cache_root or static_cache_root()) / f"{name}-pca{self.pca_dims}"

    def _source(self) -> tuple[Path, str]:
        if self.source is None:
            return default_source()
        source = Path(self.source)
        return source, f"{source.resolve().name}-{sha256_file(source / 'model.safetensors')[:12]}"

    def _load(self):
        if self._model is None:
            directory = self.directory()
            if not (directory / MANIFEST).exists():
                distil_into(directory, self._source()[0], self.pca_dims)
            self._model, checksum = _loaded(directory)
            self._id = f"static-m2v-pca{self.pca_dims}@sha256:{checksum[:16]}"
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        # the threads model2vec starts past 10,000 texts only compete with ours on a busy machine
        vectors = self._load().encode(list(texts), use_multiprocessing=False, show_progress_bar=False)
        return normalize_rows(vectors)


# Loaded static models by folder: project_encoder makes a new StaticEncoder per call.
_LOADED: dict[str, tuple[object, str]] = {}


def _loaded(directory: Path) -> tuple[object, str]:
    """The StaticModel in ``directory`` and its vectors' sha256, every listed file verified first."""
    manifest = _read_manifest(directory)
    for name, expected in manifest["sha256"].items():
        try:
            _verify(directory / name, expected)
        except EncoderError:
            raise EncoderError(
                f"{directory / name}: sha256 does not match {MANIFEST} ({expected[:12]}…); the static encoder is corrupt "
                f"or was changed. Delete {directory} and it is distilled again on next use."
            ) from None
    checksum = manifest["sha256"]["model.safetensors"]
    key = str(directory)
    if key not in _LOADED or _LOADED[key][1] != checksum:
        StaticModel = _model2vec().StaticModel
        _LOADED[key] = (StaticModel.from_pretrained(str(directory)), checksum)
    return _LOADED[key]


def _read_manifest(directory: Path) -> dict:
    try:
        manifest = json.loads((directory / MANIFEST).read_text("utf-8"))
        if sorted(manifest["sha256"]) != sorted(CHECKED_FILES):
            raise ValueError(f"it lists {sorted(manifest['sha256'])}, not {sorted(CHECKED_FILES)}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EncoderError(f"{directory / MANIFEST}: unreadable ({exc}); delete {directory} and it is distilled again.") from None
    return manifest


def distil_into(directory: Path, source: Path, pca_dims: int) -> None:
    """Distil ``source`` into ``directory`` through a temporary folder renamed into place.

    Two commands distilling at once each write their own folder; the first rename wins and the
    other's folder is dropped, so no reader ever sees a half-written encoder.
    """
    warn_user(f"distilling the static encoder {directory.name} into {directory.parent} (once; about a minute).")
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".partial", dir=directory.parent))
    except OSError as exc:
        raise EncoderError(f"{directory.parent}: cannot make the static encoder's folder ({_reason(exc)}).") from None
    try:
        _distil(source, pca_dims).save_pretrained(str(partial))
        sums = {name: sha256_file(partial / name) for name in CHECKED_FILES}
        (partial / MANIFEST).write_text(json.dumps({"source": str(source), "pca_dims": pca_dims, "sha256": sums,
                                                    "model2vec": _model2vec_version()}, indent=1), "utf-8")
        if directory.exists() and not (directory / MANIFEST).exists():
            shutil.rmtree(directory)  # not ours (our folders arrive whole): e.g. one whose manifest was deleted
        try:
            os.rename(partial, directory)
        except OSError:
            if not (directory / MANIFEST).exists():  # not "another command was first"
                raise
    except OSError as exc:
        raise EncoderError(f"{directory}: cannot save the static encoder ({_reason(exc)}); nothing was saved.") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _distil(source: Path, pca_dims: int):
    """model2vec's distillation of a local model, with the hubs and its progress bar off."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # interview data are sensitive: no hub, as for the default encoder
    os.environ.setdefault("TRANSFORMERS_OFFLINE", os.environ["HF_HUB_OFFLINE"])
    _model2vec()
    from model2vec.distill import distill

    with _quiet_progress():
        return distill(model_name=str(source), pca_dims=pca_dims, device="cpu")


def _model2vec():
    try:
        import model2vec
        import skeletoken  # noqa: F401  (model2vec's distillation needs it)
    except ImportError as exc:
        raise EncoderError(f"--encoder static needs model2vec and skeletoken ({exc}); "
                           "pip install 'model2vec>=0.10,<0.11' 'skeletoken>=0.6,<0.7'.") from None
    return model2vec


@contextmanager
def _quiet_progress():
    """model2vec's progress bar and notices off while it works: our CLI owns the terminal."""
    import io
    import logging
    from contextlib import redirect_stderr

    loggers = [logging.getLogger(name) for name in ("model2vec", "skeletoken")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with redirect_stderr(io.StringIO()):  # tqdm writes to the sys.stderr of the moment
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _model2vec_version() -> str:
    from importlib import metadata

    return metadata.version("model2vec")


def _reason(exc: OSError) -> str:
    return OS_REASONS.get(exc.errno, exc.strerror or str(exc))

