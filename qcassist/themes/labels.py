"""Theme labels: the words and phrases most distinctive of a theme against the rest (class-based TF-IDF).

Each theme's units are joined into one document; a term's weight is its frequency in
that document (per word of the document) times log(1 + average words per theme / the
term's frequency over all themes), as in BERTopic's c-TF-IDF. Stop words come from
scikit-learn for English and from spaCy's language data (offline) for other languages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ..errors import QcaError
from .clustering import normalise

# Words of talk that carry no theme (spoken transcripts, not in the written-language lists).
SPOKEN_FILLERS = {"en": {"um", "uh", "mm", "hmm", "yeah", "okay", "ok", "oh", "like", "just", "know", "think", "really",
                         "right", "gonna", "kind", "sort", "thing", "things", "mean", "actually", "got", "lot",
                         "going", "yes", "well", "bit",
                         # what the tokenizer leaves of contractions (couldn't → couldn)
                         "don", "didn", "doesn", "couldn", "wouldn", "shouldn", "isn", "aren", "wasn", "weren", "haven",
                         "hasn", "hadn", "won", "ain", "ve", "ll", "re"}}


# Words of talk about anything: verbs of speaking, thinking and wanting, hedges, discourse
# markers, all-purpose adjectives and nouns. They are frequent in every theme of a conversation,
# so class-based TF-IDF still ranks them high in some (maybe, want, did, good, feel); they are
# left out of labels only — they still count as content words (``content_words``).
TALK_WORDS = {"en": set("""
    do does did doing done have has having had can could would should might must shall will may
    say says said saying tell tells told telling talk talks talked talking speak speaking ask asked asking
    mention mentioned discuss discussed think thinks thought thinking know knew knowing guess suppose
    mean means meant want wants wanted wanting wanna need needs needed like liked likes feel feels felt
    feeling seem seems seemed remember understand agree try tries tried trying let lets make makes made
    making get gets getting gotta go goes went gone come comes came coming look looks looked looking see
    sees saw seen take takes took taking put puts putting give gives gave giving keep kept start started
    happen happens happened happening work works worked working use using used wait
    maybe probably perhaps possibly actually basically really quite pretty certainly definitely absolutely
    exactly obviously sure course anyway though still already yet also even totally kinda sorta cause cos
    coz cuz alright huh eh er erm em aye dunno ah uh hm mhm th wh ya yep yup nope gosh wow sorry please thanks
    instead
    good great nice fine bad better best little big lot lots different same important interesting
    possible certain able whole true easy hard long new old real simple
    thing things stuff way ways time times point points question questions idea ideas fact people person
    guy guys bit case sense part today day days week weeks moment example number kind sort
    """.split())}


# Transcribers' notes of what is not words: {pause}, {vocalsound}, [laughs], (inaudible).
ANNOTATION = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]|\((?:inaudible|laughs?|laughter|pause|crosstalk|unclear)[^()]*\)", re.I)
# A word: two or more letters (no digits or underscores), for counting content words and for label terms alike.
TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"


def stop_words(language: str) -> list[str]:
    """Stop words for ``language`` (an ISO code such as en, nb, de), lower-case and sorted."""
    if language == "en":
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        words = set(ENGLISH_STOP_WORDS)
    else:
        import importlib

        try:
            words = set(importlib.import_module(f"spacy.lang.{language}.stop_words").STOP_WORDS)
        except ModuleNotFoundError:
            raise QcaError(f"no stop words for language {language!r}; use a code such as en, nb, nn, da, sv, de, fr, es, nl.") from None
    return sorted(w.lower() for w in words | SPOKEN_FILLERS.get(language, set()))


def content_words(texts: Sequence[str], language: str = "en") -> np.ndarray:
    """How many words of each text are not stop words, fillers or transcribers' notes."""
    stops = set(stop_words(language))
    word = re.compile(TOKEN_PATTERN)
    return np.array([sum(w not in stops for w in word.findall(ANNOTATION.sub(" ", t).lower())) for t in texts])


def label_stop_words(language: str) -> list[str]:
    """Words never in a label: the language's stop words and, where listed, its words of talk about anything."""
    return sorted(set(stop_words(language)) | TALK_WORDS.get(language, set()))


