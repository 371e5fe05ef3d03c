"""Codebook maintenance as the codebook matures: rename, merge, remove and move codes.

Each edit is checked first and then made in one transaction, so a refused edit leaves
the project as it was. What was made with a code goes with it: codings, suggestions,
condensates and child codes (see ``Store.merge_code_rows``). Review decisions keep the
names they were recorded with; the edit is appended to the codebook's change log and
decisions are read through it (``store_codebook``), so a rejection of a renamed or
merged code still counts as a negative of the code it became.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from .codebook import did_you_mean, tree_order
from .errors import ConflictError, QcaError
from .model import Code, Codebook
from .store import Store, now


@dataclass
class CodebookEdit:
    """What one edit did, for the command's summary."""

    change: str
    codes: tuple[str, ...]
    into: str | None = None
    codings_moved: int = 0
    codings_merged: int = 0  # a unit's coding of the source that the target already had, kept once
    codings_dropped: int = 0
    suggestions: int = 0
    decisions: int = 0  # decisions that now read the new name (their rows keep the old one)
    children_moved: tuple[str, ...] = ()
    stale_model: str | None = None  # the latest model predates the edit: train again before suggesting

    def as_dict(self) -> dict:
        return asdict(self)


def rename_code(store: Store, old: str, new: str) -> CodebookEdit:
    """Give a code (or group) a new name; everything made with it follows."""
    book = store.codebook()
    _known(book, old)
    new = _new_name(new)
    if new == old:
        raise QcaError(f"{old!r} already has that name.")
    if book.get(new) is not None:
        raise ConflictError(
            f"a code {new!r} already exists; to fold {old!r} into it run 'qcassist codebook merge {_arg(old)} --into {_arg(new)}'."
        )
    usage = store.code_usage(old)
    with store.transaction():
        store.rename_code_rows(old, new)
        store.log_code_change({"change": "rename", "code": old, "into": new, "at": now()})
    return CodebookEdit("rename", (old,), new, codings_moved=usage["codings"], suggestions=usage["suggestions"],
                        decisions=usage["decisions"], stale_model=_stale_model(store, {old}))


def merge_codes(store: Store, sources: Sequence[str], into: str) -> CodebookEdit:
    """Fold ``sources`` into ``into``: their codings, suggestions, condensates and child codes move, then they go.

    ``into`` may sit under another parent. A unit coded with both by one coder keeps one
    coding, so an exclusive codebook stays one code per unit wherever the two were the
    only codes on it.
    """
    book = store.codebook()
    sources = tuple(dict.fromkeys(sources))
    if not sources:
        raise QcaError(f"name at least one code to merge into {into!r}.")
    for source in sources:
        _known(book, source)
    if book.get(into) is None and book.codes:
        raise QcaError(
            f"unknown code {into!r}.{did_you_mean(into, [c.name for c in book.codes])} To merge into a new code, "
            f"rename one of them first: 'qcassist codebook rename {_arg(sources[0])} {_arg(into)}'."
        )
    for source in sources:
        if source == into:
            raise QcaError(f"cannot merge {into!r} into itself.")
        if source in book.path(into):
            raise QcaError(f"cannot merge {source!r} into {into!r}, which sits under it; move {into!r} out first "
                           f"('qcassist codebook move {_arg(into)} --top').")
    usage = {source: store.code_usage(source) for source in sources}
    _check_merge_levels(store, book, sources, into, usage)
    edit = CodebookEdit("merge", sources, into)
    with store.transaction():
        for source in sources:
            edit.children_moved += tuple(c.name for c in book.children(source))
            counts = store.merge_code_rows(source, into)
            edit.codings_moved += counts["codings_moved"]
            edit.codings_merged += counts["codings_merged"]
            edit.suggestions += counts["suggestions"]
            edit.decisions += usage[source]["decisions"]
        store.log_code_change({"change": "merge", "codes": list(sources), "into": into, "at": now()})
    # with codes moved under it, the target is a group now, no longer a code to assign
    edit.stale_model = _stale_model(store, set(sources) | ({into} if edit.children_moved else set()))
    return edit


