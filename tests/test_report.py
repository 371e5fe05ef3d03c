from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from qcassist.cli import main
from qcassist.ingest.coded import CodedColumns
from qcassist.model import Coding, Decision
from qcassist.report import (
    Comparison,
    agreement_section,
    build_report,
    default_comparisons,
    model_section,
    write_report,
)
from qcassist.seed import import_codebook, import_coded
from qcassist.store import Store
from qcassist.suggest import evaluate, suggest, train
from tests.conftest import HashEncoder, coded_rows, dump_database, write_coded_csv

EVIL_CODE = "<script>alert(1)</script>"
EVIL_TRANSCRIPT = "t3 <img src=x onerror=alert(2)>"
SECTION_IDS = ("corpus", "codebook", "themes", "model", "agreement", "review")

AGREEMENT = {
    "coders": ["A", "B"], "reference": "A", "codes": ["x", "y"], "transcripts": 12, "units": 340,
    "unaligned": {"A": 0, "B": 3}, "min_overlap": 0.5, "bootstrap": 1000,
    "statistics": {
        "percent_agreement": {"value": 0.81, "ci": [0.75, 0.86], "label": None},
        "cohen_kappa": {"value": 0.62, "ci": [0.55, 0.70], "label": "substantial"},
        "fleiss_kappa": {"value": 0.61, "ci": [0.54, 0.69], "label": "substantial"},
        "krippendorff_alpha": {"value": 0.70, "ci": [0.6, 0.77], "label": "tentative"},
        "gwet_ac1": {"value": None, "ci": None, "label": None},
    },
    "per_code": [{"code": "x", "precision": 0.8, "recall": 0.7, "f1": 0.75, "f1_ci": [0.6, 0.85], "support": 40,
                  "kappa": 0.6, "alpha": 0.59}],
    "confusion": {"labels": ["x", "y", "(none)"], "rows": "A", "columns": "B", "matrix": [[30, 2, 1], [3, 20, 0], [4, 1, 0]]},
    "thresholds": {"kappa": [[-1.0, "poor"], [0.0, "slight"], [0.2, "fair"], [0.4, "moderate"], [0.6, "substantial"],
                             [0.8, "almost perfect"]], "alpha": [[0.667, "tentative"], [0.8, "reliable"]]},
}


@pytest.fixture(scope="module")
def coded_project(tmp_path_factory):
    """Two coders (anna: seed CSV; bo: a few codings, one with a malicious code), a model, suggestions, two decisions."""
    with pytest.MonkeyPatch.context() as patch:
        encoder = HashEncoder()
        patch.setattr("qcassist.project.SentenceTransformerEncoder", lambda spec: encoder)
        directory = tmp_path_factory.mktemp("report") / "project"
        files = directory.parent
        codebook = files / "codebook.csv"
        codebook.write_text(f"code,parent,description\nCare,,\ntrust,Care,\nmoney,Care,\naccess,Care,\n\"{EVIL_CODE}\",,x\n",
                            encoding="utf-8")
        rows = coded_rows(n_transcripts=5, per_code=6)
        for row in rows:
            row["transcript"] = EVIL_TRANSCRIPT if row["transcript"] == "t3" else row["transcript"]
        for row in rows[::7]:
            row["code"] = ""
        write_coded_csv(files / "seed.csv", rows)
        with Store.create(directory) as store:
            import_codebook(store, codebook, exclusive=True)
            import_coded(store, files / "seed.csv", coder="anna", columns=CodedColumns(order="order"))
            evaluate(store, folds=4)
            train(store)
            suggest(store, include_coded=True)
            anna = {c.unit_id: c.code for c in store.codings()}
            bo = [Coding(unit, code if i % 4 else "money", "bo") for i, (unit, code) in enumerate(sorted(anna.items()))]
            store.add_codings([*bo[:30], Coding(bo[0].unit_id, EVIL_CODE, "bo")])
            first, second = store.suggestions()[:2]
            store.record_decision(Decision(first.unit_id, "accept", "anna", first.code, first.probability,
                                           first.model_version, (first.code,)))
            store.record_decision(Decision(second.unit_id, "reject", "bo", second.code, second.probability,
                                           second.model_version))
            html = write_report(store, files / "report.html", bootstrap=50).read_text(encoding="utf-8")
    return directory, files / "report.html", html


