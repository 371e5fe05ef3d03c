"""Bytes as transcripts really come: BOMs, UTF-16, cp1252, CR/CRLF, binary and empty files."""

from __future__ import annotations

import codecs

import pytest

from qcassist.errors import InputError
from qcassist.ingest import read_transcripts
from qcassist.ingest.decode import decode_bytes, normalize_newlines

TEXT = "Interviewer: Hvordan gikk det?\nP1: Bra, takk. Blåbær og café – «fint».\n"
TURNS = [("Interviewer", "Hvordan gikk det?"), ("P1", "Bra, takk. Blåbær og café – «fint».")]


def turns_of(transcript) -> list[tuple[str, str]]:
    return [(turn.speaker, transcript.turn_text(turn)) for turn in transcript.turns]


def write_bytes(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom"],
)
def test_unicode_encodings_decode_to_the_same_text_without_warnings(tmp_path, data, encoding):
    result = read_transcripts(write_bytes(tmp_path, "a.txt", data))
    [transcript] = result.transcripts
    assert transcript.text == TEXT
    assert not transcript.text.startswith("\ufeff")
    assert transcript.metadata["encoding"] == encoding
    assert turns_of(transcript) == TURNS
    assert result.warnings == ()


def test_cp1252_file_is_read_with_a_one_line_warning_naming_file_and_line(tmp_path):
    path = write_bytes(tmp_path, "legacy.txt", "Interviewer: Hvordan?\nP1: Café – «fint» … €5.\n".encode("cp1252"))
    result = read_transcripts(path)
    [transcript] = result.transcripts
    assert turns_of(transcript) == [("Interviewer", "Hvordan?"), ("P1", "Café – «fint» … €5.")]
    assert transcript.metadata["encoding"] == "cp1252"
    [warning] = result.warnings
    assert str(path) in warning and "line 2" in warning and "cp1252" in warning
    assert "\n" not in warning


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["crlf", "lone-cr"])
def test_crlf_and_lone_cr_are_normalized_and_offsets_index_the_normalized_text(tmp_path, newline):
    raw = "Header\n\nInterviewer: How?\nP1: First line.\n\nSecond paragraph.\n"
    path = write_bytes(tmp_path, "a.txt", raw.replace("\n", newline).encode("utf-8"))
    [transcript] = read_transcripts(path).transcripts
    assert transcript.text == raw
    assert "\r" not in transcript.text
    assert turns_of(transcript) == [("Interviewer", "How?"), ("P1", "First line.\n\nSecond paragraph.")]
    p1 = transcript.turns[1]
    assert (p1.start, p1.end) == (raw.index("First"), raw.index("paragraph.") + len("paragraph."))


def test_mixed_line_endings_become_one_newline_each():
    assert normalize_newlines("a\r\nb\rc\nd\r\r\ne") == "a\nb\nc\nd\n\ne"


@pytest.mark.parametrize("suffix", [".vtt", ".csv"])
def test_other_text_formats_share_the_decoding(tmp_path, suffix):
    body = {
        ".vtt": "WEBVTT\r\n\r\n00:00:01.000 --> 00:00:02.000\r\n<v Anna>Blåbær?\r\n\r\n00:00:02.000 --> 00:00:03.000\r\n<v Ole>Ja.\r\n",
        ".csv": "speaker,text\r\nAnna,Blåbær?\r\nOle,Ja.\r\n",
    }[suffix]
    path = write_bytes(tmp_path, f"a{suffix}", codecs.BOM_UTF16_LE + body.encode("utf-16-le"))
    [transcript] = read_transcripts(path).transcripts
    assert turns_of(transcript) == [("Anna", "Blåbær?"), ("Ole", "Ja.")]
    assert transcript.metadata["encoding"] == "utf-16"


def test_undecodable_bytes_raise_an_error_naming_file_and_line(tmp_path):
    # 0x81 is neither UTF-8 nor cp1252
    path = write_bytes(tmp_path, "bad.txt", b"Interviewer: How?\nP1: Fine.\nP1: Bad \x81 byte.\n")
    with pytest.raises(InputError) as info:
        read_transcripts(path)
    message = str(info.value)
    assert message.startswith(f"{path}, line 3:")
    assert "0x81" in message and "\n" not in message
    assert info.value.line == 3


def test_undecodable_line_counts_lone_cr_line_endings(tmp_path):
    path = write_bytes(tmp_path, "bad.txt", b"Interviewer: How?\rP1: Fine.\rP1: \x8d\r")
    with pytest.raises(InputError) as info:
        read_transcripts(path)
    assert info.value.line == 3


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (codecs.BOM_UTF8 + b"Interviewer: How?\nP1: Bad \xff.\n", 2),
        (codecs.BOM_UTF16_LE + "Interviewer: How?\nP1: x\n".encode("utf-16-le") + b"\x00", 3),
        (codecs.BOM_UTF16_BE + "Interviewer: How?\nP1: \ud800".encode("utf-16-be", "surrogatepass") + b"\x00a", 2),
    ],
    ids=["utf-8-bom", "utf-16-odd-length", "utf-16-lone-surrogate"],
)
def test_bom_marked_file_with_bad_bytes_names_file_and_line(tmp_path, data, line):
    path = write_bytes(tmp_path, "bom.txt", data)
    with pytest.raises(InputError) as info:
        read_transcripts(path)
    assert str(info.value).startswith(f"{path}, line {line}:")
    assert "\n" not in str(info.value)


def test_binary_file_with_nul_bytes_is_rejected(tmp_path):
    path = write_bytes(tmp_path, "photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(InputError, match="binary"):
        read_transcripts(path)


def test_binary_file_with_many_control_characters_is_rejected():
    data = bytes(b % 31 + 1 for b in range(400))  # no NUL, mostly control characters
    with pytest.raises(InputError, match="binary"):
        decode_bytes(data, "blob.txt")


@pytest.mark.parametrize("data", [b"", b"  \n\r\n\t ", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_LE + " \n".encode("utf-16-le")])
def test_empty_or_blank_file_is_rejected_as_empty(tmp_path, data):
    path = write_bytes(tmp_path, "empty.txt", data)
    with pytest.raises(InputError, match="empty") as info:
        read_transcripts(path)
    assert str(path) in str(info.value)


def test_a_few_tabs_and_form_feeds_are_not_binary():
    decoded = decode_bytes(b"Interviewer:\tHow?\fP1:\tFine.\n", "a.txt")
    assert decoded.encoding == "utf-8"
    assert decoded.text == "Interviewer:\tHow?\fP1:\tFine.\n"
