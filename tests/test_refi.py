"""REFI-QDA export and import: schema-valid files, lossless round trip, other tools' quirks, clean failures."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from qcassist.cli import main
from qcassist.errors import ConflictError, InputError, QcaError
from qcassist.model import Code, Codebook, Coding, Suggestion
from qcassist.project import import_files, segment_project
from qcassist.refi import export_qdc, export_qdpx, import_qdc, import_qdpx
from qcassist.refi_read import choose_convention, read_qdpx
from qcassist.segment import SegmentOptions
from qcassist.store import Store
from tests.conftest import SIX_TURNS, HashEncoder, dump_database, write

DATA = Path(__file__).parent / "data" / "refi"
SENTENCES = SegmentOptions(strategy="sentence")  # no encoder needed
PROJECT_ORDER = ["Users", "CodeBook", "Variables", "Cases", "Sources", "Notes", "Links", "Sets", "Graphs", "Description"]

SECOND = """Interviewer: What was hard about the service?
P2: Waiting for the bus to every appointment was hard. Nobody called back for weeks.
Interviewer: And the money side?
P2: The rent and the bills piled up until the team helped with the bank.
"""


def project_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(DATA / "Project.xsd")))


def codebook_schema() -> etree.XMLSchema:
    """Codebook.xsd: the Project schema's types, in the codebook namespace, with root CodeBook (Codes, Sets?, @origin)."""
    text = (DATA / "Project.xsd").read_text(encoding="utf-8").replace("urn:QDA-XML:project:1.0", "urn:QDA-XML:codebook:1.0")
    text = text.replace('<xsd:element name="Project" type="ProjectType">', '<xsd:element name="CodeBook" type="QdcCodeBookType">')
    text = text.replace(
        '<xsd:complexType name="ProjectType">',
        '<xsd:complexType name="QdcCodeBookType"><xsd:sequence><xsd:element name="Codes" type="CodesType"/>'
        '<xsd:element name="Sets" type="SetsType" minOccurs="0"/></xsd:sequence>'
        '<xsd:attribute name="origin" type="xsd:string"/></xsd:complexType>\n<xsd:complexType name="ProjectType">',
    )
    return etree.XMLSchema(etree.fromstring(text.encode("utf-8")))


def zip_folder(folder: Path, target: Path) -> Path:
    """A .qdpx from one of the hand-made fixture folders."""
    with zipfile.ZipFile(target, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(folder).as_posix())
    return target


def fixture_qdpx(tmp_path, name: str) -> Path:
    return zip_folder(DATA / name, tmp_path / f"{name}.qdpx")


def coded_spans(store: Store) -> set[tuple[str, str, str, str, str]]:
    """(transcript, coded text, code, coder, origin) of every coding, with its own span or its unit's."""
    units = {u.id: u for u in store.units()}
    texts = {t.id: t for t in store.transcripts()}
    spans = set()
    for c in store.codings():
        unit = units[c.unit_id]
        start, end = (c.start, c.end) if c.start is not None else (unit.start, unit.end)
        spans.add((texts[unit.transcript_id].name, texts[unit.transcript_id].text[start:end], c.code, c.coder, c.origin))
    return spans


CODEBOOK = Codebook((
    Code("Relationship", None, "How people relate to helpers."),
    Code("Being seen", "Relationship", "Treated as a person."),
    Code("trust", "Being seen", "Believing the helper."),
    Code("listened to", "Being seen"),
    Code("Practical", None),
    Code("money", "Practical", "Rent, bills, debt."),
    Code("access", "Practical"),
))


