"""Agreement between coders: who coded what on which units, and how far they agree.

Any coders in the project can be compared: people, an adjudicated reference, and the
model (coder name ``model``, or ``model:VERSION``), whose codes are its stored
suggestions. Items are the project's meaning units. A coding made on the coder's own
span (another tool's cut) counts on every unit it overlaps by at least ``min_overlap``
of the unit or of the span (MAXQDA-style alignment); a span that reaches no unit is
counted as unaligned, never silently dropped.

A coder who coded anything in a transcript has judged every unit there: a unit they left
uncoded is the category "(none)". In a transcript they never touched they are missing
data. By default only units coded by at least one of the coders are items (uncoded text
is not free agreement); ``include_uncoded`` counts every unit of the covered transcripts.

The coefficients are in ``qcassist.reliability``. Confidence intervals are percentile
bootstraps over transcripts, because units of one conversation are not independent.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .codebook import did_you_mean
from .errors import QcaError
from .model import MIN_SPAN_OVERLAP, Codebook, Coding, MeaningUnit, span_codes_unit
from .reliability import MISSING, cohen_kappa, fleiss_kappa, gwet_ac1, krippendorff_alpha, percent_agreement
from .store import Store

MODEL_CODER = "model"
NONE = "(none)"
DEFAULT_MIN_OVERLAP = MIN_SPAN_OVERLAP
DEFAULT_BOOTSTRAP = 1000

# Landis & Koch (1977) for kappa-like coefficients; Krippendorff (2004) for alpha.
KAPPA_SCALE: tuple[tuple[float, str], ...] = (
    (-1.0, "poor"), (0.0, "slight"), (0.2, "fair"), (0.4, "moderate"), (0.6, "substantial"), (0.8, "almost perfect"),
)
ALPHA_SCALE: tuple[tuple[float, str], ...] = ((-1.0, "unreliable"), (0.667, "tentative"), (0.8, "reliable"))


class AgreementError(QcaError):
    """The comparison asked for cannot be made (unknown coder, nothing in common)."""


# --- who coded what ------------------------------------------------------------------


@dataclass(frozen=True)
class Ratings:
    """Each coder's code set on each item (None: the coder did not judge that item)."""

    coders: tuple[str, ...]
    units: tuple[MeaningUnit, ...]
    labels: dict[str, tuple[frozenset[str] | None, ...]]
    unaligned: dict[str, int]
    codes: tuple[str, ...]  # the codes compared (leaves), in codebook order

    @property
    def transcripts(self) -> np.ndarray:
        return np.array([u.transcript_id for u in self.units], dtype=np.int64)

    @property
    def multi_label(self) -> bool:
        return any(len(label) > 1 for labels in self.labels.values() for label in labels if label is not None)


def collect_ratings(
    store: Store,
    coders: Sequence[str],
    *,
    codes: Sequence[str] = (),
    transcripts: Sequence[str] = (),
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    include_uncoded: bool = False,
) -> Ratings:
    """Line the coders' work up on the project's units."""
    if len(coders) < 2:
        raise AgreementError("agreement needs at least two coders (--coders A,B).")
    if len(set(coders)) != len(coders):
        raise AgreementError(f"a coder is named twice in {', '.join(coders)}.")
    if not 0 < min_overlap <= 1:
        raise AgreementError(f"--min-overlap {min_overlap} must be above 0 and at most 1.")
    codebook = store.codebook()
    compared = _compared_codes(codebook, codes)
    units = _units_in(store, transcripts)
    by_transcript: dict[int, list[MeaningUnit]] = defaultdict(list)
    for unit in units:
        by_transcript[unit.transcript_id].append(unit)
    known = {c["coder"] for c in store.coders()}
    coded: dict[str, dict[int, set[str]]] = {}
    covered: dict[str, set[int]] = {}
    unaligned: dict[str, int] = {}
    unjudged: dict[str, set[int]] = defaultdict(set)
    for coder in coders:
        if coder == MODEL_CODER or coder.startswith(MODEL_CODER + ":"):
            coded[coder], covered[coder], unjudged[coder] = _model_codes(store, coder, codebook, set(by_transcript))
            unaligned[coder] = 0
        elif coder in known:
            coded[coder], covered[coder], unaligned[coder] = _coder_codes(
                store.codings(coders=[coder]), by_transcript, min_overlap, {u.id: u for u in units}
            )
        else:
            raise AgreementError(
                f"no coder {coder!r} in this project.{did_you_mean(coder, sorted(known) + [MODEL_CODER])} "
                "Coders: " + (", ".join(sorted(known)) or "none") + "; the model is 'model'."
            )
        coded[coder] = {unit: kept for unit, found in coded[coder].items() if (kept := found & set(compared))}
    items = [
        u for u in units
        if any(u.id in coded[c] for c in coders) or (include_uncoded and any(u.transcript_id in covered[c] for c in coders))
    ]
    if not items:
        raise AgreementError(f"{' and '.join(coders)} coded no units in common transcripts; nothing to compare.")
    labels = {
        coder: tuple(
            frozenset(coded[coder].get(u.id, ()))
            if u.transcript_id in covered[coder] and u.id not in unjudged[coder] else None
            for u in items
        )
        for coder in coders
    }
    return Ratings(tuple(coders), tuple(items), labels, unaligned, tuple(compared))


