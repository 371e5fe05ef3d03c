"""The project report: one self-contained HTML file for a supervisor, a co-author or an appendix.

Corpus, codebook use, model quality, agreement between coders and review progress. The
file opens with no network: inline CSS, inline SVG charts, no script, and a
Content-Security-Policy that forbids loading anything. Every piece of user text
(transcript names, codes, coders, error messages) is escaped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from . import __version__
from .codebook import codebook_rows, did_you_mean
from .decisions import settled_units
from .errors import QcaError
from .model import ACTIONS, Codebook, Coding, Decision, Suggestion
from .ratings import MODEL_CODER, derived_coders, is_model  # MODEL_CODER: the stored suggestions ("model:VERSION" for one version)
from .report_svg import (
    Html, bar_chart, figure, heatmap_table, line_chart, note, page, reliability_diagram, section, table,
)
from .store import Store

MAX_HEATMAP_TRANSCRIPTS = 30
MAX_HEATMAP_CODES = 60
LANDIS_KOCH = [[-1.0, "poor"], [0.0, "slight"], [0.2, "fair"], [0.4, "moderate"], [0.6, "substantial"], [0.8, "almost perfect"]]
KRIPPENDORFF = [[0.667, "tentative conclusions"], [0.8, "reliable"]]
STATISTIC_NAMES = {
    "percent_agreement": "Percent agreement", "cohen_kappa": "Cohen's κ", "fleiss_kappa": "Fleiss' κ",
    "krippendorff_alpha": "Krippendorff's α", "gwet_ac1": "Gwet's AC1",
}


# --- 1. corpus ---------------------------------------------------------------------


def corpus_section(counts: list[dict], coders: list[dict]) -> Html:
    """Totals, coders and one row a transcript."""
    totals = [
        ("Transcripts", len(counts)), ("Turns", sum(r["turns"] for r in counts)),
        ("Participant turns", sum(r["participant_turns"] for r in counts)), ("Meaning units", sum(r["units"] for r in counts)),
        ("Codings", sum(r["codings"] for r in counts)), ("Coders", len(coders)),
    ]
    coder_rows = [(c["coder"], c["codings"], c["units"], ", ".join(c["origins"]), c["first"], c["last"]) for c in coders]
    transcript_rows = [(r["transcript"], r["format"], r["turns"], r["participant_turns"], r["units"], r["codings"],
                        r["segmentation"]) for r in counts]
    return section("corpus", "Corpus", [
        table(("", "count"), totals),
        Html("<h3>Coders</h3>"),
        table(("coder", "codings", "units", "origins", "first coding", "last coding"), coder_rows) if coders
        else note("No codings yet."),
        Html("<h3>Transcripts</h3>"),
        table(("transcript", "format", "turns", "participant turns", "units", "codings", "segmentation"), transcript_rows)
        if counts else note("No transcripts yet: run qcassist import."),
    ])


# --- 2. codebook -------------------------------------------------------------------


@dataclass
class CodeUse:
    """Where one code (with everything below it in the codebook) was applied."""

    units: set[int] = field(default_factory=set)
    by_coder: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    by_transcript: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    participants: set[tuple[int, str]] = field(default_factory=set)  # a speaker label means one person per transcript


def code_use(codebook: Codebook, codings: Sequence[Coding], unit_places: dict[int, tuple[int, str]]) -> dict[str, CodeUse]:
    """Per code and per group (rolled up from the codes below it): units, coders, transcripts, participants."""
    uses: dict[str, CodeUse] = defaultdict(CodeUse)
    for coding in codings:
        transcript_id, speaker = unit_places[coding.unit_id]
        for name in codebook.path(coding.code) if codebook.get(coding.code) else (coding.code,):
            use = uses[name]
            use.units.add(coding.unit_id)
            use.by_coder[coding.coder].add(coding.unit_id)
            use.by_transcript[transcript_id].add(coding.unit_id)
            use.participants.add((transcript_id, speaker))
    return uses


def codebook_section(codebook: Codebook, codings: Sequence[Coding], unit_places: dict[int, tuple[int, str]],
                     transcripts: dict[int, str]) -> Html:
    """The hierarchy with counts per code and coder, and a codes × transcripts table."""
    if not codebook.codes and not codings:
        return section("codebook", "Codebook", [note("No codebook yet: run qcassist codebook import FILE.")])
    uses = code_use(codebook, codings, unit_places)
    coders = sorted({c.coder for c in codings})
    rows = []
    for entry in codebook_rows(codebook):
        depth = entry["path"].count(" > ")
        name = Html(f'<span class="level-{entry["level"]}" style="padding-left: {depth * 1.2}em">{escape(entry["code"])}</span>'
                    + (f' <span class="description">{escape(entry["description"])}</span>' if entry["description"] else ""))
        rows.append(_code_row(name, uses.get(entry["code"], CodeUse()), coders))
    stray = sorted({c.code for c in codings} - {c.name for c in codebook.codes})
    rows += [_code_row(Html(f'{escape(name)} <span class="description">(not in the codebook)</span>'), uses[name], coders)
             for name in stray]
    headers = ("code", "units coded", *(f"units by {c}" for c in coders), "transcripts", "participants")
    leaves = [c.name for c in codebook.leaves] + stray
    return section("codebook", "Codebook", [
        note(f"{'Exclusive (one code per unit)' if codebook.exclusive else 'Multi-label'}; a group counts the units "
              "coded with any code below it. Participants are speakers, counted per transcript."),
        table(headers, rows, limit=None),  # every code, however long the codebook
        Html("<h3>Codes × transcripts</h3>"),
        _code_transcript_table(leaves, uses, transcripts),
    ])


def _code_row(name: Html, use: CodeUse, coders: Sequence[str]) -> tuple:
    return (name, len(use.units), *(len(use.by_coder.get(c, ())) for c in coders), len(use.by_transcript),
            len(use.participants))


def _code_transcript_table(leaves: Sequence[str], uses: dict[str, CodeUse], transcripts: dict[int, str]) -> Html:
    """Units per code and transcript; large corpora keep the most used codes and the most coded transcripts."""
    used = [name for name in leaves if name in uses]
    if not used:
        return note("No codes applied yet.")
    codes = _most(used, lambda name: len(uses[name].units), MAX_HEATMAP_CODES)
    coded: Counter = Counter()
    for name in codes:
        for transcript_id, units in uses[name].by_transcript.items():
            coded[transcript_id] += len(units)
    columns = _most(list(transcripts), lambda t: coded[t], MAX_HEATMAP_TRANSCRIPTS)
    matrix = [[len(uses[name].by_transcript.get(t, ())) for t in columns] for name in codes]
    shown = f"{len(codes)} of {len(used)} codes, {len(columns)} of {len(transcripts)} transcripts"
    return heatmap_table(codes, [transcripts[t] for t in columns], matrix, corner="code",
                         caption=f"Units coded per transcript ({shown})")


def _most(items: list, key, limit: int) -> list:
    """The ``limit`` items with the largest key, in their original order."""
    if len(items) <= limit:
        return items
    keep = set(sorted(items, key=key, reverse=True)[:limit])
    return [item for item in items if item in keep]


# --- 3. model quality --------------------------------------------------------------


def model_section(evaluation: dict | None, classifier: tuple[str, dict] | None) -> Html:
    """The latest stored evaluation: summary, per-code F1, confusion, learning curve, calibration."""
    trained = note(f"Latest model: {classifier[0]}.") if classifier else note("No model trained yet.")
    if evaluation is None:
        return section("model", "Model quality", [
            trained, Html('<p class="empty">No evaluation yet: run <code>qcassist evaluate</code>.</p>')])
    auto = evaluation.get("auto_accept") or {}
    summary = [
        ("Units evaluated", evaluation.get("units")), ("Mode", evaluation.get("mode")),
        ("Folds (grouped by transcript)", evaluation.get("folds")), ("Transcripts", evaluation.get("transcripts")),
        ("Encoder", evaluation.get("encoder")), ("Macro-F1", evaluation.get("macro_f1")),
        (f"Kappa ({evaluation.get('kappa_kind', 'Cohen')})", evaluation.get("kappa")),
        ("Expected calibration error", evaluation.get("ece")),
        ("Auto-accept tier: probability ≥", auto.get("threshold")),
        ("Auto-accept tier: precision", auto.get("precision")),
        ("Auto-accept tier: share of suggestions covered", auto.get("coverage")),
    ] + _baseline_rows(evaluation.get("baseline"))
    per_code = evaluation.get("per_code") or {}
    parts = [trained, table(("", "value"), summary), Html("<h3>Per code</h3>")]
    if per_code:
        parts.append(figure(bar_chart([(code, m.get("f1")) for code, m in per_code.items()], label="F1 per code"),
                             "F1 per code (cross-validated)"))
        parts.append(table(("code", "precision", "recall", "F1", "support"),
                            [(code, m.get("precision"), m.get("recall"), m.get("f1"), m.get("support"))
                             for code, m in per_code.items()]))
    parts += [Html("<h3>Confusion matrix</h3>"), _evaluation_confusion(evaluation)]
    parts += [Html("<h3>Learning curve</h3>"), _learning_curve(evaluation.get("learning_curve"))]
    parts += [Html("<h3>Calibration</h3>"), _calibration(evaluation.get("calibration"), evaluation.get("ece"))]
    return section("model", "Model quality", parts)


def _baseline_rows(baseline: dict | None) -> list[tuple]:
    """TF-IDF + LR on the same folds beside the model (evaluations stored before it had one show none)."""
    if not isinstance(baseline, dict):
        return []
    name = f"Baseline {baseline.get('name', '')} ({baseline.get('features', '')}), same folds"
    adds = baseline.get("model_adds") if isinstance(baseline.get("model_adds"), dict) else {}
    return [(f"{name}: macro-F1", baseline.get("macro_f1")), (f"{name}: kappa", baseline.get("kappa")),
            ("Model minus baseline: macro-F1", adds.get("macro_f1")), ("Model minus baseline: kappa", adds.get("kappa"))]


def _evaluation_confusion(evaluation: dict) -> Html:
    confusion = evaluation.get("confusion")
    if not confusion:
        return note("This evaluation stores no confusion matrix.")
    return Html(heatmap_table(confusion["labels"], confusion["labels"], confusion["matrix"], corner="truth \\ predicted",
                              caption="Units per true code (rows) and predicted code (columns)"))


def _learning_curve(curve: list[dict] | None) -> Html:
    if not curve:
        return note("This evaluation has no learning curve (it was run without one).")
    sizes = [str(point["per_code"]) for point in curve]
    chart = line_chart(sizes, {"macro-F1": [p["macro_f1"] for p in curve], "kappa": [p["kappa"] for p in curve]},
                       label="Learning curve: macro-F1 and kappa by training units per code")
    points = table(("training units per code", "macro-F1", "kappa", "kappa SD over seeds"),
                   [(str(p["per_code"]), p["macro_f1"], p["kappa"], p.get("kappa_sd")) for p in curve])
    return Html(figure(chart, "Macro-F1 and kappa when each training fold keeps n coded units per code") + points)


def _calibration(bins: list[dict] | None, ece: float | None) -> Html:
    if not bins:
        ece_text = f" Its expected calibration error is {ece:.3f}." if ece is not None else ""
        return note(f"This evaluation stores no calibration bins, so there is no reliability diagram.{ece_text}")
    chart = reliability_diagram(bins, label="Reliability diagram: accuracy per confidence bin")
    return figure(chart, "Bars: accuracy per confidence bin; dots: mean confidence in the bin; dashed: perfect calibration")


# --- 4. agreement ------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One set of coders compared: the agreement result, or why there is none."""

    coders: tuple[str, ...]
    result: dict | None = None  # qcassist.agreement.Agreement.as_dict()
    skipped: str = ""