@pytest.fixture
def built(tmp_path) -> Path:
    """A project: two transcripts, a group+subgroup codebook, two coders, codings with and without own spans, a suggestion."""
    directory = tmp_path / "source-project"
    one, two = write(tmp_path, "one.txt", SIX_TURNS), write(tmp_path, "two.txt", SECOND)
    with Store.create(directory) as store:
        import_files(store, [one, two])
        segment_project(store, options=SENTENCES)
        store.save_codebook(CODEBOOK)
        first, second = store.transcripts()
        u1, u2 = store.units(first.id), store.units(second.id)
        listened = first.text.index("The nurse listened to me")
        rent = second.text.index("The rent and the bills")
        store.add_codings([
            Coding(u1[0].id, "access", "anna", created_at="2026-01-05T10:00:00+00:00"),
            Coding(u1[2].id, "listened to", "anna", created_at="2026-01-05T10:01:00+00:00"),
            Coding(u1[2].id, "trust", "bo", start=listened + 4, end=listened + 24),  # "nurse listened to me"
            Coding(u2[0].id, "access", "bo", start=second.text.index("Waiting"), end=second.text.index(" to every")),
            Coding(u2[-1].id, "money", "anna", "review", start=rent, end=rent + len("The rent and the bills")),
            Coding(u2[-1].id, "money", "bo"),
        ])
        store.add_classifier("20260105T100000-abcdef12", "test-hash-64", {})
        store.replace_suggestions([Suggestion(u1[3].id, "money", 0.8312, "20260105T100000-abcdef12",
                                              created_at="2026-01-05T11:00:00+00:00")], [u1[3].id])
    return directory


# --- export --------------------------------------------------------------------------


def test_project_qde_validates_against_the_refi_schema(built, tmp_path):
    with Store.open(built) as store:
        report = export_qdpx(store, tmp_path / "out.qdpx", include_suggestions=True)
    qde = zipfile.ZipFile(tmp_path / "out.qdpx").read("project.qde")
    schema = project_schema()
    assert schema.validate(etree.fromstring(qde)), schema.error_log
    assert (report.sources, report.codes, report.users, report.suggestions) == (2, 7, 3, 1)


def test_qdpx_layout_child_order_lowercase_sources_and_no_bom(built, tmp_path):
    with Store.open(built) as store:
        export_qdpx(store, tmp_path / "out.qdpx", include_suggestions=True)
        texts = [t.text for t in store.transcripts()]
    archive = zipfile.ZipFile(tmp_path / "out.qdpx")
    names = archive.namelist()
    assert names[0] == "project.qde" and all(n.startswith("sources/") for n in names[1:])
    qde = archive.read("project.qde")
    assert not qde.startswith(b"\xef\xbb\xbf") and qde.startswith(b"<?xml")
    root = etree.fromstring(qde)
    order = [etree.QName(child).localname for child in root]
    assert order == sorted(order, key=PROJECT_ORDER.index)
    for source in root.iter("{urn:QDA-XML:project:1.0}TextSource"):
        member = source.get("plainTextPath").replace("internal://", "sources/")
        data = archive.read(member)
        assert not data.startswith(b"\xef\xbb\xbf")
        assert data.decode("utf-8") in texts  # exactly the stored text, so positions index it


def test_codebook_groups_are_not_codable_and_suggestions_have_their_own_user(built, tmp_path):
    with Store.open(built) as store:
        export_qdpx(store, tmp_path / "out.qdpx", include_suggestions=True)
    root = etree.fromstring(zipfile.ZipFile(tmp_path / "out.qdpx").read("project.qde"))
    ns = {"q": "urn:QDA-XML:project:1.0"}
    codable = {c.get("name"): c.get("isCodable") for c in root.iterfind(".//q:Code", ns)}
    assert codable == {"Relationship": "false", "Being seen": "false", "trust": "true", "listened to": "true",
                       "Practical": "false", "money": "true", "access": "true"}
    users = {u.get("name"): u.get("guid") for u in root.iterfind(".//q:User", ns)}
    assert set(users) == {"anna", "bo", "qcassist model 20260105T100000-abcdef12"}
    [suggested] = [s for s in root.iterfind(".//q:PlainTextSelection", ns)
                   if s.get("creatingUser") == users["qcassist model 20260105T100000-abcdef12"]]
    assert "probability 0.831" in suggested.findtext("q:Description", namespaces=ns)


def test_re_export_is_byte_identical(built, tmp_path):
    with Store.open(built) as store:
        export_qdpx(store, tmp_path / "a.qdpx", include_suggestions=True)
        export_qdpx(store, tmp_path / "b.qdpx", include_suggestions=True)
    assert (tmp_path / "a.qdpx").read_bytes() == (tmp_path / "b.qdpx").read_bytes()


def test_qdc_validates_against_the_codebook_schema(built, tmp_path):
    with Store.open(built) as store:
        export_qdc(store, tmp_path / "book.qdc")
    root = etree.fromstring((tmp_path / "book.qdc").read_bytes())
    assert root.tag == "{urn:QDA-XML:codebook:1.0}CodeBook"
    schema = codebook_schema()
    assert schema.validate(root), schema.error_log


