from __future__ import annotations

import csv
import json

import docx
import numpy as np
import pytest

from qcassist.cli import main
from qcassist.condense import condense, most_central, set_condensate, sheet_markdown, write_docx
from qcassist.errors import QcaError
from qcassist.model import Code, Codebook, Coding
from qcassist.project import import_files, segment_project
from qcassist.segment import SegmentOptions
from qcassist.store import Store
from tests.conftest import HashEncoder, dump_database, write

ONE_TO_ONE = """Interviewer: How was the help?
P1: I fixed my bike yesterday afternoon in the garden.
Interviewer: And the nurse?
P1: The nurse listened and believed me every week, she listened.
Interviewer: Money?
P1: The rent and the bank letters were a mess until the team helped.
"""

FOCUS_GROUP = """Interviewer: What did the nurse do?
Anna: The nurse listened to me and believed me.
Bo: The nurse listened to me every week.
Interviewer: Anything else?
Anna: Nothing else comes to mind now.
Bo: The team came back every week even when I cancelled.
"""

QUIET = """Interviewer: How are you?
P: I have hope now, and plans for the spring.
"""

CODEBOOK = Codebook((
    Code("Relations", None, "How helpers relate."),
    Code("Being seen", "Relations", "Treated as a person."),
    Code("listened to", "Being seen"),
    Code("believed", "Being seen"),
    Code("Reliability", "Relations"),
    Code("came back", "Reliability"),
    Code("Help", None, "Practical help."),
    Code("money", "Help"),
    Code("hope", None),  # a top-level code without a group
))


pytestmark = pytest.mark.usefixtures("fake_encoder")  # the model-free hash encoder, from conftest


@pytest.fixture
def coded(project, tmp_path):
    """Three transcripts (one a focus group of two), one unit per participant turn, coded by anna and bo."""
    files = [write(tmp_path, "t1.txt", ONE_TO_ONE), write(tmp_path, "t2.txt", FOCUS_GROUP), write(tmp_path, "t3.txt", QUIET)]
    with Store.open(project) as store:
        import_files(store, files)
        segment_project(store, options=SegmentOptions(strategy="turn"))
        store.save_codebook(CODEBOOK)
        unit = {(store.transcript(u.transcript_id).name, u.start): u for u in store.units()}
        t1, t2 = (store.transcript_by_name(n) for n in ("t1", "t2"))
        bike, nurse, rent = (unit[("t1", t1.text.index(s))] for s in ("I fixed", "The nurse listened and", "The rent"))
        starts = ("The nurse listened to me and", "The nurse listened to me every", "The team came")
        anna_says, bo_says, bo_back = (unit[("t2", t2.text.index(s))] for s in starts)
        quiet = store.units(store.transcript_by_name("t3").id)[0]
        store.add_codings([
            Coding(bike.id, "listened to", "anna"),
            Coding(anna_says.id, "listened to", "anna"),
            Coding(bo_says.id, "believed", "anna"),
            Coding(nurse.id, "believed", "anna"),
            Coding(bo_back.id, "came back", "anna"),
            Coding(rent.id, "money", "anna", start=rent.start + 4, end=rent.start + 8),  # the coder's own span: "rent"
            Coding(quiet.id, "came back", "bo"),
            Coding(quiet.id, "hope", "model", origin="model"),  # never on the sheet
        ])
        ids = {"bike": bike.id, "nurse": nurse.id, "rent": rent.id, "anna": anna_says.id, "bo": bo_says.id,
               "bo_back": bo_back.id, "quiet": quiet.id}
    return ids


def _section(sheet, code):
    return next(s for s in sheet.sections if s.code == code)


def test_sections_are_groups_subgroups_and_top_level_codes_in_codebook_order(store, coded):
    sheet = condense(store)
    assert [s.code for s in sheet.sections] == ["Relations", "Being seen", "Reliability", "Help", "hope"]
    assert [s.level for s in sheet.sections] == ["group", "subgroup", "subgroup", "group", "code"]
    assert _section(sheet, "Being seen").codes == ("listened to", "believed")


