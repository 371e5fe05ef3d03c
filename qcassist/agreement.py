"""Agreement between coders: who coded what on which units, and how far they agree.

Any coders in the project can be compared: people, an adjudicated reference, and the
model (coder name ``model``, or ``model:VERSION``), whose codes are its stored
suggestions. Items are the project's meaning units. A coding made on the coder's own
span (another tool's cut) counts on every unit it overlaps by at least ``min_overlap``
of the unit or of the span (MAXQDA-style alignment); a span that reaches no unit is
counted as unaligned, never silently dropped.

A person who coded anything in a transcript has judged every unit there: a unit they left
uncoded is the category "(none)". In a transcript they never touched they are missing
data. The model judged exactly the units ``suggest`` ran on (a unit it ran on without
suggesting anything is "(none)"); elsewhere it is missing. By default only units a person
coded are items (uncoded text is not free agreement, and the model's suggestions alone do
not pick the items it is judged on); ``include_uncoded`` counts every unit some coder judged.

``origin`` chooses which of a person's codings count: ``human`` (the default of ``agree``)
those they made directly — imported or hand-coded, and adjudication settlements — so
units reached only by reviewing the model's suggestions do not count against the other
coders; ``review`` only the reviewed ones; ``any`` all.

The coefficients are in ``qcassist.reliability``. Confidence intervals are percentile
bootstraps over transcripts, because units of one conversation are not independent; with
fewer than ``MIN_CI_TRANSCRIPTS`` transcripts there is no interval (resampling two or
three interviews gives intervals that look precise and mean nothing).
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
from .reliability import (
    MISSING, ItemTables, cohen_kappa, fleiss_kappa, gwet_ac1, krippendorff_alpha, percent_agreement,
    statistics_from_tables,
)
from .store import Store

MODEL_CODER = "model"
ADJUDICATOR = "adjudicated"  # adjudication's default coder name (qcassist.adjudication.ADJUDICATED)
NONE = "(none)"
DEFAULT_MIN_OVERLAP = MIN_SPAN_OVERLAP
DEFAULT_BOOTSTRAP = 1000
MIN_CI_TRANSCRIPTS = 5
ORIGINS = ("human", "review", "any")
DEFAULT_ORIGIN = "human"

# Landis & Koch (1977) for kappa-like coefficients; Krippendorff (2004) for alpha.
KAPPA_SCALE: tuple[tuple[float, str], ...] = (
    (-1.0, "poor"), (0.0, "slight"), (0.2, "fair"), (0.4, "moderate"), (0.6, "substantial"), (0.8, "almost perfect"),
)
ALPHA_SCALE: tuple[tuple[float, str], ...] = ((-1.0, "unreliable"), (0.667, "tentative"), (0.8, "reliable"))


class AgreementError(QcaError):
    """The comparison asked for cannot be made (unknown coder, nothing in common)."""


def is_model(coder: str) -> bool:
    return coder == MODEL_CODER or coder.startswith(MODEL_CODER + ":")


def derived_coders(store: Store) -> set[str]:
    """Coders whose codes are derived from other coders': the adjudicators (``adjudicated``, or any coder
    with an adjudication settlement, which 'review --adjudicate' records with a memo 'adjudicated ...')."""
    found = {ADJUDICATOR} & {c["coder"] for c in store.coders()}
    return found | {d.coder for d in store.decisions() if d.memo.startswith(ADJUDICATOR)}


# --- who coded what ------------------------------------------------------------------


@dataclass(frozen=True)
class Ratings:
    """Each coder's code set on each item (None: the coder did not judge that item)."""

    coders: tuple[str, ...]
    units: tuple[MeaningUnit, ...]
    labels: dict[str, tuple[frozenset[str] | None, ...]]
    unaligned: dict[str, int]
    codes: tuple[str, ...]  # the codes compared (leaves), in codebook order
    model_version: str | None = None  # the model version whose judgements are compared, when the model is a coder

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
    origin: str = "any",
) -> Ratings:
    """Line the coders' work up on the project's units."""
    if len(coders) < 2:
        raise AgreementError("agreement needs at least two coders (--coders A,B).")
    if len(set(coders)) != len(coders):
        raise AgreementError(f"a coder is named twice in {', '.join(coders)}.")
    if not 0 < min_overlap <= 1:
        raise AgreementError(f"--min-overlap {min_overlap} must be above 0 and at most 1.")
    if origin not in ORIGINS:
        raise AgreementError(f"--origin {origin!r} must be one of {', '.join(ORIGINS)}.")
    codebook = store.codebook()
    compared = set(_compared_codes(codebook, codes))
    units = _units_in(store, transcripts)
    by_transcript: dict[int, list[MeaningUnit]] = defaultdict(list)
    for unit in units:
        by_transcript[unit.transcript_id].append(unit)
    known = {c["coder"] for c in store.coders()}
    coded: dict[str, dict[int, set[str]]] = {}
    judged: dict[str, Callable[[MeaningUnit], bool]] = {}
    unaligned: dict[str, int] = {}
    version = None
    for coder in coders:
        if is_model(coder):
            coded[coder], model_units, version = _model_codes(store, coder, codebook)
            judged[coder] = lambda u, mine=model_units: u.id in mine
            unaligned[coder] = 0
        elif coder in known:
            coded[coder], covered, unaligned[coder] = _coder_codes(
                _codings_of(store, coder, origin), by_transcript, min_overlap, {u.id: u for u in units}
            )
            judged[coder] = lambda u, mine=covered: u.transcript_id in mine
        else:
            raise AgreementError(
                f"no coder {coder!r} in this project.{did_you_mean(coder, sorted(known) + [MODEL_CODER])} "
                "Coders: " + (", ".join(sorted(known)) or "none") + "; the model is 'model'."
            )
        coded[coder] = {unit: kept for unit, found in coded[coder].items() if (kept := found & compared)}
    people = [c for c in coders if not is_model(c)]
    items = [
        u for u in units
        if any(u.id in coded[c] for c in people) or (include_uncoded and any(judged[c](u) for c in coders))
    ]
    # a unit only one coder judged compares nothing: it is not counted among the units compared
    items = [u for u in items if sum(judged[c](u) for c in coders) >= 2]
    if not items:
        raise AgreementError(_nothing_shared(coders, origin))
    labels = {
        coder: tuple(frozenset(coded[coder].get(u.id, ())) if judged[coder](u) else None for u in items)
        for coder in coders
    }
    return Ratings(tuple(coders), tuple(items), labels, unaligned, tuple(c for c in _compared_codes(codebook, codes)),
                   version)


