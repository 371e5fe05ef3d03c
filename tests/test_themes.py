"""Preliminary themes: clustering, labels, groups, the listing, adopting, and theme suggestions in review."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
import yaml

from qcassist.cli import main
from qcassist.codebook import read_codebook
from qcassist.decisions import decide, review_queue
from qcassist.errors import QcaError
from qcassist.ingest.coded import CodedColumns
from qcassist.model import Suggestion
from qcassist.seed import import_coded
from qcassist.store import Store
from qcassist.themes import (
    NO_THEME, ClusterOptions, ThemeOptions, adopt, adopt_from_draft, adopted_themes, cluster, find_themes,
    theme_suggestions, write_draft,
)
from qcassist.themes.labels import distinctive_terms, stop_words
from tests.conftest import CODE_WORDS, coded_rows, dump_database, write_coded_csv

pytestmark = pytest.mark.usefixtures("fake_encoder")  # the model-free hash encoder, from conftest


def _import(store: Store, tmp_path, rows: list[dict], name: str = "units.csv") -> None:
    for row in rows:
        row["code"] = ""  # no codebook yet: that is the point of themes
    path = tmp_path / name
    write_coded_csv(path, rows)
    import_coded(store, path, coder="anna", columns=CodedColumns(order="order"))


def _write_draft(store: Store, path):
    """Find the themes and write their YAML draft to path; returns the run."""
    run = find_themes(store)
    with open(path, "w", encoding="utf-8") as out:
        write_draft(run, out)
    return run


@pytest.fixture
def topics(project, tmp_path) -> dict[str, str]:
    """A project of 120 uncoded units, 40 about each of three topics; returns unit text → topic."""
    rows = coded_rows(n_transcripts=4, per_code=10)
    gold = {r["text"]: r["code"] for r in rows}
    with Store.open(project) as store:
        _import(store, tmp_path, rows)
    return gold


def test_themes_recover_three_topics_with_labels_and_participants(project, topics):
    with Store.open(project) as store:
        run = find_themes(store)
    assert [t.id for t in run.themes] == ["T1", "T2", "T3"]
    found = {}
    for theme in run.themes:
        counts = Counter(topics[m.text] for m in theme.members)
        topic, n = counts.most_common(1)[0]
        assert n == len(theme.members)  # every member of a theme is about one topic
        assert set(theme.label) <= set(CODE_WORDS[topic])  # labelled in that topic's words
        assert theme.participants == ("t0", "t1", "t2", "t3") and run.participants == 4
        found[topic] = theme.id
    assert set(found) == set(CODE_WORDS)
    assert run.units == 120 and sum(len(t.members) for t in run.themes) + len(run.unthemed) == 120
    sims = [m.similarity for m in run.themes[0].members]
    assert sims == sorted(sims, reverse=True)  # most central first


def test_same_project_and_options_give_the_same_themes(project, topics):
    with Store.open(project) as store:
        first, second = find_themes(store), find_themes(store)
    assert first.run_id == second.run_id
    assert first.as_dict() == second.as_dict()


def test_units_without_content_words_fit_no_theme(project, tmp_path):
    rows = coded_rows(n_transcripts=4, per_code=10)
    rows += [{"transcript": "t9", "order": i, "speaker": "P", "text": "Yeah, okay.", "code": ""} for i in range(6)]
    with Store.open(project) as store:
        _import(store, tmp_path, rows)
        run = find_themes(store)
    assert sum(m.text == "Yeah, okay." for m in run.unthemed) == 6
    assert all(m.text != "Yeah, okay." for t in run.themes for m in t.members)


def test_fewer_than_30_units_is_one_line_and_exit_2(project, tmp_path, runner):
    with Store.open(project) as store:
        _import(store, tmp_path, coded_rows(n_transcripts=1, per_code=9))  # 27 units
    before = dump_database(project)
    result = runner.invoke(main, ["themes", "-p", str(project)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("Error: only 27 meaning units")
    assert dump_database(project) == before


def test_too_few_units_before_segmenting_says_to_segment(project, tmp_path, runner):
    # four imported sessions and no 'segment' yet answered "only 0 meaning units ... import and segment more
    # transcripts", as if the project were too small
    from qcassist.project import import_files

    path = tmp_path / "session.txt"
    path.write_text("Interviewer: How was the week?\nClient: I drank less and slept better, most nights.\n", encoding="utf-8")
    with Store.open(project) as store:
        import_files(store, [path])
    result = runner.invoke(main, ["themes", "-p", str(project)])
    assert result.exit_code == 2 and result.output == (
        "Error: only 0 meaning units to group; themes need at least 30 (1 transcript(s) not segmented yet, "
        "e.g. session: run 'qcassist segment' first).\n")


@pytest.mark.parametrize("fmt", ["text", "csv", "jsonl", "yaml"])
def test_listing_changes_nothing_in_the_store(project, topics, runner, tmp_path, fmt):
    before = dump_database(project)
    result = runner.invoke(main, ["themes", "-p", str(project), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert dump_database(project) == before
    out = tmp_path / f"themes.{fmt}"
    assert runner.invoke(main, ["themes", "-p", str(project), "--format", fmt, "-o", str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8") == result.output
    refused = runner.invoke(main, ["themes", "-p", str(project), "--format", fmt, "-o", str(out)])
    assert refused.exit_code == 2  # an existing file needs --force
    assert dump_database(project) == before


def test_text_listing_shows_quotes_and_participant_counts(project, topics, runner):
    result = runner.invoke(main, ["themes", "-p", str(project)])
    assert result.output.startswith("3 preliminary themes from 120 meaning units")
    assert "4 of 4 participants" in result.output and "(t" in result.output and "; unit " in result.output


def test_yaml_draft_is_a_codebook_that_codebook_import_accepts(project, topics, tmp_path):
    path = tmp_path / "draft.yaml"
    with Store.open(project) as store:
        run = _write_draft(store, path)
    book = read_codebook(path)
    assert [c.name.split()[0] for c in book.leaves] == ["T1", "T2", "T3"]
    assert all(f"of run {run.run_id}]" in c.description for c in book.leaves)


def test_adopt_makes_a_described_code_and_theme_suggestions_but_no_codings(project, topics):
    with Store.open(project) as store:
        codings = store.codings()
        theme = find_themes(store).themes[0]
        adoption = adopt(store, "t1", name="Money worries", under="Everyday life")
        book = store.codebook()
        assert book.get("Everyday life").parent is None
        assert book.get("Money worries").parent == "Everyday life"
        assert book.get("Money worries").description == theme.description
        assert store.codings() == codings and store.suggestions() == []
        suggestions = theme_suggestions(store)
    assert adoption.units == len(theme.members) == len(suggestions)
    assert {s.unit_id for s in suggestions} == {m.unit_id for m in theme.members}
    assert all(s.source == "theme" and s.probability is None and s.score is not None and s.code == "Money worries"
               for s in suggestions)


def test_theme_suggestions_survive_a_suggest_run_and_leave_once_decided(project, topics):
    with Store.open(project) as store:
        adopt(store, "T1", name="money")
        pending = theme_suggestions(store)
        store.replace_suggestions([], [u.id for u in store.units()])  # what 'suggest' does with the model's suggestions
        assert theme_suggestions(store) == pending
        queue = review_queue(store, coder="anna")
        assert {i.unit_id for i in queue} == {s.unit_id for s in pending}
        first = queue[0]
        decide(store, first.unit_id, "accept", coder="anna", suggestion=first.suggestions[0])
        assert [(c.unit_id, c.code, c.origin) for c in store.codings()] == [(first.unit_id, "money", "review")]
        assert first.unit_id not in {s.unit_id for s in theme_suggestions(store)}
        assert first.unit_id not in {i.unit_id for i in review_queue(store, coder="anna")}


def test_a_code_proposed_by_a_theme_and_by_the_model_is_shown_once_in_review(project, topics):
    with Store.open(project) as store:
        adopt(store, "T1", name="money")
        unit_id = theme_suggestions(store)[0].unit_id
        store.add_classifier("v1", "test", {})
        store.replace_suggestions([Suggestion(unit_id, "money", 0.99, "v1", source="classifier")], [unit_id])
        item = next(i for i in review_queue(store, coder="anna") if i.unit_id == unit_id)
    assert [(s.code, s.source) for s in item.suggestions] == [("money", "classifier")]


def test_adopt_refuses_a_taken_name_or_a_code_as_group_and_changes_nothing(project, topics):
    with Store.open(project) as store:
        adopt(store, "T1", name="money")
        before = dump_database(project)
        with pytest.raises(QcaError, match="already has a code 'money'"):
            adopt(store, "T2", name="money")
        with pytest.raises(QcaError, match="'money' is a code, not a group"):
            adopt(store, "T2", name="trust", under="money")
        with pytest.raises(QcaError, match="already adopted"):
            adopt(store, "T1", name="money again")
        with pytest.raises(QcaError, match="no theme 'T9'"):
            adopt(store, "T9", name="x")
    assert dump_database(project) == before


def test_the_listing_marks_themes_adopted_from_the_same_run(project, topics, runner):
    runner.invoke(main, ["themes", "adopt", "T2", "--as", "Being heard", "-p", str(project)])
    output = runner.invoke(main, ["themes", "-p", str(project)]).output
    assert "T2  trust, respect, honest  [adopted as 'Being heard']" in output and output.count("[adopted as") == 1


def test_adopt_from_an_edited_draft_takes_its_names_and_groups(project, topics, tmp_path, runner):
    draft = tmp_path / "draft.yaml"
    assert runner.invoke(main, ["themes", "-p", str(project), "--format", "yaml", "-o", str(draft)]).exit_code == 0
    tree = yaml.safe_load(draft.read_text(encoding="utf-8"))
    codes = tree["codes"]
    codes[0]["code"] = "Money"
    tree["codes"] = [{"code": "Life", "children": [codes[0], codes[2]]}]  # T2 left out: not adopted
    draft.write_text(yaml.safe_dump(tree), encoding="utf-8")
    result = runner.invoke(main, ["themes", "adopt", "-p", str(project), "--from", str(draft)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Adopted T1 (")
    with Store.open(project) as store:
        book = store.codebook()
        entries = adopted_themes(store)
    assert [(c.name.split()[0], c.parent) for c in book.codes] == [("Life", None), ("Money", "Life"), ("T3", "Life")]
    assert "[theme" not in book.get("Money").description
    assert [e["theme"] for e in entries] == ["T1", "T3"] and entries[0]["parameters"]["options"]["min_size"] == 5


def test_a_draft_naming_one_theme_twice_or_an_unknown_theme_is_refused_with_its_file(project, topics, tmp_path):
    # two codes keeping T1's end adopted T1 twice, so each of its units was offered under both codes
    with Store.open(project) as store:
        run = _write_draft(store, tmp_path / "draft.yaml")
        before = dump_database(project)
        twice = tmp_path / "twice.yaml"
        twice.write_text(yaml.safe_dump({"codes": [
            {"code": "One", "description": f"a [theme T1 of run {run.run_id}]"},
            {"code": "Two", "description": f"b [theme T1 of run {run.run_id}]"}]}), encoding="utf-8")
        with pytest.raises(QcaError, match=r"twice.yaml, field 'Two': theme T1 is named by both 'One' and 'Two'"):
            adopt_from_draft(store, twice)
        unknown = tmp_path / "unknown.yaml"
        unknown.write_text(yaml.safe_dump({"codes": [{"code": "Nine", "description": f"[theme T9 of run {run.run_id}]"}]}),
                           encoding="utf-8")
        with pytest.raises(QcaError, match=r"unknown.yaml, field 'Nine': no theme 'T9' in this run"):
            adopt_from_draft(store, unknown)
    assert dump_database(project) == before


def test_a_description_edited_in_the_draft_becomes_the_codes_description(project, topics, tmp_path):
    # the draft's edited description was dropped for the theme's terms, so the zero-shot suggestions that
    # read descriptions never saw the analyst's words
    with Store.open(project) as store:
        run = _write_draft(store, tmp_path / "draft.yaml")
        draft = tmp_path / "edited.yaml"
        draft.write_text(yaml.safe_dump({"codes": [
            {"code": "Money", "description": f"Worries about paying bills. [theme T1 of run {run.run_id}]"},
            {"code": "Trust", "description": f"[theme T2 of run {run.run_id}]"}]}), encoding="utf-8")
        adopt_from_draft(store, draft)
        book = store.codebook()
    assert book.get("Money").description == "Worries about paying bills."
    assert book.get("Trust").description == run.theme("T2").description  # emptied: the theme's own


def test_the_adopt_hint_repeats_the_runs_options(project, topics, runner, tmp_path):
    # a listing made with --encoder tfidf ended "Adopt one: qcassist themes adopt T1 --as NAME"; run as shown,
    # adopt grouped with MiniLM and took whatever theme T1 was there
    args = ["themes", "-p", str(project), "--min-size", "6", "--transcripts", "t1,t2,t3", "--uncoded-only"]
    output = runner.invoke(main, args).output
    same = " --transcripts t1,t2,t3 --uncoded-only --min-size 6"
    assert output.endswith(f"Adopt one: qcassist themes adopt T1 --as NAME [--under GROUP]{same}; or edit --format yaml "
                           f"and adopt --from FILE{same}.\n")
    draft = runner.invoke(main, [*args, "--format", "yaml"]).output
    assert f"# then: qcassist themes adopt --from THIS_FILE{same} (the run's options)." in draft
    assert runner.invoke(main, ["themes", "-p", str(project)]).output.endswith("adopt --from FILE.\n")


def test_adopt_cli_needs_a_name(project, topics, runner):
    result = runner.invoke(main, ["themes", "adopt", "T1", "-p", str(project)])
    assert result.exit_code == 2 and result.output == "Error: give theme T1 a code name with --as NAME.\n"


def test_rerun_after_new_transcripts_says_which_new_units_fit_adopted_codes(project, topics, tmp_path, runner):
    with Store.open(project) as store:
        adopt(store, "T1", name="money")
        money = find_themes(store).themes[0]
        words = Counter(w for m in money.members for w in m.text.lower().strip(".").split())
        new = [{"transcript": "t8", "order": i, "speaker": "P", "text": text, "code": ""}
               for i, text in enumerate([money.members[0].text.replace("Benefit", "Bank"), "Trust trust respect kind honest."])]
        _import(store, tmp_path, new, "new.csv")
        run = find_themes(store)
    assert words  # the theme has words to match
    fit = {f.code: f.unit_ids for f in run.adopted_fits}
    new_ids = {m.unit_id for t in run.themes for m in t.members if m.transcript == "t8"} | {
        m.unit_id for m in run.unthemed if m.transcript == "t8"}
    assert len(fit["money"]) == 1 and set(fit["money"]) < new_ids
    assert "Adopted code 'money': 1 of 2 units new since its adoption fit it (units " in runner.invoke(
        main, ["themes", "-p", str(project)]).output


def test_a_new_unit_without_content_words_does_not_fit_an_adopted_code(project, topics, tmp_path):
    # ES2002d after adopting a 'rubber, plastic, titanium' theme with TF-IDF: "Plastic ." was said to fit it,
    # though units with fewer than --min-words content words fit no theme
    with Store.open(project) as store:
        adopt(store, "T1", name="money")
        central = find_themes(store).themes[0].members[0].text
        word = max(central.strip(".").split(), key=len)
        new = [{"transcript": "t8", "order": i, "speaker": "P", "text": text, "code": ""}
               for i, text in enumerate([central, f"{word} ."])]
        _import(store, tmp_path, new, "new.csv")
        run = find_themes(store)
    fits = {f.code: f for f in run.adopted_fits}["money"]
    texts = {m.unit_id: m.text for t in run.themes for m in t.members} | {m.unit_id: m.text for m in run.unthemed}
    assert [texts[u] for u in fits.unit_ids] == [central] and fits.new_units == 1


def test_right_after_adopting_no_unit_is_said_to_now_fit(project, topics, runner):
    # AnnoMI, ten sessions: the listing after three adoptions named six old units "not in it when adopted
    # now fit it", though nothing had changed; only units of transcripts imported since are news
    with Store.open(project) as store:
        adopt(store, "T1", name="money")
        run = find_themes(store)
    assert [(f.code, f.unit_ids, f.new_units) for f in run.adopted_fits] == [("money", (), 0)]
    assert "Adopted code" not in runner.invoke(main, ["themes", "-p", str(project)]).output


def test_a_removed_adopted_code_ends_its_adoption(project, topics, runner):
    # removing an adopted code left the listing saying "[adopted as 'lower']", the report listing it,
    # and adopting the theme again refused as "already adopted"
    from qcassist.report import build_report

    with Store.open(project) as store:
        adopt(store, "T2", name="lower")
    assert runner.invoke(main, ["codebook", "remove", "-p", str(project), "lower"]).exit_code == 0
    assert "[adopted as" not in runner.invoke(main, ["themes", "-p", str(project)]).output
    with Store.open(project) as store:
        assert "<td>lower</td>" not in build_report(store, bootstrap=0)
        adopt(store, "T2", name="lower")  # again, under the old name: its units are offered once, not twice
        suggestions = theme_suggestions(store)
        assert len(suggestions) == len({s.unit_id for s in suggestions}) == len(find_themes(store).theme("T2").members)
        assert [e["code"] for e in adopted_themes(store)] == ["lower"]


def test_many_units_are_clustered_through_micro_clusters_deterministically():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16))
    x = np.vstack([c + 0.15 * rng.normal(size=(150, 16)) for c in centres])
    options = ClusterOptions(min_size=10, direct_limit=200, micro=40, silhouette_sample=300)
    first, second = cluster(x, options), cluster(x, options)
    assert np.array_equal(first.labels, second.labels)
    assert len(first.centroids) == 4
    for block in range(4):
        labels = first.labels[block * 150:(block + 1) * 150]
        kept = labels[labels != NO_THEME]
        assert len(set(kept.tolist())) == 1 and len(kept) >= 140


def test_labels_use_the_languages_stop_words():
    texts = ["og det var ventetid og ventetid hos legen"] * 3 + ["og det var gjeld og gjeld i banken"] * 3
    labels = distinctive_terms(texts, np.array([0, 0, 0, 1, 1, 1]), 2, language="nb")
    assert "og" in stop_words("nb") and not any("og" in term.split() for term in labels[0] + labels[1])
    assert "ventetid" in " ".join(labels[0]) and "gjeld" in " ".join(labels[1])
    with pytest.raises(QcaError, match="no stop words for language 'xx'"):
        stop_words("xx")


def test_labels_leave_out_words_of_talk_about_anything():
    # "maybe", "want" and "good" are in one theme only, so they are distinctive by weight alone
    texts = (["maybe we want the budget good budget spending"] * 3 + ["the garden roses need pruning roses"] * 3)
    kept = distinctive_terms(texts, np.array([0, 0, 0, 1, 1, 1]), 2, top=3)
    assert not {"maybe", "want", "good"} & {w for term in kept[0] for w in term.split()}
    assert "budget" in kept[0] and "roses" in kept[1]
    plain = distinctive_terms(texts, np.array([0, 0, 0, 1, 1, 1]), 2, top=3, talk_words=False)
    assert {"maybe", "want", "good"} & {w for term in plain[0] for w in term.split()}


def test_a_label_has_no_two_forms_of_one_word_and_no_stutter():
    texts = ["drinking drink pub pub beer"] * 3 + ["garden roses pruning"] * 3
    assert distinctive_terms(texts, np.array([0, 0, 0, 1, 1, 1]), 2, top=3)[0] == ["pub", "beer", "drink"]
    texts = ["quit quitting smoker"] * 3 + ["garden roses pruning"] * 3
    assert distinctive_terms(texts, np.array([0, 0, 0, 1, 1, 1]), 2, top=3, collocation=2.0)[0] == ["quit", "smoker"]


def test_a_word_said_mostly_in_one_phrase_is_labelled_by_the_phrase():
    texts = (["the remote control is broken", "a remote control with buttons", "this control panel and the remote control",
              "buttons on the remote"] + ["garden roses pruning"] * 4)
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    # "control": 3 of 4 times in "remote control" (2 of 4 would not do); "remote" is then taken
    assert distinctive_terms(texts, labels, 2, top=2)[0] == ["remote control", "buttons"]
    assert distinctive_terms(texts, labels, 2, top=2, collocation=2.0)[0] == ["control", "remote"]


def test_a_phrase_is_adjacent_words_of_one_unit():
    from qcassist.themes.labels import _phrase_analyzer

    analyse = _phrase_analyzer({"the", "of", "a"}, 2)
    # not "end month" across "of the", nor "month month" from one unit (line) into the next
    assert analyse("the end of the month\nmonth end") == ["end", "month", "month", "end", "month end"]


class _TermEncoder:
    """Fixed vectors for a few words (anything else: the last axis)."""

    axes = {"apple": 0, "orchard": 0, "zebra": 1, "stripes": 2}

    def encode(self, texts):
        vectors = np.zeros((len(texts), 4))
        for row, text in enumerate(texts):
            vectors[row, self.axes.get(text, 3)] = 1.0
        return vectors


def test_labels_are_reranked_by_closeness_to_the_theme_centre_and_kept_diverse():
    texts = ["apple zebra orchard stripes"] * 3 + ["garden roses pruning"] * 3
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert distinctive_terms(texts, labels, 2, top=2, collocation=2.0)[0] == ["apple", "orchard"]  # equal weights: by the term
    centres = np.array([[0.6, 0.8, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    reranked = distinctive_terms(texts, labels, 2, top=3, encoder=_TermEncoder(), centroids=centres, diversity=0.0,
                                  collocation=2.0)
    assert reranked[0] == ["zebra", "apple", "orchard"]  # nearest the centre first
    # with diversity, "orchard" (the same direction as "apple") gives way to the unlike "stripes"
    diverse = distinctive_terms(texts, labels, 2, top=3, encoder=_TermEncoder(), centroids=centres, diversity=0.5,
                                collocation=2.0)
    assert diverse[0] == ["zebra", "apple", "stripes"]


def test_an_unknown_speaker_or_transcript_is_named(project, topics):
    with Store.open(project) as store:
        with pytest.raises(QcaError, match=r"no units by speaker 'p' \(speakers: P\)"):
            find_themes(store, ThemeOptions(speakers=("p",)))
        with pytest.raises(QcaError, match="no transcript 't7'"):
            find_themes(store, ThemeOptions(transcripts=("t7",)))
        assert find_themes(store, ThemeOptions(speakers=("P",))).units == 120


def test_theme_options_are_checked():
    with pytest.raises(QcaError, match="--min-size must be at least 2"):
        ThemeOptions(min_size=1)


def test_report_lists_adopted_themes_and_their_review(project, topics):
    from qcassist.report import build_report

    with Store.open(project) as store:
        assert "No themes adopted" in build_report(store, bootstrap=10)
        adopt(store, "T1", name="money")
        item = review_queue(store, coder="anna")[0]
        decide(store, item.unit_id, "reject", coder="anna", suggestion=item.suggestions[0])
        page = build_report(store, bootstrap=10)
        units = len(theme_suggestions(store))
    assert "Preliminary themes" in page and "<td>money</td>" in page
    row = re.search(r"<tr><td>money</td>.*?</tr>", page).group(0)
    assert [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', row)] == [units, 0, 1, units - 1]


def test_a_theme_becomes_a_group_only_where_its_own_units_split_clearly():
    from qcassist.themes.hierarchy import split_themes

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 32))
    a1, a2 = a + 0.5 * rng.normal(size=(2, 32))  # theme A holds two tight parts; theme B is one loose cloud
    x = np.vstack([a1 + 0.05 * rng.normal(size=(20, 32)), a2 + 0.05 * rng.normal(size=(20, 32)),
                   b + 0.3 * rng.normal(size=(40, 32))])
    options = ClusterOptions(max_themes=2)
    broad = cluster(x, options)
    assert sorted(Counter(broad.labels[:40].tolist())) == [0] and 0 not in broad.labels[40:]
    hierarchy = split_themes(x, broad, options)
    assert hierarchy.group == (None, 0, 0)  # B (the largest) stays whole; A is group 0 of two themes
    assert set(hierarchy.themes.labels[:20].tolist()) == {1} and set(hierarchy.themes.labels[20:40].tolist()) == {2}
    assert np.array_equal(hierarchy.themes.labels[40:] == NO_THEME, broad.labels[40:] == NO_THEME)
    assert hierarchy.group_centroids.shape == (1, 32)


def test_random_word_mixes_of_one_topic_stay_one_theme(project, topics):
    with Store.open(project) as store:
        run = find_themes(store)  # within a topic the units split only by chance, less clearly than the topics do
    assert len(run.themes) == 3 and run.groups == () and run.parameters["groups"] == 0


def test_a_decisions_file_accepts_and_rejects_theme_suggestions(project, topics, tmp_path, runner):
    with Store.open(project) as store:
        adopt(store, "T1", name="money")
        first, second = sorted({s.unit_id for s in theme_suggestions(store)})[:2]
    decisions = tmp_path / "decisions.csv"
    decisions.write_text(f"unit_id,action,code\n{first},accept,money\n{second},reject,money\n", encoding="utf-8")
    result = runner.invoke(main, ["review", "-p", str(project), "--decisions", str(decisions), "--coder", "anna"])
    assert result.exit_code == 0, result.output
    with Store.open(project) as store:
        assert [(c.unit_id, c.code) for c in store.codings()] == [(first, "money")]
        assert [(d.unit_id, d.action, d.model_version.split(":")[0]) for d in store.decisions()] == [
            (first, "accept", "theme"), (second, "reject", "theme")]


def test_a_draft_from_another_run_is_refused_and_changes_nothing(project, topics, tmp_path):
    from qcassist.errors import InputError

    with Store.open(project) as store:
        draft = tmp_path / "draft.yaml"
        run = _write_draft(store, draft)
        draft.write_text(draft.read_text(encoding="utf-8").replace(run.run_id, "0123456789"), encoding="utf-8")
        before = dump_database(project)
        with pytest.raises(InputError, match="names run 0123456789, but these options and units give run"):
            adopt_from_draft(store, draft)
        with pytest.raises(InputError, match="names run"):
            adopt_from_draft(store, draft, options=ThemeOptions(min_size=6))
    assert dump_database(project) == before


def test_a_broad_theme_that_splits_is_listed_and_drafted_as_a_group(project, topics):
    from qcassist.themes import draft_codebook, listing

    with Store.open(project) as store:  # at most two broad themes for three topics: two topics share one, then split
        run = find_themes(store, cluster_options=ClusterOptions(max_themes=2, max_share=0.7))
    assert [(g.id, g.themes) for g in run.groups] == [("G1", ("T2", "T3"))]
    assert [t.group for t in run.themes] == [None, "G1", "G1"]
    for theme in run.themes:  # each theme one topic
        assert len({topics[m.text] for m in theme.members}) == 1
    assert "\nG1  " in listing(run) and "(2 themes: T2, T3)" in listing(run)
    codes = draft_codebook(run)["codes"]
    assert codes[0]["code"].startswith("G1 ") and [c["code"].split()[0] for c in codes[0]["children"]] == ["T2", "T3"]
    with pytest.raises(QcaError, match=r"G1 is a group of themes \(T2, T3\), not a theme"):
        run.theme("g1")
    assert codes[1]["code"].startswith("T1 ")
