"""Does capping the TF-IDF fit (issue 13) cost segmentation quality? TIAGE dev, TF-IDF encoder.

Fits the encoder on TIAGE's train + dev utterances unbounded, with the product's caps (which
do not bite on 6k texts), and with caps forced to a quarter and a tenth of the texts and
terms, then scores the product's cohesive segmenter (segmentation_tiage's parameters) on dev.

    .venv/bin/python benchmarks/tfidf_caps_tiage.py
"""
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import segmentation_tiage as tiage  # noqa: E402  (the benchmark folder is not a package)

from qcassist.embed import CachedEncoder, TfidfEncoder  # noqa: E402


def main() -> None:
    dev = tiage.read_split(tiage.DEFAULT_DATA, "dev")
    train = tiage.read_split(tiage.DEFAULT_DATA, "train")
    texts = [u for turns in [*train.values(), *dev.values()] for u, _ in turns]
    unbounded = TfidfEncoder(max_texts=None, max_terms=None).fit(texts)
    terms = len(unbounded.vocabulary_)
    print(f"fitted on {len(texts):,} utterances, {terms:,} terms unbounded")
    encoders = [("unbounded", unbounded), ("product caps (50k texts, 150k terms)", TfidfEncoder().fit(texts))]
    for share in (4, 10):
        name = f"max_texts={len(texts) // share}, max_terms={terms // share}"
        encoders.append((name, TfidfEncoder(max_texts=len(texts) // share, max_terms=terms // share).fit(texts)))
    rows = []
    for name, encoder in encoders:
        with tempfile.TemporaryDirectory() as folder:
            split, _ = tiage.encode_split("dev", dev, CachedEncoder(encoder, Path(folder) / "cache.sqlite"))
        rows.append(tiage.evaluate(f"tfidf {name}", tiage.cohesive(centre="corpus", **tiage.PARAMETERS), split))
    print(tiage.format_table(rows))


if __name__ == "__main__":
    main()
