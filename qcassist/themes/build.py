"""Preliminary themes of a project's meaning units: the workflow over the store (reads only).

Units are embedded with the project's encoder (through the on-disk cache), clustered
(``clustering``), labelled (``labels``) and grouped (``hierarchy``). Nothing is written to
the project: a run is described by its parameters and an id made from them and the units,
and only ``adopt`` records anything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import __version__
from ..condense import _participants as participants_of  # who counts as a participant, as condense counts them
from ..codebook import did_you_mean
from ..errors import QcaError
from ..model import Transcript
from ..project import project_encoder
from ..store import Store
from ..suggest import HUMAN_ORIGINS, project_encoder_spec
from .clustering import NO_THEME, ClusterOptions, cluster
from .hierarchy import MIN_SPLIT_SILHOUETTE, SPLIT_SILHOUETTE_SAMPLE, split_themes
from .labels import content_words, distinctive_terms

MIN_UNITS = 30
QUOTES = 3
ADOPTED_SETTING = "themes.adopted"


@dataclass(frozen=True)
class ThemeOptions:
    """Which units to group and how; recorded with an adopted theme."""

    transcripts: tuple[str, ...] = ()
    speakers: tuple[str, ...] = ()  # these speakers' units whatever their role; default: participants' units
    uncoded_only: bool = False
    min_size: int = 5
    min_words: int = 3  # units with fewer content words ("Yeah, okay.") fit no theme: they carry none
    language: str | None = None  # None: the language the project was segmented in (else en)
    encoder: str | None = None  # None: the project's encoder
    seed: int = 0

    def __post_init__(self) -> None:
        if self.min_size < 2:
            raise QcaError(f"--min-size must be at least 2, not {self.min_size}.")
        if self.min_words < 0:
            raise QcaError(f"--min-words must be 0 or more, not {self.min_words}.")


@dataclass(frozen=True)
class Quote:
    unit_id: int
    transcript: str
    speaker: str | None
    participant: str
    text: str
    similarity: float  # cosine similarity to the theme's centre


@dataclass(frozen=True)
class Theme:
    id: str  # T1, T2, ... largest first
    label: tuple[str, ...]  # its most distinctive terms
    description: str
    group: str | None  # G1, ... where the themes form groups
    members: tuple[Quote, ...]  # most central first
    participants: tuple[str, ...]

    @property
    def quotes(self) -> tuple[Quote, ...]:
        return self.members[:QUOTES]


@dataclass(frozen=True)
class ThemeGroup:
    id: str
    label: tuple[str, ...]
    themes: tuple[str, ...]


@dataclass(frozen=True)
class AdoptedFit:
    """Units new since a theme was adopted (of transcripts it did not group) that fit it."""

    code: str
    unit_ids: tuple[int, ...]
    new_units: int = 0  # how many units of this run are new since the adoption


@dataclass(frozen=True)
class ThemeRun:
    run_id: str
    themes: tuple[Theme, ...]
    groups: tuple[ThemeGroup, ...]
    unthemed: tuple[Quote, ...]  # units that fit no theme, in transcript order
    units: int
    participants: int  # N, as condense counts them
    parameters: dict
    adopted_fits: tuple[AdoptedFit, ...] = field(default=())
    too_short: int = 0  # of the unthemed: units with fewer than min_words content words
    adopted: dict[str, str] = field(default_factory=dict)  # theme id → the code it was adopted as, from this very run

    def theme(self, theme_id: str) -> Theme:
        for theme in self.themes:
            if theme.id == theme_id.upper():
                return theme
        known = ", ".join(t.id for t in self.themes) or "none"
        group = next((g for g in self.groups if g.id == theme_id.upper()), None)
        if group is not None:
            raise QcaError(f"{group.id} is a group of themes ({', '.join(group.themes)}), not a theme: adopt its themes, "
                           f"with --under NAME to keep them together.")
        raise QcaError(f"no theme {theme_id!r} in this run (themes: {known}); run 'qcassist themes' with the same options to list them.")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Unit:
    id: int
    transcript: str
    speaker: str | None
    participant: str
    text: str


def find_themes(store: Store, options: ThemeOptions = ThemeOptions(), *, cluster_options: ClusterOptions | None = None) -> ThemeRun:
    """Candidate themes of the project's units (participants' by default); changes nothing in the store."""
    units = select_units(store, options)
    if len(units) < MIN_UNITS:
        raise QcaError(f"only {len(units)} meaning units to group; themes need at least {MIN_UNITS} ({_more_units(store, options)}).")
    spec = project_encoder_spec(store, options.encoder)
    encoder = project_encoder(store, spec)
    vectors = np.asarray(encoder.encode([u.text for u in units]), dtype=np.float64)
    cluster_options = cluster_options or ClusterOptions(min_size=options.min_size, seed=options.seed)
    language = options.language or project_language(store)
    include = content_words([u.text for u in units], language) >= options.min_words
    hierarchy = split_themes(vectors, cluster(vectors, cluster_options, include=include), cluster_options)
    found = hierarchy.themes
    parameters = {"qcassist": __version__, "options": asdict(options), "language": language, "encoder": encoder.id,
                  "encoder_spec": spec, "clustering": asdict(cluster_options), "units": len(units),
                  # in the run id: theme ids of a run made before themes split into groups would name other themes
                  "split": {"min_silhouette": MIN_SPLIT_SILHOUETTE, "silhouette_sample": SPLIT_SILHOUETTE_SAMPLE}}
    run_id = _run_id(parameters, [u.id for u in units])  # what went in, not what came out (floats differ across machines)
    parameters["silhouette"] = round(found.silhouette, 4)
    parameters["groups"] = len(hierarchy.group_centroids)
    themes, groups = _themes(units, hierarchy, language, encoder)
    unthemed = tuple(_quote(units[i], float(found.similarity[i])) for i in np.flatnonzero(found.labels == NO_THEME))
    chosen = [t for t in store.transcripts() if not options.transcripts or t.name in options.transcripts]
    _, total, _ = participants_of(store, chosen)  # N: everyone in the transcripts grouped
    entries = current_adoptions(store)
    return ThemeRun(run_id, themes, groups, unthemed, len(units), total, parameters | {"run_id": run_id},
                    adopted_fits(entries, units, vectors, include=include), too_short=int((~include).sum()),
                    adopted={e["theme"]: e["code"] for e in entries if e["run_id"] == run_id})


def select_units(store: Store, options: ThemeOptions) -> list[_Unit]:
    """The units to group, in transcript order: participants' (or the named speakers'), optionally uncoded only."""
    transcripts = store.transcripts()
    known = {t.name for t in transcripts}
    for name in options.transcripts:
        if name not in known:
            raise QcaError(f"no transcript {name!r} in the project; 'qcassist status' lists them.")
    participant_of, _, _ = participants_of(store, transcripts)
    coded = set()
    if options.uncoded_only:
        coded = {c.unit_id for c in store.codings() if c.origin in HUMAN_ORIGINS}
        coded |= {d.unit_id for d in store.decisions() if d.action in ("accept", "recode", "add")}
    chosen = []
    for transcript in transcripts:
        if options.transcripts and transcript.name not in options.transcripts:
            continue
        for unit in store.units(transcript.id):
            if unit.id in coded or not _wanted(transcript, unit, options.speakers):
                continue
            chosen.append(_Unit(unit.id, transcript.name, unit.speaker,
                                participant_of.get((transcript.id, unit.speaker), transcript.name), unit.text_in(transcript)))
    if options.speakers:
        known_speakers = sorted({u.speaker for u in store.units() if u.speaker})
        for speaker in options.speakers:
            if speaker not in known_speakers:
                raise QcaError(f"no units by speaker {speaker!r} (speakers: {', '.join(known_speakers) or 'none'})."
                               f"{did_you_mean(speaker, known_speakers)}")
    return chosen


def _more_units(store: Store, options: ThemeOptions) -> str:
    """What to do about too few units: segment the transcripts not cut yet, if any, else import more or select wider."""
    waiting = [t.name for t in store.transcripts() if (not options.transcripts or t.name in options.transcripts)
               and store.segmentation(t.id) is None and not store.units(t.id)]
    if waiting:
        return f"{len(waiting)} transcript(s) not segmented yet, e.g. {waiting[0]}: run 'qcassist segment' first"
    return "import and segment more transcripts, or widen --transcripts/--speakers/--uncoded-only"


def _wanted(transcript: Transcript, unit, speakers: tuple[str, ...]) -> bool:
    if speakers:
        return unit.speaker in speakers
    if unit.turn_index is None or unit.turn_index >= len(transcript.turns):
        return True
    return transcript.turns[unit.turn_index].role == "participant"


def project_language(store: Store) -> str:
    """The language the project's transcripts were segmented in (the first one found), else English."""
    for transcript in store.transcripts():
        language = (store.segmentation(transcript.id) or {}).get("language")
        if language:
            return language
    return "en"