def _nothing_shared(coders: Sequence[str], origin: str) -> str:
    """What to do when the coders judged no unit in common."""
    people = [c for c in coders if not is_model(c)]
    if len(people) < len(coders):
        return (f"the model judged none of the units {' or '.join(people)} coded ('qcassist suggest' skips coded units): "
                "run 'qcassist suggest --all' to score them too (in-sample figures), or 'qcassist evaluate' for "
                "cross-validated ones.")
    hint = " (only direct codings count; --origin any counts reviewed ones too)" if origin == "human" else ""
    return f"{' and '.join(coders)} coded no units in common transcripts{hint}; nothing to compare."


def _codings_of(store: Store, coder: str, origin: str) -> list[Coding]:
    """The coder's codings of the chosen origin.

    Direct ("human") codings are the ones a person made themselves: imported or hand-coded,
    and review codings whose decision answered no suggestion (adjudication settlements).
    """
    codings = store.codings(coders=[coder])
    if origin == "any":
        return codings
    standing = _standing(store.decisions(coder=coder))
    unprompted = {d.unit_id for d in standing if d.model_version is None and d.suggested_code is None}
    if origin == "human":
        return [c for c in codings if c.origin == "human" or (c.origin == "review" and c.unit_id in unprompted)]
    return [c for c in codings if c.origin == "review" and c.unit_id not in unprompted]


def _standing(decisions: list) -> list:
    undone = {d.reverses for d in decisions if d.action == "undo"}
    return [d for d in decisions if d.action != "undo" and d.id not in undone]


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


