"""Review decisions: the queue of suggestions to review, recording decisions, undo, decision files.

Every decision is committed in its own transaction before the next unit is shown;
decisions are append-only (undo records a reversal), and the codings they make carry
the decision's id, so the current coding is derived from the history.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .codebook import did_you_mean
from .errors import InputError, QcaError
from .ingest.decode import read_text
from .model import ACTIONS, Decision, Suggestion
from .review.context import UnitContext, context_turns, unit_context
from .store import Store

DECISION_FIELDS = ("decision_id", "unit_id", "external_id", "transcript", "action", "suggested_code", "probability",
                   "model_version", "final_codes", "coder", "memo", "reverses", "created_at")
STANDING = ("accept", "reject", "recode", "add")  # actions that settle a unit for a coder
MODEL_VIEW_BLOCK = 2048  # queue units whose features and probabilities the review order computes at once


@dataclass(frozen=True)
class ReviewItem:
    """One unit to review: its text in context and the suggestions for it, best first.

    Each suggestion is decided on its own; ``decided`` holds what this coder already did
    with some of them (code → accept, reject, recode or add), ``codes`` the coder's codes
    on the unit when the queue was built.
    """

    unit_id: int
    transcript: str
    order: int
    speaker: str | None
    text: str
    context: UnitContext
    suggestions: tuple[Suggestion, ...]
    decided: dict[str, str] = field(default_factory=dict)
    codes: tuple[str, ...] = ()
    rationale_texts: dict[int, str] = field(default_factory=dict)

    @property
    def top(self) -> Suggestion:
        return self.suggestions[0]

    @property
    def pending(self) -> tuple[Suggestion, ...]:
        """The suggestions this coder has not decided yet, best first."""
        return tuple(s for s in self.suggestions if s.code not in self.decided)


@dataclass(frozen=True)
class QueueFilter:
    codes: tuple[str, ...] = ()
    transcripts: tuple[str, ...] = ()
    min_probability: float = 0.0
    max_probability: float = 1.0
    limit: int | None = None


def standing(decisions: Sequence[Decision]) -> list[Decision]:
    """The decisions that still stand, in their order: neither an undo nor undone by one."""
    undone = {d.reverses for d in decisions if d.action == "undo"}
    return [d for d in decisions if d.action != "undo" and d.id not in undone]


def settled_units(store: Store, coder: str) -> set[int]:
    """Units this coder has decided (not skipped, not undone)."""
    return {d.unit_id for d in standing(store.decisions(coder=coder)) if d.action in STANDING}


def decided_suggestions(store: Store, coder: str) -> dict[int, dict[str, str]]:
    """Unit → {code: how this coder settled it}, from their standing decisions (undone ones left out).

    accept/reject/recode settle the suggested code; a code the coder gave the unit
    (added, or recoded to) settles a suggestion of that code too ("add").
    """
    settled: dict[int, dict[str, str]] = defaultdict(dict)
    for d in standing(store.decisions(coder=coder)):
        if d.action not in STANDING:
            continue
        if d.action in ("add", "recode"):
            for code in d.final_codes:
                settled[d.unit_id][code] = "add"
        if d.action != "add" and d.suggested_code:
            settled[d.unit_id][d.suggested_code] = d.action
    return dict(settled)


def review_queue(
    store: Store,
    *,
    coder: str,
    strategy: str = "sequential",
    filters: QueueFilter = QueueFilter(),
    seed: int = 0,
) -> list[ReviewItem]:
    """Units with a stored suggestion this coder has not decided, in review order.

    A unit stays in the queue until every one of its suggestions is decided.

    The model-based orders get the latest model's probability of every code and the
    units' embeddings; without a classifier they fall back as ``review.order`` says.
    """
    from .review.order import order_candidates

    decided = decided_suggestions(store, coder)
    skipped = {d.unit_id for d in store.decisions(coder=coder) if d.action == "skip"}
    by_unit: dict[int, list[Suggestion]] = defaultdict(list)
    for suggestion in _reviewable_suggestions(store):
        if filters.codes and suggestion.code not in filters.codes:
            continue
        if not filters.min_probability <= suggestion.strength <= filters.max_probability:
            continue
        by_unit[suggestion.unit_id].append(suggestion)
    items = [item for item in _items(store, by_unit, filters.transcripts, decided, coder) if item.pending]
    if not items:
        return []
    rng = np.random.default_rng(seed)
    matrix, embeddings = None, None
    if strategy != "sequential":
        matrix, embeddings = _model_view(store, [item.unit_id for item in items])
    positions = np.arange(len(items))  # items come in transcript order
    order = list(order_candidates(strategy, matrix, positions=positions, rng=rng, n=len(items), embeddings=embeddings))
    ordered = [items[i] for i in order]
    ordered = [i for i in ordered if i.unit_id not in skipped] + [i for i in ordered if i.unit_id in skipped]
    return ordered[: filters.limit] if filters.limit else ordered


def _model_view(store: Store, unit_ids: list[int]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(probabilities of every code, embeddings) of these units under the latest model, if it has a classifier."""
    from .suggest import ModelError, load_latest_model, unit_vectors
    from .training import units_with_ids

    try:
        model = load_latest_model(store)
    except ModelError:
        return None, None
    units = {u.id: u for u in units_with_ids(store, unit_ids)}  # the queue's units, read by their transcripts
    rows = [units[i] for i in unit_ids]
    try:
        embeddings = unit_vectors(store, model, rows)  # a fine-tuned model's body reads the unit with its context
    except ModelError:  # the project's encoder changed since: order without the model, as with none
        return None, None
    if model.classifier is None:
        return None, embeddings
    # a block of rows at a time: the features and the classifier's working copies of a whole queue (~20 KB a
    # unit, measured) would follow the suggestions of a large corpus; each row's probabilities are its own
    blocks = [model.classifier.predict_proba(model.features.transform(
        embeddings[i:i + MODEL_VIEW_BLOCK], [u.text for u in rows[i:i + MODEL_VIEW_BLOCK]],
        [u.context for u in rows[i:i + MODEL_VIEW_BLOCK]], [u.following for u in rows[i:i + MODEL_VIEW_BLOCK]]))
        for i in range(0, len(rows), MODEL_VIEW_BLOCK)]
    return np.vstack(blocks), embeddings  # review_queue asks only for a queue that has units


