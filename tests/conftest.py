"""Small literal data shared by the tests: a six-turn transcript, a fake encoder, a temp project."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from click.testing import CliRunner

from qcassist.store import Store

SIX_TURNS = """Interviewer: How did you first meet the team?
P1: My doctor sent a referral. I did not expect much at first.
Interviewer: What changed?
P1: The nurse listened to me. She came back every week, even when I cancelled. Later we talked about money problems and the rent.
Interviewer: Anything else?
P1: I have hope now.
"""


class HashEncoder:
    """Deterministic, model-free encoder: bag of hashed words, L2-normalized."""

    id = "test-hash-64"

    def __init__(self, dimension: int = 64):
        self.dimension = dimension
        self.calls: list[int] = []

    def encode(self, texts):
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                index = int(hashlib.md5(word.strip(".,?!").encode()).hexdigest(), 16) % self.dimension
                out[row, index] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


@pytest.fixture
def hash_encoder() -> HashEncoder:
    return HashEncoder()


@pytest.fixture
def fake_encoder(monkeypatch) -> HashEncoder:
    """Every project encoder is the model-free hash encoder (the real one is tested in test_embed)."""
    encoder = HashEncoder()
    monkeypatch.setattr("qcassist.project.SentenceTransformerEncoder", lambda spec: encoder)
    return encoder


@pytest.fixture
def project(tmp_path):
    """An empty, initialised project directory."""
    directory = tmp_path / "project"
    Store.create(directory).close()
    return directory


@pytest.fixture
def store(project):
    with Store.open(project) as opened:
        yield opened


@pytest.fixture
def six_turns_file(tmp_path):
    path = tmp_path / "six_turns.txt"
    path.write_text(SIX_TURNS, encoding="utf-8")
    return path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def dump_database(directory) -> list[str]:
    """Every row and schema statement of a project's database, to prove it did not change."""
    import sqlite3

    db = sqlite3.connect(directory / "qcassist.db")
    try:
        return list(db.iterdump())
    finally:
        db.close()


CODE_WORDS = {
    "trust": ["trust", "listened", "kind", "believed", "respect", "honest"],
    "money": ["rent", "debt", "bank", "money", "bills", "benefit"],
    "access": ["waiting", "bus", "appointment", "phone", "queue", "referral"],
}
FILLER = ["the", "team", "really", "and", "then", "we", "it", "was", "very", "so"]


def coded_rows(n_transcripts: int = 4, per_code: int = 5, seed: int = 0) -> list[dict]:
    """A synthetic coded corpus: each unit talks mostly in one code's words."""
    import random

    rng = random.Random(seed)
    rows = []
    for t in range(n_transcripts):
        order = 0
        for code, words in CODE_WORDS.items():
            for _ in range(per_code):
                text = " ".join(rng.choice(words) if rng.random() < 0.6 else rng.choice(FILLER) for _ in range(9))
                rows.append({"transcript": f"t{t}", "order": order, "speaker": "P", "text": text.capitalize() + ".", "code": code})
                order += 1
    return rows


def write_coded_csv(path, rows) -> None:
    import csv

    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write(tmp_path, name: str, text: str):
    """A UTF-8 text file in tmp_path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def expect_input_error(read, path, **kwargs):
    """``read(path, **kwargs)`` raises an InputError of one line that starts with the file's path."""
    from qcassist.errors import InputError

    with pytest.raises(InputError) as info:
        read(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return info.value


def assert_turns_are_clean_spans(transcript) -> None:
    """Turns slice the text in order, are stripped, and hold no speaker label or edge timestamp."""
    import re

    from qcassist.ingest.turns import TIMESTAMP

    previous_end = 0
    for turn in transcript.turns:
        span = transcript.text[turn.start : turn.end]
        assert 0 <= previous_end <= turn.start < turn.end <= len(transcript.text)
        assert span == span.strip()
        assert not span.startswith((f"{turn.speaker}:", f"[{turn.speaker}]"))
        assert not TIMESTAMP.match(span)
        assert not re.search(rf"(?:{TIMESTAMP.pattern})$", span)
        previous_end = turn.end
