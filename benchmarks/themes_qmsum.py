"""Preliminary themes against QMSum's human topics (meeting turns with gold topic spans).

For each meeting: its turns are the units; a turn inside a gold topic's span has that
topic (turns outside every span are left out of the scores). The themes (qcassist.themes,
not told how many topics there are) are compared with baselines told the gold number of
topics: k-means on the same embeddings, and LDA on bags of words (scikit-learn); and
HDBSCAN (scikit-learn, BERTopic's clusterer without UMAP, which is not installed).

Scores per meeting, then averaged: V-measure and adjusted Rand of units' clusters against
gold topics (a method's unthemed units count as one more cluster), the share of gold
topics that are the majority topic of some cluster ("topics found"), and for themes the
share of clusters whose label is closer (same encoder) to its majority topic's name than
to the meeting's other topic names ("label names topic").

    .venv/bin/python benchmarks/themes_qmsum.py --meetings 24 --encoder tfidf
    .venv/bin/python benchmarks/themes_qmsum.py --meetings 24 --encoder default   # MiniLM, cached in /tmp
    .venv/bin/python benchmarks/themes_qmsum.py --pooled                          # ES meetings pooled
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.cluster import HDBSCAN, KMeans  # noqa: E402
from sklearn.decomposition import LatentDirichletAllocation  # noqa: E402
from sklearn.feature_extraction.text import CountVectorizer  # noqa: E402
from sklearn.metrics import adjusted_rand_score, v_measure_score  # noqa: E402

from qcassist.embed import CachedEncoder, SentenceTransformerEncoder, TfidfEncoder  # noqa: E402
from qcassist.themes import NO_THEME, ClusterOptions, cluster  # noqa: E402
from qcassist.themes.labels import ANNOTATION, content_words, distinctive_terms, stop_words  # noqa: E402

QMSUM = Path("/work/shared/datasets/qmsum/train")


def meeting(path: Path) -> tuple[list[str], list[int], list[str]]:
    """Turn texts, each turn's gold topic index (-1 outside every span), and topic names."""
    data = json.loads(path.read_text(encoding="utf-8"))
    turns = data["meeting_transcripts"]
    gold = [-1] * len(turns)
    names = []
    for index, topic in enumerate(data["topic_list"]):
        names.append(topic["topic"].strip())
        for start, end in topic["relevant_text_span"]:
            for i in range(int(start), min(int(end), len(turns) - 1) + 1):
                if gold[i] == -1:
                    gold[i] = index
    keep = [i for i, t in enumerate(turns) if t["content"].strip()]
    return [turns[i]["content"] for i in keep], [gold[i] for i in keep], names


def scores(pred: np.ndarray, gold: np.ndarray, topics: int) -> dict:
    mask = gold >= 0
    p, g = pred[mask], gold[mask]
    majority = {c: Counter(g[p == c]).most_common(1)[0][0] for c in set(p.tolist()) if c != NO_THEME}
    return {"v": v_measure_score(g, p), "ari": adjusted_rand_score(g, p), "found": len(set(majority.values())) / topics,
            "clusters": len(majority)}


def label_names_topic(encoder, labels: list[list[str]], pred, gold, names) -> list[bool]:
    mask = gold >= 0
    hits = []
    name_vectors = encoder.encode(names)
    for theme, terms in enumerate(labels):
        members = gold[mask][pred[mask] == theme]
        if not len(members) or len(names) < 2 or not terms:
            continue
        topic = Counter(members).most_common(1)[0][0]
        label_vector = encoder.encode([" ".join(terms)])[0]
        sims = name_vectors @ label_vector
        hits.append(int(np.argmax(sims)) == topic)
    return hits


def lda(texts: list[str], k: int, seed: int) -> np.ndarray:
    counts = CountVectorizer(stop_words=stop_words("en"), min_df=2).fit_transform([ANNOTATION.sub(" ", t) for t in texts])
    return LatentDirichletAllocation(n_components=k, random_state=seed).fit_transform(counts).argmax(axis=1)


def make_encoder(name: str, texts: list[str]):
    if name == "tfidf":
        return TfidfEncoder().fit(texts)
    return CachedEncoder(SentenceTransformerEncoder(name), Path("/tmp/qcassist-themes-bench.sqlite"))