def _compared_codes(codebook: Codebook, requested: Sequence[str]) -> list[str]:
    """Leaf codes to compare; a group stands for all codes under it."""
    leaves = [c.name for c in codebook.leaves]
    if not requested:
        return leaves
    chosen: set[str] = set()
    for name in requested:
        if codebook.get(name) is None:
            raise AgreementError(f"unknown code {name!r} in --codes.{did_you_mean(name, [c.name for c in codebook.codes])}")
        chosen.update(leaf for leaf in leaves if name in codebook.path(leaf))
    return [leaf for leaf in leaves if leaf in chosen]


def _units_in(store: Store, names: Sequence[str]) -> list[MeaningUnit]:
    if not names:
        return store.units()
    by_name = {t.name: t.id for t in store.transcripts()}
    units = []
    for name in names:
        if name not in by_name:
            raise AgreementError(f"no transcript named {name!r} in the project.{did_you_mean(name, list(by_name))}")
        units.extend(store.units(by_name[name]))
    return units


def _coder_codes(
    codings: list[Coding], by_transcript: dict[int, list[MeaningUnit]], min_overlap: float, units: dict[int, MeaningUnit]
) -> tuple[dict[int, set[str]], set[int], int]:
    """A person's codes per unit; codings on their own span are aligned to the units they overlap."""
    coded: dict[int, set[str]] = defaultdict(set)
    covered: set[int] = set()
    unaligned = 0
    for coding in codings:
        home = units.get(coding.unit_id)
        if home is None:  # a transcript left out of the comparison
            continue
        covered.add(home.transcript_id)
        if coding.start is None:
            coded[home.id].add(coding.code)
            continue
        hits = [u for u in by_transcript[home.transcript_id] if span_codes_unit(u, coding.start, coding.end, min_overlap)]
        unaligned += not hits
        for unit in hits:
            coded[unit.id].add(coding.code)
    return coded, covered, unaligned


def _model_codes(
    store: Store, coder: str, codebook: Codebook, transcripts: set[int]
) -> tuple[dict[int, set[str]], set[int], set[int]]:
    """The model's codes per unit: its stored suggestions (the top one only for an exclusive codebook).

    Also the units the last ``suggest`` skipped because people had coded them: the model
    did not judge those, so they are missing data, not "no code".
    """
    version = coder.partition(":")[2] or None
    suggestions = [s for s in store.suggestions() if version is None or s.model_version == version]
    if not suggestions:
        which = f"model version {version!r}" if version else "the model"
        raise AgreementError(f"{which} has no stored suggestions; run 'qcassist suggest --all' first.")
    units = {u.id: u.transcript_id for u in store.units()}
    best: dict[int, tuple[float, str]] = {}
    coded: dict[int, set[str]] = defaultdict(set)
    for s in suggestions:
        if codebook.exclusive:
            if s.unit_id not in best or s.strength > best[s.unit_id][0]:
                best[s.unit_id] = (s.strength, s.code)
        else:
            coded[s.unit_id].add(s.code)
    for unit_id, (_, code) in best.items():
        coded[unit_id].add(code)
    covered = {units[s.unit_id] for s in suggestions} & transcripts
    skipped = json.loads(store.setting("suggest.skipped_units") or '{"units": []}')["units"]
    return coded, covered, set(skipped)


# --- statistics on a category matrix -------------------------------------------------


