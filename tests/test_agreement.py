"""Agreement: every statistic against a reference implementation and a worked example, alignment, CIs, the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from irrCAC.raw import CAC
from sklearn.metrics import cohen_kappa_score

from qcassist.agreement import KAPPA_SCALE, agree, bootstrap_weights, collect_ratings, interpret
from qcassist.reliability import (
    MISSING, ItemTables, cohen_kappa, fleiss_kappa, gwet_ac1, krippendorff_alpha, percent_agreement, statistics_from_tables,
)
from qcassist.cli import main
from qcassist.errors import QcaError
from qcassist.ingest.coded import CodedColumns
from qcassist.seed import import_codebook, import_coded, import_spans
from qcassist.store import Store
from tests.conftest import coded_rows, dump_database, write, write_coded_csv

_RELATIVE = Path("shared") / "datasets" / "annomi" / "AnnoMI-full.dev.csv"
ANNOMI_FULL = next((p for p in (Path(__file__).resolve().parents[2] / _RELATIVE, Path("/work") / _RELATIVE) if p.exists()),
                   Path(__file__).resolve().parents[2] / _RELATIVE)

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal example: 4 coders × 12 units, gaps missing.
KRIPPENDORFF_EXAMPLE = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def _matrix(rows) -> np.ndarray:
    return np.array([[MISSING if v is None else v - 1 for v in row] for row in rows], dtype=np.int64)


def _irr(rows) -> CAC:
    return CAC(pd.DataFrame(np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float).T))


# --- statistics against worked examples and reference implementations ----------------


def test_krippendorff_alpha_reproduces_krippendorffs_worked_example():
    assert krippendorff_alpha(_matrix(KRIPPENDORFF_EXAMPLE)) == pytest.approx(0.743, abs=5e-4)


def test_gwet_ac1_and_percent_agreement_match_irrcac_with_missing_ratings():
    reference = _irr(KRIPPENDORFF_EXAMPLE).gwet()["est"]
    matrix = _matrix(KRIPPENDORFF_EXAMPLE)
    assert gwet_ac1(matrix) == pytest.approx(reference["coefficient_value"], abs=1e-5)
    assert percent_agreement(matrix) == pytest.approx(reference["pa"], abs=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_every_statistic_matches_its_reference_on_random_ratings(seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 5, size=60)
    rows = [[int(t) if rng.random() < 0.7 else int(rng.integers(1, 5)) for t in truth] for _ in range(3)]
    for row in rows[2:]:  # the third coder skipped some units
        for i in rng.choice(60, size=8, replace=False):
            row[i] = None
    matrix = _matrix(rows)
    reference = _irr(rows)
    assert gwet_ac1(matrix) == pytest.approx(reference.gwet()["est"]["coefficient_value"], abs=1e-5)
    assert krippendorff_alpha(matrix) == pytest.approx(reference.krippendorff()["est"]["coefficient_value"], abs=1e-4)
    assert cohen_kappa(matrix[:2]) == pytest.approx(cohen_kappa_score(rows[0], rows[1]))
    complete = [i for i in range(60) if rows[2][i] is not None]
    full = [[row[i] for i in complete] for row in rows]
    assert fleiss_kappa(matrix) == pytest.approx(_irr(full).fleiss()["est"]["coefficient_value"], abs=1e-5)


@pytest.mark.parametrize("coders", [2, 3])
def test_bootstrap_from_summed_transcript_tables_equals_each_statistic_on_the_resampled_units(coders):
    rng = np.random.default_rng(coders)
    n_items, n_transcripts, q = 90, 9, 4
    truth = rng.integers(0, q, size=n_items)
    matrix = np.array([[t if rng.random() < 0.7 else rng.integers(0, q) for t in truth] for _ in range(coders)])
    matrix[coders - 1, rng.choice(n_items, size=12, replace=False)] = MISSING  # one coder skipped some units
    groups = rng.integers(0, n_transcripts, size=n_items)
    weights = bootstrap_weights(n_transcripts, 40, seed=1)
    fast = statistics_from_tables(ItemTables(matrix, groups, n_transcripts, q), weights)
    reference = {"percent_agreement": lambda m: percent_agreement(m), "gwet_ac1": lambda m: gwet_ac1(m, q),
                 "fleiss_kappa": lambda m: fleiss_kappa(m, q), "krippendorff_alpha": lambda m: krippendorff_alpha(m, q)}
    if coders == 2:
        reference["cohen_kappa"] = cohen_kappa
    for round_, counts in enumerate(weights):
        columns = np.concatenate([np.flatnonzero(groups == t) for t in range(n_transcripts) for _ in range(int(counts[t]))])
        for name, compute in reference.items():
            expected = compute(matrix[:, columns])
            assert fast[name][round_] == pytest.approx(np.nan if expected is None else expected, abs=1e-9, nan_ok=True), name


def test_cohen_kappa_worked_example():
    # 50 proposals read by two editors: yes/yes 20, yes/no 5, no/yes 10, no/no 15 → kappa 0.4
    a = [1] * 25 + [0] * 25
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert cohen_kappa(np.array([a, b])) == pytest.approx(0.4)


def test_fleiss_kappa_reproduces_fleiss_1971_table():
    # Fleiss (1971) as tabulated on Wikipedia: 10 subjects, 14 raters, 5 categories → 0.210
    counts = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
              [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    columns = [[k for k, n in enumerate(row) for _ in range(n)] for row in counts]
    assert fleiss_kappa(np.array(columns).T, 5) == pytest.approx(0.210, abs=5e-4)


def test_undefined_statistics_are_none_not_nan():
    same = np.array([[0, 0, 0], [0, 0, 0]])
    assert cohen_kappa(same) is None and krippendorff_alpha(same) is None
    assert percent_agreement(same) == 1.0


def test_thresholds_follow_landis_and_koch():
    assert [interpret(v, KAPPA_SCALE) for v in (-0.1, 0.1, 0.3, 0.5, 0.7, 0.9)] == [
        "poor", "slight", "fair", "moderate", "substantial", "almost perfect"]


# --- a project with two coders -----------------------------------------------------------


def _two_coders(tmp_path, disagree_every=4, n_transcripts=4):
    """Coder ann codes the synthetic corpus; ben agrees except on every ``disagree_every``-th unit (0: never)."""
    rows = coded_rows(n_transcripts=n_transcripts, per_code=4)
    codes = sorted({r["code"] for r in rows})
    ann = tmp_path / "ann.csv"
    write_coded_csv(ann, rows)
    changed = [dict(r, code=codes[(codes.index(r["code"]) + 1) % len(codes)]) if disagree_every and i % disagree_every == 0 else r
               for i, r in enumerate(rows)]
    ben = tmp_path / "ben.csv"
    write_coded_csv(ben, changed)
    directory = tmp_path / "two"
    with Store.create(directory) as store:
        import_coded(store, ann, coder="ann", columns=CodedColumns(order="order"))
        import_coded(store, ben, coder="ben", columns=CodedColumns(order="order"))
    return directory, rows, changed


def test_agree_on_two_coders_matches_scikit_learn_on_the_same_units(tmp_path):
    directory, rows, changed = _two_coders(tmp_path, n_transcripts=6)
    with Store.open(directory) as store:
        result = agree(store, ["ann", "ben"], bootstrap=200)
    assert result.units == len(rows) and result.transcripts == 6
    expected = cohen_kappa_score([r["code"] for r in rows], [r["code"] for r in changed])
    assert result.statistics["cohen_kappa"]["value"] == pytest.approx(expected)
    assert result.statistics["percent_agreement"]["value"] == pytest.approx(
        np.mean([a["code"] == b["code"] for a, b in zip(rows, changed)]))
    low, high = result.statistics["cohen_kappa"]["ci"]
    assert low <= expected <= high and high - low < 0.5
    assert sum(map(sum, result.confusion["matrix"])) == len(rows)
    first = result.per_code[0]
    truth = [r["code"] == first["code"] for r in rows]
    guess = [r["code"] == first["code"] for r in changed]
    assert first["recall"] == pytest.approx(sum(t and g for t, g in zip(truth, guess)) / sum(truth))
    assert first["kappa"] == pytest.approx(cohen_kappa_score(truth, guess))


def test_bootstrap_is_reproducible_and_absent_with_fewer_than_five_transcripts(tmp_path):
    directory, _, _ = _two_coders(tmp_path, n_transcripts=5)
    with Store.open(directory) as store:
        one = agree(store, ["ann", "ben"], bootstrap=100, seed=3).as_dict()
        two = agree(store, ["ann", "ben"], bootstrap=100, seed=3).as_dict()
        four = agree(store, ["ann", "ben"], transcripts=["t0", "t1", "t2", "t3"], bootstrap=100)
    assert one == two and one["statistics"]["cohen_kappa"]["ci"] is not None
    assert four.statistics["cohen_kappa"]["ci"] is None and four.bootstrap == 0
    assert any(note.startswith("no interval: fewer than 5 transcripts") for note in four.notes)


def test_a_coder_who_skipped_a_transcript_is_missing_there_not_disagreeing(tmp_path):
    directory, rows, _ = _two_coders(tmp_path, disagree_every=0)  # perfect agreement
    partial = [r for r in rows if r["transcript"] == "t0"]
    write_coded_csv(tmp_path / "cy.csv", partial)
    with Store.open(directory) as store:
        import_coded(store, tmp_path / "cy.csv", coder="cy", columns=CodedColumns(order="order"))
        result = agree(store, ["ann", "ben", "cy"], bootstrap=0)
        ratings = collect_ratings(store, ["ann", "ben", "cy"])
        pair = collect_ratings(store, ["ann", "cy"])
    assert result.statistics["krippendorff_alpha"]["value"] == pytest.approx(1.0)
    assert result.statistics["percent_agreement"]["value"] == 1.0
    assert sum(label is None for label in ratings.labels["cy"]) == len(rows) - len(partial)
    assert len(pair.units) == len(partial)  # units only ann judged compare nothing and are not counted


def test_spans_cut_differently_are_aligned_by_overlap_and_unaligned_ones_counted(store, six_turns_file, hash_encoder, monkeypatch, tmp_path):
    import qcassist.project as project_module
    from qcassist.project import import_files, segment_project
    from qcassist.segment import SegmentOptions

    monkeypatch.setattr(project_module, "SentenceTransformerEncoder", lambda *a, **k: hash_encoder)
    import_files(store, [six_turns_file])
    segment_project(store, options=SegmentOptions(strategy="sentence", min_chars=1))
    import_codebook(store, write(tmp_path, "cb.csv", "code\ncare\nmoney\n"))
    transcript = store.transcripts()[0]
    units = store.units(transcript.id)
    nurse = next(u for u in units if u.text_in(transcript).startswith("The nurse"))
    money = next(u for u in units if "money" in u.text_in(transcript))
    # ann codes units exactly; ben marks a longer stretch and a 4-character sliver across a unit boundary
    lines = ["transcript,start,end,code,coder",
             f"six_turns,{nurse.start},{nurse.end},care,ann", f"six_turns,{money.start},{money.end},money,ann",
             f"six_turns,{nurse.start},{nurse.end + 40},care,ben", f"six_turns,{money.start - 2},{money.start + 2},money,ben"]
    import_spans(store, write(tmp_path, "spans.csv", "\n".join(lines) + "\n"))
    strict = collect_ratings(store, ["ann", "ben"], min_overlap=0.9)
    loose = collect_ratings(store, ["ann", "ben"], min_overlap=0.5)
    assert strict.unaligned == {"ann": 0, "ben": 1}
    position = [u.id for u in loose.units].index(nurse.id)
    assert loose.labels["ben"][position] == frozenset({"care"}) == loose.labels["ann"][position]


def test_uncoded_units_count_only_when_asked(tmp_path):
    directory, rows, _ = _two_coders(tmp_path)
    blank = [dict(r, code="") if i % 3 == 0 else r for i, r in enumerate(rows)]
    write_coded_csv(tmp_path / "ann2.csv", blank)
    write_coded_csv(tmp_path / "ben2.csv", blank)
    other = tmp_path / "blank"
    with Store.create(other) as store:
        import_coded(store, tmp_path / "ann2.csv", coder="ann", columns=CodedColumns(order="order"), exclusive=True)
        import_coded(store, tmp_path / "ben2.csv", coder="ben", columns=CodedColumns(order="order"))
        default = agree(store, ["ann", "ben"], bootstrap=0)
        counted = agree(store, ["ann", "ben"], bootstrap=0, include_uncoded=True)
    assert default.units == sum(1 for r in blank if r["code"])
    assert counted.units == len(rows)


def test_the_model_is_a_coder_through_its_suggestions(tmp_path):
    from qcassist.suggest import suggest, train

    directory, rows, _ = _two_coders(tmp_path)
    with Store.open(directory) as store:
        train(store, encoder="tfidf", coders=["ann"])
        suggest(store, include_coded=True)
        version = store.latest_classifier()[0]
        by_name = agree(store, ["ann", "model"], bootstrap=0)
        by_version = agree(store, ["ann", f"model:{version}"], bootstrap=0)
    assert by_name.statistics == by_version.statistics
    assert by_name.statistics["cohen_kappa"]["value"] > 0.5  # in-sample: the model learnt ann's codes


def _ann_codes_two_thirds_and_the_model_the_rest(tmp_path, store: Store) -> None:
    """ann leaves every third unit uncoded; the model is trained on ann and suggests on the uncoded third only."""
    from qcassist.suggest import suggest, train

    rows = coded_rows(n_transcripts=3, per_code=4)
    for row in rows[::3]:
        row["code"] = ""
    write_coded_csv(tmp_path / "ann.csv", rows)
    import_coded(store, tmp_path / "ann.csv", coder="ann", columns=CodedColumns(order="order"), exclusive=True)
    train(store, encoder="tfidf")
    suggest(store)  # only the uncoded third


def test_units_suggest_skipped_because_people_coded_them_are_missing_for_the_model(tmp_path):
    with Store.create(tmp_path / "p") as store:
        _ann_codes_two_thirds_and_the_model_the_rest(tmp_path, store)
        with pytest.raises(QcaError, match=r"^the model judged none of the units ann coded .*'qcassist suggest --all'"):
            collect_ratings(store, ["ann", "model"])
        ratings = collect_ratings(store, ["ann", "model"], include_uncoded=True)
        coded = {c.unit_id for c in store.codings()}
    judged = [u.id for u, label in zip(ratings.units, ratings.labels["model"]) if label is not None]
    assert judged and not set(judged) & coded


def test_unknown_coder_or_code_is_a_clear_error(tmp_path):
    directory, _, _ = _two_coders(tmp_path)
    with Store.open(directory) as store:
        with pytest.raises(QcaError, match="no coder 'bem'.*'ben'"):
            agree(store, ["ann", "bem"])
        with pytest.raises(QcaError, match="unknown code"):
            agree(store, ["ann", "ben"], codes=["nope"])
        with pytest.raises(QcaError, match="model"):
            agree(store, ["ann", "model"])


# --- the real ten-annotator data ---------------------------------------------------------


def _independent_fleiss(path: Path) -> tuple[float, int]:
    """Fleiss' kappa over the therapist utterances coded by all ten annotators, straight from the CSV."""
    with path.open(encoding="utf-8", newline="") as stream:
        rows = [r for r in csv.DictReader(stream) if r["interlocutor"] == "therapist"]
    labels: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        labels.setdefault((r["transcript_id"], r["utterance_id"]), []).append(r["main_therapist_behaviour"])
    items = [v for v in labels.values() if len(v) == 10]
    categories = sorted({c for v in items for c in v})
    n, raters = len(items), 10
    p_j = [sum(v.count(c) for v in items) / (n * raters) for c in categories]
    p_i = [(sum(v.count(c) ** 2 for c in categories) - raters) / (raters * (raters - 1)) for v in items]
    p_bar, p_e = sum(p_i) / n, sum(p * p for p in p_j)
    return (p_bar - p_e) / (1 - p_e), n