def test_the_report_has_every_section(coded_project):
    _, _, html = coded_project
    for anchor in SECTION_IDS:
        assert f'<section id="{anchor}">' in html and f'href="#{anchor}"' in html
    assert "<th>units by anna</th><th>units by bo</th>" in html  # codebook counts per coder
    assert "Units coded per transcript" in html
    assert 'aria-label="F1 per code"' in html and "Learning curve: macro-F1" in html  # charts from the evaluation
    assert "Bars: accuracy per confidence bin" in html and "no calibration bins" not in html  # from the evaluation
    assert "This evaluation stores no confusion matrix." not in html
    assert "<h3>anna vs bo</h3>" in html and "<h3>anna vs model</h3>" in html
    assert "Cohen&#x27;s κ" in html and re.search(r"\[\d\.\d{3}, \d\.\d{3}\]", html)  # values with CIs
    assert "Landis &amp; Koch" in html and "almost perfect" in html and "Krippendorff (alpha)" in html
    assert "Suggestions not yet reviewed" in html and "<td>anna</td><td class=\"num\">1</td>" in html


def test_user_text_is_escaped(coded_project):
    _, _, html = coded_project
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "t3 &lt;img src=x onerror=alert(2)&gt;" in html
    assert "<script" not in html.lower() and "<img" not in html.lower()