def _reviewable_suggestions(store: Store) -> list[Suggestion]:
    """The model's stored suggestions and the adopted themes' units, which wait in review until decided
    (themes/adopt.py)."""
    from .themes import adopted_themes, theme_suggestions

    # theme_suggestions reads every unit and coding of the project: only where a theme was adopted
    return [*store.suggestions(), *(theme_suggestions(store) if adopted_themes(store) else ())]


def _items(store: Store, by_unit: dict[int, list[Suggestion]], transcripts: Sequence[str],
           decided: dict[int, dict[str, str]], coder: str) -> list[ReviewItem]:
    """The queue's units in transcript order, reading only the transcripts that hold one, one at a time."""
    codes: dict[int, set[str]] = defaultdict(set)
    for coding in store.codings(coders=[coder]):
        codes[coding.unit_id].add(coding.code)
    holding = {unit.transcript_id for unit in store.units_by_id(by_unit).values()}
    if transcripts:
        ids = store.transcript_ids()
        holding &= {ids[name] for name in transcripts if name in ids}
    items = []
    for transcript_id in sorted(holding):  # id order, as store.transcripts()
        transcript = store.transcript(transcript_id)
        around = context_turns(transcript)
        for order, unit in enumerate(store.units(transcript.id), start=1):
            if unit.id not in by_unit:
                continue
            suggestions = _one_per_code(by_unit[unit.id])
            items.append(ReviewItem(unit.id, transcript.name, order, unit.speaker, unit.text_in(transcript),
                                    unit_context(transcript, unit, around=around), suggestions, decided.get(unit.id, {}),
                                    tuple(sorted(codes[unit.id]))))
    _add_rationale_texts(store, items)
    return items


def _one_per_code(suggestions: list[Suggestion]) -> tuple[Suggestion, ...]:
    """A unit's suggestions strongest first, one per code: an adopted theme and the model may both propose a code,
    and one decision settles the code (the strongest is shown, with its rationale)."""
    ranked = sorted(suggestions, key=lambda s: (-s.strength, s.code, s.source, s.id or 0))
    kept: dict[str, Suggestion] = {}
    for suggestion in ranked:
        kept.setdefault(suggestion.code, suggestion)
    return tuple(kept.values())


def _add_rationale_texts(store: Store, items: list[ReviewItem]) -> None:
    """The text of every unit a suggestion cites, wherever it is (the queue may be one transcript's)."""
    wanted = {unit_id for item in items for s in item.suggestions for unit_id in s.rationale}
    if not wanted:
        return
    by_transcript: dict[int, list] = defaultdict(list)
    for unit in store.units_by_id(wanted).values():  # the cited units only, their transcripts read one at a time
        by_transcript[unit.transcript_id].append(unit)
    found = {}
    for transcript_id, units in by_transcript.items():
        text = store.transcript(transcript_id).text
        found.update((u.id, text[u.start:u.end]) for u in units)
    for item in items:
        for suggestion in item.suggestions:
            for unit_id in suggestion.rationale:
                if unit_id in found:
                    item.rationale_texts[unit_id] = found[unit_id]


