"""QMSum meetings (../shared/datasets/qmsum/train) rendered the ways real transcripts come.

Each meeting's JSON has ``meeting_transcripts``: a list of {speaker, content} turns. The
renderings here are what a user could get from a meeting archive; the readers must find
the JSON's turns in every one of them.
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

_RELATIVE = Path("shared") / "datasets" / "qmsum" / "train"
# beside the checkout (../shared), or the workplace's shared folder when CI clones elsewhere
QMSUM = next((p for p in (Path(__file__).resolve().parents[2] / _RELATIVE, Path("/work") / _RELATIVE) if p.exists()),
             Path(__file__).resolve().parents[2] / _RELATIVE)
SECONDS_PER_TURN = 7


def meeting_paths() -> list[Path]:
    return sorted(QMSUM.glob("*.json")) if QMSUM.exists() else []


def meeting_turns(path: Path) -> list[tuple[str, str]]:
    """(speaker, content) of each turn with something said, as the JSON has them."""
    turns = json.loads(path.read_text(encoding="utf-8"))["meeting_transcripts"]
    return [(t["speaker"], t["content"].strip()) for t in turns if t["content"].strip()]


def merged_turns(turns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Consecutive turns of one speaker as one: subtitles cannot mark a boundary between them."""
    merged: list[tuple[str, str]] = []
    for speaker, text in turns:
        if merged and merged[-1][0] == speaker:
            merged[-1] = (speaker, f"{merged[-1][1]} {text}")
        else:
            merged.append((speaker, text))
    return merged


def clock(seconds: int, sep: str = ".") -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{sep}000"


def as_paragraphs(turns) -> str:
    """`Speaker: text` paragraphs separated by blank lines (the usual committee transcript)."""
    return "".join(f"{speaker}: {text}\n\n" for speaker, text in turns)


def as_lines(turns) -> str:
    """One turn a line, no blank lines."""
    return "".join(f"{speaker}: {text}\n" for speaker, text in turns)


def as_timestamped(turns) -> str:
    """`[HH:MM:SS] Speaker: text`, one a line."""
    return "".join(f"[{clock(i * SECONDS_PER_TURN)[:8]}] {speaker}: {text}\n" for i, (speaker, text) in enumerate(turns))


def as_label_lines(turns) -> str:
    """The label alone on its line, the speech below it, a blank line between turns."""
    return "".join(f"{speaker}:\n{text}\n\n" for speaker, text in turns)


TEXT_RENDERINGS = {"paragraphs": as_paragraphs, "lines": as_lines, "timestamped": as_timestamped, "label_lines": as_label_lines}


def as_vtt(turns) -> str:
    cues = [
        f"{clock(i * SECONDS_PER_TURN)} --> {clock(i * SECONDS_PER_TURN + SECONDS_PER_TURN - 1)}\n"
        f"<v {html.escape(speaker, quote=False)}>{html.escape(text, quote=False)}</v>\n"
        for i, (speaker, text) in enumerate(turns)
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def as_srt(turns) -> str:
    cues = [
        f"{i + 1}\n{clock(i * SECONDS_PER_TURN, ',')} --> {clock(i * SECONDS_PER_TURN + SECONDS_PER_TURN - 1, ',')}\n"
        f"{speaker}: {html.escape(text, quote=False)}\n"
        for i, (speaker, text) in enumerate(turns)
    ]
    return "\n".join(cues)


def as_csv(turns) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["speaker", "text", "start"])
    writer.writerows([speaker, text, i * SECONDS_PER_TURN] for i, (speaker, text) in enumerate(turns))
    return out.getvalue()