def test_the_report_loads_nothing(coded_project):
    _, _, html = coded_project
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(link|iframe|object|embed|img|script)\b|@import|url\(", html, re.IGNORECASE)
    assert set(re.findall(r'href="([^"]*)"', html)) == {f"#{anchor}" for anchor in SECTION_IDS}
    assert not re.search(r"\bsrc\s*=", html.replace("src=x", ""))  # only the escaped transcript name says src
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_the_report_changes_nothing_in_the_project(coded_project):
    directory, _, _ = coded_project
    before = dump_database(directory)
    with Store.open(directory) as store:
        build_report(store, comparisons=[], bootstrap=0)
    assert dump_database(directory) == before


def test_default_comparisons_are_the_people_then_every_person_against_the_model(coded_project, tmp_path, monkeypatch):
    import shutil

    from qcassist.report import compare_coders
    from qcassist.suggest import suggest

    directory, _, _ = coded_project
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    with Store.open(copy) as store:
        assert default_comparisons(store) == [("anna", "bo"), ("anna", "model"), ("bo", "model")]
        unit = store.codings(coders=["anna"])[0]
        store.add_codings([Coding(unit.unit_id, unit.code, "adjudicated")])  # derived from anna and bo: not a person
        store.record_decision(Decision(unit.unit_id, "add", "adjudicated", final_codes=(unit.code,),
                                       memo="adjudicated: anna=x; bo=y"))
        assert default_comparisons(store) == [("anna", "bo"), ("anna", "model"), ("bo", "model")]
        assert "<td>Units decided by a reviewer</td><td class=\"num\">2</td>" in build_report(store, comparisons=[])
    encoder = HashEncoder()
    monkeypatch.setattr("qcassist.project.SentenceTransformerEncoder", lambda spec: encoder)
    with Store.open(copy) as store:
        suggest(store)  # coded units skipped: the model judged none of the people's units
        comparisons = compare_coders(store, default_comparisons(store), bootstrap=0)
    assert [c.coders for c in comparisons] == [("anna", "bo"), ("anna", "model"), ("bo", "model")]
    assert comparisons[0].result is not None
    for skipped in comparisons[1:]:  # listed with the reason and what to run, not as figures on no shared unit
        assert skipped.result is None and "qcassist suggest --all" in skipped.skipped


def test_a_person_whose_name_starts_with_model_is_a_person(coded_project, tmp_path):
    import shutil

    directory, _, _ = coded_project
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    with Store.open(copy) as store:
        unit = store.codings(coders=["anna"])[0]
        store.add_codings([Coding(unit.unit_id, unit.code, "modeller")])
        assert default_comparisons(store) == [("anna", "bo", "modeller"), ("anna", "model"), ("bo", "model"),
                                              ("modeller", "model")]


def test_a_new_project_reports_what_is_missing(store):
    html = build_report(store)
    assert "No evaluation yet: run <code>qcassist evaluate</code>." in html
    assert "Nothing to compare" in html and "No transcripts yet" in html and "No codebook yet" in html


def test_agreement_renders_values_intervals_thresholds_and_skipped_comparisons():
    html = agreement_section([
        Comparison(("A", "B"), AGREEMENT),
        Comparison(("A", "<b>C</b>"), skipped="A and <b>C</b> coded no units in common transcripts."),
    ])
    assert '<td>Cohen&#x27;s κ</td><td class="num">0.620</td><td>[0.550, 0.700]</td><td>substantial</td>' in html
    assert '<td>Gwet&#x27;s AC1</td><td>–</td><td>–</td><td>–</td>' in html  # an undefined statistic is shown as such
    assert "B 3" in html and "1000 bootstrap resamples" in html
    assert "<td>≥ 0.667</td><td>tentative</td>" in html and "<td>≥ 0.6</td><td>substantial</td>" in html
    assert "<td>[0.600, 0.850]</td>" in html  # per-code F1 interval
    assert "A \\ B" in html and ">30</td>" in html  # confusion matrix
    assert "Not compared: A and &lt;b&gt;C&lt;/b&gt; coded no units" in html and "<b>" not in html


def test_model_quality_draws_calibration_and_confusion_when_the_evaluation_has_them():
    evaluation = {
        "units": 10, "macro_f1": 0.5, "kappa": 0.4, "ece": 0.1, "per_code": {"x": {"f1": 0.5}, "y": {"f1": None}},
        "calibration": [{"low": 0.0, "high": 0.5, "count": 4, "confidence": 0.3, "accuracy": 0.25},
                        {"low": 0.5, "high": 1.0, "count": 0, "confidence": None, "accuracy": None}],
        "confusion": {"labels": ["x", "y"], "matrix": [[3, 1], [0, 6]]},
    }
    html = model_section(evaluation, None)
    assert "Reliability diagram" in html and "4 predictions, mean confidence 0.30, accuracy 0.25" in html
    assert "truth \\ predicted" in html and "no learning curve" in html and "n/a" in html


# --- command line ------------------------------------------------------------------


def test_cli_writes_report_html_into_the_project(runner, coded_project):
    directory, _, _ = coded_project
    result = runner.invoke(main, ["report", "-p", str(directory), "--coders", "anna,bo", "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    assert result.output == f"{directory / 'report.html'}\n"
    html = (directory / "report.html").read_text(encoding="utf-8")
    assert "<h3>anna vs bo</h3>" in html and "anna vs model" not in html


@pytest.mark.parametrize("args, message", [
    (["--coders", "anna"], "must name two or more coders"),
    (["--coders", "ana,bo"], "unknown coder 'ana'. Did you mean 'anna'?"),
    (["-o", "{missing}/report.html"], "is not a directory"),
])
def test_cli_errors_are_one_line_and_write_nothing(runner, coded_project, tmp_path, args, message):
    directory, _, _ = coded_project
    args = [a.format(missing=tmp_path / "missing") for a in args]
    before = dump_database(directory)
    result = runner.invoke(main, ["report", "-p", str(directory), *args])
    assert result.exit_code == 2 and result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert message in result.output
    assert dump_database(directory) == before


# --- headless Chromium -------------------------------------------------------------

CHROMIUM = next((found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt-get install chromium)")
# Chromium logs page console messages as `INFO:CONSOLE:12] "text", source: …` (older builds: `CONSOLE(12)`)
CONSOLE_LINE = re.compile(r"CONSOLE[:(]\d*\)?\]\s*(.*)")


def render(page, profile) -> tuple[str, list[str]]:
    """Open ``page`` in headless Chromium: the DOM it built, and every console message (errors, refused loads)."""
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=60,
    )
    messages = [m.group(1) for line in done.stderr.splitlines() if (m := CONSOLE_LINE.search(line))]
    messages += [line for line in done.stderr.splitlines() if "Uncaught" in line and not CONSOLE_LINE.search(line)]
    return done.stdout, messages


@needs_chromium
def test_chromium_renders_the_report_without_console_messages(coded_project, tmp_path):
    _, path, _ = coded_project
    dom, messages = render(path, tmp_path / "profile")
    assert messages == []
    assert '<section id="review">' in dom and "<svg" in dom  # it really was parsed and rendered


@needs_chromium
def test_chromium_check_catches_script_errors_and_refused_loads(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "script-src 'unsafe-inline'\"></head><body><p>broken</p><img src=\"https://example.invalid/x.png\">"
        "<script>undefinedFunction();</script></body></html>", encoding="utf-8")
    dom, messages = render(bad, tmp_path / "profile")
    assert "<p>broken</p>" in dom
    assert any("Uncaught ReferenceError: undefinedFunction is not defined" in m for m in messages), messages
    assert any("example.invalid" in m and "Content Security Policy" in m for m in messages), messages


def test_large_corpora_show_the_most_coded_transcripts_in_the_code_table():
    from qcassist.model import Code, Codebook
    from qcassist.report import codebook_section

    codebook = Codebook((Code("Group"), Code("a", "Group"), Code("b", "Group")))
    transcripts = {t: f"interview {t}" for t in range(40)}
    places = {unit: (unit % 40, "P") for unit in range(200)}
    codings = [Coding(unit, "a" if unit % 3 else "b", "anna") for unit in range(200) if unit % 40 < 35 or unit < 40]
    html = codebook_section(codebook, codings, places, transcripts)
    assert "(2 of 2 codes, 30 of 40 transcripts)" in html
    assert "interview 0" in html and "interview 39" not in html  # transcripts 35-39 have one coded unit each
    assert html.count("<tr>") == 1 + 3 + 1 + 2  # head + every code; head + each leaf in the shaded table