def test_export_of_one_coder_only(built, tmp_path):
    with Store.open(built) as store:
        report = export_qdpx(store, tmp_path / "bo.qdpx", coders=["bo"])
        with pytest.raises(QcaError, match="no codings by carl"):
            export_qdpx(store, tmp_path / "x.qdpx", coders=["carl"])
    assert (report.users, report.codings) == (1, 3)


# --- round trip ----------------------------------------------------------------------


def test_round_trip_keeps_every_coded_span_code_coder_and_the_hierarchy(built, tmp_path):
    with Store.open(built) as store:
        export_qdpx(store, tmp_path / "out.qdpx", include_suggestions=True)
        before = coded_spans(store)
        suggested = {(store.transcript(u.transcript_id).name, u.text_in(store.transcript(u.transcript_id)), s.code)
                     for s in store.suggestions() for u in store.units() if u.id == s.unit_id}
        book = store.codebook()
    with Store.create(tmp_path / "fresh") as fresh:
        report = import_qdpx(fresh, tmp_path / "out.qdpx", options=SENTENCES)
        after = coded_spans(fresh)
        assert fresh.codebook().codes == book.codes
    human = {(t, text, code, coder, "human") for t, text, code, coder, _ in before}
    model = {(t, text, code, "qcassist model 20260105T100000-abcdef12", "model") for t, text, code in suggested}
    assert after == human | model
    assert report.sources_added == ["one", "two"] and report.offsets == {}


def test_an_imported_project_exports_the_same_project_qde(built, tmp_path):
    with Store.open(built) as store:
        export_qdpx(store, tmp_path / "first.qdpx", name="study")
    with Store.create(tmp_path / "fresh") as fresh:
        import_qdpx(fresh, tmp_path / "first.qdpx", options=SENTENCES)
        export_qdpx(fresh, tmp_path / "second.qdpx", name="study")
    first, second = (zipfile.ZipFile(tmp_path / f).read("project.qde") for f in ("first.qdpx", "second.qdpx"))
    assert first == second


def test_importing_the_same_file_twice_changes_nothing(built, tmp_path):
    with Store.open(built) as store:
        export_qdpx(store, tmp_path / "out.qdpx")
    with Store.create(tmp_path / "fresh") as fresh:
        import_qdpx(fresh, tmp_path / "out.qdpx", options=SENTENCES)
    before = dump_database(tmp_path / "fresh")
    with Store.open(tmp_path / "fresh") as fresh:
        report = import_qdpx(fresh, tmp_path / "out.qdpx", options=SENTENCES)
    assert report.sources_reused == ["one", "two"] and report.codings_added == 0
    assert dump_database(tmp_path / "fresh") == before


def test_a_source_with_other_text_under_a_known_name_is_a_conflict(built, tmp_path, project):
    with Store.open(built) as store:
        export_qdpx(store, tmp_path / "out.qdpx")
    with Store.open(project) as store:
        import_files(store, [write(tmp_path, "one.txt", SIX_TURNS.replace("hope", "plans"))])
        before = dump_database(project)
        with pytest.raises(ConflictError, match="'one'"):
            import_qdpx(store, tmp_path / "out.qdpx", options=SENTENCES)
    assert dump_database(project) == before


# --- other tools' files --------------------------------------------------------------


def test_nvivo_like_project_reads_plain_text_beside_docx_and_utf16_positions(store, tmp_path):
    report = import_qdpx(store, fixture_qdpx(tmp_path, "nvivo"), options=SENTENCES)
    spans = {(text, code, coder) for _, text, code, coder, _ in coded_spans(store)}
    assert spans == {
        ("The nurse listened to me", "being heard", "Anna Berg"),
        ("she came back every week", "reliability", "Anna Berg"),
        ("sorted out the rent arrears", "debt", "Bo Lind"),
        ("They sorted out the rent arrears with the bank.", "Support", "Bo Lind"),
    }
    assert report.offsets == {"Interview A": "utf16"}
    assert store.codebook().get("debt") == Code("debt", "Money", "Arrears, loans, bills.")
    assert any("code groups" in w and "Support" in w for w in report.warnings)


