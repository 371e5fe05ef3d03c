""".qdpx sources as other tools point to them, and .qdpx files made to hurt: never read the disk, refuse bombs and duplicates."""

from __future__ import annotations

import os
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from qcassist.cli import main
from qcassist.errors import InputError
from qcassist.refi import ArchiveLimits, import_qdc, import_qdpx
from qcassist.refi_read import read_qdpx
from qcassist.segment import SegmentOptions
from qcassist.store import Store
from tests.conftest import dump_database

SENTENCES = SegmentOptions(strategy="sentence")
TEXT = ("Interviewer: How did you get to the board meeting?\nAnna: The bus was late again, so I walked the whole way.\n"
        "Interviewer: And back home?\nAnna: A neighbour drove me.\n")
CODED = "The bus was late again"
USER, CODE = "11111111-2222-4333-8444-000000000001", "11111111-2222-4333-8444-000000000011"


def source_xml(path: str, *, guid: str = "11111111-2222-4333-8444-0000000000a1", name: str = "board_2017",
               text: str = TEXT) -> str:
    start = text.index(CODED)
    return f"""<TextSource guid="{guid}" name="{name}" plainTextPath="{path}">
      <PlainTextSelection guid="{guid[:-2]}b1" startPosition="{start}" endPosition="{start + len(CODED)}" creatingUser="{USER}">
        <Coding guid="{guid[:-2]}c1"><CodeRef targetGUID="{CODE}"/></Coding>
      </PlainTextSelection>
    </TextSource>"""


def project_xml(sources: str, *, users: str = f'<User guid="{USER}" name="Kim"/>',
                codes: str = f'<Code guid="{CODE}" name="transport" isCodable="true"/>', head: str = "") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>{head}
<Project xmlns="urn:QDA-XML:project:1.0" name="Board" origin="qc (imitation)">
  <Users>{users}</Users>
  <CodeBook><Codes>{codes}</Codes></CodeBook>
  <Sources>{sources}</Sources>