def test_participants_are_transcripts_or_speakers_in_a_focus_group(store, coded):
    sheet = condense(store)
    assert sheet.participants == 4 and sheet.by_speaker == ("t2",)
    assert sorted(_section(sheet, "Being seen").participants) == ["t1", "t2: Anna", "t2: Bo"]
    assert sorted(_section(sheet, "Reliability").participants) == ["t2: Bo", "t3"]
    assert sorted(_section(sheet, "Relations").participants) == ["t1", "t2: Anna", "t2: Bo", "t3"]
    assert _section(sheet, "hope").passages == ()  # the model's coding does not count
    assert "**Participants:** 3 of 4" in sheet_markdown(sheet)


def test_coders_filter_and_unknown_coder(store, coded):
    sheet = condense(store, coders=["anna"])
    assert sorted(_section(sheet, "Reliability").participants) == ["t2: Bo"] and sheet.coders == ("anna",)
    with pytest.raises(QcaError, match="no codings by coder 'ana'.*Did you mean 'anna'"):
        condense(store, coders=["ana"])
    set_condensate(store, "Reliability", quote_unit=coded["quiet"])  # coded by bo only
    picked = _section(condense(store, coders=["anna"]), "Reliability")
    assert picked.quotation.unit_id == coded["quiet"] and picked.quotation_kind == "picked-uncoded"
    assert "(picked by the analyst; not coded under this group" in sheet_markdown(condense(store, coders=["anna"]))


def test_passages_carry_source_speaker_offsets_and_the_coders_own_span(store, coded):
    sheet = condense(store)
    rent = _section(sheet, "Help").passages[0]
    assert (rent.unit_id, rent.transcript, rent.speaker, rent.text) == (coded["rent"], "t1", "P1", "rent")
    text = store.transcript_by_name("t1").text
    for section in sheet.sections:
        for p in section.passages:
            assert store.transcript_by_name(p.transcript).text[p.start : p.end] == p.text
    assert text[rent.start : rent.end] == "rent"


def test_proposed_quotation_is_the_most_central_unit(store, coded):
    sheet = condense(store)
    section = _section(sheet, "Being seen")
    vectors = HashEncoder().encode([p.text for p in section.passages])
    n = len(vectors)
    mean = [np.mean([vectors[i] @ vectors[j] / np.linalg.norm(vectors[i]) / np.linalg.norm(vectors[j])
                     for j in range(n) if j != i]) for i in range(n)]
    expected = section.passages[int(np.argmax(mean))]
    assert n == 4 and expected.unit_id != coded["bike"]  # the outlier comes first: order alone would pick it
    assert section.quotation == expected and section.quotation_kind == "proposed"
    assert sheet.encoder == "test-hash-64"


def test_most_central_on_ties_and_small_sets():
    assert most_central(np.array([[1.0, 0.0]])) == 0
    assert most_central(np.array([[1.0, 0.0], [0.0, 1.0]])) == 0
    assert most_central(np.array([[1.0, 0.0], [0.7, 0.7], [0.0, 1.0]])) == 1


def test_the_analysts_pick_overrides_and_needs_no_encoder(store, coded, monkeypatch):
    set_condensate(store, "Being seen", quote_unit=coded["bike"])
    set_condensate(store, "Relations", quote_unit=coded["bike"])
    set_condensate(store, "Reliability", text="They came back.")

    def no_encoder(spec):
        raise AssertionError("no section needs a proposal")

    monkeypatch.setattr("qcassist.project.SentenceTransformerEncoder", no_encoder)
    sheet = condense(store)
    section = _section(sheet, "Being seen")
    assert section.quotation.unit_id == coded["bike"] and section.quotation_kind == "picked"
    assert _section(sheet, "Reliability").quotation_kind == "proposed"  # two units: the first, no encoder needed
    assert "(picked by the analyst)" in sheet_markdown(sheet) and sheet.encoder is None
    set_condensate(store, "Being seen", clear_quote=True)
    assert store.condensates()["Being seen"].quote_unit is None


def test_set_condensate_keeps_the_other_field_and_refuses_what_does_not_fit(store, coded):
    set_condensate(store, "Being seen", text="  I was listened to.\r\nAnd believed.  ")
    set_condensate(store, "Being seen", quote_unit=coded["anna"])
    saved = store.condensates()["Being seen"]
    assert (saved.text, saved.quote_unit) == ("I was listened to.\nAnd believed.", coded["anna"])
    with pytest.raises(QcaError, match="no code or code group named 'Beign seen' in the codebook. Did you mean 'Being seen'"):
        set_condensate(store, "Beign seen", text="x")
    with pytest.raises(QcaError, match=f"unit {coded['rent']} is not coded with 'believed'"):
        set_condensate(store, "believed", quote_unit=coded["rent"])
    with pytest.raises(QcaError, match=f"unit {coded['rent']} is not coded under 'Being seen' \\(its codes: money\\)"):
        set_condensate(store, "Being seen", quote_unit=coded["rent"])
    with pytest.raises(QcaError, match="no unit 999"):
        set_condensate(store, "Being seen", quote_unit=999)
    with pytest.raises(QcaError, match="nothing to set"):
        set_condensate(store, "Being seen")