# --- recording ---------------------------------------------------------------------


def decide(
    store: Store,
    item_unit_id: int,
    action: str,
    *,
    coder: str,
    suggestion: Suggestion | None = None,
    codes: Sequence[str] = (),
    memo: str = "",
) -> Decision:
    """Record one decision (committed before this returns)."""
    if action not in ACTIONS or action == "undo":
        raise QcaError(f"unknown action {action!r}; choose accept, reject, recode, add or skip.")
    leaves = [c.name for c in store.codebook().leaves]
    for code in codes:
        if code not in leaves:
            raise QcaError(f"unknown code {code!r}.{did_you_mean(code, leaves)}")
    if action in ("recode", "add") and not codes:
        raise QcaError(f"{action} needs a code.")
    if action in ("accept", "reject", "recode") and suggestion is None:
        raise QcaError(f"unit {item_unit_id} has no suggestion to {action}.")
    final = {"accept": (suggestion.code,) if suggestion else (), "reject": (), "skip": ()}.get(action, tuple(codes))
    return store.record_decision(Decision(
        unit_id=item_unit_id, action=action, coder=coder,
        suggested_code=suggestion.code if suggestion else None,
        probability=suggestion.probability if suggestion else None,
        model_version=suggestion.model_version if suggestion else None,
        final_codes=final, memo=memo,
    ))


def undo_last(store: Store, *, coder: str) -> Decision | None:
    """Reverse this coder's latest decision that is not already undone; returns the reversal."""
    stands = standing(store.decisions(coder=coder))
    if not stands:
        return None
    last = stands[-1]
    return store.record_decision(Decision(unit_id=last.unit_id, action="undo", coder=coder, reverses=last.id,
                                          suggested_code=last.suggested_code))


# --- decision files ----------------------------------------------------------------


@dataclass
class ApplyReport:
    applied: dict[str, int] = field(default_factory=dict)
    already: int = 0  # decisions the coder already stands by (the same file applied again), not recorded twice

    def as_dict(self) -> dict:
        return {"applied": self.applied, "total": sum(self.applied.values()), "already_recorded": self.already}


def apply_decisions_file(store: Store, path: str | Path, *, coder: str) -> ApplyReport:
    """Apply a CSV/JSONL of decisions (unit_id, action[, code][, suggested_code][, memo]); all or nothing.

    For accept/reject, ``code`` names the suggestion(s) to decide (several separated by
    ';' give one decision per code; none: the unit's top suggestion). For recode/add it
    is the new code(s); recode changes the suggestion named in ``suggested_code`` (the
    top one by default).
    """
    rows = decision_file_rows(path)
    suggestions: dict[int, list[Suggestion]] = defaultdict(list)
    for s in _reviewable_suggestions(store):
        suggestions[s.unit_id].append(s)
    missing = _missing_units(store, rows, path)
    leaves = [c.name for c in store.codebook().leaves]
    planned = []
    for line, row in rows:
        unit_id = row_unit_id(row, path, line)
        if unit_id in missing:
            raise InputError(str(path), f"no unit {unit_id} in the project.", line=line, field="unit_id")
        ranked = sorted(suggestions.get(unit_id, []), key=lambda s: (-s.strength, s.code))
        planned += _planned_decisions(row, unit_id, ranked, leaves, path, line)
    report = ApplyReport()
    with store.transaction():
        existing = _standing_keys(store, coder)
        for unit_id, action, suggestion, codes, memo in planned:
            key = (unit_id, action, suggestion.code if suggestion else None,
                   (suggestion.code,) if action == "accept" else () if action == "reject" else tuple(codes))
            if key in existing:  # applying a file twice would double the history (and the report's counts)
                report.already += 1
                continue
            existing.add(key)
            decide(store, unit_id, action, coder=coder, suggestion=suggestion, codes=codes, memo=memo)
            report.applied[action] = report.applied.get(action, 0) + 1
    return report


def _missing_units(store: Store, rows: list[tuple[int, dict]], path: str | Path) -> set[int]:
    """The file's unit ids that name no unit of the project (rows whose unit_id is not a number are left to the
    caller, which reports them in file order); checked by id, without reading the corpus's units."""
    ids = []
    for line, row in rows:
        try:
            ids.append(row_unit_id(row, path, line))
        except InputError:
            continue
    return set(store.missing_unit_ids(ids))