def test_atlas_like_project_gives_a_coded_question_its_own_unit(store, tmp_path):
    report = import_qdpx(store, fixture_qdpx(tmp_path, "atlas"), options=SENTENCES)
    spans = {(text, code, coder) for _, text, code, coder, _ in coded_spans(store)}
    assert spans == {
        ("Waiting for the bus to every appointment", "access", "Chris"),
        ("Did anyone call you back?", "follow-up question", "Chris"),
        ("Nobody called back for three weeks.", "access", "Dana"),
    }
    assert report.extra_units == 1
    [question] = [c for c in store.codings() if c.code == "follow-up question"]
    unit = next(u for u in store.units() if u.id == question.unit_id)
    assert unit.speaker == "Interviewer"
    assert {c.created_at for c in store.codings()} >= {"2024-06-01T12:00:00+00:00"}


def test_maxqda_like_crlf_positions_are_shifted_to_characters(store, tmp_path):
    report = import_qdpx(store, fixture_qdpx(tmp_path, "maxqda"), options=SENTENCES)
    spans = {(text, code) for _, text, code, _, _ in coded_spans(store)}
    assert spans == {("It got better when they explained everything.", "explaining"),
                     ("I felt safe with them", "safe"), ("I was nervous.", "nervous")}
    assert report.offsets == {"Interview C": "crlf"}
    assert "\r" not in store.transcripts()[0].text


def test_plain_text_content_without_namespace_or_users(store, tmp_path):
    path = fixture_qdpx(tmp_path, "plaincontent")
    import_qdpx(store, path, options=SENTENCES)
    spans = {(text, code, coder) for _, text, code, coder, _ in coded_spans(store)}
    assert ("They listened.", "listened", "plaincontent") in spans
    whole = {text for text, code, _ in spans if code == "focus group"}
    assert whole and all(text in store.transcripts()[0].text for text in whole)


def test_a_docx_source_without_plain_text_is_read_with_the_docx_reader(store, tmp_path):
    import docx

    document = docx.Document()
    for line in SIX_TURNS.strip().split("\n"):
        document.add_paragraph(line)
    document.save(tmp_path / "six.docx")
    text = "\n".join(SIX_TURNS.strip().split("\n")) + "\n"
    start = text.index("I have hope now.")
    qde = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="x"><CodeBook><Codes>
<Code guid="00000000-0000-4000-8000-000000000001" name="hope" isCodable="true"/></Codes></CodeBook>
<Sources><TextSource guid="00000000-0000-4000-8000-0000000000aa" name="six" richTextPath="internal://six.docx">
<PlainTextSelection guid="00000000-0000-4000-8000-0000000000bb" startPosition="{start}" endPosition="{start + 16}">
<Coding guid="00000000-0000-4000-8000-0000000000cc"><CodeRef targetGUID="00000000-0000-4000-8000-000000000001"/></Coding>
</PlainTextSelection></TextSource></Sources></Project>"""
    with zipfile.ZipFile(tmp_path / "word.qdpx", "w") as archive:
        archive.writestr("project.qde", qde)
        archive.write(tmp_path / "six.docx", "sources/six.docx")
    report = import_qdpx(store, tmp_path / "word.qdpx", options=SENTENCES)
    assert {text for _, text, _, _, _ in coded_spans(store)} == {"I have hope now."}
    assert any(".docx" in w for w in report.warnings)


def test_qdc_from_another_tool_becomes_the_codebook(store, tmp_path):
    path = write(tmp_path, "book.qdc", """<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="ATLAS.ti (imitation)"><Codes>