def test_markdown_and_docx_show_the_condensate_or_a_marked_place(store, coded, tmp_path):
    set_condensate(store, "Being seen", text="I was listened to and believed.")
    sheet = condense(store)
    markdown = sheet_markdown(sheet)
    assert "> I was listened to and believed." in markdown
    assert '*(write your condensate here; qcassist condense --set Reliability --text "...")*' in markdown
    assert f"t1, P1, unit {coded['rent']}" in markdown and "**listened to** (2)" in markdown
    write_docx(sheet, tmp_path / "sheet.docx")
    paragraphs = [p.text for p in docx.Document(str(tmp_path / "sheet.docx")).paragraphs]
    assert "I was listened to and believed." in paragraphs
    assert '(write your condensate here; qcassist condense --set Reliability --text "...")' in paragraphs
    assert "Being seen" in paragraphs and "listened to (2)" in paragraphs


def test_a_unit_counts_for_a_code_only_from_the_coders_who_gave_it(store, coded):
    store.add_codings([Coding(coded["nurse"], "listened to", "bo")])  # anna: believed; bo: listened to
    markdown = sheet_markdown(condense(store))
    nurse = [line for line in markdown.splitlines() if f"unit {coded['nurse']} " in line]
    assert any(line.startswith(f"- t1, P1, unit {coded['nurse']}") and "(coded by bo)" in line for line in nurse)
    assert any("(coded by anna)" in line for line in nurse) and not any("anna, bo" in line for line in nurse)


def test_an_adjudicated_coder_settles_the_units_it_covers(store, coded):
    from qcassist.model import Decision

    store.add_codings([Coding(coded["nurse"], "listened to", "bo"),  # anna said believed: a disagreement
                       Coding(coded["bo"], "believed", "adjudicated")])  # agreed, copied to the adjudicator
    store.record_decision(Decision(coded["nurse"], "add", "adjudicated", final_codes=("listened to",),
                                   memo="adjudicated: anna=believed; bo=listened to"))
    store.record_decision(Decision(coded["bike"], "reject", "adjudicated", memo="adjudicated: anna=listened to"))
    sheet = condense(store)
    section = _section(sheet, "Being seen")
    assert sheet.settled == (("adjudicated", 3),)
    assert "- Adjudication: adjudicated settled 3 units; there its codes stand instead of the coders'." in sheet_markdown(sheet)
    nurse = next(p for p in section.passages if p.unit_id == coded["nurse"])
    assert nurse.codes == ("listened to",) and nurse.coders == ("adjudicated",)
    assert coded["bike"] not in {p.unit_id for p in section.passages}  # settled on no code
    assert coded["anna"] in {p.unit_id for p in section.passages}  # not adjudicated: anna's coding stands
    only_anna = _section(condense(store, coders=["anna"]), "Being seen")  # without the adjudicator: as coded
    assert next(p for p in only_anna.passages if p.unit_id == coded["nurse"]).codes == ("believed",)


def test_a_code_inside_a_group_takes_a_condensate_and_a_quotation(store, coded, tmp_path):
    set_condensate(store, "believed", text="They believed me.", quote_unit=coded["nurse"])
    sheet = condense(store)
    note = _section(sheet, "Being seen").note_for("believed")
    assert note.condensate == "They believed me." and note.quotation.unit_id == coded["nurse"]
    markdown = sheet_markdown(sheet)
    assert "*Condensate of believed:*\n\n> They believed me." in markdown
    assert "*Quotation for believed (picked by the analyst):*" in markdown
    write_docx(sheet, tmp_path / "sheet.docx")
    paragraphs = [p.text for p in docx.Document(str(tmp_path / "sheet.docx")).paragraphs]
    assert "Condensate of believed:" in paragraphs and "They believed me." in paragraphs


