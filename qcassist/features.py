"""Features for the code classifier, built from arrays and texts (the encoder runs outside).

The unit's embedding, TF-IDF word and character n-grams of the unit, a few surface
cues (questions, lengths), and the words of the turns before and after it as context
(separate, down-weighted blocks), stacked into one sparse matrix; fitted state is
plain vocabularies and arrays, never pickled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """Which feature blocks to use, and their weights."""

    embedding: bool = True
    embedding_weight: float = 1.0
    word_ngrams: tuple[int, int] | None = (1, 2)
    char_ngrams: tuple[int, int] | None = (2, 5)  # within word boundaries
    cues: bool = True
    context_ngrams: tuple[int, int] | None = (1, 2)  # words of the turns before and after
    context_weight: float = 0.5
    min_df: int = 2

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FeatureConfig:
        data = dict(data)
        for key in ("word_ngrams", "char_ngrams", "context_ngrams"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        return cls(**data)


class _Tfidf:
    """A fitted TF-IDF vectorizer as plain state (vocabulary + idf)."""

    def __init__(self, ngrams: tuple[int, int], min_df: int, analyzer: str = "word"):
        self.ngrams = ngrams
        self.min_df = min_df
        self.analyzer = analyzer
        self.vocabulary: dict[str, int] = {}
        self.idf = np.zeros(0, dtype=np.float64)

    def _vectorizer(self, vocabulary=None, min_df=None) -> TfidfVectorizer:
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(ngram_range=self.ngrams, sublinear_tf=True, min_df=min_df or self.min_df,
                               vocabulary=vocabulary, analyzer=self.analyzer)

    def fit(self, texts: Sequence[str]) -> _Tfidf:
        try:
            fitted = self._vectorizer().fit(texts)
        except ValueError:  # too few documents for min_df: keep every term
            fitted = self._vectorizer(min_df=1).fit(texts)
        self.vocabulary = {term: int(i) for term, i in fitted.vocabulary_.items()}
        self.idf = fitted.idf_.astype(np.float64)
        return self

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        # a vectorizer validates its vocabulary (O(vocabulary)) on first use: build it once per
        # fitted state, not once per call (suggest transforms block after block)
        remembered = getattr(self, "_vectorizer_of_state", None)
        if remembered is None or remembered[0] is not self.vocabulary or remembered[1] is not self.idf:
            vectorizer = self._vectorizer(self.vocabulary)
            vectorizer.idf_ = self.idf
            self._vectorizer_of_state = (self.vocabulary, self.idf, vectorizer)
        return self._vectorizer_of_state[2].transform(texts).tocsr()


def cue_features(texts: Sequence[str], before: Sequence[str], after: Sequence[str]) -> np.ndarray:
    """Surface cues: questions in the unit and the turn before, and the lengths of the unit and its neighbours."""
    rows = []
    for text, previous, following in zip(texts, before, after):
        stripped = text.rstrip()
        rows.append([
            float("?" in text), min(text.count("?"), 3) / 3, float(stripped.endswith("?")),
            np.log1p(len(text.split())) / 5, np.log1p(len(previous.split())) / 5, np.log1p(len(following.split())) / 5,
            float("?" in previous), float(not previous.strip()),
        ])
    return np.array(rows, dtype=np.float64).reshape(len(rows), 8)


class FeatureBuilder:
    """Turns (embeddings, unit texts, turn-before texts, turn-after texts) into one sparse feature matrix."""

    def __init__(self, config: FeatureConfig = FeatureConfig()):
        self.config = config
        self.words: _Tfidf | None = None
        self.chars: _Tfidf | None = None
        self.context: _Tfidf | None = None

    def fit(self, texts: Sequence[str], contexts: Sequence[str], following: Sequence[str] | None = None) -> FeatureBuilder:
        c = self.config
        following = following if following is not None else [""] * len(texts)
        self.words = _Tfidf(c.word_ngrams, c.min_df).fit(texts) if c.word_ngrams else None
        self.chars = _Tfidf(c.char_ngrams, c.min_df, "char_wb").fit(texts) if c.char_ngrams else None
        neighbours = [*contexts, *following]
        self.context = _Tfidf(c.context_ngrams, c.min_df).fit(neighbours) if c.context_ngrams and any(neighbours) else None
        return self

    def transform(self, embeddings: np.ndarray, texts: Sequence[str], contexts: Sequence[str],
                  following: Sequence[str] | None = None) -> sparse.csr_matrix:
        from scipy import sparse

        following = following if following is not None else [""] * len(texts)
        blocks = []
        if self.config.embedding:
            blocks.append(sparse.csr_matrix(np.asarray(embeddings, dtype=np.float64) * self.config.embedding_weight))
        for part in (self.words, self.chars):
            if part is not None:
                blocks.append(part.transform(texts))
        if self.config.cues:
            blocks.append(sparse.csr_matrix(cue_features(texts, contexts, following)))
        if self.context is not None:
            blocks.append(self.context.transform(contexts) * self.config.context_weight)
            blocks.append(self.context.transform(following) * self.config.context_weight)
        if not blocks:
            raise ValueError("the feature configuration selects no features")
        return sparse.hstack(blocks, format="csr")

    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta = {"config": self.config.as_dict()}
        arrays = {}
        for name, part in (("words", self.words), ("chars", self.chars), ("context", self.context)):
            if part is not None:
                meta[f"{name}_vocabulary"] = part.vocabulary
                arrays[f"{name}_idf"] = part.idf
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray]) -> FeatureBuilder:
        builder = cls(FeatureConfig.from_dict(meta["config"]))
        for name, ngrams, analyzer in (("words", builder.config.word_ngrams, "word"),
                                       ("chars", builder.config.char_ngrams, "char_wb"),
                                       ("context", builder.config.context_ngrams, "word")):
            if f"{name}_vocabulary" in meta:
                part = _Tfidf(ngrams, builder.config.min_df, analyzer)
                part.vocabulary = meta[f"{name}_vocabulary"]
                part.idf = arrays[f"{name}_idf"]
                setattr(builder, name, part)
        return builder