def _model_codes(store: Store, coder: str, codebook: Codebook) -> tuple[dict[int, set[str]], set[int], str | None]:
    """The model's codes per unit (its stored suggestions; the top one for an exclusive codebook),
    the units it judged, and the model version.

    ``model`` is the latest ``suggest`` run: it judged the units it ran on, suggested or not,
    and not the coded units it skipped. ``model:VERSION`` judged the units it left suggestions on.
    """
    version = coder.partition(":")[2] or None
    suggestions = [s for s in store.suggestions() if version is None or s.model_version == version]
    if not suggestions:
        which = f"model version {version!r}" if version else "the model"
        raise AgreementError(f"{which} has no stored suggestions; run 'qcassist suggest --all' first.")
    run = json.loads(store.setting("suggest.skipped_units") or "{}")
    if version is None and run.get("version"):
        version = run["version"]
        if "judged" in run:
            judged = set(run["judged"])
        else:  # projects from before suggest recorded what it judged: every unit it did not skip
            judged = {u.id for u in store.units()} - set(run.get("units", ()))
        suggestions = [s for s in suggestions if s.unit_id in judged]
    else:
        judged = {s.unit_id for s in suggestions}
        version = version or max(s.model_version for s in suggestions)
    best: dict[int, tuple[float, str]] = {}
    coded: dict[int, set[str]] = defaultdict(set)
    for s in suggestions:
        if codebook.exclusive:
            if s.unit_id not in best or s.probability > best[s.unit_id][0]:
                best[s.unit_id] = (s.probability, s.code)
        else:
            coded[s.unit_id].add(s.code)
    for unit_id, (_, code) in best.items():
        coded[unit_id].add(code)
    return coded, judged, version


def training_units(store: Store, version: str | None) -> set[int] | None:
    """The units whose codings trained this model version (None when its files are unreadable)."""
    if version is None:
        return None
    try:
        with np.load(store.directory / "classifiers" / version / "arrays.npz") as arrays:
            return set(arrays["exemplar_unit_ids"].tolist())
    except (OSError, KeyError, ValueError):
        return None


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
    origin: str = DEFAULT_ORIGIN

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
    origin: str = DEFAULT_ORIGIN,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Agreement:
    """Compare coders on the project's units: overall and per-code statistics with bootstrap CIs.

    ``progress`` is called once for the overall figures and once per code (``agreement_steps``
    tells how many calls to expect), for a progress bar.
    """
    reference = reference or coders[0]
    if reference not in coders:
        raise AgreementError(f"the reference coder {reference!r} is not among --coders {', '.join(coders)}.")
    step = progress or (lambda _name: None)
    ratings = collect_ratings(store, coders, codes=codes, transcripts=transcripts, min_overlap=min_overlap,
                              include_uncoded=include_uncoded, origin=origin)
    matrix, categories = category_matrix(ratings)
    statistics = {name: {"value": fn(matrix, len(categories)), "ci": None} for name, (fn, _) in OVERALL.items()}
    if len(coders) != 2:
        del statistics["cohen_kappa"]
    per_code = _per_code(ratings, reference)
    ids, groups = np.unique(ratings.transcripts, return_inverse=True)
    n_transcripts = len(ids)
    weights = bootstrap_weights(n_transcripts, bootstrap, seed)
    notes = []
    if weights is None and bootstrap > 0:
        notes.append(f"no interval: fewer than {MIN_CI_TRANSCRIPTS} transcripts (intervals resample whole transcripts, "
                     "and a handful of interviews cannot show how much the figures would vary).")
    if weights is not None:
        _add_intervals(statistics, statistics_from_tables(ItemTables(matrix, groups, n_transcripts, len(categories)), weights))
    step("overall")
    for entry in per_code:
        if weights is not None:
            _add_code_intervals(entry, ratings, reference, groups, n_transcripts, weights)
        step(entry["code"])
    per_code = [_flatten(entry) for entry in per_code]
    for name, entry in statistics.items():
        scale = OVERALL[name][1]
        entry["label"] = interpret(entry["value"], scale) if scale else None
    if ratings.multi_label:
        notes.append("units carry several codes: overall figures compare whole code sets; see the per-code binary figures.")
    notes += _model_notes(store, ratings)
    if statistics["fleiss_kappa"]["value"] is not None and (matrix == MISSING).any():
        notes.append("Fleiss' kappa uses only the units every coder judged; alpha and AC1 use all.")
    return Agreement(
        coders=list(coders), reference=reference, codes=list(ratings.codes),
        transcripts=n_transcripts, units=len(ratings.units), unaligned=ratings.unaligned,
        min_overlap=min_overlap, bootstrap=bootstrap if weights is not None else 0, multi_label=ratings.multi_label,
        statistics=statistics, per_code=per_code,
        confusion=None if ratings.multi_label else _confusion(ratings, reference), notes=notes, origin=origin,
    )