def category_matrix(ratings: Ratings, label: Callable[[frozenset[str]], str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Coders × items matrix of category indices (MISSING where a coder did not judge the item)."""
    label = label or set_label
    names: dict[str, int] = {}
    matrix = np.full((len(ratings.coders), len(ratings.units)), MISSING, dtype=np.int64)
    for row, coder in enumerate(ratings.coders):
        for column, codes in enumerate(ratings.labels[coder]):
            if codes is not None:
                matrix[row, column] = names.setdefault(label(codes), len(names))
    return matrix, list(names)


def set_label(codes: frozenset[str]) -> str:
    return " + ".join(sorted(codes)) if codes else NONE


# --- the comparison ------------------------------------------------------------------


@dataclass
class Agreement:
    coders: list[str]
    reference: str
    codes: list[str]
    transcripts: int
    units: int
    unaligned: dict[str, int]
    min_overlap: float
    bootstrap: int
    multi_label: bool
    statistics: dict[str, dict]
    per_code: list[dict]
    confusion: dict | None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = dict(self.__dict__)
        data["thresholds"] = {"kappa": [list(t) for t in KAPPA_SCALE], "alpha": [list(t) for t in ALPHA_SCALE]}
        return data


OVERALL: dict[str, tuple[Callable, tuple[tuple[float, str], ...] | None]] = {
    "percent_agreement": (lambda m, q: percent_agreement(m), None),
    "cohen_kappa": (lambda m, q: cohen_kappa(m), KAPPA_SCALE),
    "fleiss_kappa": (fleiss_kappa, KAPPA_SCALE),
    "krippendorff_alpha": (krippendorff_alpha, ALPHA_SCALE),
    "gwet_ac1": (gwet_ac1, KAPPA_SCALE),
}


def agree(
    store: Store,
    coders: Sequence[str],
    *,
    codes: Sequence[str] = (),
    transcripts: Sequence[str] = (),
    reference: str | None = None,
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    include_uncoded: bool = False,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> Agreement:
    """Compare coders on the project's units: overall and per-code statistics with bootstrap CIs."""
    reference = reference or coders[0]
    if reference not in coders:
        raise AgreementError(f"the reference coder {reference!r} is not among --coders {', '.join(coders)}.")
    ratings = collect_ratings(store, coders, codes=codes, transcripts=transcripts, min_overlap=min_overlap,
                              include_uncoded=include_uncoded)
    matrix, categories = category_matrix(ratings)
    statistics = {name: {"value": fn(matrix, len(categories)), "ci": None} for name, (fn, _) in OVERALL.items()}
    if len(coders) != 2:
        del statistics["cohen_kappa"]
    per_code = _per_code(ratings, reference)
    groups = _bootstrap_groups(ratings.transcripts, bootstrap, seed)
    notes = []
    if groups is None:
        notes.append("one transcript only: no bootstrap confidence intervals (they resample transcripts).")
    else:
        _add_intervals(statistics, groups, lambda columns: {
            name: OVERALL[name][0](matrix[:, columns], len(categories)) for name in statistics
        })
        for entry in per_code:
            _add_code_intervals(entry, ratings, reference, groups)
    per_code = [_flatten(entry) for entry in per_code]
    for name, entry in statistics.items():
        scale = OVERALL[name][1]
        entry["label"] = interpret(entry["value"], scale) if scale else None
    if ratings.multi_label:
        notes.append("units carry several codes: overall figures compare whole code sets; see the per-code binary figures.")
    if any(c == MODEL_CODER or c.startswith(MODEL_CODER + ":") for c in coders):
        notes.append("on units whose codings trained the model its figures are in-sample (optimistic); "
                     "'qcassist evaluate' gives cross-validated ones.")
    if statistics["fleiss_kappa"]["value"] is not None and (matrix == MISSING).any():
        notes.append("Fleiss' kappa uses only the units every coder judged; alpha and AC1 use all.")
    return Agreement(
        coders=list(coders), reference=reference, codes=list(ratings.codes),
        transcripts=len(set(ratings.transcripts.tolist())), units=len(ratings.units), unaligned=ratings.unaligned,
        min_overlap=min_overlap, bootstrap=bootstrap if groups is not None else 0, multi_label=ratings.multi_label,
        statistics=statistics, per_code=per_code,
        confusion=None if ratings.multi_label else _confusion(ratings, reference), notes=notes,
    )


def interpret(value: float | None, scale: tuple[tuple[float, str], ...]) -> str | None:
    if value is None:
        return None
    label = scale[0][1]
    for bound, name in scale:
        if value >= bound - 1e-12:
            label = name
    return label


def _binary(ratings: Ratings, code: str) -> np.ndarray:
    """Coders × items: 1 if the coder gave ``code``, 0 if they judged the item without it, MISSING otherwise."""
    return np.array([
        [MISSING if codes is None else int(code in codes) for codes in ratings.labels[coder]] for coder in ratings.coders
    ], dtype=np.int64)


def _per_code(ratings: Ratings, reference: str) -> list[dict]:
    rows = []
    for code in ratings.codes:
        matrix = _binary(ratings, code)
        entry = {"code": code, **_precision_recall(matrix, ratings.coders.index(reference))}
        entry["kappa"] = {"value": cohen_kappa(matrix) if len(ratings.coders) == 2 else fleiss_kappa(matrix, 2), "ci": None}
        entry["alpha"] = {"value": krippendorff_alpha(matrix, 2), "ci": None}
        rows.append(entry)
    return rows


def _flatten(entry: dict) -> dict:
    """{"f1": {"value", "ci"}} → {"f1": value, "f1_ci": ci}, as scripts read it most easily."""
    flat = {}
    for key, value in entry.items():
        if isinstance(value, dict):
            flat[key] = value["value"]
            flat[f"{key}_ci"] = value.get("ci")
        else:
            flat[key] = value
    return flat


def _precision_recall(matrix: np.ndarray, reference_row: int) -> dict:
    """Precision/recall/F1 of the other coders (pooled) against the reference, on items both judged."""
    truth, guess = [], []
    for row in range(len(matrix)):
        if row == reference_row:
            continue
        both = (matrix[reference_row] != MISSING) & (matrix[row] != MISSING)
        truth.append(matrix[reference_row, both])
        guess.append(matrix[row, both])
    truth_all, guess_all = np.concatenate(truth), np.concatenate(guess)
    true_positive = int((truth_all & guess_all).sum())
    predicted, support = int(guess_all.sum()), int(truth_all.sum())
    precision = true_positive / predicted if predicted else None
    recall = true_positive / support if support else None
    f1 = 2 * true_positive / (predicted + support) if predicted + support else None
    return {"precision": precision, "recall": recall, "f1": {"value": f1, "ci": None}, "support": support, "predicted": predicted}


def _confusion(ratings: Ratings, reference: str) -> dict:
    """Reference coder's code (rows) against the other coders' (columns), pooled, on items both judged."""
    labels = [*ratings.codes, NONE]
    index = {name: i for i, name in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    others = [c for c in ratings.coders if c != reference]
    for other in others:
        for mine, theirs in zip(ratings.labels[reference], ratings.labels[other]):
            if mine is not None and theirs is not None:
                matrix[index[set_label(mine)], index[set_label(theirs)]] += 1
    used = [i for i in range(len(labels)) if matrix[i].sum() or matrix[:, i].sum()]
    return {
        "labels": [labels[i] for i in used], "rows": reference, "columns": " + ".join(others),
        "matrix": matrix[np.ix_(used, used)].tolist(),
    }


# --- bootstrap over transcripts --------------------------------------------------------


def _bootstrap_groups(transcripts: np.ndarray, rounds: int, seed: int) -> list[np.ndarray] | None:
    """Column indices of each bootstrap sample: transcripts drawn with replacement, all their items."""
    ids = np.unique(transcripts)
    if rounds <= 0 or len(ids) < 2:
        return None
    members = {t: np.flatnonzero(transcripts == t) for t in ids}
    rng = np.random.default_rng(seed)
    return [np.concatenate([members[t] for t in rng.choice(ids, size=len(ids))]) for _ in range(rounds)]


def _add_intervals(entries: dict[str, dict], groups: list[np.ndarray], compute: Callable[[np.ndarray], dict]) -> None:
    samples: dict[str, list[float]] = defaultdict(list)
    for columns in groups:
        for name, value in compute(columns).items():
            if value is not None:
                samples[name].append(value)
    for name, entry in entries.items():
        entry["ci"] = _percentile_interval(samples[name], len(groups))


def _percentile_interval(values: list[float], rounds: int) -> list[float] | None:
    # Too many undefined resamples (e.g. a rare code absent) make the interval meaningless.
    if len(values) < 0.9 * rounds:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return [float(low), float(high)]


def _add_code_intervals(entry: dict, ratings: Ratings, reference: str, groups: list[np.ndarray]) -> None:
    matrix = _binary(ratings, entry["code"])
    reference_row = ratings.coders.index(reference)
    two = len(ratings.coders) == 2
    _add_intervals(
        {"f1": entry["f1"], "kappa": entry["kappa"], "alpha": entry["alpha"]}, groups,
        lambda columns: {
            "f1": _precision_recall(matrix[:, columns], reference_row)["f1"]["value"],
            "kappa": cohen_kappa(matrix[:, columns]) if two else fleiss_kappa(matrix[:, columns], 2),
            "alpha": krippendorff_alpha(matrix[:, columns], 2),
        },
    )
