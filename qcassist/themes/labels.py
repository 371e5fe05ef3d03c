"""Theme labels: the terms most distinctive of a theme against the rest (class-based TF-IDF).

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

# Words of talk that carry no theme (spoken transcripts, not in the written-language lists).
SPOKEN_FILLERS = {"en": {"um", "uh", "mm", "hmm", "yeah", "okay", "ok", "oh", "like", "just", "know", "think", "really",
                         "right", "gonna", "kind", "sort", "thing", "things", "mean", "actually", "got", "lot",
                         "going", "yes", "well", "bit",
                         # what the tokenizer leaves of contractions (couldn't → couldn)
                         "don", "didn", "doesn", "couldn", "wouldn", "shouldn", "isn", "aren", "wasn", "weren", "haven",
                         "hasn", "hadn", "won", "ain", "ve", "ll", "re"}}


# Transcribers' notes of what is not words: {pause}, {vocalsound}, [laughs], (inaudible).
ANNOTATION = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]|\((?:inaudible|laughs?|laughter|pause|crosstalk|unclear)[^()]*\)", re.I)


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
    word = re.compile(r"(?u)\b[^\W\d_]{2,}\b")
    return np.array([sum(w not in stops for w in word.findall(ANNOTATION.sub(" ", t).lower())) for t in texts])


def distinctive_terms(texts: Sequence[str], labels: np.ndarray, themes: int, *, language: str = "en",
                      top: int = 3, weighting: str = "ctfidf", max_unit_share: float = 1.0) -> list[list[str]]:
    """The ``top`` most distinctive 1–2-word terms of each theme 0..themes-1 (units labelled -1 are left out)."""
    from sklearn.feature_extraction.text import CountVectorizer

    documents = [ANNOTATION.sub(" ", " ".join(t for t, label in zip(texts, labels) if label == theme)) for theme in range(themes)]
    if not themes:
        return []
    vectorizer = CountVectorizer(ngram_range=(1, 2), stop_words=stop_words(language), token_pattern=r"(?u)\b[^\W\d_]{2,}\b",
                                 lowercase=True, max_features=50_000)
    try:
        counts = vectorizer.fit_transform(documents).toarray().astype(float)
    except ValueError:  # nothing but stop words
        return [[] for _ in range(themes)]
    terms = vectorizer.get_feature_names_out()
    weights = WEIGHTINGS[weighting](counts)
    if max_unit_share < 1.0:
        weights[:, _common_terms(texts, labels, terms, max_unit_share)] = 0.0
    return [_pick(terms, weights[theme], top) for theme in range(themes)]


def _common_terms(texts: Sequence[str], labels: np.ndarray, terms: np.ndarray, share: float) -> np.ndarray:
    """Whether each term is in more than ``share`` of the themed units: talk about everything, not one theme."""
    from sklearn.feature_extraction.text import CountVectorizer

    themed = [ANNOTATION.sub(" ", t) for t, label in zip(texts, labels) if label >= 0]
    presence = CountVectorizer(ngram_range=(1, 2), vocabulary=terms, token_pattern=r"(?u)\b[^\W\d_]{2,}\b",
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


WEIGHTINGS = {"ctfidf": _ctfidf, "log-odds": _log_odds}


def _pick(terms: np.ndarray, weights: np.ndarray, top: int) -> list[str]:
    """The heaviest terms, skipping a term whose words an already-picked term holds (or the other way round)."""
    order = sorted(range(len(terms)), key=lambda i: (-weights[i], terms[i]))  # ties by the term, for determinism
    picked: list[str] = []
    for i in order:
        if weights[i] <= 0 or len(picked) == top:
            break
        words = set(terms[i].split())
        if any(words <= set(p.split()) or set(p.split()) <= words for p in picked):
            continue
        picked.append(str(terms[i]))
    return picked