def default_comparisons(store: Store) -> list[tuple[str, ...]]:
    """What a methods reviewer expects: reliability between the people (never a coder derived from them,
    like ``adjudicated``, which would inflate it), then each person against the model's suggestions.

    A person vs model comparison is listed even where the model judged none of that person's units:
    the report then says why there are no figures and what to run.
    """
    derived = derived_coders(store)
    people = [c["coder"] for c in store.coders()
              if "human" in c["origins"] and c["coder"] not in derived and not is_model(c["coder"])]
    comparisons: list[tuple[str, ...]] = [tuple(people)] if len(people) >= 2 else []
    if store.suggestions():
        comparisons += [(person, MODEL_CODER) for person in people]
    return comparisons


def check_comparisons(store: Store, comparisons: Sequence[Sequence[str]]) -> None:
    """Each comparison names two or more distinct coders of this project (or the model)."""
    known = [c["coder"] for c in store.coders()] + [MODEL_CODER]
    for coders in comparisons:
        if len(set(coders)) < 2:
            raise QcaError(f"a comparison needs two or more different coders, not {', '.join(coders) or 'none'}; "
                           "give them as --coders A,B.")
        for coder in coders:
            if coder not in known and not is_model(coder):
                raise QcaError(f"unknown coder {coder!r}.{did_you_mean(coder, known)} "
                               f"Coders in this project: {', '.join(known)}.")