def remove_code(store: Store, name: str, *, drop_codings: bool = False) -> CodebookEdit:
    """Remove a code with its suggestions; one with codings only with ``drop_codings``, a group only when empty."""
    book = store.codebook()
    _known(book, name)
    children = book.children(name)
    if children:
        raise QcaError(
            f"{name!r} holds {len(children)} codes ({', '.join(c.name for c in children)}); move them elsewhere "
            f"('qcassist codebook move CODE --under GROUP') or remove them first."
        )
    usage = store.code_usage(name)
    if usage["codings"] and not drop_codings:
        raise ConflictError(
            f"{name!r} has {_codings(usage['codings'])}; pass --drop-codings to delete them with the code, "
            f"or merge it into another code ('qcassist codebook merge {_arg(name)} --into CODE')."
        )
    with store.transaction():
        counts = store.delete_code_rows(name)
        store.log_code_change({"change": "remove", "code": name, "at": now()})
    return CodebookEdit("remove", (name,), codings_dropped=counts["codings_dropped"], suggestions=counts["suggestions"],
                        decisions=usage["decisions"], stale_model=_stale_model(store, {name}))


def move_code(store: Store, name: str, *, under: str | None) -> CodebookEdit:
    """Put a code (with its subtree) under another group, or at the top (``under=None``), as its last child."""
    book = store.codebook()
    code = _known(book, name)
    if under is not None:
        _known(book, under)
        if name in book.path(under):
            what = "itself" if under == name else f"{under!r}, which sits under it"
            raise QcaError(f"cannot move {name!r} under {what}.")
        if book.get(under) in book.leaves:
            coded = store.code_usage(under)["codings"]
            if coded:
                raise QcaError(f"{under!r} has {_codings(coded)}; a code with codings cannot hold other codes.")
    if code.parent == under:
        raise QcaError(f"{name!r} is already {'under ' + repr(under) if under else 'at the top'}.")
    moved = Code(code.name, under, code.description)
    others = tuple(c for c in book.codes if c.name != name)
    with store.transaction():
        store.save_codebook(Codebook(tree_order(others + (moved,)), book.exclusive))
        store.log_code_change({"change": "move", "code": name, "from": code.parent, "into": under, "at": now()})
    # a code that now holds others is no longer one to assign
    return CodebookEdit("move", (name,), under, stale_model=_stale_model(store, {under}) if under else None)


def _check_merge_levels(store: Store, book: Codebook, sources: Sequence[str], into: str, usage: dict) -> None:
    """Codings stay on codes without codes under them: refuse a merge that would break that."""
    groups = [s for s in sources if book.children(s)]
    coded = [s for s in sources if usage[s]["codings"]]
    if book.get(into) in book.leaves:
        if groups and store.code_usage(into)["codings"]:
            raise QcaError(f"{groups[0]!r} holds codes and {into!r} has codings; a code with codings cannot hold "
                           f"other codes. Merge {groups[0]!r}'s codes one by one, or move them first.")
        if groups and coded:
            raise QcaError(f"{groups[0]!r} holds codes and {coded[0]!r} has codings; merge them separately.")
    elif coded:
        raise QcaError(f"{into!r} is a group; {coded[0]!r} has {_codings(usage[coded[0]]['codings'])}, which belong on "
                       f"a code. Merge into one of the codes under {into!r}, or move {coded[0]!r} under it instead.")


def _known(book: Codebook, name: str) -> Code:
    code = book.get(name)
    if code is None:
        if not book.codes:
            raise QcaError("the project has no codebook; run 'qcassist codebook import FILE' first.")
        raise QcaError(f"unknown code {name!r}.{did_you_mean(name, [c.name for c in book.codes])}")
    return code


def _new_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise QcaError("a code needs a name; the new name is empty.")
    if "\n" in name or "\r" in name:
        raise QcaError(f"code name {name!r} spans several lines; a code name is one line.")
    return name


def _codings(n: int) -> str:
    return f"{n} coding{'' if n == 1 else 's'}"


def _arg(name: str) -> str:
    """A code name as the user would type it in a shell."""
    return name if name.replace("-", "").replace("_", "").isalnum() else f'"{name}"'


def _stale_model(store: Store, gone: set[str]) -> str | None:
    """The latest model's version when it still knows a code by a name that is gone."""
    latest = store.latest_classifier()
    if latest is None:
        return None
    version, manifest = latest
    known = set(manifest.get("examples_per_code") or {})
    return version if not known or known & gone else None