<Code guid="1FF58B12-6F6F-4B0C-8BE5-BBDC91F55294" name="Barriers" isCodable="false">
<Description>What gets in the way.</Description>
<Code guid="1FF58B12-6F6F-4B0C-8BE5-BBDC91F55295" name="transport" isCodable="true"/></Code>
</Codes><Sets/></CodeBook>""")
    report = import_qdc(store, path)
    assert report.codes_added == ["Barriers", "transport"]
    assert store.codebook().codes == (Code("Barriers", None, "What gets in the way."), Code("transport", "Barriers"))


def test_sources_are_segmented_as_qcassist_segment_does_by_default(store, tmp_path, monkeypatch):
    monkeypatch.setattr("qcassist.project.SentenceTransformerEncoder", lambda spec: HashEncoder())
    import_qdpx(store, fixture_qdpx(tmp_path, "atlas"))
    [transcript] = store.transcripts()
    assert store.segmentation(transcript.id)["strategy"] == "cohesive"
    assert len(store.codings()) == 3


def test_crlf_detection_prefers_word_edges_and_names():
    text = "I: Hi there.\nB: Fine thanks.\nB: Really fine.\n"
    start = text.index("Really")
    crlf = start + text[:start].count("\n")
    from qcassist.refi_read import _Selection

    assert choose_convention(text, [_Selection(crlf, crlf + 6, "", 1, [])], prefer_crlf=False) == "crlf"
    assert choose_convention(text, [_Selection(start, start + 6, "", 1, [])], prefer_crlf=True) == "characters"
    assert choose_convention(text, [], prefer_crlf=True) == "characters"  # no positions: nothing to convert


# --- failures ------------------------------------------------------------------------


def _broken_projects(tmp_path) -> dict[str, tuple[Path, str]]:
    atlas = DATA / "atlas"
    qde = (atlas / "project.qde").read_text(encoding="utf-8")

    def variant(name: str, text: str, *, drop_qde: bool = False) -> Path:
        target = tmp_path / f"{name}.qdpx"
        with zipfile.ZipFile(target, "w") as archive:
            if not drop_qde:
                archive.writestr("project.qde", text)
            for file in (atlas / "sources").iterdir():
                archive.write(file, f"sources/{file.name}")
        return target

    (tmp_path / "notzip.qdpx").write_bytes(b"PK\x03\x04 this is not really a zip")
    return {
        "not a zip": (tmp_path / "notzip.qdpx", "not a .qdpx file"),
        "no project.qde": (variant("noqde", qde, drop_qde=True), "no project.qde"),
        "XML error": (variant("badxml", qde.replace("</CodeBook>", "</Codebook>")), "line 17: is not well-formed XML"),
        "past the end": (variant("past", qde.replace('endPosition="179"', 'endPosition="999"')), "past its end"),
        "unknown code": (variant("unknown", qde.replace('<CodeRef targetGUID="e0e0e0e0-0000-4000-8000-0000000000a2"/>',
                                                        '<CodeRef targetGUID="99999999-0000-4000-8000-0000000000a2"/>')),
                         "not in the CodeBook"),
    }


@pytest.mark.parametrize("case", ["not a zip", "no project.qde", "XML error", "past the end", "unknown code"])
def test_a_broken_qdpx_is_one_line_exit_2_and_changes_nothing(case, project, runner, tmp_path, six_turns_file):
    runner.invoke(main, ["import", "-p", str(project), str(six_turns_file)])
    path, expected = _broken_projects(tmp_path)[case]
    before = dump_database(project)
    result = runner.invoke(main, ["import", "-p", str(project), "qdpx", str(path), "--strategy", "sentence"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}") and expected in lines[0], result.output
    assert dump_database(project) == before


def test_a_broken_qdpx_raises_input_error_with_the_line(tmp_path):
    path, _ = _broken_projects(tmp_path)["unknown code"]
    with pytest.raises(InputError) as info:
        read_qdpx(path)
    assert info.value.line is not None and info.value.path.endswith("project.qde")


# --- command line --------------------------------------------------------------------


def test_cli_exports_a_demo_like_project_as_valid_qdpx_and_qdc(project, runner, tmp_path):
    from qcassist.demo import _folder, demo_files

    assert runner.invoke(main, ["import", "-p", str(project), *map(str, demo_files())]).exit_code == 0
    assert runner.invoke(main, ["segment", "-p", str(project), "--strategy", "sentence"]).exit_code == 0
    assert runner.invoke(main, ["codebook", "import", "-p", str(project), str(_folder() / "codebook.yaml")]).exit_code == 0
    result = runner.invoke(main, ["import-spans", "-p", str(project), str(_folder() / "seed_spans.csv"), "--coder", "seed"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["export", "qdpx", "-p", str(project), str(tmp_path / "demo.qdpx"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sources"] == 3
    qde = etree.fromstring(zipfile.ZipFile(tmp_path / "demo.qdpx").read("project.qde"))
    assert project_schema().validate(qde)
    result = runner.invoke(main, ["export", "qdc", "-p", str(project), str(tmp_path / "demo.qdc")])
    assert result.exit_code == 0 and codebook_schema().validate(etree.parse(str(tmp_path / "demo.qdc")))


@pytest.mark.parametrize("words", [["qdpx"], []])
def test_cli_import_qdpx_prints_a_summary(words, project, runner, tmp_path):
    path = fixture_qdpx(tmp_path, "maxqda")
    result = runner.invoke(main, ["import", "-p", str(project), *words, str(path), "--strategy", "sentence"])
    assert result.exit_code == 0, result.output
    assert "1 sources added" in result.output and "Coders: Kim" in result.output
    assert "Interview C: positions counted as crlf" in result.output


def test_cli_import_qdc_and_json(project, runner, tmp_path, built):
    with Store.open(built) as store:
        export_qdc(store, tmp_path / "book.qdc")
    result = runner.invoke(main, ["import", "-p", str(project), "qdc", str(tmp_path / "book.qdc"), "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["codes_added"]) == 7


def test_cli_refuses_a_qdpx_mixed_with_transcripts(project, runner, tmp_path, six_turns_file):
    path = fixture_qdpx(tmp_path, "atlas")
    result = runner.invoke(main, ["import", "-p", str(project), str(path), str(six_turns_file)])
    assert result.exit_code == 2 and "on its own" in result.output


# --- quirks seen in real exports (MAXQDA 24, ATLAS.ti 8 on macOS), imitated by hand --------

QUIRKS = """<?xml version="1.0" encoding="UTF-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="Quirks" origin="ATLAS.ti 8.4.0">
  <Users><User guid="11111111-2222-4333-8444-000000000001" name="Friedrich"/></Users>
  <CodeBook><Codes>
    <Code guid="11111111-2222-4333-8444-000000000011" name="Cafe\u0301" isCodable="true"/>
    <Code guid="11111111-2222-4333-8444-000000000012" name="Empty folder" isCodable="false"/>
  </Codes></CodeBook>
  <Sources>
    <TextSource guid="11111111-2222-4333-8444-0000000000a1" name="Mabe\u0302l.txt">
      <PlainTextContent>Anna: We went to the cafe every morning. It was our place.
