"""Encoder throughput on real utterances: the default encoder cold, through the cache, and TF-IDF.

    .venv/bin/python benchmarks/encoder_throughput.py            # ~2000 TIAGE utterances
    .venv/bin/python benchmarks/encoder_throughput.py --n 500

Rows, all on the same texts in one run (the model is loaded before any timing):
- the packaged default encoder (all-MiniLM-L6-v2 on the CPU), no cache;
- the same wrapped in CachedEncoder with an empty cache: encode and write every vector;
- the same CachedEncoder again: every vector read from the cache;
- TfidfEncoder, fitted on the same texts (fit time shown separately), then encoding them.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from qcassist.embed import CachedEncoder, SentenceTransformerEncoder, TfidfEncoder

DEFAULT_DATA = Path(os.environ.get("QCASSIST_TIAGE", "/work/shared/datasets/tiage"))


def tiage_utterances(data: Path, n: int) -> list[str]:
    """The first n distinct utterances of TIAGE's train split, then dev (distinct, so cache hits mean a second pass)."""
    texts: dict[str, None] = {}
    for split in ("train", "dev"):
        with open(data / f"anno_{split}.json", encoding="utf-8") as handle:
            for turns in json.load(handle).values():
                for utterance, _ in turns:
                    texts.setdefault(utterance)
                    if len(texts) == n:
                        return list(texts)
    return list(texts)


def timed(encode: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str]) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    vectors = encode(texts)
    return time.perf_counter() - started, vectors


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="number of distinct utterances (default: 2000)")
    parser.add_argument("--batch-size", type=int, default=64, help="the default encoder's batch size (default: 64)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"TIAGE folder (default: {DEFAULT_DATA})")
    args = parser.parse_args(argv)
    if not (args.data / "anno_train.json").exists():
        parser.error(f"{args.data / 'anno_train.json'} not found; point --data (or QCASSIST_TIAGE) at the TIAGE folder")
    started = time.perf_counter()

    import torch

    texts = tiage_utterances(args.data, args.n)
    words = sum(len(text.split()) for text in texts) / len(texts)
    model = SentenceTransformerEncoder(batch_size=args.batch_size)
    loading = time.perf_counter()
    model.encode(["Load the model before timing the encoder."])
    print(f"Encoder throughput on {len(texts)} distinct TIAGE utterances ({words:.1f} words on average)")
    print(f"default encoder {model.id}, CPU, {torch.get_num_threads()} torch threads, batch size {args.batch_size}")
    print(f"model loaded in {time.perf_counter() - loading:.1f} s (not in the timings below)")

    rows: list[tuple[str, float]] = []
    seconds, plain = timed(model.encode, texts)
    rows.append(("default encoder, no cache", seconds))
    with tempfile.TemporaryDirectory() as scratch:
        cached = CachedEncoder(model, Path(scratch) / "embeddings.sqlite")
        seconds, first = timed(cached.encode, texts)
        rows.append(("CachedEncoder, empty cache (encode + write)", seconds))
        seconds, second = timed(cached.encode, texts)
        rows.append(("CachedEncoder, second pass (all cache hits)", seconds))
        hits, misses = cached.hits, cached.misses
    tfidf = TfidfEncoder()
    fit_seconds, _ = timed(lambda t: tfidf.fit(t), texts)
    seconds, _ = timed(tfidf.encode, texts)
    rows.append((f"TfidfEncoder (LSA {tfidf.components_.shape[0]} dims), fitted", seconds))

    baseline = len(texts) / rows[0][1]
    width = max(len(name) for name, _ in rows)
    header = f"{'encoder':<{width}}  {'seconds':>8}  {'texts/s':>9}  {'x default':>9}"
    print()
    print(header)
    print("-" * len(header))
    for name, seconds in rows:
        rate = len(texts) / seconds
        print(f"{name:<{width}}  {seconds:8.2f}  {rate:9,.0f}  {rate / baseline:9.1f}")
    print()
    print(f"TfidfEncoder fit on the same texts: {fit_seconds:.2f} s (not in its row).")
    print(f"cache: {misses} misses on the first pass, {hits} hits on the second; "
          f"cached vectors equal the uncached ones: {bool(np.allclose(first, plain, atol=1e-5) and np.array_equal(first, second))}")
    print(f"total time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