def _run_id(parameters: dict, unit_ids: list[int]) -> str:
    payload = json.dumps([parameters, unit_ids], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:10]


def _quote(unit: _Unit, similarity: float) -> Quote:
    return Quote(unit.id, unit.transcript, unit.speaker, unit.participant, unit.text, round(similarity, 4))


def _themes(units: list[_Unit], hierarchy, language: str, encoder) -> tuple[tuple[Theme, ...], tuple[ThemeGroup, ...]]:
    found = hierarchy.themes
    k = len(found.centroids)
    texts = [u.text for u in units]
    labels = distinctive_terms(texts, found.labels, k, language=language, encoder=encoder, centroids=found.centroids)
    themes = []
    for index in range(k):
        rows = np.flatnonzero(found.labels == index)
        # most central first; ties by unit id so the order never depends on chance
        order = sorted(rows, key=lambda i: (-round(float(found.similarity[i]), 9), units[i].id))
        members = tuple(_quote(units[i], float(found.similarity[i])) for i in order)
        central = members[0]  # highest similarity to the centre = highest mean similarity to the others
        group = hierarchy.group[index]
        themes.append(Theme(
            f"T{index + 1}", tuple(labels[index]), describe(labels[index], central.text),
            None if group is None else f"G{group + 1}", members,
            tuple(sorted(dict.fromkeys(m.participant for m in members))),
        ))
    return tuple(themes), _groups(texts, hierarchy, themes, language, encoder)


