"""Codebooks read from CSV, JSON and YAML, checked, and written back."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcassist.codebook import codebook_rows, did_you_mean, read_codebook, write_codebook
from qcassist.errors import InputError
from qcassist.model import Code, Codebook
from tests.conftest import expect_input_error, write

TRUST_CSV = """code,parent,description
Trust,,How trust in the team grows or fails
Being heard,Trust,
listened to,Being heard,The participant felt listened to
came back,Being heard,
Money,,Worries about money
"""




def read_error(path, **kwargs) -> InputError:
    return expect_input_error(read_codebook, path, **kwargs)


# --- reading -----------------------------------------------------------------------------


def test_csv_codebook_gives_codes_with_parents_and_descriptions(tmp_path):
    codebook = read_codebook(write(tmp_path, "codebook.csv", TRUST_CSV))
    assert codebook.codes == (
        Code("Trust", None, "How trust in the team grows or fails"),
        Code("Being heard", "Trust", ""),
        Code("listened to", "Being heard", "The participant felt listened to"),
        Code("came back", "Being heard", ""),
        Code("Money", None, "Worries about money"),
    )
    assert codebook.exclusive is False
    assert [c.name for c in codebook.leaves] == ["listened to", "came back", "Money"]


def test_exclusive_argument_overrides_the_file(tmp_path):
    assert read_codebook(write(tmp_path, "codebook.csv", TRUST_CSV), exclusive=True).exclusive is True
    path = write(tmp_path, "codebook.json", json.dumps({"exclusive": True, "codes": ["a", "b"]}))
    assert read_codebook(path).exclusive is True
    assert read_codebook(path, exclusive=False).exclusive is False


def test_csv_columns_are_matched_whatever_their_case_and_name_stands_for_code(tmp_path):
    text = "Name;PARENT;Description;notes\nTrust;;;ignored\nlistened to;Trust;felt heard;\n"
    codebook = read_codebook(write(tmp_path, "codebook.csv", text))
    assert codebook.codes == (Code("Trust"), Code("listened to", "Trust", "felt heard"))


def test_csv_with_only_a_code_column_is_a_flat_codebook(tmp_path):
    codebook = read_codebook(write(tmp_path, "codes.csv", "code\nhope\nfear\n"))
    assert codebook.codes == (Code("hope"), Code("fear"))


def test_blank_csv_rows_are_skipped(tmp_path):
    codebook = read_codebook(write(tmp_path, "codebook.csv", "code,parent\nTrust,\n,\nlistened to,Trust\n"))
    assert [c.name for c in codebook.codes] == ["Trust", "listened to"]


def test_codes_come_in_tree_order_whatever_the_file_order(tmp_path):
    text = "code,parent\nlistened to,Being heard\nMoney,\nBeing heard,Trust\nTrust,\nrent,Money\n"
    codebook = read_codebook(write(tmp_path, "codebook.csv", text))
    assert [c.name for c in codebook.codes] == ["Money", "rent", "Trust", "Being heard", "listened to"]


def test_a_code_used_as_a_parent_is_a_group_not_a_leaf(tmp_path):
    codebook = read_codebook(write(tmp_path, "codebook.csv", "code,parent\nTrust,\nlistened to,Trust\n"))
    assert [c.name for c in codebook.leaves] == ["listened to"]


def test_nested_json_tree_gives_the_same_codebook_as_the_flat_csv(tmp_path):
    tree = {
        "exclusive": False,
        "codes": [
            {"code": "Trust", "description": "How trust in the team grows or fails", "children": [
                {"code": "Being heard", "children": [
                    {"code": "listened to", "description": "The participant felt listened to"},
                    {"code": "came back"},
                ]},
            ]},
            {"code": "Money", "description": "Worries about money"},
        ],
    }
    from_json = read_codebook(write(tmp_path, "codebook.json", json.dumps(tree)))
    assert from_json == read_codebook(write(tmp_path, "codebook.csv", TRUST_CSV))


def test_flat_json_list_with_parents_is_read(tmp_path):
    items = [{"code": "listened to", "parent": "Trust"}, {"name": "Trust", "description": "d"}]
    codebook = read_codebook(write(tmp_path, "codebook.json", json.dumps(items)))
    assert codebook.codes == (Code("Trust", None, "d"), Code("listened to", "Trust"))


def test_nested_yaml_with_bare_names_as_children_is_read(tmp_path):
    text = """exclusive: true
codes:
  - code: Trust
    description: |
      How trust grows.
      Or fails.
    children: [listened to, came back]
  - code: "yes"