def compare_coders(store: Store, comparisons: Sequence[Sequence[str]], *, bootstrap: int = 1000,
                   progress: Callable[[str], None] | None = None) -> list[Comparison]:
    """Agreement for each set of coders; a set that cannot be compared is kept with the reason."""
    if not comparisons:
        return []
    from .agreement import agree  # imported only when there is something to compare

    results = []
    for coders in comparisons:
        try:
            results.append(Comparison(tuple(coders), agree(store, list(coders), bootstrap=bootstrap).as_dict()))
        except QcaError as exc:
            results.append(Comparison(tuple(coders), skipped=str(exc)))
        if progress:
            progress(" vs ".join(coders))
    return results


def agreement_section(comparisons: Sequence[Comparison]) -> Html:
    """One block per comparison: statistics with CIs beside their thresholds, per-code table, confusion."""
    if not comparisons:
        return section("agreement", "Agreement between coders", [note(
            "Nothing to compare: agreement needs two human coders, or suggestions to compare a coder with "
            "(or name coders with --coders A,B).")])
    parts = [note("Figures use the codings each person made directly (imported, hand-coded or adjudicated), not "
                  "units they reached by reviewing suggestions. Without --coders the report compares the people "
                  "with each other (a coder derived from them, like 'adjudicated', is left out: it would inflate "
                  "reliability) and each person with the model, on the units both judged.")]
    for comparison in comparisons:
        parts.append(Html(f"<h3>{escape(' vs '.join(comparison.coders))}</h3>"))
        if comparison.result is None:
            parts.append(note(f"Not compared: {comparison.skipped}"))
        else:
            parts.append(_agreement_block(comparison.result))
        if comparison.result is not None and any(is_model(c) for c in comparison.coders):
            parts.append(note("The model's codes are its stored suggestions, compared only on the units "
                              "'qcassist suggest' ran on; units it skipped because people had coded them are left out."))
    return section("agreement", "Agreement between coders", parts)