def _groups(texts: list[str], hierarchy, themes: list[Theme], language: str, encoder) -> tuple[ThemeGroup, ...]:
    """The groups (broad themes that split), labelled against everything else as the themes are."""
    n_groups = len(hierarchy.group_centroids)
    if not n_groups:
        return ()
    group_of = np.array([NO_THEME if t == NO_THEME or hierarchy.group[t] is None else hierarchy.group[t]
                         for t in hierarchy.themes.labels])
    group_labels = distinctive_terms(texts, group_of, n_groups, language=language, encoder=encoder,
                                     centroids=hierarchy.group_centroids)
    return tuple(ThemeGroup(f"G{g + 1}", tuple(group_labels[g]), tuple(t.id for t in themes if t.group == f"G{g + 1}"))
                 for g in range(n_groups))


def describe(label, central_text: str, width: int = 110) -> str:
    """One line: the theme's terms and the start of its most central unit."""
    terms = ", ".join(label) or "no distinctive terms"
    return f"{terms} — e.g. “{shorten(central_text, width)}”"


def shorten(text: str, width: int) -> str:
    """Text on one line, cut at the last word boundary within ``width`` characters (then marked …)."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width].rsplit(" ", 1)[0] + " …"


def adopted_themes(store: Store) -> list[dict]:
    """What ``adopt`` recorded: one entry per adopted theme (code, parent, units with scores, run parameters)."""
    return json.loads(store.setting(ADOPTED_SETTING) or "[]")


def current_adoptions(store: Store) -> list[dict]:
    """The adoptions whose code is still a code without codes under it; a renamed, removed or regrouped code has ended
    its adoption (no more suggestions, and the theme may be adopted again)."""
    leaves = {c.name for c in store.codebook().leaves}
    return [e for e in adopted_themes(store) if e["code"] in leaves]


def adopted_fits(entries: list[dict], units: list[_Unit], vectors: np.ndarray, *,
                 include: np.ndarray | None = None) -> tuple[AdoptedFit, ...]:
    """For each adopted theme (``adopted_themes``), this run's units new since the adoption that are as close to its
    centre as its units were.

    New: of a transcript the adopting run did not group (``transcripts`` of the entry). The units the adopting run
    had put elsewhere are not news: listing them right after the adoption said "now fit" of nothing that changed.
    Units ``include`` leaves out (too few content words: "Plastic .") fit no theme, an adopted one neither.
    """
    if not entries:
        return ()
    x = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    row = {u.id: i for i, u in enumerate(units)}
    claimed = {unit_id for e in entries for unit_id, _ in e["units"]}
    fits = []
    for entry in entries:
        members = [row[unit_id] for unit_id, _ in entry["units"] if unit_id in row]
        if not members:
            continue
        centre = x[members].mean(axis=0)
        centre /= max(np.linalg.norm(centre), 1e-12)
        cutoff = min(score for _, score in entry["units"])
        grouped = set(entry.get("transcripts", ()))  # adoptions recorded before it was kept: every unit counts as new
        candidates = [i for i, u in enumerate(units) if u.id not in claimed and u.transcript not in grouped
                      and (include is None or include[i])]
        new = [units[i].id for i in candidates if float(x[i] @ centre) >= cutoff]
        fits.append(AdoptedFit(entry["code"], tuple(new), len(candidates)))
    return tuple(fits)