@pytest.mark.skipif(not ANNOMI_FULL.exists(), reason=f"AnnoMI-full is not at {ANNOMI_FULL} (shared datasets folder)")
def test_annomi_ten_annotator_fleiss_kappa_matches_an_independent_computation(tmp_path):
    with ANNOMI_FULL.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    per_transcript = {}
    for r in rows:
        per_transcript.setdefault(r["transcript_id"], set()).add(r["annotator_id"])
    shared = {t for t, annotators in per_transcript.items() if len(annotators) == 10}
    columns = CodedColumns(text="utterance_text", codes="main_therapist_behaviour", transcript="transcript_id",
                           order="utterance_id", speaker="interlocutor")
    with Store.create(tmp_path / "annomi") as store:
        for k in range(10):
            path = tmp_path / f"annotator{k}.csv"
            with path.open("w", encoding="utf-8", newline="") as out:
                writer = csv.DictWriter(out, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(r for r in rows if r["annotator_id"] == str(k) and r["transcript_id"] in shared)
            import_coded(store, path, coder=f"annotator_{k}", columns=columns, where=[("interlocutor", "therapist")])
        result = agree(store, [f"annotator_{k}" for k in range(10)], bootstrap=0)
    expected, items = _independent_fleiss(ANNOMI_FULL)
    assert len(shared) == 5 and result.units == items == 172
    assert result.statistics["fleiss_kappa"]["value"] == pytest.approx(expected, abs=1e-9)


# --- the command line and adjudication ------------------------------------------------------


def test_agree_cli_prints_figures_and_json_with_exit_zero_even_when_agreement_is_low(tmp_path, runner):
    directory, _, _ = _two_coders(tmp_path, disagree_every=1)  # they never agree
    text = runner.invoke(main, ["agree", "-p", str(directory), "--coders", "ann,ben", "--bootstrap", "50"])
    assert text.exit_code == 0, text.output
    assert "cohen kappa" in text.output and "Landis & Koch" in text.output
    data = json.loads(runner.invoke(main, ["agree", "-p", str(directory), "--coders", "ann,ben", "--json", "--bootstrap", "0"]).output)
    assert data["statistics"]["percent_agreement"]["value"] == 0.0
    assert data["thresholds"]["alpha"][1] == [0.667, "tentative"]


def test_agree_cli_unknown_coder_is_one_line_exit_2(tmp_path, runner):
    directory, _, _ = _two_coders(tmp_path)
    result = runner.invoke(main, ["agree", "-p", str(directory), "--coders", "ann,zed"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "no coder 'zed'" in result.output


def test_disagreements_adjudication_file_and_agreement_with_the_adjudicated_coder(tmp_path, runner):
    directory, rows, changed = _two_coders(tmp_path)
    listed = runner.invoke(main, ["disagreements", "-p", str(directory), "--coders", "ann,ben", "--format", "csv"])
    assert listed.exit_code == 0
    found = list(csv.DictReader(listed.output.splitlines()))
    assert len(found) == sum(a["code"] != b["code"] for a, b in zip(rows, changed))
    # settle every disagreement in ann's favour, from a file
    settle = tmp_path / "settle.csv"
    with settle.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["unit_id", "codes", "memo"])
        for row in found:
            writer.writerow([row["unit_id"], json.loads(row["codes"])["ann"][0], "ann is right"])
    applied = runner.invoke(main, ["review", "-p", str(directory), "--adjudicate", "--coders", "ann,ben",
                                   "--decisions", str(settle), "--json"])
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.output) == {"settled": len(found), "remaining": 0}
    again = runner.invoke(main, ["disagreements", "-p", str(directory), "--coders", "ann,ben", "--pending"])
    assert again.output.strip().endswith("(0 not adjudicated).")
    data = json.loads(runner.invoke(main, ["agree", "-p", str(directory), "--coders", "adjudicated,ann", "--json",
                                           "--bootstrap", "0"]).output)
    assert data["statistics"]["percent_agreement"]["value"] == 1.0


def test_a_bad_adjudication_file_changes_nothing(tmp_path, runner):
    directory, _, _ = _two_coders(tmp_path)
    with Store.open(directory) as store:
        from qcassist.adjudication import disagreements

        first, second = disagreements(store, ["ann", "ben"])[:2]
    bad = write(tmp_path, "bad.csv", f"unit_id,codes\n{first.unit_id},{first.codes['ann'][0]}\n{second.unit_id},nonsense\n")
    before = dump_database(directory)
    result = runner.invoke(main, ["review", "-p", str(directory), "--adjudicate", "--coders", "ann,ben", "--decisions", str(bad)])
    assert result.exit_code == 2 and "bad.csv, line 3" in result.output and "unknown code 'nonsense'" in result.output
    assert dump_database(directory) == before


def test_re_adjudicating_a_unit_replaces_the_earlier_settlement(tmp_path):
    from qcassist.adjudication import adjudicate, disagreements

    directory, _, _ = _two_coders(tmp_path)
    with Store.open(directory) as store:
        item = disagreements(store, ["ann", "ben"])[0]
        adjudicate(store, item, item.codes["ann"])
        adjudicate(store, item, item.codes["ben"])
        settled = [c.code for c in store.codings(coders=["adjudicated"])]
        assert settled == list(item.codes["ben"])
        assert disagreements(store, ["ann", "ben"])[0].adjudicated == item.codes["ben"]


def test_adjudication_screen_in_a_real_terminal(tmp_path):
    import dataclasses

    import pexpect

    from tests.terminal import spawn_qcassist

    directory, _, _ = _two_coders(tmp_path)
    with Store.open(directory) as store:  # multi-label, so a unit can be settled on several codes
        store.save_codebook(dataclasses.replace(store.codebook(), exclusive=False))
    child = spawn_qcassist("review", "-p", str(directory), "--adjudicate", "--coders", "ann,ben", "--coder", "judge")
    child.expect("qcassist adjudicate")
    child.expect(r"\[1-9\]")
    child.send("1")
    child.expect("Recorded: unit")
    child.send("n")
    child.expect(r"Recorded: unit \d+ → \(no code\)")
    child.send("u")
    child.expect("Undid the settlement")
    child.send("2")
    child.expect("Recorded: unit")
    child.send("c")  # several codes: search, ',' takes the first match, Enter settles
    child.expect("code")
    child.send("mon,tru\r")
    child.expect(r"Recorded: unit \d+ → money, trust")
    child.send("q")
    child.expect("3 disagreements settled this session")
    child.expect(pexpect.EOF)
    with Store.open(directory) as store:
        decisions = store.decisions(coder="adjudicated")
        assert [d.action for d in decisions] == ["add", "reject", "undo", "add", "add"]
        assert "adjudicated by judge: ann=" in decisions[0].memo
        assert decisions[-1].final_codes == ("money", "trust")
        settled = store.codings(coders=["adjudicated"])
        assert sum(c.origin == "review" for c in settled) == 4  # three standing settlements, the last on two codes
        assert sum(c.origin == "human" for c in settled) == 36  # units ann and ben agree on, copied


# --- which codings count, and the model's judged units ------------------------------------------


def test_units_a_coder_reached_only_by_reviewing_count_only_with_origin_review_or_any(tmp_path):
    from qcassist.model import Decision

    rows = coded_rows(n_transcripts=5, per_code=4)
    blank = [dict(r, code="") if i % 3 == 0 else r for i, r in enumerate(rows)]
    for name in ("ann", "ben"):
        write_coded_csv(tmp_path / f"{name}.csv", blank)
    with Store.create(tmp_path / "p") as store:
        for name in ("ann", "ben"):
            import_coded(store, tmp_path / f"{name}.csv", coder=name, columns=CodedColumns(order="order"))
        uncoded = [u.id for u in store.units() if u.id not in {c.unit_id for c in store.codings()}]
        code = store.codebook().leaves[0].name
        for unit_id in uncoded[:4]:  # ann accepts model suggestions on four units ben never coded
            store.record_decision(Decision(unit_id, "accept", "ann", code, 0.9, "v1", (code,)))
        store.record_decision(Decision(uncoded[4], "add", "ann", final_codes=(code,)))  # a settlement: no suggestion
        direct = agree(store, ["ann", "ben"], bootstrap=0)
        everything = agree(store, ["ann", "ben"], bootstrap=0, origin="any")
        with pytest.raises(QcaError, match="no units in common"):  # ben reviewed nothing
            collect_ratings(store, ["ann", "ben"], origin="review")
    coded = sum(1 for r in blank if r["code"])
    assert direct.units == coded + 1 and direct.origin == "human"  # the unprompted coding counts as direct
    assert everything.units == coded + 5
    assert everything.statistics["percent_agreement"]["value"] < direct.statistics["percent_agreement"]["value"]


def test_the_in_sample_note_appears_only_when_the_model_judged_units_it_was_trained_on(tmp_path):
    from qcassist.suggest import suggest, train

    rows = coded_rows(n_transcripts=6, per_code=4)
    first = {"t0", "t1", "t2"}
    write_coded_csv(tmp_path / "ann.csv", [r for r in rows if r["transcript"] in first])
    write_coded_csv(tmp_path / "ben.csv", [r for r in rows if r["transcript"] not in first])
    with Store.create(tmp_path / "p") as store:
        import_coded(store, tmp_path / "ann.csv", coder="ann", columns=CodedColumns(order="order"))
        import_coded(store, tmp_path / "ben.csv", coder="ben", columns=CodedColumns(order="order"))
        train(store, encoder="tfidf", coders=["ann"])
        suggest(store, include_coded=True)
        trained_on = agree(store, ["ann", "model"], bootstrap=0)
        held_out = agree(store, ["ben", "model"], bootstrap=0)
    assert any("in-sample" in note for note in trained_on.notes)
    assert not any("in-sample" in note for note in held_out.notes)


def test_agree_cli_with_no_shared_units_says_what_to_run_in_one_line(tmp_path, runner):
    with Store.create(tmp_path / "p") as store:
        _ann_codes_two_thirds_and_the_model_the_rest(tmp_path, store)
    result = runner.invoke(main, ["agree", "-p", str(tmp_path / "p"), "--coders", "ann,model"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "qcassist suggest --all" in result.output
    assert "qcassist evaluate" in result.output


def test_units_imported_after_the_last_suggest_are_not_judged_by_the_model(tmp_path):
    """'model' judged exactly the units the last suggest ran on, suggested or not (issue 11, item 5)."""
    from qcassist.suggest import suggest, train
    from qcassist.suggest_limits import SuggestLimits

    rows = coded_rows(n_transcripts=4, per_code=4)
    write_coded_csv(tmp_path / "ann.csv", [r for r in rows if r["transcript"] != "t3"])
    write_coded_csv(tmp_path / "later.csv", [r for r in rows if r["transcript"] == "t3"])
    with Store.create(tmp_path / "p") as store:
        import_coded(store, tmp_path / "ann.csv", coder="ann", columns=CodedColumns(order="order"))
        train(store, encoder="tfidf")
        suggest(store, include_coded=True, limits=SuggestLimits(cap_factor=0.5))  # each code on at most half its share
        ran_on = {u.id for u in store.units()}
        recorded = json.loads(store.setting("suggest.skipped_units"))
        without_suggestion = ran_on - {s.unit_id for s in store.suggestions()}
        import_coded(store, tmp_path / "later.csv", coder="ann", columns=CodedColumns(order="order"))
        later = {u.id for u in store.units()} - ran_on
        ratings = collect_ratings(store, ["ann", "model"])
        result = agree(store, ["ann", "model"], bootstrap=0)
    assert recorded["judged"] == sorted(ran_on) and later and without_suggestion
    judged = {u.id: label for u, label in zip(ratings.units, ratings.labels["model"]) if label is not None}
    assert set(judged) == ran_on  # every unit ann coded before; none of t3's
    assert all(judged[unit] == frozenset() for unit in without_suggestion)  # judged as "no code"
    assert result.units == len(ran_on)


def test_only_adjudication_settlements_make_a_coder_derived_not_a_memo_that_mentions_adjudication(tmp_path):
    from qcassist.adjudication import adjudicate, disagreements
    from qcassist.model import Decision
    from qcassist.ratings import derived_coders

    directory, _, _ = _two_coders(tmp_path)
    with Store.open(directory) as store:
        unit_id = store.units()[0].id
        code = store.codebook().leaves[0].name
        store.record_decision(Decision(unit_id, "add", "cy", final_codes=(code,), memo="adjudicated later with Bo?"))
        assert derived_coders(store) == set()
        item = disagreements(store, ["ann", "ben"])[0]
        adjudicate(store, item, item.codes["ann"], adjudicator="dora", person="Dora")
        assert derived_coders(store) == {"dora"}