</Project>
"""


def qdpx(tmp_path: Path, qde: str, members: dict[str, bytes | str], name: str = "board.qdpx") -> Path:
    """A .qdpx made in the test: project.qde and the given members (no binaries in the repository)."""
    target = tmp_path / name
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", qde)
        for member, data in members.items():
            archive.writestr(member, data)
    return target


# --- item 1: source paths as other tools write them ----------------------------------------

VARIANTS = {
    "internal:// and sources/ (REFI standard)": ("internal://board_2017.txt", "sources/board_2017.txt"),
    "bare name, file under sources/ (the qc CLI)": ("board_2017.txt", "sources/board_2017.txt"),
    "bare name at the top of the archive": ("board_2017.txt", "board_2017.txt"),
    "sources/ in the path": ("sources/board_2017.txt", "sources/board_2017.txt"),
    "internal:// to a top-level file": ("internal://board_2017.txt", "board_2017.txt"),
    "other case": ("internal://Board_2017.TXT", "sources/board_2017.txt"),
    "URL-escaped name": ("internal://board%202017%20%C3%A6.txt", "sources/board 2017 æ.txt"),
    "backslashes (Windows)": ("sources\\board_2017.txt", "sources/board_2017.txt"),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_source_paths_as_other_tools_write_them_are_found_inside_the_qdpx(variant, store, tmp_path):
    reference, member = VARIANTS[variant]
    path = qdpx(tmp_path, project_xml(source_xml(reference)), {member: TEXT})
    report = import_qdpx(store, path, options=SENTENCES)
    [transcript] = store.transcripts()
    [coding] = store.codings()
    assert report.sources_added == ["board_2017"] and report.codings_added == 1
    assert transcript.text == TEXT and coding.code == "transport"
    assert not any("skipped" in w for w in report.warnings)


def test_a_missing_source_is_skipped_with_its_codings_counted_and_the_rest_imports(store, tmp_path):
    sources = source_xml("internal://board_2017.txt") + source_xml(
        "internal://gone.txt", guid="11111111-2222-4333-8444-0000000000a2", name="board_2018")
    path = qdpx(tmp_path, project_xml(sources), {"sources/board_2017.txt": TEXT})
    report = import_qdpx(store, path, options=SENTENCES)
    assert [t.name for t in store.transcripts()] == ["board_2017"]
    assert len(store.codings()) == 1 and report.sources_missing == ["board_2018"]
    [warning] = [w for w in report.warnings if "board_2018" in w]
    assert "skipped source 'board_2018' and its 1 codings" in warning and "internal://gone.txt" in warning


def test_the_codebook_imports_when_no_source_can_be_found(project, runner, tmp_path):
    path = qdpx(tmp_path, project_xml(source_xml("C:\\Users\\kim\\board_2017.txt")), {})
    result = runner.invoke(main, ["import", "-p", str(project), "qdpx", str(path), "--strategy", "sentence"])
    assert result.exit_code == 0, result.output
    assert "0 sources added, 0 already in the project, 1 not in the file (skipped)" in result.output
    assert "1 codes added" in result.output
    assert "points outside the .qdpx" in result.output
    with Store.open(project) as store:
        assert [c.name for c in store.codebook().codes] == ["transport"] and not store.transcripts()


# --- item 2: never read the host disk -------------------------------------------------------


@pytest.fixture
def secret(tmp_path) -> Path:
    """A file on 'the host' that a project file must never bring in."""
    folder = tmp_path / "host"
    folder.mkdir()
    path = folder / "shadow"
    path.write_text("Root: SECRET-HASH-1234 is the password.\nAdmin: The bus was late again.\n"
                    "Root: SECRET again.\nAdmin: and this line too.\n", encoding="utf-8")
    return path


def _leaks(secret: Path) -> dict[str, tuple[str, str]]:
    """(plainTextPath, Project basePath) pointing at the secret in each way the probe found."""
    depth = "../" * (len(secret.parts) + 2)
    return {
        "absolute path": (str(secret), ""),
        "file:// URL": (f"file://{secret}", ""),
        "relative:// with basePath": ("relative://shadow", str(secret.parent)),
        "relative:// climbing out": (f"relative://{depth}{str(secret).lstrip('/')}", ""),
        "/etc/shadow itself": ("/etc/shadow", ""),
        "file:///etc/passwd itself": ("file:///etc/passwd", ""),
        "internal:// climbing out": (f"internal://{depth}{str(secret).lstrip('/')}", ""),
    }


@pytest.mark.parametrize("case", ["absolute path", "file:// URL", "relative:// with basePath", "relative:// climbing out",
                                  "/etc/shadow itself", "file:///etc/passwd itself", "internal:// climbing out"])
def test_a_source_pointing_at_the_disk_is_never_read(case, secret, project, runner, tmp_path):
    reference, base = _leaks(secret)[case]
    qde = project_xml(source_xml(reference, text=secret.read_text(encoding="utf-8")))
    if base:
        qde = qde.replace('origin="qc (imitation)"', f'origin="x" basePath="{base}"')
    path = qdpx(tmp_path, qde, {})
    result = runner.invoke(main, ["import", "-p", str(project), "qdpx", str(path), "--strategy", "sentence"])
    assert result.exit_code == 0, result.output
    assert "skipped source 'board_2017' and its 1 codings" in result.output
    assert "SECRET" not in dump_database(project).__repr__()
    with Store.open(project) as store:
        assert not store.transcripts() and [c.name for c in store.codebook().codes] == ["transport"]


def test_a_sources_folder_is_read_only_inside_itself(secret, project, runner, tmp_path):
    folder = tmp_path / "external"
    folder.mkdir()
    (folder / "board_2017.txt").write_text(TEXT, encoding="utf-8")
    (folder / "link.txt").symlink_to(secret)  # a symlink out of the folder is not inside it
    sources = source_xml("file:///D:/study/board_2017.txt") + source_xml(
        "relative://link.txt", guid="11111111-2222-4333-8444-0000000000a2", name="linked") + source_xml(
        f"relative://../host/{secret.name}", guid="11111111-2222-4333-8444-0000000000a3", name="climbing")
    path = qdpx(tmp_path, project_xml(sources), {})
    result = runner.invoke(main, ["import", "-p", str(project), "qdpx", str(path), "--strategy", "sentence",
                                  "--sources-dir", str(folder)])
    assert result.exit_code == 0, result.output
    with Store.open(project) as store:
        assert [t.name for t in store.transcripts()] == ["board_2017"]
    assert "skipped source 'linked'" in result.output and "skipped source 'climbing'" in result.output
    assert "SECRET" not in repr(dump_database(project))


# --- item 2: refused outright, one line, nothing changed -----------------------------------


def _bomb(tmp_path: Path, expanded_mb: int) -> Path:
    """A .qdpx whose source is a run of zeros: a few hundred KB that expand to ``expanded_mb`` MB."""
    target = tmp_path / "bomb.qdpx"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("project.qde", project_xml(source_xml("internal://board_2017.txt")))
        with archive.open("sources/board_2017.txt", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(expanded_mb):
                member.write(block)
    return target


def _hostile(tmp_path: Path, case: str) -> tuple[Path, str]:
    """The .qdpx for one hostile case and the words its error must contain."""
    if case == "zip bomb":
        return _bomb(tmp_path, 300), "refused as a possible zip bomb"
    good = {"sources/board_2017.txt": TEXT}
    code = f'<Code guid="{CODE}" name="transport" isCodable="true"/>'
    two_sources = source_xml("internal://board_2017.txt") + source_xml("internal://board_2017.txt", name="again")
    cases = {
        "duplicate source GUIDs": (project_xml(two_sources), "two sources have the GUID"),
        "duplicate code GUIDs": (project_xml(source_xml("internal://board_2017.txt"),
                                             codes=code + code.replace("transport", "money")), "two codes have the GUID"),
        "duplicate user GUIDs": (project_xml(source_xml("internal://board_2017.txt"),
                                             users=f'<User guid="{USER}" name="Kim"/><User guid="{{{USER.upper()}}}" name="Bo"/>'),
                                 "two Users have the GUID"),
        "empty code name": (project_xml(source_xml("internal://board_2017.txt"), codes=code.replace("transport", "  ")),
                            "an empty name"),
        "malformed XML": (project_xml(source_xml("internal://board_2017.txt")).replace("</Sources>", "</Source>"),
                          "is not well-formed XML"),
        "deep nesting": (project_xml("", codes="".join(f'<Code guid="{CODE[:-4]}{i:04d}" name="c{i}">' for i in range(3000))
                                     + "</Code>" * 3000), "Excessive depth"),
    }
    made = {name: (qdpx(tmp_path, qde, good, f"{i}.qdpx"), expected) for i, (name, (qde, expected)) in enumerate(cases.items())}
    twice = tmp_path / "twice.qdpx"
    with zipfile.ZipFile(twice, "w") as archive:
        archive.writestr("project.qde", project_xml(source_xml("internal://board_2017.txt")))
        archive.writestr("Project.QDE", project_xml(""))
        archive.writestr("sources/board_2017.txt", TEXT)
    made["two project.qde"] = (twice, "2 project.qde members")
    return made[case]


HOSTILE = ["duplicate source GUIDs", "duplicate code GUIDs", "duplicate user GUIDs", "empty code name", "malformed XML",
           "deep nesting", "two project.qde", "zip bomb"]


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_qdpx_is_one_line_exit_2_and_changes_nothing(case, project, runner, tmp_path, six_turns_file):
    runner.invoke(main, ["import", "-p", str(project), str(six_turns_file)])
    path, expected = _hostile(tmp_path, case)
    before = dump_database(project)
    started = time.monotonic()
    result = runner.invoke(main, ["import", "-p", str(project), "qdpx", str(path), "--strategy", "sentence"])
    took = time.monotonic() - started
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}") and expected in lines[0], result.output
    assert dump_database(project) == before
    assert took < 20  # refused from the zip directory, not after decompressing


def test_xml_errors_name_the_line(tmp_path):
    path, _ = _hostile(tmp_path, "duplicate code GUIDs")
    with pytest.raises(InputError) as info:
        read_qdpx(path)
    assert info.value.line == 4 and info.value.path.endswith("project.qde")


def test_size_limits_are_checked_before_reading_and_can_be_raised(tmp_path, monkeypatch, store):
    text = TEXT + "".join(f"Anna: line {i} says something a little different, {i * 7919 % 10007}.\n" for i in range(40000))
    path = qdpx(tmp_path, project_xml(source_xml("internal://board_2017.txt")), {"sources/board_2017.txt": text})
    with pytest.raises(InputError, match="over the 1 MB limit for one file"):
        read_qdpx(path, limits=ArchiveLimits(member_mb=1))
    with pytest.raises(InputError, match="more than the 2 MB limit for one project"):
        read_qdpx(path, limits=ArchiveLimits(member_mb=3, total_mb=2))
    monkeypatch.setenv("QCASSIST_QDPX_MAX_MEMBER_MB", "1")
    with pytest.raises(InputError, match="QCASSIST_QDPX_MAX_MEMBER_MB"):
        import_qdpx(store, path, options=SENTENCES)
    monkeypatch.setenv("QCASSIST_QDPX_MAX_MEMBER_MB", "8")
    assert read_qdpx(path).sources  # the same file, allowed by the raised limit
    monkeypatch.setenv("QCASSIST_QDPX_MAX_MEMBER_MB", "lots")
    with pytest.raises(InputError, match="must be a whole number"):
        read_qdpx(path)


def test_a_bomb_is_refused_from_the_zip_directory_without_inflating(tmp_path, monkeypatch):
    path = _bomb(tmp_path, 64)
    inflated = []
    real = zlib.decompressobj
    monkeypatch.setattr(zlib, "decompressobj", lambda *a, **k: inflated.append(1) or real(*a, **k))
    with pytest.raises(InputError, match="possible zip bomb"):
        read_qdpx(path)
    assert not inflated
    assert os.path.getsize(path) < 1024 * 1024


def test_entities_are_never_expanded_nor_external_ones_fetched(store, secret, tmp_path):
    head = (f'\n<!DOCTYPE Project [<!ENTITY leak SYSTEM "file://{secret}">'
            '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>')
    inline = f"""<TextSource guid="11111111-2222-4333-8444-0000000000a1" name="inline">
      <PlainTextContent>Interviewer: Hi?
