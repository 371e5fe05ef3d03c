"""Transcript → candidate meaning units.

Strategies:
- ``sentence``: every sentence is a unit;
- ``turn``: every turn is a unit;
- ``cohesive`` (default): adjacent sentences of one turn stay together while they are
  on one point. Cohesion is TextTiling-style: at each gap between sentences, compare
  the mean embedding of the ``window`` sentences before it with the ``window`` after
  it. Embeddings are first centred on a mean sentence vector (which removes what every
  sentence of the interviews shares, e.g. their topic and register), so the
  similarity measures what is specific. ``segment_project`` centres on the mean over
  the whole project's speech: one short transcript's own mean is too noisy a centre
  (benchmarks/README.md shows it over-cuts). A gap is cut when
  ``1 - similarity + question_bonus * (next sentence is a question)`` reaches
  ``threshold``; cuts are taken best first and kept ``min_sentences`` apart. Then
  units are split at their weakest gap while longer than ``max_chars`` and merged
  into their more similar neighbour while shorter than ``min_chars``.

Defaults were chosen on the TIAGE *train* split (benchmarks/segmentation_tiage.py
reports the dev split). Sentences come from spaCy: a blank pipeline with the
rule-based sentencizer unless an installed pipeline is named. Units never cross
turns or paragraphs (blank lines).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .embed import Encoder
from .errors import QcaError
from .model import MeaningUnit, Transcript, Turn

STRATEGIES = ("cohesive", "sentence", "turn")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_WORD = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class SegmentOptions:
    """How to cut turns into meaning units; recorded with every segmentation."""

    strategy: str = "cohesive"
    language: str = "en"
    spacy_model: str | None = None
    roles: tuple[str, ...] = ("participant",)
    window: int = 2
    threshold: float = 1.1
    question_bonus: float = 0.2
    min_sentences: int = 1
    min_chars: int = 40
    max_chars: int = 500

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise QcaError(f"unknown segmentation strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}.")
        if self.window < 1 or self.min_sentences < 1:
            raise QcaError("--window and --min-sentences must be at least 1.")
        if not 0 <= self.min_chars < self.max_chars:
            raise QcaError(f"--min-chars ({self.min_chars}) must be at least 0 and below --max-chars ({self.max_chars}).")

    def as_dict(self) -> dict:
        return asdict(self)


def load_nlp(language: str = "en", spacy_model: str | None = None):
    """A spaCy pipeline that sets sentence boundaries, offline."""
    import spacy

    if spacy_model:
        try:
            nlp = spacy.load(spacy_model)
        except OSError:
            raise QcaError(
                f"spaCy pipeline {spacy_model!r} is not installed; install it (pip install {spacy_model}) or leave out --spacy-model."
            ) from None
        if not ({"parser", "senter", "sentencizer"} & set(nlp.pipe_names)):
            nlp.add_pipe("sentencizer")
        return nlp
    try:
        nlp = spacy.blank(language)
    except (ImportError, KeyError, ValueError):
        raise QcaError(f"spaCy has no language {language!r}; use a code such as en, nb, nn, da, sv, de, fr, es, nl.") from None
    nlp.add_pipe("sentencizer")
    return nlp


def sentence_spans(text: str, turn: Turn, nlp) -> list[tuple[int, int]]:
    """Sentences of one turn as (start, end) offsets into ``text``; none crosses a paragraph."""
    spans: list[tuple[int, int]] = []
    for para_start, para_end in _paragraphs(text, turn.start, turn.end):
        doc = nlp(text[para_start:para_end])
        for sent in doc.sents:
            start, end = _trim(text, para_start + sent.start_char, para_start + sent.end_char)
            if start >= end:
                continue
            if spans and not _WORD.search(text[start:end]) and spans[-1][1] >= para_start:
                spans[-1] = (spans[-1][0], end)  # "..." or "–" alone joins the sentence before it
            else:
                spans.append((start, end))
    return spans


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    paragraphs = []
    cursor = start
    for match in _PARAGRAPH_BREAK.finditer(text, start, end):
        paragraphs.append((cursor, match.start()))
        cursor = match.end()
    paragraphs.append((cursor, end))
    return [span for span in (_trim(text, a, b) for a, b in paragraphs) if span[0] < span[1]]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def segment(
    transcript: Transcript,
    *,
    options: SegmentOptions = SegmentOptions(),
    nlp=None,
    encoder: Encoder | None = None,
    centre: np.ndarray | None = None,
) -> list[MeaningUnit]:
    """Cut a transcript's turns (participant turns by default) into meaning units.

    ``centre`` (cohesive only) is the mean sentence vector to centre on; by default
    the mean of this transcript's sentences.
    """
    if transcript.id is None:
        raise ValueError("segment a stored transcript (it needs an id)")
    turns = [(i, turn) for i, turn in enumerate(transcript.turns) if turn.role in options.roles]
    if options.strategy == "turn":
        groups = [(i, [_trim(transcript.text, turn.start, turn.end)]) for i, turn in turns]
    else:
        nlp = nlp or load_nlp(options.language, options.spacy_model)
        sentences = [(i, sentence_spans(transcript.text, turn, nlp)) for i, turn in turns]
        if options.strategy == "sentence":
            groups = [(i, [span]) for i, spans in sentences for span in spans]
        else:
            if encoder is None:
                raise ValueError("the cohesive strategy needs an encoder")
            groups = _cohesive_groups(transcript.text, sentences, options, encoder, centre)
    units = []
    for turn_index, spans in groups:
        if spans:
            units.append(
                MeaningUnit(transcript.id, spans[0][0], spans[-1][1], turn_index, transcript.turns[turn_index].speaker)
            )
    return units


def unit_sentences(transcript: Transcript, options: SegmentOptions, nlp) -> list[str]:
    """The texts of the sentences that ``segment`` would group, in order."""
    return [
        transcript.text[a:b]
        for turn in transcript.turns if turn.role in options.roles
        for a, b in sentence_spans(transcript.text, turn, nlp)
    ]


def _cohesive_groups(text, sentences, options, encoder, centre):
    flat = [span for _, spans in sentences for span in spans]
    if not flat:
        return []
    vectors = encoder.encode([text[a:b] for a, b in flat])
    if centre is None:
        centre = vectors.mean(axis=0)
    groups = []
    offset = 0
    for turn_index, spans in sentences:
        turn_vectors = vectors[offset : offset + len(spans)]
        offset += len(spans)
        for paragraph in _split_at_paragraphs(text, spans, turn_vectors):
            para_spans, para_vectors = paragraph
            questions = [text[b - 1] == "?" for _, b in para_spans]
            cuts = cohesion_boundaries(
                para_vectors, questions, centre=centre, window=options.window, threshold=options.threshold,
                question_bonus=options.question_bonus, min_sentences=options.min_sentences,
            )
            pieces = _apply_length_bounds(para_spans, para_vectors, questions, cuts, centre, options)
            groups.extend((turn_index, piece) for piece in pieces)
    return groups


def _split_at_paragraphs(text, spans, vectors):
    """Units never cross a paragraph break inside a turn."""
    groups = []
    start = 0
    for i in range(1, len(spans) + 1):
        if i == len(spans) or _PARAGRAPH_BREAK.search(text, spans[i - 1][1], spans[i][0]):
            groups.append((spans[start:i], vectors[start:i]))
            start = i
    return groups


def gap_scores(
    vectors: np.ndarray,
    questions: Sequence[bool],
    *,
    centre: np.ndarray | None = None,
    window: int = 2,
    question_bonus: float = 0.2,
) -> np.ndarray:
    """Cut score at each of the len(vectors)-1 gaps: 1 - block cosine + question bonus."""
    n = len(vectors)
    if n < 2:
        return np.zeros(0, dtype=np.float32)
    v = np.asarray(vectors, dtype=np.float64)
    if centre is not None:
        v = v - centre
    scores = np.empty(n - 1)
    for gap in range(n - 1):
        left = v[max(0, gap - window + 1) : gap + 1].mean(axis=0)
        right = v[gap + 1 : gap + 1 + window].mean(axis=0)
        denom = np.linalg.norm(left) * np.linalg.norm(right)
        similarity = float(left @ right / denom) if denom > 0 else 1.0
        scores[gap] = 1.0 - similarity + (question_bonus if questions[gap + 1] else 0.0)
    return scores


def cohesion_boundaries(
    vectors: np.ndarray,
    questions: Sequence[bool],
    *,
    centre: np.ndarray | None = None,
    window: int = 2,
    threshold: float = 1.1,
    question_bonus: float = 0.2,
    min_sentences: int = 1,
) -> list[int]:
    """Gaps to cut (gap g lies between sentence g and g+1), best first, kept apart."""
    scores = gap_scores(vectors, questions, centre=centre, window=window, question_bonus=question_bonus)
    cuts: list[int] = []
    for gap in np.argsort(-scores, kind="stable"):
        if scores[gap] < threshold:
            break
        if all(abs(int(gap) - other) >= min_sentences for other in cuts):
            cuts.append(int(gap))
    return sorted(cuts)


def _apply_length_bounds(spans, vectors, questions, cuts, centre, options):
    """Split units longer than max_chars at their best gap; merge units shorter than min_chars."""
    scores = gap_scores(vectors, questions, centre=centre, window=options.window, question_bonus=options.question_bonus)
    bounds = sorted(set(cuts))
    length = lambda a, b: spans[b][1] - spans[a][0]  # chars of sentences a..b inclusive  # noqa: E731

    changed = True
    while changed:  # split too-long pieces at their highest-scoring inner gap
        changed = False
        for a, b in _pieces(bounds, len(spans)):
            if b > a and length(a, b) > options.max_chars:
                bounds = sorted(bounds + [a + int(np.argmax(scores[a:b]))])
                changed = True
                break
    changed = True
    while changed:  # merge too-short pieces across their lower-scoring (more similar) neighbouring gap
        changed = False
        pieces = _pieces(bounds, len(spans))
        for index, (a, b) in enumerate(pieces):
            if len(pieces) == 1 or length(a, b) >= options.min_chars:
                continue
            options_ = []
            if index > 0 and length(pieces[index - 1][0], b) <= options.max_chars:
                options_.append((scores[a - 1], a - 1))
            if index + 1 < len(pieces) and length(a, pieces[index + 1][1]) <= options.max_chars:
                options_.append((scores[b], b))
            if options_:
                bounds.remove(min(options_)[1])
                changed = True
                break
    return [spans[a : b + 1] for a, b in _pieces(bounds, len(spans))]


def _pieces(bounds: list[int], n: int) -> list[tuple[int, int]]:
    """Sentence index ranges (inclusive) between cut gaps."""
    starts = [0] + [g + 1 for g in bounds]
    ends = [g for g in bounds] + [n - 1]
    return list(zip(starts, ends))