def agreement_steps(store: Store, codes: Sequence[str] = ()) -> int:
    """How many times ``agree`` calls its progress callback."""
    return 1 + len(_compared_codes(store.codebook(), codes))


def _model_notes(store: Store, ratings: Ratings) -> list[str]:
    """Say the model's figures are in-sample when (and only when) it judged units it was trained on."""
    model = next((c for c in ratings.coders if is_model(c)), None)
    if model is None:
        return []
    judged = {u.id for u, label in zip(ratings.units, ratings.labels[model]) if label is not None}
    trained = training_units(store, ratings.model_version)
    if trained is None:
        return ["the model's training units are unknown (its files are missing), so its figures may be in-sample; "
                "'qcassist evaluate' gives cross-validated ones."]
    seen = judged & trained
    if not seen:
        return []
    return [f"{len(seen)} of the {len(judged)} units the model is compared on trained it, so its figures are "
            "in-sample (optimistic); 'qcassist evaluate' gives cross-validated ones."]


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


def bootstrap_weights(n_transcripts: int, rounds: int, seed: int) -> np.ndarray | None:
    """Rounds × transcripts: how often each round's draw (transcripts with replacement) took each transcript."""
    if rounds <= 0 or n_transcripts < MIN_CI_TRANSCRIPTS:
        return None
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_transcripts, size=(rounds, n_transcripts))
    weights = np.zeros((rounds, n_transcripts))
    np.add.at(weights, (np.repeat(np.arange(rounds), n_transcripts), draws.ravel()), 1)
    return weights


def _add_intervals(entries: dict[str, dict], samples: dict[str, np.ndarray]) -> None:
    for name, entry in entries.items():
        entry["ci"] = _percentile_interval(samples[name])


def _percentile_interval(values: np.ndarray) -> list[float] | None:
    defined = values[~np.isnan(values)]
    # Too many undefined resamples (e.g. a rare code absent) make the interval meaningless.
    if len(defined) < 0.9 * len(values):
        return None
    low, high = np.percentile(defined, [2.5, 97.5])
    return [float(low), float(high)]


def _add_code_intervals(entry: dict, ratings: Ratings, reference: str, groups: np.ndarray, n_groups: int,
                        weights: np.ndarray) -> None:
    matrix = _binary(ratings, entry["code"])
    samples = statistics_from_tables(ItemTables(matrix, groups, n_groups, 2), weights)
    kappa = samples["cohen_kappa"] if len(ratings.coders) == 2 else samples["fleiss_kappa"]
    _add_intervals({"f1": entry["f1"], "kappa": entry["kappa"], "alpha": entry["alpha"]},
                   {"f1": _f1_samples(matrix, ratings.coders.index(reference), groups, n_groups, weights),
                    "kappa": kappa, "alpha": samples["krippendorff_alpha"]})


def _f1_samples(matrix: np.ndarray, reference_row: int, groups: np.ndarray, n_groups: int, weights: np.ndarray) -> np.ndarray:
    """F1 of the other coders (pooled) against the reference, per bootstrap round, from per-transcript counts."""
    sums = np.zeros((n_groups, 3))  # true positives, predicted, support
    for row in range(len(matrix)):
        if row == reference_row:
            continue
        both = (matrix[reference_row] != MISSING) & (matrix[row] != MISSING)
        truth, guess = matrix[reference_row] * both, matrix[row] * both
        np.add.at(sums, groups, np.stack([truth & guess, guess, truth], axis=1).astype(float))
    true_positive, predicted, support = (weights @ sums).T
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(predicted + support > 0, 2 * true_positive / (predicted + support), np.nan)