def _agreement_block(result: dict) -> Html:
    unaligned = ", ".join(f"{coder} {n}" for coder, n in (result.get("unaligned") or {}).items()) or "none"
    intervals = (f"95% confidence intervals from {result['bootstrap']} bootstrap resamples of transcripts"
                 if result.get("bootstrap") else "no confidence intervals")
    facts = (f"{result.get('units')} units in {result.get('transcripts')} transcripts; reference coder "
             f"{result.get('reference')}; spans not aligned to a unit: {unaligned}; alignment at ≥ "
             f"{result.get('min_overlap')} overlap; {intervals}.")
    statistics = [
        (STATISTIC_NAMES.get(key, key), stat.get("value"), _interval(stat.get("ci")), stat.get("label"))
        for key, stat in (result.get("statistics") or {}).items()
    ]
    thresholds = result.get("thresholds") or {}
    parts = [note(facts), *(note(n) for n in result.get("notes") or ()), Html(
        '<div class="side">'
        + table(("statistic", "value", "95% CI", "reading"), statistics)
        + _thresholds_table("Landis & Koch (kappa, AC1)", thresholds.get("kappa") or LANDIS_KOCH)
        + _thresholds_table("Krippendorff (alpha)", thresholds.get("alpha") or KRIPPENDORFF)
        + "</div>"
    )]
    per_code = result.get("per_code") or []
    if per_code:
        parts.append(table(("code", "precision", "recall", "F1", "F1 95% CI", "support", "κ", "α"),
                           [(r["code"], r.get("precision"), r.get("recall"), r.get("f1"), _interval(r.get("f1_ci")),
                             r.get("support"), r.get("kappa"), r.get("alpha")) for r in per_code],
                           caption=f"Per code, against {result.get('reference')}"))
    confusion = result.get("confusion")
    if confusion:
        parts.append(heatmap_table(confusion["labels"], confusion["labels"], confusion["matrix"],
                                   corner=f"{confusion['rows']} \\ {confusion['columns']}",
                                   caption=f"Units per code of {confusion['rows']} (rows) and {confusion['columns']} (columns)"))
    return Html("".join(parts))


