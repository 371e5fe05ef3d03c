"""The one test with the real fine-tuning: the packaged MiniLM, one tuned layer, one epoch, 48 short units."""

from __future__ import annotations

import json

import pytest

from qcassist.cli import main
from qcassist.ingest.coded import CodedColumns
from qcassist.seed import import_coded
from qcassist.store import Store
from qcassist.suggest import suggest, suggestion_rows, train
from tests.conftest import coded_rows, dump_database, write_coded_csv


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_finetuned_minilm_end_to_end(runner, project, tmp_path):
    rows = coded_rows(n_transcripts=4, per_code=4)
    for row in rows[::6]:
        row["code"] = ""  # 8 units left for the model
    path = tmp_path / "seed.csv"
    write_coded_csv(path, rows)
    with Store.open(project) as store:
        import_coded(store, path, coder="anna", columns=CodedColumns(order="order"))
        report = train(store, method="finetuned", finetune={"tuned_layers": 1, "epochs": 1, "batch_size": 8})
        directory = project / "classifiers" / report.version
        manifest = json.loads((directory / "manifest.json").read_text())
        assert manifest["method"] == "finetuned" and manifest["encoder"].startswith("finetuned:")
        assert manifest["body"]["base_encoder"].startswith("all-MiniLM-L6-v2@sha256:")
        assert manifest["body"]["options"]["tuned_layers"] == 1 and len(manifest["holdout_transcripts"]) == 1
        result = suggest(store)
        assert result.units == 8 and result.suggestions > 0
        assert all(0 <= r["probability"] <= 1 for r in suggestion_rows(store) if r["probability"] is not None)
    body = directory / "body.safetensors"
    data = bytearray(body.read_bytes())
    data[-5] ^= 0xFF
    body.write_bytes(bytes(data))
    before = dump_database(project)
    refused = runner.invoke(main, ["suggest", "-p", str(project)])
    assert refused.exit_code == 2 and refused.output.count("\n") == 1 and "body.safetensors" in refused.output
    assert dump_database(project) == before