Anna: &leak; &c; The bus was late.
Interviewer: Really?
Anna: Yes.
</PlainTextContent></TextSource>"""
    path = qdpx(tmp_path, project_xml(inline, head=head), {})
    started = time.monotonic()
    import_qdpx(store, path, options=SENTENCES)
    assert time.monotonic() - started < 20
    [transcript] = store.transcripts()
    assert "SECRET" not in transcript.text and "aaaa" not in transcript.text


def test_a_qdc_with_duplicate_guids_or_empty_names_is_refused(store, tmp_path):
    code = f'<Code guid="{CODE}" name="transport" isCodable="true"/>'
    for body, expected in ((code + code.replace("transport", "money"), "two codes have the GUID"),
                           (code.replace("transport", ""), "an empty name")):
        path = tmp_path / "book.qdc"
        path.write_text(f'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>{body}</Codes></CodeBook>', encoding="utf-8")
        with pytest.raises(InputError, match=expected):
            import_qdc(store, path)
    assert not store.codebook().codes


# --- issue 15 item 5: the write lock is held only to insert ----------------------------------


def test_segmenting_happens_before_the_write_transaction_so_others_can_write(project, tmp_path, monkeypatch):
    """While the import cuts its sources, another connection can take the write lock at once."""
    import sqlite3

    import qcassist.refi as refi

    seen = []
    real = refi.segment

    def segment_and_probe(transcript, **kwargs):
        other = sqlite3.connect(project / "qcassist.db", timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # raises 'database is locked' if the import held the lock
            other.execute("ROLLBACK")
            seen.append("free")
        finally:
            other.close()
        return real(transcript, **kwargs)

    monkeypatch.setattr(refi, "segment", segment_and_probe)
    path = qdpx(tmp_path, project_xml(source_xml("internal://board_2017.txt")), {"sources/board_2017.txt": TEXT})
    with Store.open(project) as store:
        report = import_qdpx(store, path, options=SENTENCES)
    assert seen == ["free"] and report.codings_added == 1


def test_a_source_added_by_another_command_meanwhile_makes_the_import_refuse_cleanly(project, tmp_path, monkeypatch):
    import qcassist.refi as refi
    from qcassist.errors import ConflictError
    from qcassist.project import import_files

    real = refi.segment

    def segment_while_someone_imports(transcript, **kwargs):
        units = real(transcript, **kwargs)
        (tmp_path / "board_2017.txt").write_text(TEXT, encoding="utf-8")
        with Store.open(project) as other:
            import_files(other, [tmp_path / "board_2017.txt"])
        return units

    monkeypatch.setattr(refi, "segment", segment_while_someone_imports)
    path = qdpx(tmp_path, project_xml(source_xml("internal://board_2017.txt")), {"sources/board_2017.txt": TEXT})
    with Store.open(project) as store:
        with pytest.raises(ConflictError, match="changed in the project while the import was being prepared"):
            import_qdpx(store, path, options=SENTENCES)
        assert not store.codebook().codes  # the codebook went with the rest: all or nothing
        [transcript] = store.transcripts()  # only the other command's import
        assert transcript.source_path.endswith("board_2017.txt") and not store.codings()


def test_a_damaged_member_is_one_line(project, runner, tmp_path):
    path = tmp_path / "damaged.qdpx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("project.qde", project_xml(source_xml("internal://board_2017.txt")))
        archive.writestr("sources/board_2017.txt", TEXT)
    data = path.read_bytes()
    at = data.index(b"neighbour")
    path.write_bytes(data[:at] + b"N" + data[at + 1:])  # the CRC no longer matches
    before = dump_database(project)
    result = runner.invoke(main, ["import", "-p", str(project), "qdpx", str(path), "--strategy", "sentence"])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.startswith(f"Error: {path}: member 'sources/board_2017.txt' cannot be read")
    assert dump_database(project) == before


def test_a_missing_plain_text_falls_back_to_the_docx_beside_it(store, tmp_path):
    import docx

    document = docx.Document()
    for line in TEXT.strip().split("\n"):
        document.add_paragraph(line)
    document.save(tmp_path / "board.docx")
    qde = project_xml(source_xml("internal://board_2017.txt").replace(
        'plainTextPath=', 'richTextPath="internal://Board.DOCX" plainTextPath='))
    path = qdpx(tmp_path, qde, {"sources/board.docx": (tmp_path / "board.docx").read_bytes()})
    report = import_qdpx(store, path, options=SENTENCES)
    assert report.sources_added == ["board_2017"] and report.codings_added == 1 and not report.sources_missing
    assert any("read its .docx" in w for w in report.warnings)
