"""Preliminary themes against QMSum's human topics (meeting turns with gold topic spans).

For each meeting: its turns are the units; a turn inside a gold topic's span has that
topic (turns outside every span are left out of the scores). The themes (qcassist.themes,
not told how many topics there are) are compared with baselines told the gold number of
topics: k-means on the same embeddings, and LDA on bags of words (scikit-learn); and
HDBSCAN (scikit-learn, BERTopic's clusterer without UMAP, which is not installed).

Both levels of the product's hierarchy are scored: "top", the first cut (a group counts as
one cluster, a theme in no group as one), and "fine", the themes (subthemes where a broad
theme split, the broad theme where it did not); k-means is also given each level's number
of clusters. Labels are scored at both levels; the printed sample is the top level's.

Scores per meeting, then averaged: V-measure and adjusted Rand of units' clusters against
gold topics (a method's unthemed units count as one more cluster), the share of gold
topics that are the majority topic of some cluster ("topics found"), and for themes the
share of clusters whose label is closer (same encoder) to its majority topic's name than
to the meeting's other topic names ("label names topic").

    .venv/bin/python benchmarks/themes_qmsum.py --meetings 24 --encoder tfidf
    .venv/bin/python benchmarks/themes_qmsum.py --meetings 24 --encoder default   # MiniLM, cached in /tmp
    .venv/bin/python benchmarks/themes_qmsum.py --pooled                          # ES meetings pooled
    .venv/bin/python benchmarks/themes_qmsum.py --scale 100000                    # time + peak RSS, synthetic
    .venv/bin/python benchmarks/themes_qmsum.py --annomi                          # AnnoMI client units vs topic

``--scale N`` times clustering and labelling of N synthetic units (384-d embeddings around
60 topic centres, as the cache would hand them over; 12-word texts from each topic's
words) — the themes step without the encoder, whose cost is the cache's.
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
from qcassist.themes.hierarchy import split_themes  # noqa: E402
from qcassist.themes.labels import ANNOTATION, content_words, distinctive_terms, stop_words  # noqa: E402

QMSUM = Path("/work/shared/datasets/qmsum/train")
LABELS: dict = {}  # distinctive_terms options other than the product's (--weighting)
CLUSTER: dict = {}  # ClusterOptions other than the product's defaults (--max-share)
LABELS_ONLY = False  # skip the baselines (--labels-only: quicker label sweeps)
RERANK = True  # labels re-ranked by similarity to the theme's centre, as the product does (--no-rerank)


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


def label_names_topic(encoder, labels: list[list[str]], pred, gold, names) -> list[tuple[bool, float]]:
    """Per theme: is the label closest to its majority topic's name, and by how much (its similarity to
    that name minus the mean similarity to the other names: a graded, less noisy view)."""
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
        hits.append((int(np.argmax(sims)) == topic, float(sims[topic] - np.delete(sims, topic).mean())))
    return hits


def lda(texts: list[str], k: int, seed: int) -> np.ndarray:
    counts = CountVectorizer(stop_words=stop_words("en"), min_df=2).fit_transform([ANNOTATION.sub(" ", t) for t in texts])
    return LatentDirichletAllocation(n_components=k, random_state=seed).fit_transform(counts).argmax(axis=1)


def annomi(path: Path) -> tuple[str, list[str], np.ndarray, list[str]]:
    """AnnoMI's client utterances pooled over transcripts; gold = the session's topic (e.g. smoking cessation)."""
    import csv

    with open(path, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["interlocutor"] == "client"]
    names = sorted({r["topic"] for r in rows})
    return "AnnoMI client", [r["utterance_text"] for r in rows], np.array([names.index(r["topic"]) for r in rows]), names


def make_encoder(name: str, texts: list[str]):
    if name == "tfidf":
        return TfidfEncoder().fit(texts)
    return CachedEncoder(SentenceTransformerEncoder(name), Path("/tmp/qcassist-themes-bench.sqlite"))


def run(groups: list[tuple[str, list[str], np.ndarray, list[str]]], encoder_name: str, min_size: int, samples: int,
        min_words: int) -> dict:
    rows: dict[str, list[dict]] = {m: [] for m in ("themes: top", "themes: fine", "kmeans (top k)", "kmeans (fine k)",
                                                   "kmeans (gold k)", "LDA (gold k)", "HDBSCAN")}
    named: list[tuple[bool, float]] = []
    named_fine: list[tuple[bool, float]] = []
    examples = []
    for name, texts, gold, topics in groups:
        encoder = make_encoder(encoder_name, texts)
        vectors = encoder.encode(texts)
        k = len(topics)
        include = content_words(texts) >= min_words if min_words else None
        options = ClusterOptions(min_size=min_size, **CLUSTER)
        found = cluster(vectors, options, include=include)
        # the product's two levels: the first cut (groups, and themes that did not split) and the finer themes
        fine = split_themes(vectors, found, options).themes
        rows["themes: top"].append(scores(found.labels, gold, k))
        rows["themes: fine"].append(scores(fine.labels, gold, k))
        if LABELS_ONLY:
            rows = {m: rows[m] for m in ("themes: top", "themes: fine")}
        else:
            for level, clusters in (("top", found), ("fine", fine)):
                km = KMeans(max(2, len(clusters.centroids)), random_state=0, n_init=10).fit_predict(vectors)
                rows[f"kmeans ({level} k)"].append(scores(km, gold, k))
            rows["kmeans (gold k)"].append(scores(KMeans(k, random_state=0, n_init=10).fit_predict(vectors), gold, k))
            rows["LDA (gold k)"].append(scores(lda(texts, k, 0), gold, k))
            rows["HDBSCAN"].append(scores(HDBSCAN(min_cluster_size=min_size, copy=True).fit_predict(vectors), gold, k))
        rerank = {"encoder": encoder, "centroids": found.centroids} if RERANK else {}
        labels = distinctive_terms(texts, found.labels, len(found.centroids), **LABELS, **rerank)
        hits = label_names_topic(encoder, labels, found.labels, gold, topics)
        named += hits
        if len(fine.centroids) != len(found.centroids):  # else the same themes, the same labels
            rerank = {"encoder": encoder, "centroids": fine.centroids} if RERANK else {}
            fine_labels = distinctive_terms(texts, fine.labels, len(fine.centroids), **LABELS, **rerank)
            hits = label_names_topic(encoder, fine_labels, fine.labels, gold, topics)
        named_fine += hits
        for theme, terms in enumerate(labels[:samples]):
            members = gold[(found.labels == theme) & (gold >= 0)]
            if len(members):
                examples.append((name, f"T{theme + 1}", ", ".join(terms), topics[Counter(members).most_common(1)[0][0]]))
    return {"rows": rows, "named": named, "named_fine": named_fine, "examples": examples}


def scale(n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    topics, dimension = 60, 384
    centres = rng.normal(size=(topics, dimension))
    topic = rng.integers(topics, size=n)
    vectors = (centres[topic] + 1.2 * rng.normal(size=(n, dimension))).astype(np.float32)
    vocabulary = [f"w{t}x{j}" for t in range(topics) for j in range(30)]
    texts = [" ".join(vocabulary[t * 30 + j] if rng.random() < 0.5 else "common" for j in rng.integers(30, size=12)) for t in topic]
    started = time.perf_counter()
    broad = cluster(vectors, ClusterOptions(min_size=5), include=content_words(texts) >= 3)
    found = split_themes(vectors, broad, ClusterOptions(min_size=5)).themes
    clustered = time.perf_counter() - started
    distinctive_terms(texts, found.labels, len(found.centroids))
    total = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mask = found.labels != NO_THEME
    print(f"{n} units, 60 synthetic topics: {len(broad.centroids)} broad themes → {len(found.centroids)} themes, "
          f"{int((~mask).sum())} fit none; "
          f"V-measure {v_measure_score(topic[mask], found.labels[mask]):.3f} on the themed units")
    print(f"clustering {clustered:.1f} s, with labels {total:.1f} s; peak RSS {peak:.0f} MiB (embeddings alone "
          f"{vectors.nbytes / 2**20:.0f} MiB)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", type=int, default=24, help="Meetings to use (every 162/N-th, sorted by name).")
    parser.add_argument("--encoder", default="tfidf", help="tfidf (fitted per meeting) or a sentence-transformers name / 'default'.")
    parser.add_argument("--min-size", type=int, default=5)
    parser.add_argument("--min-words", type=int, default=3, help="Units with fewer content words fit no theme (0: all clustered).")
    parser.add_argument("--pooled", action="store_true", help="Also pool the chosen ES (product design) meetings into one set.")
    parser.add_argument("--samples", type=int, default=3, help="Labels per meeting printed for hand-checking.")
    parser.add_argument("--annomi", nargs="?", const="/work/shared/datasets/annomi/AnnoMI-simple.dev.csv", default=None,
                        help="Instead: AnnoMI's client units pooled, against each session's topic.")
    parser.add_argument("--scale", type=int, default=0, help="Instead: time themes for this many synthetic units.")
    parser.add_argument("--max-unit-share", type=float, default=None,
                        help="Label terms in more than this share of units are left out (default: the product's).")
    parser.add_argument("--weighting", default=None, help="Label term weighting: ctfidf or log-odds (default: the product's).")
    parser.add_argument("--no-talk-words", action="store_true", help="Labels may use words of talk (maybe, want, good).")
    parser.add_argument("--labels-only", action="store_true", help="Skip the baselines (for label sweeps).")
    parser.add_argument("--no-rerank", action="store_true", help="Labels by term weight alone, not re-ranked by the encoder.")
    parser.add_argument("--candidates", type=int, default=None, help="Terms re-ranked per theme (default: the product's).")
    parser.add_argument("--diversity", type=float, default=None, help="MMR diversity of label terms (default: the product's).")
    parser.add_argument("--tolerance", type=float, default=None, help="ClusterOptions.tolerance (default: the product's).")
    parser.add_argument("--max-share", type=float, default=None, help="ClusterOptions.max_share (default: the product's).")
    args = parser.parse_args(argv)
    if args.max_unit_share is not None:
        LABELS["max_unit_share"] = args.max_unit_share
    if args.weighting is not None:
        LABELS["weighting"] = args.weighting
    global RERANK, LABELS_ONLY
    RERANK, LABELS_ONLY = not args.no_rerank, args.labels_only
    if args.no_talk_words:
        LABELS["talk_words"] = False
    for name in ("candidates", "diversity"):
        if getattr(args, name) is not None:
            LABELS[name] = getattr(args, name)
    if args.tolerance is not None:
        CLUSTER["tolerance"] = args.tolerance
    if args.max_share is not None:
        CLUSTER["max_share"] = args.max_share
    if args.scale:
        scale(args.scale)
        return
    paths = sorted(QMSUM.glob("*.json"))
    step = max(1, len(paths) // args.meetings)
    chosen = paths[::step][: args.meetings]
    started = time.perf_counter()
    groups = []
    for path in chosen:
        texts, gold, names = meeting(path)
        groups.append((path.stem, texts, np.array(gold), names))
    if args.annomi:
        groups = [annomi(Path(args.annomi))]
    elif args.pooled:
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
    for level, key in (("top", "named"), ("fine", "named_fine")):
        named = [hit for hit, _ in result[key]]
        margin = np.mean([m for _, m in result[key]])
        print(f"{level} label closest to its majority topic's name: {sum(named)} of {len(named)} ({np.mean(named):.0%}); "
              f"mean margin over the other names {margin:+.3f}")
    print("\nSample labels of the top level (meeting, theme, label → majority gold topic):")
    for example in result["examples"][: 4 * args.samples * 2]:
        print("  {} {}: {}  →  {}".format(*example))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{time.perf_counter() - started:.0f} s, peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