def _interval(ci: Sequence[float] | None) -> str | None:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else None


def _thresholds_table(title: str, thresholds: Sequence[Sequence]) -> Html:
    return table(("from", "reading"), [(f"≥ {low:.3f}".rstrip("0").rstrip("."), label) for low, label in thresholds],
                  caption=title)


# --- 5. review progress ------------------------------------------------------------


def review_section(decisions: Sequence[Decision], suggestions: Sequence[Suggestion], settled: set[int]) -> Html:
    """Decisions by coder and action, cumulative decisions over time, and the suggestions still waiting."""
    waiting = [s for s in suggestions if s.unit_id not in settled]
    status = [
        ("Suggestions stored", len(suggestions)), ("Units with suggestions", len({s.unit_id for s in suggestions})),
        ("Units decided by a reviewer", len(settled)), ("Suggestions not yet reviewed", len(waiting)),
        ("Units not yet reviewed", len({s.unit_id for s in waiting})),
    ]
    parts = [table(("", "count"), status)]
    if not decisions:
        parts.append(note("No review decisions yet: run qcassist review."))
        return section("review", "Review progress", parts)
    by_coder: dict[str, Counter] = defaultdict(Counter)
    for decision in decisions:
        by_coder[decision.coder][decision.action] += 1
    actions = [a for a in ACTIONS if any(a in counts for counts in by_coder.values())]
    rows = [(coder, *(counts[a] for a in actions), sum(counts.values())) for coder, counts in sorted(by_coder.items())]
    parts.append(table(("coder", *actions, "total"), rows, caption="Decisions by coder and action"))
    days, series = _cumulative_by_day(decisions, actions)
    if len(days) == 1:
        parts.append(note(f"All decisions were made on {days[0]}."))
    else:
        top = max(max(points) for points in series.values())
        parts.append(figure(line_chart(days, series, label="Cumulative decisions per action by day", y_range=(0, top)),
                            f"Cumulative decisions by day, {days[0]} to {days[-1]}"))
    return section("review", "Review progress", parts)


def _cumulative_by_day(decisions: Sequence[Decision], actions: Sequence[str]) -> tuple[list[str], dict[str, list[float]]]:
    per_day: dict[str, Counter] = defaultdict(Counter)
    for decision in decisions:
        per_day[decision.created_at[:10]][decision.action] += 1
    days = sorted(per_day)
    series: dict[str, list[float]] = {}
    for action in actions:
        running, points = 0, []
        for day in days:
            running += per_day[day][action]
            points.append(float(running))
        series[action] = points
    return days, series


