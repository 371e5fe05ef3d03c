"""Every pattern the readers apply to user text runs in linear time on adversarial input.

Each case builds hostile input of size n and 8n (long runs of spaces, unclosed tags, nested
parentheses, digits without a colon) and times the reader function or pattern that meets it.
Linear work grows about 8x, quadratic 64x, exponential never ends; the test fails above
MAX_GROWTH. No absolute time limits: n is doubled until one run takes long enough to time.
Times are this process's CPU time (time spent waiting for a busy machine's cores does not
count), best of several runs, and a ratio above the bound is measured again before it fails:
a real quadratic pattern is over it every time, a noisy measurement is not.
"""

from __future__ import annotations

import time

import pytest

from qcassist.ingest import labels, roles, subtitles, table, text, turns

MAX_GROWTH = 30  # of the time for 8n over the time for n: linear is ~8, quadratic ~64
MIN_SECONDS = 0.01  # n is doubled until the small input takes this long
ATTEMPTS = 3
START_N, MAX_N = 1_000, 400_000


def _best_of(run, value, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        run(value)
        best = min(best, time.process_time() - started)
    return best


CASES = {
    # text.py: the trailing-timestamp search once backtracked over every space (40k spaces: 30 s)
    "text line with a long run of spaces": (lambda n: "P1: a" + " " * n + "b", lambda s: text._scan_line(s, 0, 1)),
    "text line of spaces before a timestamp": (lambda n: "P1: a" + " " * n + "[00:01", lambda s: text._scan_line(s, 0, 1)),
    "text line of unclosed brackets": (lambda n: "[" * n, lambda s: text._scan_line(s, 0, 1)),
    "text line of hashes and digits": (lambda n: "#0:0" * n, lambda s: text._scan_line(s, 0, 1)),
    "whole text file of spaced lines": (
        lambda n: ("Interviewer: How?" + " " * 50 + "\nP1: Fine." + " " * 50 + "\n") * (n // 100),
        lambda s: text.parse_labelled_text(s, name="t", path="t.txt"),
    ),
    "colon label of parentheses": (lambda n: "A" + "(" * n + ":", lambda s: labels.colon_label_at(s, 0)),
    "bracket label never closed": (lambda n: "[" + "a" * n, lambda s: labels.bracket_label_at(s, 0)),
    "name check of many words": (lambda n: "Anna " * (n // 5), labels.looks_like_a_name),
    "parentheses left out of a long label": (lambda n: "(a)" * (n // 3), labels.outside_parentheses),
    "not-a-speaker words": (lambda n: "note" * (n // 4), lambda s: labels.NOT_SPEAKERS.fullmatch(s)),
    "role words with spaces": (lambda n: "interviewer" + " " * n + "x", lambda s: roles._INTERVIEWER.match(s)),
    "participant words with digits": (lambda n: "p" + " " * n + "1" * n + "x", lambda s: labels._PARTICIPANT_WORD.fullmatch(s)),
    # subtitles.py: the voice tag once nested (\.[^\s>]+)* — exponential on "<v.a.a.a…"
    "voice tag of classes": (lambda n: "<v" + ".a" * (n // 2), subtitles._speaker_and_words),
    "unclosed tags": (lambda n: "<" * n, subtitles._speaker_and_words),
    "unclosed voice tags": (lambda n: "<v a" * (n // 4), subtitles._speaker_and_words),
    "cue timing of digits": (lambda n: "1" * n, lambda s: subtitles._TIMING.match(s)),
    "cue timing with spaces": (lambda n: "00:00:01.000" + " " * n + "-", lambda s: subtitles._TIMING.match(s)),
    "cue settings": (lambda n: "00:00:01.000 --> 00:00:02.000" + " a" * (n // 2) + "\x00", lambda s: subtitles._TIMING.match(s)),
    "timestamp of digits": (lambda n: "[" + "1" * n, lambda s: turns.TIMESTAMP.search(s)),
    "clock of colons": (lambda n: "1:" * (n // 2) + "x", lambda s: _not_a_time(s)),
    "csv header of quotes": (lambda n: '"' * n + ",;", table._delimiter),
}


def _not_a_time(value: str) -> None:
    with pytest.raises(ValueError):
        turns.parse_clock(value)


@pytest.mark.parametrize("case", sorted(CASES))
def test_reader_patterns_take_linear_time_on_adversarial_input(case):
    make, run = CASES[case]
    n = START_N
    small = _best_of(run, make(n))
    while small < MIN_SECONDS and n < MAX_N:
        n *= 2
        small = _best_of(run, make(n))
    small_input, large_input = make(n), make(8 * n)
    for _ in range(ATTEMPTS):
        large = _best_of(run, large_input)
        if large <= MAX_GROWTH * max(small, 1e-4):
            return
        small = _best_of(run, small_input)
    pytest.fail(f"{case}: {small:.4f}s at n={n}, {large:.4f}s at 8n ({ATTEMPTS} attempts)")