def run(groups: list[tuple[str, list[str], np.ndarray, list[str]]], encoder_name: str, min_size: int, samples: int,
        min_words: int) -> dict:
    rows: dict[str, list[dict]] = {m: [] for m in ("themes", "kmeans (themes' k)", "kmeans (gold k)", "LDA (gold k)", "HDBSCAN")}
    named: list[bool] = []
    examples = []
    for name, texts, gold, topics in groups:
        encoder = make_encoder(encoder_name, texts)
        vectors = encoder.encode(texts)
        k = len(topics)
        include = content_words(texts) >= min_words if min_words else None
        found = cluster(vectors, ClusterOptions(min_size=min_size), include=include)
        rows["themes"].append(scores(found.labels, gold, k))
        rows["kmeans (themes' k)"].append(scores(KMeans(max(2, len(found.centroids)), random_state=0, n_init=10).fit_predict(vectors), gold, k))
        rows["kmeans (gold k)"].append(scores(KMeans(k, random_state=0, n_init=10).fit_predict(vectors), gold, k))
        rows["LDA (gold k)"].append(scores(lda(texts, k, 0), gold, k))
        rows["HDBSCAN"].append(scores(HDBSCAN(min_cluster_size=min_size, copy=True).fit_predict(vectors), gold, k))
        labels = distinctive_terms(texts, found.labels, len(found.centroids))
        named += label_names_topic(encoder, labels, found.labels, gold, topics)
        for theme, terms in enumerate(labels[:samples]):
            members = gold[(found.labels == theme) & (gold >= 0)]
            if len(members):
                examples.append((name, f"T{theme + 1}", ", ".join(terms), topics[Counter(members).most_common(1)[0][0]]))
    return {"rows": rows, "named": named, "examples": examples}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", type=int, default=24, help="Meetings to use (every 162/N-th, sorted by name).")
    parser.add_argument("--encoder", default="tfidf", help="tfidf (fitted per meeting) or a sentence-transformers name / 'default'.")
    parser.add_argument("--min-size", type=int, default=5)
    parser.add_argument("--min-words", type=int, default=0, help="Units with fewer content words fit no theme (0: all clustered).")
    parser.add_argument("--pooled", action="store_true", help="Also pool the chosen ES (product design) meetings into one set.")
    parser.add_argument("--samples", type=int, default=3, help="Labels per meeting printed for hand-checking.")
    args = parser.parse_args(argv)
    paths = sorted(QMSUM.glob("*.json"))
    step = max(1, len(paths) // args.meetings)
    chosen = paths[::step][: args.meetings]
    started = time.perf_counter()
    groups = []
    for path in chosen:
        texts, gold, names = meeting(path)
        groups.append((path.stem, texts, np.array(gold), names))
    if args.pooled:
        es = [g for g in groups if g[0].startswith("ES")]
        offset, texts, gold, names = 0, [], [], []
        for _, t, g, n in es:
            texts += t
            gold += [x + offset if x >= 0 else -1 for x in g]
            names += n
            offset += len(n)
        groups = [("ES pooled", texts, np.array(gold), names)]
    result = run(groups, args.encoder, args.min_size, args.samples, args.min_words)
    print(f"{len(groups)} set(s) of QMSum meetings ({', '.join(g[0] for g in groups[:8])}{' …' if len(groups) > 8 else ''}), "
          f"{sum(len(g[1]) for g in groups)} turns, encoder {args.encoder}, min size {args.min_size}")
    print(f"{'method':<18} {'V-measure':>9} {'ARI':>6} {'topics found':>12} {'clusters':>8}")
    for method, rows in result["rows"].items():
        mean = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
        print(f"{method:<18} {mean['v']:>9.3f} {mean['ari']:>6.3f} {mean['found']:>12.2f} {mean['clusters']:>8.1f}")
    named = result["named"]
    print(f"theme label closest to its majority topic's name: {sum(named)} of {len(named)} ({np.mean(named):.0%})")
    print("\nSample labels (meeting, theme, label → majority gold topic):")
    for example in result["examples"][: 4 * args.samples * 2]:
        print("  {} {}: {}  →  {}".format(*example))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{time.perf_counter() - started:.0f} s, peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