# --- the page ----------------------------------------------------------------------

SECTIONS = (("corpus", "Corpus"), ("codebook", "Codebook"), ("themes", "Preliminary themes"), ("model", "Model quality"),
            ("agreement", "Agreement"), ("review", "Review progress"))


def themes_section(store: Store) -> Html:
    """Themes adopted as codes (qcassist themes adopt): where each came from and how review has taken its units."""
    from .themes import current_adoptions, theme_suggestions

    entries = current_adoptions(store)  # a removed or renamed code has ended its adoption
    if not entries:
        return section("themes", "Preliminary themes", [note(
            "No themes adopted. 'qcassist themes' proposes candidate themes of the units (it changes nothing); "
            "'qcassist themes adopt T1 --as NAME' makes one a code whose units wait in review.")])
    decided = [d for d in store.decisions() if (d.model_version or "").startswith("theme:")]
    taken = Counter((d.model_version, d.action) for d in decided)
    done = {(d.model_version, d.unit_id) for d in decided}
    waiting = Counter(s.model_version for s in theme_suggestions(store) if (s.model_version, s.unit_id) not in done)
    rows = []
    for e in entries:
        version = f"theme:{e['run_id']}:{e['theme']}"
        rows.append((e["code"], e["parent"] or "", f"{e['theme']} of run {e['run_id']}", ", ".join(e["label"]),
                     len(e["units"]), taken[(version, "accept")], taken[(version, "reject")] + taken[(version, "recode")],
                     waiting[version], e["parameters"]["encoder"], e["adopted_at"]))
    return section("themes", "Preliminary themes", [table(
        ("code", "group", "theme", "terms", "units", "accepted", "rejected or recoded", "not yet decided", "encoder", "adopted"),
        rows, caption="Themes adopted as codes; their units are suggestions (source 'theme') until decided in review")])


def build_report(store: Store, *, comparisons: Sequence[Sequence[str]] | None = None, bootstrap: int = 1000,
                 progress: Callable[[str], None] | None = None) -> str:
    """The project report as one self-contained HTML page; ``comparisons`` default to default_comparisons()."""
    if comparisons is None:
        comparisons = default_comparisons(store)
    else:
        check_comparisons(store, comparisons)
    agreement = compare_coders(store, comparisons, bootstrap=bootstrap, progress=progress)
    counts = store.counts()
    codings = store.codings()
    unit_places = {u.id: (u.transcript_id, u.speaker or "") for u in store.units()}
    decisions = store.decisions()
    reviewers = {d.coder for d in decisions} - derived_coders(store)  # adjudication settles disagreements, not suggestions
    settled = set().union(*(settled_units(store, coder) for coder in reviewers))
    sections = [
        corpus_section(counts, store.coders()),
        codebook_section(store.codebook(), codings, unit_places, {r["id"]: r["transcript"] for r in counts}),
        themes_section(store),
        model_section(store.latest_evaluation(), store.latest_classifier()),
        agreement_section(agreement),
        review_section(decisions, store.suggestions(), settled),
    ]
    project = store.directory.resolve().name
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return page(f"qcassist report: {project}", f"Made {created} by qcassist {__version__}.", SECTIONS, sections)


def write_report(store: Store, path: str | Path, *, comparisons: Sequence[Sequence[str]] | None = None,
                 bootstrap: int = 1000, progress: Callable[[str], None] | None = None) -> Path:
    """Write the report to ``path`` (its folder must exist) and return the path."""
    path = Path(path)
    if not path.parent.is_dir():
        raise QcaError(f"{path.parent} is not a directory; create it or choose another --output.")
    page = build_report(store, comparisons=comparisons, bootstrap=bootstrap, progress=progress)
    from .safe_output import write_output  # replaced atomically, never over the project's own files

    write_output(path, lambda out: out.write(page), force=True, store_dir=store.directory)
    return path
