"""The Adam-vs-the-rest baselines table: scores, ranks, outputs and the CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from discovery import cli, tasks
from discovery.analysis import baselines
from discovery.training import scoring, tuning

TASKS = ["mf_k1", "mnist1d_mlp"]  # one non-deep, one deep
OPTIMIZERS = ["adam", "sgd"]
PROTOCOL = scoring.Protocol(learning_rates=(1e-3, 1e-2, 1e-1), seeds=(0, 1), steps=30)


@pytest.fixture(scope="module")
def table():
    return baselines.run_baselines(TASKS, "small", PROTOCOL, ["sgd"], progress=False)


def test_table_shape_ranks_and_scores_match_a_direct_evaluation(table):
    assert table.tasks == TASKS and list(table.optimizers) == OPTIMIZERS
    assert table.kinds == {"mf_k1": "nondeep", "mnist1d_mlp": "deep"}
    assert table.measures == {"mf_k1": "f-f*", "mnist1d_mlp": "loss"}
    for task_name in TASKS:
        task = tasks.get(task_name, "small")
        adam_lr = table.scores[task_name]["adam"].tuned_lr
        for opt in OPTIMIZERS:
            base = baselines.OPTIMIZERS[opt]
            center = None if opt == "adam" else adam_lr  # the others start around Adam's optimum
            direct = tuning.tune(base.optimizer, task, PROTOCOL, default_lr=base.default_lr,
                                 center=center).score
            assert table.scores[task_name][opt] == direct
            s = direct
            assert s.at_limit or min(s.learning_rates) < s.tuned_lr < max(s.learning_rates)
            assert base.default_lr in s.learning_rates
        for metric in baselines.METRICS:
            assert 1 <= table.rank(task_name, "adam", metric) <= 2
            assert table.versus_adam(task_name, "adam")[metric] == 0.0
        logs = {o: np.log10(table.scores[task_name][o].tuned) for o in OPTIMIZERS}
        spread = table.panel_spread(task_name)
        assert spread.spread == pytest.approx(max(logs.values()) - min(logs.values()))
        assert logs[spread.best] == min(logs.values()) and logs[spread.worst] == max(logs.values())
        assert spread.noise == pytest.approx(np.hypot(*(table.scores[task_name][o].spread()
                                                       for o in (spread.best, spread.worst))))
    summary = table.summary()
    assert set(summary) == {"deep", "nondeep"} and summary["deep"].tasks == 1
    assert 1.0 <= summary["nondeep"].adam_mean_rank["tuned"] <= 2.0


def test_outputs_are_written_and_parse(table, tmp_path):
    out = tmp_path / "new" / "folder"
    paths = baselines.write_outputs(table, out)
    assert [p.name for p in paths] == list(baselines.OUTPUT_FILES)
    with open(out / "baselines.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["task"], r["optimizer"]) for r in rows] == [(t, o) for t in TASKS for o in OPTIMIZERS]
    row = rows[1]  # mf_k1, sgd
    assert float(row["tuned"]) == pytest.approx(table.scores["mf_k1"]["sgd"].tuned)
    assert int(row["rank_tuned"]) == table.rank("mf_k1", "sgd", "tuned")
    doc = json.loads((out / "baselines.json").read_text())
    assert doc["protocol"] == {"learning_rates": [1e-3, 1e-2, 1e-1], "seeds": [0, 1], "steps": 30,
                               "bracket": True, "scale_free": True, "refine": True}
    assert doc["optimizers"]["sgd"]["default_lr"] == 1e-2
    mf = doc["tasks"]["mf_k1"]
    assert mf["adam_rank"]["tuned"] == table.rank("mf_k1", "adam", "tuned")
    assert mf["scores"]["sgd"]["out_of_box"] == table.scores["mf_k1"]["sgd"].out_of_box
    assert mf["scores"]["sgd"]["tuned_lr"] in mf["scores"]["sgd"]["learning_rates"]  # not float32-rounded
    assert doc["summary"]["deep"]["tasks"] == 1
    assert (out / "baselines.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="already holds results"):
        baselines.write_outputs(table, out)


def test_format_table_lists_every_task_and_a_summary_per_kind(table):
    text = baselines.format_table(table)
    assert text.count("mf_k1") == 3 and text.count("mnist1d_mlp") == 3  # tuned, out of the box, spread
    assert "nondeep   1 tasks: adam mean rank" in text and "deep      1 tasks" in text


def test_divergence_is_scored_not_raised():
    protocol = scoring.Protocol(learning_rates=(1e-2, 10.0), seeds=(0,), steps=30)
    table = baselines.run_baselines(["quadratic_ill"], "small", protocol, ["sgd"], progress=False)
    sgd = table.scores["quadratic_ill"]["sgd"]
    assert sgd.diverged_fraction > 0
    assert np.isfinite([sgd.tuned, sgd.robust, sgd.out_of_box]).all()
    assert 1e-2 < sgd.tuned_lr < 10.0  # bracketing found the optimum between the two lrs given


def test_bad_api_input_names_what_is_valid():
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['nope'\]; valid tasks"):
        baselines.run_baselines(["nope"], "small", PROTOCOL, progress=False)
    with pytest.raises(ValueError, match=r"unknown optimizer\(s\) \['adamax'\]"):
        baselines.run_baselines(TASKS, "small", PROTOCOL, ["adamax"], progress=False)
    with pytest.raises(ValueError, match="unknown size"):
        baselines.run_baselines(TASKS, "huge", PROTOCOL, progress=False)


CLI_ARGS = ["baselines", "--size", "small", "--tasks", "mf_k1", "--optimizers", "sgd",
            "--steps", "20", "--seeds", "1"]


def test_cli_writes_the_table_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "bl"
    assert cli.main([*CLI_ARGS, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "TUNED" in printed and "OUT OF THE BOX" in printed and "mf_k1" in printed
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == set(baselines.OUTPUT_FILES)

    assert cli.main([*CLI_ARGS, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("discovery baselines: error: ") and "--force" in err
    assert "\n" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--optimizers", "adam,adamax"], "unknown optimizer(s) ['adamax']"),
        (["--tasks", "nope"], "unknown task(s) ['nope']"),
        (["--steps", "0"], "steps must be >= 1"),
        (["--seeds", "0"], "--seeds must be >= 1"),
        (["--suite", "shallow"], "unknown suite 'shallow'"),
        (["--suite", "deep", "--tasks", "mf_k1"], "not in suite 'deep'"),
    ],
)
def test_cli_bad_input_is_a_one_line_error(tmp_path, capsys, extra, message):
    out = tmp_path / "bl"
    assert cli.main(["baselines", "--size", "small", "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("discovery baselines: error: ") and message in err and "\n" not in err
    assert not out.exists()


def test_data_file_runs_kernel_logistic_regression_on_a_real_libsvm_file(tmp_path, capsys):
    from discovery import cli

    rng = np.random.default_rng(0)
    lines = []
    for i in range(60):
        label = "+1" if i % 2 else "-1"
        feats = sorted(rng.choice(np.arange(1, 9), size=3, replace=False))
        lines.append(label + " " + " ".join(f"{j}:{rng.uniform(0, 1):.3f}" for j in feats))
    data = tmp_path / "tiny.libsvm"
    data.write_text("\n".join(lines) + "\n")
    args = ["baselines", "--suite", "nondeep", "--size", "small", "--tasks", "klr_mushrooms",
            "--optimizers", "sgd", "--steps", "10", "--seeds", "1", "--data-file", str(data)]
    assert cli.main([*args, "--out", str(tmp_path / "out")]) == 0
    assert "klr_mushrooms" in capsys.readouterr().out
    table = json.loads((tmp_path / "out" / "baselines.json").read_text())
    assert table["protocol"]["steps"] == 10
    assert cli.main([*args[:-2], "--data-file", str(tmp_path / "missing"), "--out", str(tmp_path / "o2")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = ["baselines", "--suite", "nondeep", "--tasks", "mf_k4", "--data-file", str(data),
           "--out", str(tmp_path / "o3")]
    assert cli.main(bad) == 2
    assert "klr_*" in capsys.readouterr().err
