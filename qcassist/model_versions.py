"""The project's saved model versions: what each is and weighs on disk, and pruning the old ones.

Every ``train`` registers a version in the store and saves it in ``classifiers/VERSION/``.
The newest is the active one (``suggest`` and ``review`` use it). Pruning forgets a version
in the store first and only then removes its folder (renamed aside, then deleted): a crash
in between leaves a folder the store does not know — an orphan, harmless, which the next
prune removes — never a registered version without its files.

Kept whatever ``keep`` says: the active version, and any version that stored suggestions
still come from (the database refers to it; ``review`` and ``agree`` read those suggestions).
Decisions only record a version's name as history, so they do not keep it.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import QcaError
from .store import Store

MODELS_FOLDER = "classifiers"
ASIDE_PREFIX = ".pruned-"  # a folder being removed; left over only by a crash mid-removal
ORPHAN_GRACE_SECONDS = 15 * 60  # a train saves its folder before registering it: a newer orphan may be one in progress


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version, as ``models list`` shows it."""

    version: str
    created_at: str
    method: str  # "fast" (frozen encoder + classifier) or "finetuned"; manifests from before the choice are fast
    encoder: str
    units: int | None
    kappa: float | None  # the training's cross-validated kappa, if it had a classifier
    bytes: int | None  # None: the folder is missing
    active: bool
    suggestions: int  # stored suggestions from this version

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Orphan:
    """A folder under classifiers/ that no registered version owns (left by a killed train or prune)."""

    name: str
    bytes: int
    recent: bool  # modified in the last ORPHAN_GRACE_SECONDS: possibly a train still saving; prune leaves it

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class PruneReport:
    removed: list[str] = field(default_factory=list)  # versions forgotten and deleted
    orphans_removed: list[str] = field(default_factory=list)
    orphans_left: list[str] = field(default_factory=list)  # recent: perhaps a train still saving
    kept: dict[str, str] = field(default_factory=dict)  # version -> why it stays
    freed_bytes: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def list_versions(store: Store) -> list[ModelVersion]:
    """Every registered model version, newest (active) first."""
    per_version = store.suggestions_per_version()
    versions = []
    for n, (version, created_at, encoder, manifest) in enumerate(store.classifiers()):
        cv = manifest.get("cv") if isinstance(manifest.get("cv"), dict) else {}
        kappa = cv.get("kappa")
        folder = _folder(store, version)
        versions.append(ModelVersion(
            version=version, created_at=manifest.get("created_at") or created_at,
            method=str(manifest.get("method") or "fast"), encoder=encoder,
            units=manifest.get("units") if isinstance(manifest.get("units"), int) else None,
            kappa=float(kappa) if isinstance(kappa, (int, float)) and not isinstance(kappa, bool) else None,
            bytes=folder_bytes(folder) if folder else None, active=n == 0, suggestions=per_version.get(version, 0),
        ))
    return versions


def list_orphans(store: Store, *, now: float | None = None) -> list[Orphan]:
    """Folders under classifiers/ that the store does not know, by name."""
    root = store.directory / MODELS_FOLDER
    if not root.is_dir():
        return []
    known = store.classifier_versions()
    now = time.time() if now is None else now
    orphans = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and not entry.is_symlink() and entry.name not in known:
            recent = not entry.name.startswith(ASIDE_PREFIX) and now - _newest_mtime(entry) < ORPHAN_GRACE_SECONDS
            orphans.append(Orphan(entry.name, folder_bytes(entry) or 0, recent))
    return orphans


def plan_prune(store: Store, *, keep: int = 1) -> tuple[list[ModelVersion], dict[str, str]]:
    """Which versions a prune removes, and why each other one stays (nothing is changed)."""
    if keep < 1:
        raise QcaError(f"--keep must be at least 1 (the active model is always kept); got {keep}.")
    remove, kept = [], {}
    for n, model in enumerate(list_versions(store)):
        if model.active:
            kept[model.version] = "active (the newest; suggest and review use it)"
        elif n < keep:
            kept[model.version] = f"one of the {keep} newest (--keep {keep})"
        elif model.suggestions:
            kept[model.version] = (f"{model.suggestions} stored suggestion{'s' if model.suggestions != 1 else ''} "
                                   "come from it; 'qcassist suggest --all' replaces them")
        else:
            remove.append(model)
    return remove, kept


def prune(store: Store, *, keep: int = 1, now: float | None = None) -> PruneReport:
    """Remove all but the ``keep`` newest versions (never one that stored suggestions come from), and the orphans."""
    remove, kept = plan_prune(store, keep=keep)
    report = PruneReport(kept=kept)
    for model in remove:
        with store.transaction():
            if store.suggestions_per_version().get(model.version):  # a suggest ran since the plan: keep it
                report.kept[model.version] = "a suggest stored suggestions from it while pruning"
                continue
            store.remove_classifier(model.version)
        # forgotten first: from here on the folder is an orphan, whatever happens to this process
        folder = _folder(store, model.version)
        report.freed_bytes += _remove_folder(folder) if folder else 0
        report.removed.append(model.version)
    for orphan in list_orphans(store, now=now):
        if orphan.recent:
            report.orphans_left.append(orphan.name)
            continue
        report.freed_bytes += _remove_folder(store.directory / MODELS_FOLDER / orphan.name)
        report.orphans_removed.append(orphan.name)
    return report


def folder_bytes(path: Path) -> int | None:
    """Bytes of the regular files under ``path`` (links not followed); None if it is not a folder."""
    if not path.is_dir() or path.is_symlink():
        return None
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                info = os.lstat(os.path.join(root, name))
            except OSError:
                continue  # removed while we walked
            total += info.st_size if not os.path.islink(os.path.join(root, name)) else 0
    return total


def _remove_folder(path: Path) -> int:
    """Rename the folder aside (one atomic step), then delete it; the bytes it held (0 if it was gone)."""
    size = folder_bytes(path)
    if size is None:
        return 0
    aside = path if path.name.startswith(ASIDE_PREFIX) else path.with_name(ASIDE_PREFIX + path.name)
    try:
        if aside != path:
            if aside.exists():  # left by an earlier removal of the same name that crashed
                shutil.rmtree(aside)
            os.replace(path, aside)
        shutil.rmtree(aside)
    except OSError as exc:
        raise QcaError(f"{path}: could not remove it ({exc.strerror or exc}); the store no longer uses it, "
                       "so 'qcassist models prune' can be run again, or the folder deleted by hand.") from None
    return size


def _folder(store: Store, version: str) -> Path | None:
    """The version's folder; None for a name that is not one plain folder name (a tampered registry row)."""
    if not version or version in (".", "..") or Path(version).name != version or "\\" in version:
        return None
    return store.directory / MODELS_FOLDER / version


def _newest_mtime(path: Path) -> float:
    newest = path.stat().st_mtime
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
            except OSError:
                continue
    return newest