"""
    codebook = read_codebook(write(tmp_path, "codebook.yaml", text))
    assert codebook.exclusive is True
    assert codebook.codes == (
        Code("Trust", None, "How trust grows.\nOr fails."),
        Code("listened to", "Trust"),
        Code("came back", "Trust"),
        Code("yes"),
    )


def test_yml_suffix_is_yaml(tmp_path):
    assert read_codebook(write(tmp_path, "codebook.yml", "- a\n- b\n")).codes == (Code("a"), Code("b"))


# --- mistakes ----------------------------------------------------------------------------


def test_unknown_parent_names_the_row_and_suggests_the_close_code(tmp_path):
    text = "code,parent\nTrust,\nBeing heard,Trust\nMoney,\nlistened to,Trst\n"
    path = write(tmp_path, "codebook.csv", text)
    error = read_error(path)
    assert str(error) == f"{path}, line 5, field 'parent': unknown parent 'Trst' for code 'listened to'. Did you mean 'Trust'?"
    assert error.line == 5


def test_unknown_parent_far_from_any_code_has_no_suggestion(tmp_path):
    error = read_error(write(tmp_path, "codebook.csv", "code,parent\nTrust,\nhope,Zebra\n"))
    assert "unknown parent 'Zebra'" in str(error)
    assert "Did you mean" not in str(error)


def test_empty_code_name_names_the_row(tmp_path):
    error = read_error(write(tmp_path, "codebook.csv", "code,parent,description\nTrust,,\n,Trust,felt heard\n"))
    assert error.line == 3
    assert error.field == "code"
    assert "empty code name" in str(error)


def test_duplicate_code_names_both_rows(tmp_path):
    error = read_error(write(tmp_path, "codebook.csv", "code\nTrust\nhope\nTrust\n"))
    assert error.line == 4
    assert "duplicate code 'Trust' (first at line 2)" in str(error)


def test_duplicate_code_in_a_nested_tree_names_both_places(tmp_path):
    tree = {"codes": [{"code": "A", "children": ["x"]}, {"code": "B", "children": ["x"]}]}
    error = read_error(write(tmp_path, "codebook.json", json.dumps(tree)))
    assert error.field == "codes[1].children[0]"
    assert "first at codes[0].children[0]" in str(error)


def test_cycle_names_the_codes_in_it(tmp_path):
    error = read_error(write(tmp_path, "codebook.csv", "code,parent\nTop,\nA,C\nB,A\nC,B\nleaf,Top\n"))
    assert "'A' → 'C' → 'B' → 'A'" in str(error)
    assert error.line == 3


def test_code_that_is_its_own_parent_is_a_cycle(tmp_path):
    error = read_error(write(tmp_path, "codebook.csv", "code,parent\nTrust,Trust\n"))
    assert "'Trust' is its own parent" in str(error)


def test_missing_code_column_lists_the_columns(tmp_path):
    error = read_error(write(tmp_path, "codebook.csv", "label,parent\nTrust,\n"))
    assert error.field == "code"
    assert "(columns: label, parent)" in str(error)


def test_unknown_key_in_json_suggests_the_known_one(tmp_path):
    error = read_error(write(tmp_path, "codebook.json", json.dumps([{"code": "a", "descripton": "x"}])))
    assert error.field == "codes[0].descripton"
    assert "Did you mean 'description'?" in str(error)


def test_unknown_top_level_key_is_an_error(tmp_path):
    error = read_error(write(tmp_path, "codebook.json", json.dumps({"exclusve": True, "codes": ["a"]})))
    assert "Did you mean 'exclusive'?" in str(error)


def test_exclusive_must_be_a_boolean(tmp_path):
    error = read_error(write(tmp_path, "codebook.json", json.dumps({"exclusive": "yes", "codes": ["a"]})))
    assert error.field == "exclusive"


def test_yaml_boolean_as_a_code_name_asks_for_quotes(tmp_path):
    error = read_error(write(tmp_path, "codebook.yaml", "codes:\n  - code: yes\n"))
    assert error.field == "codes[0].code"
    assert "quotes" in str(error)


def test_child_whose_stated_parent_contradicts_its_place_is_an_error(tmp_path):
    tree = [{"code": "A", "children": [{"code": "x", "parent": "B"}]}, "B"]
    error = read_error(write(tmp_path, "codebook.json", json.dumps(tree)))
    assert error.field == "codes[0].children[0].parent"


def test_invalid_json_names_the_line(tmp_path):
    error = read_error(write(tmp_path, "codebook.json", '{"codes": [\n  "a",\n  ]\n}\n'))
    assert error.line == 3


def test_invalid_yaml_names_the_line(tmp_path):
    error = read_error(write(tmp_path, "codebook.yaml", "codes:\n  - a\n - b: [\n"))
    assert error.line is not None


def test_codebook_without_codes_is_an_error(tmp_path):
    assert "has no codes" in str(read_error(write(tmp_path, "codebook.json", '{"codes": []}')))
    assert "no codes" in str(read_error(write(tmp_path, "codebook.csv", "code,parent\n")))


def test_unknown_codebook_suffix_is_an_error(tmp_path):
    assert "unknown codebook type '.txt'" in str(read_error(write(tmp_path, "codebook.txt", "a\n")))


def test_did_you_mean_suggests_close_and_case_differing_names_only():
    assert did_you_mean("trsut", ["trust", "hope"]) == " Did you mean 'trust'?"
    assert did_you_mean("TRUST", ["trust", "hope"]) == " Did you mean 'trust'?"
    assert did_you_mean("money", ["trust", "hope"]) == ""
    assert did_you_mean("x", []) == ""


# --- writing -----------------------------------------------------------------------------


def test_codebook_rows_give_levels_and_paths(tmp_path):
    rows = codebook_rows(read_codebook(write(tmp_path, "codebook.csv", TRUST_CSV)))
    assert [(r["code"], r["level"], r["path"]) for r in rows] == [
        ("Trust", "group", "Trust"),
        ("Being heard", "subgroup", "Trust > Being heard"),
        ("listened to", "code", "Trust > Being heard > listened to"),
        ("came back", "code", "Trust > Being heard > came back"),
        ("Money", "code", "Money"),
    ]
    assert rows[2]["parent"] == "Being heard" and rows[0]["parent"] == ""
    assert rows[2]["description"] == "The participant felt listened to"


def test_write_codebook_to_a_stream_writes_a_nested_yaml_tree(tmp_path):
    out = io.StringIO()
    write_codebook(read_codebook(write(tmp_path, "codebook.csv", TRUST_CSV)), "yaml", out)
    assert out.getvalue().startswith("exclusive: false\ncodes:\n- code: Trust\n")
    assert "children:" in out.getvalue()


def test_write_codebook_rejects_an_unknown_format():
    with pytest.raises(ValueError):
        write_codebook(Codebook((Code("a"),)), "xml", io.StringIO())


NAME = st.text(st.characters(categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=12).filter(
    lambda s: s == s.strip()
)
DESCRIPTION = st.text(st.one_of(st.characters(categories=("L", "N", "P", "S", "Zs")), st.just("\n")), max_size=30).map(
    str.strip
)


@st.composite
def codebooks(draw) -> Codebook:
    names = draw(st.lists(NAME, min_size=1, max_size=8, unique=True))
    codes = []
    for index, name in enumerate(names):
        # a parent drawn among the codes before it cannot make a cycle
        parent = draw(st.none() | st.sampled_from(names[:index])) if index else None
        codes.append(Code(name, parent, draw(DESCRIPTION)))
    return Codebook(tuple(codes), draw(st.booleans()))


@settings(max_examples=60, deadline=None)
@given(codebook=codebooks(), fmt=st.sampled_from(["csv", "json", "yaml"]))
def test_written_codebook_reads_back_the_same(codebook, fmt):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"codebook.{fmt}"
        write_codebook(codebook, fmt, path)
        # a CSV has no place for `exclusive`: it comes from the --exclusive flag
        again = read_codebook(path, exclusive=codebook.exclusive if fmt == "csv" else None)
    assert set(again.codes) == set(codebook.codes)
    assert again.exclusive == codebook.exclusive
    assert [c.name for c in again.codes] == [row["code"] for row in codebook_rows(codebook)]


def test_a_codebook_written_to_a_path_follows_the_output_rule(tmp_path):
    """write_codebook to a path goes through safe_output: an existing file only with force, never a project file."""
    from qcassist.errors import QcaError
    from qcassist.store import Store

    codebook = Codebook((Code("trust"),))
    path = tmp_path / "codebook.yaml"
    path.write_text("previous\n", encoding="utf-8")
    with pytest.raises(QcaError, match="already exists; pass --force"):
        write_codebook(codebook, "yaml", path)
    assert path.read_text(encoding="utf-8") == "previous\n"
    write_codebook(codebook, "yaml", path, force=True)
    assert [c.name for c in read_codebook(path).codes] == ["trust"]
    Store.create(tmp_path / "project").close()
    database = tmp_path / "project" / "qcassist.db"
    before = database.read_bytes()
    with pytest.raises(QcaError, match="project database"):
        write_codebook(codebook, "csv", database, force=True)
    assert database.read_bytes() == before


@pytest.mark.parametrize("name, text", [
    ("deep.yaml", "codes:\n" + "".join("  " * (2 * i + 1) + f"- name: c{i}\n" + "  " * (2 * i + 2) + "codes:\n"
                                       for i in range(250)) + "  " * 501 + "- name: leaf\n"),
    ("deep.json", '{"codes": [' + '{"name": "c", "codes": [' * 2000 + '{"name": "leaf"}' + "]}" * 2000 + "]}"),
])
def test_a_codebook_nested_hundreds_deep_is_one_error_naming_the_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=f"{name}: is nested too deeply to be a codebook"):
        read_codebook(path)