def _standing_keys(store: Store, coder: str) -> set[tuple]:
    """(unit, action, suggested code, final codes) of this coder's decisions that stand (not undone)."""
    return {(d.unit_id, d.action, d.suggested_code if d.action != "add" else None, tuple(d.final_codes))
            for d in standing(store.decisions(coder=coder)) if d.action in STANDING}


def _planned_decisions(row: dict, unit_id: int, ranked: list[Suggestion], leaves: list[str], path: str | Path,
                       line: int) -> list[tuple[int, str, Suggestion | None, tuple[str, ...], str]]:
    """The decisions one row of a decisions file asks for: (unit, action, suggestion, codes, memo)."""
    action = str(row.get("action", "")).strip().lower()
    if action not in ACTIONS or action == "undo":
        raise InputError(str(path), f"unknown action {action!r}; use accept, reject, recode, add or skip.", line=line, field="action")
    codes = _row_codes(row.get("code"))
    for code in codes:
        if code not in leaves:
            raise InputError(str(path), f"unknown code {code!r}.{did_you_mean(code, leaves)}", line=line, field="code")
    named = str(row.get("suggested_code") or "").strip()
    memo = str(row.get("memo") or "")

    def suggestion_for(code: str | None) -> Suggestion:
        found = next((s for s in ranked if code is None or s.code == code), None)
        if found is None:
            wanted = f" for code {code!r}" if code else ""
            raise InputError(str(path), f"unit {unit_id} has no suggestion{wanted} to {action}.", line=line,
                             field="code" if action != "recode" else "suggested_code")
        return found

    if action in ("accept", "reject"):
        wanted = codes or ((named,) if named else (None,))
        return [(unit_id, action, suggestion_for(code), (), memo) for code in dict.fromkeys(wanted)]
    if action in ("recode", "add") and not codes:
        raise InputError(str(path), f"{action} needs a code.", line=line, field="code")
    suggestion = suggestion_for(named or None) if action == "recode" else None
    return [(unit_id, action, suggestion, codes, memo)]


def _row_codes(value) -> tuple[str, ...]:
    """Codes from a file cell: ';'-separated text, or a JSON list."""
    parts = value if isinstance(value, list) else str(value or "").split(";")
    return tuple(dict.fromkeys(str(c).strip() for c in parts if str(c).strip()))


def decision_file_rows(path: str | Path, required: Sequence[str] = ("unit_id", "action")) -> list[tuple[int, dict]]:
    """(line, row) of a CSV or JSONL file of decisions; CSV must have the ``required`` columns; no rows is an error."""
    text = read_text(path).text
    if str(path).lower().endswith((".jsonl", ".ndjson")):
        rows = []
        for line_no, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except (json.JSONDecodeError, ValueError, RecursionError) as exc:
                    reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "too deep or too large"
                    raise InputError(str(path), f"is not valid JSON ({reason}).", line=line_no) from None
                if not isinstance(row, dict):
                    raise InputError(str(path), f"is a JSON {type(row).__name__}, not an object with unit_id and action.",
                                     line=line_no)
                rows.append((line_no, row))
        if not rows:
            raise InputError(str(path), "has no rows; nothing to apply.")
        return rows
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(str(path), f"has no column {missing[0]!r} (columns: {', '.join(reader.fieldnames or [])}).", field=missing[0])
    rows = [(reader.line_num, row) for row in reader]
    if not rows:
        raise InputError(str(path), "has a header but no rows; nothing to apply.")
    return rows


def row_unit_id(row: dict, path: str | Path, line: int) -> int:
    """The row's unit_id as a number, or an InputError naming the file, line and field."""
    try:
        return int(str(row.get("unit_id", "")).strip())
    except ValueError:
        raise InputError(str(path), f"unit_id {row.get('unit_id')!r} is not a number.", line=line, field="unit_id") from None


def decision_rows(store: Store) -> list[dict]:
    """Every decision, oldest first, with its unit's transcript and external id."""
    decisions = store.decisions()
    names = {transcript_id: name for name, transcript_id in store.transcript_ids().items()}
    info = {unit.id: (names[unit.transcript_id], unit.external_id)  # the decided units only, not the corpus
            for unit in store.units_by_id(d.unit_id for d in decisions).values()}
    return [
        {"decision_id": d.id, "unit_id": d.unit_id, "external_id": info.get(d.unit_id, (None, None))[1],
         "transcript": info.get(d.unit_id, (None, None))[0], "action": d.action, "suggested_code": d.suggested_code,
         "probability": d.probability, "model_version": d.model_version, "final_codes": ";".join(d.final_codes),
         "coder": d.coder, "memo": d.memo, "reverses": d.reverses, "created_at": d.created_at}
        for d in decisions
    ]