# --- the command line ----------------------------------------------------------------


def test_cli_set_text_then_write_markdown_and_docx(runner, project, coded, tmp_path):
    condensate = write(tmp_path, "reliability.txt", "They kept coming back, every week.\n")
    for args in (["--set", "Being seen", "--text", "I was listened to."],
                 ["--set", "Reliability", "--from-file", str(condensate)],
                 ["--set", "Being seen", "--quote", str(coded["nurse"])]):
        result = runner.invoke(main, ["condense", "-p", str(project), *args])
        assert result.exit_code == 0, result.output
    sheet_md, sheet_docx = tmp_path / "sheet.md", tmp_path / "sheet.docx"
    result = runner.invoke(main, ["condense", "-p", str(project), "-o", str(sheet_md), "--docx", str(sheet_docx),
                                  "--coders", "anna,bo"])
    assert result.exit_code == 0, result.output
    markdown = sheet_md.read_text(encoding="utf-8")
    assert "> I was listened to." in markdown and "> They kept coming back, every week." in markdown
    paragraphs = [p.text for p in docx.Document(str(sheet_docx)).paragraphs]
    assert "I was listened to." in paragraphs and "They kept coming back, every week." in paragraphs
    stdout = runner.invoke(main, ["condense", "-p", str(project)])
    assert stdout.exit_code == 0 and stdout.output == markdown


def test_cli_json_gives_the_saved_condensate_or_the_sheet(runner, project, coded):
    saved = runner.invoke(main, ["condense", "-p", str(project), "--set", "Help", "--text", "They helped.", "--json"])
    assert saved.exit_code == 0 and json.loads(saved.output)["text"] == "They helped."
    sheet = json.loads(runner.invoke(main, ["condense", "-p", str(project), "--json"]).output)
    help_section = next(s for s in sheet["sections"] if s["code"] == "Help")
    assert help_section["condensate"] == "They helped." and sheet["participants"] == 4
    assert help_section["passages"][0]["text"] == "rent"


@pytest.mark.parametrize("args, message", [
    (["--set", "Beign seen", "--text", "x"], "Error: no code or code group named 'Beign seen' in the codebook. Did you mean 'Being seen'?"),
    (["--set", "believed", "--quote", "RENT"], "Error: unit"),
    (["--set", "Being seen", "--quote", "RENT"], "Error: unit"),
    (["--set", "Being seen", "--from-file", "missing.txt"], "missing.txt: cannot be read"),
    (["--text", "x"], "Error: --text, --from-file, --quote and --clear-quote go with --set CODE."),
    (["--coders", "nobody"], "Error: no codings by coder 'nobody'"),
])
def test_cli_mistakes_are_one_line_exit_2_and_change_nothing(runner, project, coded, args, message):
    args = [str(coded["rent"]) if a == "RENT" else a for a in args]
    before = dump_database(project)
    result = runner.invoke(main, ["condense", "-p", str(project), *args])
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert dump_database(project) == before


# --- the demo corpus -------------------------------------------------------------------


def test_the_demo_corpus_gives_a_sheet(runner, tmp_path):
    from qcassist.demo import _folder, run_demo

    directory = tmp_path / "demo"
    run_demo(directory, encoder="tfidf")
    sheet_md, sheet_docx = tmp_path / "s.md", tmp_path / "s.docx"
    result = runner.invoke(main, ["condense", "-p", str(directory), "-o", str(sheet_md), "--docx", str(sheet_docx)])
    assert result.exit_code == 0, result.output
    with Store.open(directory) as store:
        sheet = condense(store)
    assert [s.code for s in sheet.sections] == ["Relationship with helpers", "Being seen", "Reliability",
                                                "Help and its limits", "Recovery"]
    assert sheet.participants == 3 and sheet.encoder.startswith("tfidf")
    with open(_folder() / "seed_spans.csv", encoding="utf-8") as spans:
        quotes = {row["quote"] for row in csv.DictReader(spans)}
    assert {p.text for s in sheet.sections for p in s.passages} == quotes
    assert all(s.quotation is not None for s in sheet.sections if s.passages)
    markdown = sheet_md.read_text(encoding="utf-8")
    assert markdown.count("write your condensate here") == 5
    assert sum("write your condensate here" in p.text for p in docx.Document(str(sheet_docx)).paragraphs) == 5