</PlainTextContent>
      <PlainTextSelection guid="11111111-2222-4333-8444-0000000000b1" startPosition="6" endPosition="40" creatingUser="11111111-2222-4333-8444-000000000001">
        <Coding guid="11111111-2222-4333-8444-0000000000c1" creatingUser="11111111-2222-4333-8444-000000000001">
          <CodeRef targetGUID="11111111-2222-4333-8444-000000000011"/>
        </Coding>
      </PlainTextSelection>
      <PlainTextSelection guid="11111111-2222-4333-8444-0000000000b2" startPosition="41" endPosition="58">
        <Description>a memo, no code</Description>
      </PlainTextSelection>
    </TextSource>
    <TextSource guid="11111111-2222-4333-8444-0000000000a2" name="Researcher notes">
      <PlainTextContent>Researcher: Remember to ask about the morning routine.
</PlainTextContent>
    </TextSource>
    <PDFSource guid="11111111-2222-4333-8444-0000000000a3" name="Leaflet.pdf" path="internal://leaflet.pdf">
      <Representation guid="11111111-2222-4333-8444-0000000000a4" plainTextPath="internal://leaflet.txt">
        <PlainTextSelection guid="11111111-2222-4333-8444-0000000000b3" startPosition="0" endPosition="4">
          <Coding guid="11111111-2222-4333-8444-0000000000c3"><CodeRef targetGUID="11111111-2222-4333-8444-000000000011"/></Coding>
        </PlainTextSelection>
      </Representation>
    </PDFSource>
  </Sources>
  <Sets><Set guid="11111111-2222-4333-8444-0000000000d1" name="Feelings"/></Sets>
</Project>
"""


def test_quirks_of_real_exports_import_with_warnings_not_losses(store, tmp_path):
    path = tmp_path / "quirks.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", QUIRKS)
    report = import_qdpx(store, path, options=SENTENCES)
    warnings = "\n".join(report.warnings)
    [transcript] = store.transcripts()  # the researcher's note has no participant and no codings: skipped
    assert transcript.name == "Mabêl.txt"  # decomposed (macOS) names are stored composed
    assert [c.name for c in store.codebook().codes] == ["Café"]  # the empty non-codable folder is left out
    assert "Empty folder" in warnings and "Researcher notes" in warnings
    assert "1 selections without a code" in warnings
    assert "PDFSource 'Leaflet.pdf' and its 1 codings" in warnings and "1 Sets" in warnings
    assert {text for _, text, *_ in coded_spans(store)} == {"We went to the cafe every morning."}
