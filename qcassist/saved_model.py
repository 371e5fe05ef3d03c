"""Reading a saved model's files defensively: a model folder may come from someone else.

``arrays.npz`` is a zip of ``.npy`` members. Each member's header (shape, dtype) is read
and checked before its data: a tampered header could declare tens of GiB and numpy
allocates what the header says before reading a byte. Then the arrays are checked
against each other and the manifest (shapes, dtypes, finite values), so a broken model
is one sentence naming the file instead of a traceback or a silent p = 0.5.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from .errors import QcaError

MAX_MANIFEST_BYTES = 256 * 1024 * 1024
MAX_MEMBER_BYTES = 4 * 1024**3  # far above any model qcassist trains (AnnoMI: ~30 MB)
RETRAIN = "retrain with 'qcassist train'"


class ModelError(QcaError):
    """No model, or a model that does not fit this project's data, or a saved model's file that is broken."""


def fail(path: Path, problem: str) -> ModelError:
    return ModelError(f"{path}: {problem}; {RETRAIN}.")


def read_manifest(path: Path) -> dict:
    """The manifest as a dict, or ModelError."""
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise fail(path, f"larger than {MAX_MANIFEST_BYTES // 1024**2} MiB")
        document = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise fail(path, "missing") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise fail(path, f"not a readable manifest ({type(exc).__name__})") from None
    if not isinstance(document, dict):
        raise fail(path, "not a JSON object")
    return document


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every member of the .npz, after checking its header: plain numeric dtype, declared size = stored size."""
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = {}
            for info in archive.infolist():
                name = info.filename.removesuffix(".npy")
                with archive.open(info) as member:
                    arrays[name] = _read_member(path, name, member, info.file_size)
            return arrays
    except FileNotFoundError:
        raise fail(path, "missing") from None
    except ModelError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise fail(path, f"not a readable array archive ({type(exc).__name__}: {exc})") from None


_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _read_member(path: Path, name: str, member, stored_size: int) -> np.ndarray:
    version = np.lib.format.read_magic(member)
    if version not in _HEADER_READERS:
        raise fail(path, f"array {name!r} has an unknown .npy format version {version}")
    shape, fortran, dtype = _HEADER_READERS[version](member)
    if dtype.kind not in "fiub" or dtype.hasobject:
        raise fail(path, f"array {name!r} has dtype {dtype}, not a plain number type")
    declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize  # float: a forged shape must not overflow
    available = stored_size - member.tell()
    if declared > MAX_MEMBER_BYTES or declared != available:
        raise fail(path, f"array {name!r} declares shape {shape} ({declared:,} bytes) but holds {max(available, 0):,} bytes")
    data = member.read(declared + 1)
    if len(data) != declared:
        raise fail(path, f"array {name!r} is truncated ({len(data):,} of {declared:,} bytes)")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()


# --- the arrays against each other and the manifest ---------------------------------


def check_model(directory: Path, document: dict, arrays: dict[str, np.ndarray]) -> None:
    """ModelError unless the manifest and arrays make one consistent model (shapes, dtypes, finite values)."""
    manifest, npz = directory / "manifest.json", directory / "arrays.npz"
    lists = {key: document.get(key) for key in ("codes", "exemplar_codes", "description_codes", "all_codes")}
    for key, value in lists.items():
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise fail(manifest, f"{key!r} is not a list of code names")
    if not set(lists["codes"]) | set(lists["exemplar_codes"]) <= set(lists["all_codes"]):
        raise fail(manifest, "'codes' and 'exemplar_codes' must be among 'all_codes'")
    width = _feature_width(manifest, npz, document.get("features"), arrays)

    def need(name: str, kinds: str, shape: tuple) -> np.ndarray:
        if name not in arrays:
            raise fail(npz, f"array {name!r} is missing")
        array = arrays[name]
        if array.dtype.kind not in kinds:
            raise fail(npz, f"array {name!r} has dtype {array.dtype}")
        if len(array.shape) != len(shape) or any(want is not None and got != want for got, want in zip(array.shape, shape)):
            raise fail(npz, f"array {name!r} has shape {array.shape}, expected {tuple('n' if s is None else s for s in shape)}")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise fail(npz, f"array {name!r} holds NaN or infinite values")
        return array

    vectors = need("exemplar_vectors", "f", (None, None))
    n, dimension = vectors.shape
    need("exemplar_unit_ids", "iu", (n,))
    labels = need("exemplar_labels", "iub", (n, len(lists["all_codes"])))
    if not np.isin(labels, (0, 1)).all():
        raise fail(npz, "array 'exemplar_labels' holds values other than 0 and 1")
    need("description_vectors", "f", (len(lists["description_codes"]), dimension))
    meta = document.get("classifier")
    if meta is None:
        return
    if not isinstance(meta, dict) or not isinstance(meta.get("exclusive"), bool):
        raise fail(manifest, "'classifier' is not a classifier description")
    k = len(lists["codes"])
    total = width["fixed"] + (dimension if width["embedding"] else 0)
    need("classifier_coef", "f", (k, total))
    need("classifier_intercept", "f", (k,))
    platt = need("classifier_platt", "f", (k, 2))
    thresholds = need("classifier_thresholds", "f", (k,))
    if ((thresholds < 0) | (thresholds > 1)).any():
        raise fail(npz, "array 'classifier_thresholds' holds values outside 0..1")
    temperature = meta.get("temperature")
    if not isinstance(temperature, (int, float)) or not np.isfinite(temperature) or temperature <= 0:
        raise fail(manifest, f"classifier temperature {temperature!r} is not a positive number")
    if not meta["exclusive"] and (platt[:, 0] == 0).any():
        # a zero slope makes every unit's probability the same (all zeros: p = 0.5 everywhere)
        raise fail(npz, "array 'classifier_platt' has a zero calibration slope")


def _feature_width(manifest: Path, npz: Path, meta, arrays: dict[str, np.ndarray]) -> dict:
    """Width of the feature blocks besides the embedding, from the vocabularies; checks each vocabulary against its idf."""
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise fail(manifest, "'features' is not a feature description")
    config = meta["config"]
    fixed = 8 if config.get("cues", True) else 0
    for name, factor in (("words", 1), ("chars", 1), ("context", 2)):
        vocabulary = meta.get(f"{name}_vocabulary")
        if vocabulary is None:
            continue
        idf = arrays.get(f"features_{name}_idf")
        if not isinstance(vocabulary, dict) or idf is None or idf.shape != (len(vocabulary),) or idf.dtype.kind != "f":
            raise fail(npz, f"the {name} vocabulary and its idf array 'features_{name}_idf' do not match")
        indices = list(vocabulary.values())
        if not all(type(i) is int for i in indices) or sorted(indices) != list(range(len(indices))):
            raise fail(manifest, f"the {name} vocabulary's indices are not 0..{len(indices) - 1}")
        if not np.isfinite(idf).all():
            raise fail(npz, f"array 'features_{name}_idf' holds NaN or infinite values")
        fixed += factor * len(vocabulary)
    return {"fixed": fixed, "embedding": bool(config.get("embedding", True))}