def distinctive_terms(texts: Sequence[str], labels: np.ndarray, themes: int, *, language: str = "en",
                      top: int = 3, weighting: str = "ctfidf", max_unit_share: float = 1.0, talk_words: bool = True,
                      encoder=None, centroids: np.ndarray | None = None, candidates: int = 5,
                      diversity: float = 0.3, collocation: float = 0.5) -> list[list[str]]:
    """The ``top`` most distinctive 1–2-word terms of each theme 0..themes-1 (units labelled -1 are left out).

    With an ``encoder`` and the themes' ``centroids`` (unit-length, in the encoder's space) the
    ``candidates`` heaviest terms are re-ranked KeyBERT-style: by similarity to the theme's
    centre, picked by maximal marginal relevance (``diversity`` weighs unlikeness to the
    terms already picked), so the label says what the theme's units are about, not only
    which words are rarer elsewhere. Two-word terms are words said next to each other in a
    unit; a picked word that the theme says in one such phrase more than ``collocation`` of
    the times becomes that phrase ("control" → "remote control") unless that repeats a word
    already picked.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    # one unit a line: a phrase never runs from one unit into the next
    documents = ["\n".join(" ".join(t.split()) for t, label in zip(texts, labels) if label == theme) for theme in range(themes)]
    if not themes:
        return []
    stops = label_stop_words(language) if talk_words else stop_words(language)
    vectorizer = CountVectorizer(analyzer=_phrase_analyzer(set(stops), 2), max_features=50_000)
    try:
        counts = vectorizer.fit_transform(documents).toarray().astype(float)
    except ValueError:  # nothing but stop words
        return [[] for _ in range(themes)]
    terms = vectorizer.get_feature_names_out()
    weights = WEIGHTINGS[weighting](counts)
    if max_unit_share < 1.0:
        weights[:, _common_terms(texts, labels, terms, max_unit_share)] = 0.0
    phrases = _phrase_finder(terms, collocation)
    if encoder is None or centroids is None:
        return [_pick(terms, weights[theme], top, phrases(counts[theme])) for theme in range(themes)]
    # a candidate said at least twice in the theme, where there are enough such: a term said once
    # ("banana lie") may be near the centre by chance
    repeated = counts >= 2
    enough = repeated.sum(axis=1) >= top
    weights[enough] *= repeated[enough]
    shortlists = [_pick(terms, weights[theme], candidates, phrases(counts[theme])) for theme in range(themes)]
    return _rerank(shortlists, encoder, centroids, top, diversity)


def _phrase_analyzer(stops: set[str], longest: int):
    """Terms of a text: its words and runs of up to ``longest`` adjacent words (transcribers' notes out) that neither
    start nor end with a stop word ("remote control", "point of view"; not "end month" from "end of the month")."""
    word = re.compile(TOKEN_PATTERN)

    def analyse(text: str) -> list[str]:
        terms = []
        for line in text.splitlines():
            tokens = word.findall(ANNOTATION.sub(" ", line).lower())
            for n in range(1, longest + 1):
                for i in range(len(tokens) - n + 1):
                    if tokens[i] not in stops and tokens[i + n - 1] not in stops:
                        terms.append(" ".join(tokens[i:i + n]))
        return terms

    return analyse


def _phrase_finder(terms: np.ndarray, share: float):
    """For a theme's term counts: a function taking a picked word to the two-word phrase the theme says it in
    more than ``share`` of its uses ("control" → "remote control"), else the word itself."""
    index = {str(t): i for i, t in enumerate(terms)}
    phrases_of: dict[str, list[int]] = {}
    for i, term in enumerate(terms):
        words = term.split()
        if len(words) == 2 and words[0] != words[1]:
            for w in words:
                phrases_of.setdefault(w, []).append(i)

    def for_theme(counts: np.ndarray):
        def phrase(term: str) -> str:
            if share > 1.0 or " " in term or term not in phrases_of:
                return term
            best = max(phrases_of[term], key=lambda i: (counts[i], -i))
            return str(terms[best]) if counts[best] >= 2 and counts[best] > share * counts[index[term]] else term
        return phrase

    return for_theme


def _rerank(shortlists: list[list[str]], encoder, centroids: np.ndarray, top: int, diversity: float) -> list[list[str]]:
    """Each shortlist's ``top`` terms by maximal marginal relevance to its theme's centre."""
    vocabulary = sorted({term for shortlist in shortlists for term in shortlist})
    if not vocabulary:
        return [[] for _ in shortlists]
    vectors = normalise(encoder.encode(vocabulary))
    row = {term: i for i, term in enumerate(vocabulary)}
    labels = []
    for shortlist, centre in zip(shortlists, centroids):
        relevance = {term: round(float(vectors[row[term]] @ centre), 9) for term in shortlist}
        picked: list[str] = []
        while len(picked) < min(top, len(shortlist)):
            def score(term: str) -> float:
                likeness = max((float(vectors[row[term]] @ vectors[row[p]]) for p in picked), default=0.0)
                return round((1 - diversity) * relevance[term] - diversity * likeness, 9)

            # ties by the term, so the label never depends on chance
            picked.append(min((t for t in shortlist if t not in picked), key=lambda t: (-score(t), t)))
        labels.append(picked)
    return labels


def _common_terms(texts: Sequence[str], labels: np.ndarray, terms: np.ndarray, share: float) -> np.ndarray:
    """Whether each term is in more than ``share`` of the themed units: talk about everything, not one theme."""
    from sklearn.feature_extraction.text import CountVectorizer

    themed = [ANNOTATION.sub(" ", t) for t, label in zip(texts, labels) if label >= 0]
    presence = CountVectorizer(ngram_range=(1, 2), vocabulary=terms, token_pattern=TOKEN_PATTERN,
                               lowercase=True, binary=True).fit_transform(themed)
    return np.asarray(presence.sum(axis=0)).ravel() > share * max(1, len(themed))


def _ctfidf(counts: np.ndarray) -> np.ndarray:
    """BERTopic's class-based TF-IDF: frequency in the theme × log(1 + mean theme length / frequency overall)."""
    words_per_theme = counts.sum(axis=1, keepdims=True)
    tf = counts / np.where(words_per_theme == 0, 1, words_per_theme)
    return tf * np.log1p(words_per_theme.mean() / np.maximum(counts.sum(axis=0), 1))


def _log_odds(counts: np.ndarray) -> np.ndarray:
    """How much more often a term comes in the theme than in the other themes: p_in × log(p_in / p_rest), add-½ smoothed.

    Words common everywhere (maybe, want, time) score about zero however frequent they are.
    """
    vocabulary = counts.shape[1]
    inside = counts.sum(axis=1, keepdims=True)
    rest = counts.sum(axis=0, keepdims=True) - counts
    p_in = (counts + 0.5) / (inside + 0.5 * vocabulary)
    p_rest = (rest + 0.5) / (counts.sum() - inside + 0.5 * vocabulary)
    return np.where(counts > 0, p_in * np.log(p_in / p_rest), 0.0)


def _stems(term: str) -> set[str]:
    """The term's words without common English endings, so that "control"/"controls" and
    "drink"/"drinking" are one label term, not two of three."""
    return {_stem(w) for w in term.split()}


def _stem(word: str) -> str:
    for endings in (("es", "s"), ("ing", "ed")):  # plural first: meetings → meeting → meet
        for ending in endings:
            if len(word) - len(ending) >= 4 and word.endswith(ending) and not word.endswith("ss"):
                word = word[: -len(ending)]
                if ending in ("ing", "ed") and word[-1] == word[-2] and word[-1] not in "lsz":
                    word = word[:-1]  # quitting → quit, stopped → stop (but falling → fall)
                break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


WEIGHTINGS = {"ctfidf": _ctfidf, "log-odds": _log_odds}


def _pick(terms: np.ndarray, weights: np.ndarray, top: int, phrase=None) -> list[str]:
    """The heaviest terms (each through ``phrase``, where given), skipping a term whose words an already-picked term
    holds (or the other way round)."""
    order = sorted(range(len(terms)), key=lambda i: (-weights[i], terms[i]))  # ties by the term, for determinism
    picked: list[str] = []
    for i in order:
        if weights[i] <= 0 or len(picked) == top:
            break
        for term in dict.fromkeys([phrase(str(terms[i])) if phrase else str(terms[i]), str(terms[i])]):
            words = _stems(term)
            if len(words) < len(term.split()):  # "level level": a stutter, not a phrase
                continue
            if not any(words & _stems(p) for p in picked):
                picked.append(term)
                break
    return picked
