"""Inspecting a run (table, one rule, plots) and exporting rules (Optax module, msgpack, text)."""

from __future__ import annotations

import ast
import csv
import dataclasses
import json
import shutil

import numpy as np
import pytest

import dsl
from discovery import cli, config, runs
from discovery.analysis import export, inspection, plots
from discovery.records import pareto_front
from tests.exported_modules import build, imported_modules, inputs, run_fresh, trajectory
from tests.tiny import TINY


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> runs.Run:
    return runs.run(config.load(**TINY), out=tmp_path_factory.mktemp("runs"), progress=False)


def copy_run(run: runs.Run, tmp_path) -> runs.Run:
    return runs.load_run(shutil.copytree(run.path, tmp_path / run.path.name))


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"discovery {command}: error: ") and "\n" not in err
    return err


# ----------------------------------------------------------------------------- inspect


def test_table_marks_the_pareto_front_and_recommends_a_simple_rule(tiny_run, capsys):
    rows = inspection.table(tiny_run)
    hall = tiny_run.hall_of_fame
    assert [r.rank for r in rows] == list(range(1, len(hall) + 1)) and len(hall) >= 3
    assert [r.fitness for r in rows] == sorted(r.fitness for r in rows)
    assert {r.id for r in rows if r.pareto} == {r.id for r in pareto_front(hall)}
    assert all(r.held_out == h.held_out.fitness for r, h in zip(rows, hall))
    assert rows[0].robust == pytest.approx(np.mean([t.robust_ratio for t in hall[0].tasks.values()]))
    [pick] = [r for r in rows if r.pick]
    budget = inspection.PICK_BUDGET * min(r.complexity for r in rows if r.pareto)
    eligible = [r for r in rows if r.complexity <= budget]
    winners = [r for r in rows if r.beats_adam()]
    pool = [r for r in winners if r in eligible] or winners or eligible
    assert pick.held_out == min(r.held_out for r in pool)
    assert all(r.recommended_lr > 0 and r.trains_everywhere is not None for r in rows)

    assert cli.main(["inspect", str(tiny_run.path), "--top", "2"]) == 0
    out = capsys.readouterr().out
    hall_part, pareto_part = out.split("Pareto front of complexity")
    body = [line for line in hall_part.splitlines() if line[:6].strip(" *>").isdigit()]
    assert len(body) == 2 and hall[0].fingerprint in body[0]
    for line, row in zip(body, rows):
        assert line[:2] == ("*" if row.pareto else " ") + (">" if row.pick else " ")
    assert inspection.verdict(rows) in out and "held-out tasks: rosenbrock (search: 30 steps at size small; held out: 40 steps at size small)" in out
    assert (f"> recommended: rank {pick.rank}" in out) == pick.beats_adam()
    front = inspection.pareto_rows(tiny_run)
    assert [r.complexity for r in front] == sorted({r.complexity for r in front})  # one row each
    assert [r.fitness for r in front] == sorted((r.fitness for r in front), reverse=True)
    assert all(f"{r.complexity:>4}  {r.fitness:+7.3f}" in pareto_part for r in front)


def test_inspect_formats_csv_and_json(tiny_run, capsys):
    assert cli.main(["inspect", str(tiny_run.path), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["rank"] for r in doc["hall_of_fame"]] == list(range(1, len(tiny_run.hall_of_fame) + 1))
    assert [r["complexity"] for r in doc["pareto_front"]] == [r.complexity for r in inspection.pareto_rows(tiny_run)]
    assert cli.main(["inspect", str(tiny_run.path), "--format", "csv"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert len(rows) == len(tiny_run.hall_of_fame) and rows[0]["fingerprint"] == tiny_run.hall_of_fame[0].fingerprint
    assert cli.main(["inspect", str(tiny_run.path), "--format", "csv", "--pareto"]) == 0
    assert list(csv.DictReader(capsys.readouterr().out.splitlines()))[0].keys() >= {"complexity", "text"}


def test_verdict_says_when_no_rule_beats_adam_on_held_out_tasks(tiny_run):
    rows = [dataclasses.replace(r, held_out=0.2 + r.rank / 10, held_out_noise=0.05, pick=r.rank == 1)
            for r in inspection.table(tiny_run)]
    line = inspection.verdict(rows)
    assert line.startswith("> no rule beats Adam on the held-out tasks")
    evolved = [r for r in rows if r.evolved]
    if evolved:
        assert f"best evolved rule is rank {evolved[0].rank}" in line and f"{evolved[0].held_out:+.3f}" in line
    rows[0] = dataclasses.replace(rows[0], held_out=-0.3)
    assert inspection.verdict(rows).startswith("> recommended: rank 1")


def test_rule_view_shows_text_scores_lineage_and_behaviour(tiny_run, capsys):
    assert cli.main(["inspect", str(tiny_run.path), "--rule", "1"]) == 0
    out = capsys.readouterr().out
    best = tiny_run.hall_of_fame[0]
    simple = tiny_run.candidate(1).simplified
    assert simple.to_text().rstrip() in out and simple.to_latex() in out
    for task, scores in best.tasks.items():
        assert f"search    {task:22} {scores.ratio:+7.3f}" in out and f"{scores.tuned_lr:9.3g}" in out
    assert "held-out  rosenbrock" in out

    tree = inspection.lineage(tiny_run, 1)
    log = {e["id"]: e for e in map(json.loads, (tiny_run.path / "log.jsonl").read_text().splitlines())
           if e["kind"] == "candidate"}
    node = tree
    while node.parents:  # two generations: the best child, then the warm start it came from
        assert [p.id for p in node.parents] == log[node.id]["parents"]
        node = node.parents[0]
    assert node.mutation == "warm start" and node.generation == 0
    assert f"#{best.id}  gen {best.generation}" in out and "warm start" in out

    similarity = inspection.behaviour(simple)
    assert set(similarity) == {"adam", "momentum", "lion"}
    for name, value in similarity.items():
        assert f"  {name:9} {value:+.2f}" in out and -1 <= value <= 1
    assert inspection.behaviour(dsl.library.get("adam"))["adam"] == pytest.approx(1.0)
    signum = inspection.behaviour(dsl.library.get("signum"), ("lion",))["lion"]
    assert 0.5 < signum < 1.0  # both follow the sign of a momentum: alike, not the same


def test_a_running_run_is_inspected_read_only(tiny_run, tmp_path, capsys):
    running = copy_run(tiny_run, tmp_path)
    (running.path / "summary.json").unlink()
    before = {p.name: p.read_bytes() for p in running.path.iterdir()}
    assert cli.main(["inspect", str(running.path)]) == 0
    out = capsys.readouterr().out
    assert "in progress or interrupted" in out and "not scored yet" in out
    assert "by search score (held-out tasks not scored yet)" in out
    assert cli.main(["inspect", str(running.path), "--rule", "1"]) == 0
    assert {p.name: p.read_bytes() for p in running.path.iterdir()} == before


def test_plots_are_written_into_the_run_folder(tiny_run, tmp_path, capsys):
    run = copy_run(tiny_run, tmp_path)
    fig = plots.figure(run, "fitness")
    assert fig.axes[0].get_xlabel() == "generation" and len(fig.axes[0].lines) == 3
    with pytest.raises(ValueError, match="unknown plot kind"):
        plots.figure(run, "nope")
    assert cli.main(["inspect", str(run.path), "--plots"]) == 0
    assert "wrote" in capsys.readouterr().out
    for name in ("fitness.png", "loss_curves.png", "lr_sensitivity.png"):
        assert (run.path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- export

def test_exported_run_rule_matches_the_evolved_rule_in_a_fresh_process(tiny_run, tmp_path):
    """The best rule, exported simplified, gives the updates of the rule as evolved."""
    assert cli.main(["export", str(tiny_run.path), "--rank", "1", "--name", "best",
                     "-o", str(tmp_path / "best.py")]) == 0
    data = inputs()
    got = run_fresh(tmp_path, data, ["best:plain"])["best:plain"]
    want = trajectory(build(dsl.optimizer_factory(tiny_run.rule(1)), "plain"), data)
    assert np.isfinite(want).all() and np.abs(want).max() > 0
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    assert imported_modules(tmp_path / "best.py") <= {"typing", "jax", "optax", "math"}


def test_exported_module_documents_its_origin(tiny_run, tmp_path, capsys):
    assert cli.main(["export", str(tiny_run.path), "--rank", "2", "--name", "evolved"]) == 0
    source = capsys.readouterr().out
    record = tiny_run.hall_of_fame[1]
    doc = ast.get_docstring(ast.parse(source))
    assert f"rank 2 of the hall of fame of run {tiny_run.path.name}" in doc
    assert f"Search fitness {record.fitness:+.3f}" in doc and "Held-out fitness" in doc
    lr = record.recommended_lr
    assert lr == float(f"{record.recommendation.lr:.3g}")
    assert f"Recommended learning rate (the default of this optimizer): {lr:.3g}" in doc
    assert f"learning_rate: optax.ScalarOrSchedule = {lr!r}" in source  # the export's default
    assert "def evolved(" in source
    assert "class ScaleByEvolvedState(NamedTuple):" in source and "def scale_by_evolved(" in source
    assert tiny_run.candidate(2).simplified.to_text().splitlines()[1].strip() in source


def test_text_and_msgpack_exports_load_back(tiny_run, tmp_path):
    rank = inspection.pick(tiny_run)
    simple = tiny_run.candidate(rank).simplified
    text, packed = tmp_path / "best.txt", tmp_path / "best.msgpack"
    assert cli.main(["export", str(tiny_run.path), "--format", "text", "-o", str(text)]) == 0
    assert cli.main(["export", str(tiny_run.path), "--format", "msgpack", "-o", str(packed)]) == 0
    from_text, from_msgpack = dsl.parse(text.read_text()), dsl.loads(packed.read_bytes())
    assert from_text == from_msgpack and from_text.name == simple.name == tiny_run.rule(rank).name
    assert (from_text.params, from_text.body, from_text.result) == (simple.params, simple.body, simple.result)
    assert text.read_text().startswith(f"# Discovered by evolution: rank {rank} (the recommended pick)")
    assert export.read_rule_file(packed) == export.read_rule_file(text) == from_text
    again = tmp_path / "again.py"
    assert cli.main(["export", "--rule-file", str(packed), "--name", "mine", "-o", str(again)]) == 0
    assert again.read_text() == dsl.python_module(from_text, name="mine")


def run_whose_pick_is_not_rank_1(run: runs.Run, tmp_path) -> runs.Run:
    """A copy of ``run`` whose rank 1 does worst on the held-out tasks and every other rank
    beats Adam there, so the pick is another rank."""
    copy = copy_run(run, tmp_path)
    summary = json.loads((copy.path / "summary.json").read_text())
    for rank, c in enumerate(summary["hall_of_fame"], start=1):
        c["held_out"]["fitness"] = 5.0 if rank == 1 else -1.0 - rank / 100
        for t in c["held_out"]["tasks"].values():
            t["spread"] = 0.0
    (copy.path / "summary.json").write_text(json.dumps(summary))
    return runs.load_run(copy.path)


def test_export_without_a_rank_is_the_rule_inspect_recommends(tiny_run, tmp_path, capsys):
    import discovery

    run = run_whose_pick_is_not_rank_1(tiny_run, tmp_path)
    rank = inspection.pick(run)
    assert rank != 1 and [r.rank for r in inspection.table(run) if r.pick] == [rank]
    assert cli.main(["inspect", str(run.path)]) == 0
    assert f"recommended: rank {rank}" in capsys.readouterr().out

    assert cli.main(["export", str(run.path), "--format", "text"]) == 0
    out, err = capsys.readouterr()
    assert dsl.parse(out) == run.candidate(rank).simplified != run.candidate(1).simplified
    assert err.strip() == f"discovery export: exported rank {rank} (the recommended pick; --rank K for another)"
    assert cli.main(["export", str(run.path), "-o", str(tmp_path / "o.py")]) == 0
    assert capsys.readouterr().out.strip().endswith(f": rank {rank} (the recommended pick; --rank K for another)")
    assert f"rank {rank} (the recommended pick) of the hall of fame" in (tmp_path / "o.py").read_text()
    assert cli.main(["export", str(run.path), "--rank", "1", "--format", "text"]) == 0
    out, err = capsys.readouterr()
    assert dsl.parse(out) == run.candidate(1).simplified
    assert err.strip() == "discovery export: exported rank 1"

    loaded = discovery.load_run(run.path)
    assert loaded.pick() == rank
    assert loaded.export(fmt="text") == export.from_run(run, rank, "text")
    params = {"w": np.linspace(-1.0, 1.0, 5, dtype=np.float32)}
    grads = {"w": np.array([0.3, -2.0, 0.01, 1.5, -0.7], dtype=np.float32)}

    def first_update(opt):
        return np.asarray(opt.update(grads, opt.init(params), params)[0]["w"])

    c = run.candidate(rank)
    want = first_update(dsl.to_optax(c.simplified, c.recommended_lr))
    np.testing.assert_array_equal(first_update(loaded.to_optax()), want)
    assert not np.array_equal(first_update(loaded.to_optax(1)), want)


@pytest.mark.parametrize(
    "args, message",
    [
        (["inspect", "{missing}"], "not a run folder"),
        (["inspect", "{run}", "--rule", "99"], "rank 99 out of range"),
        (["inspect", "{run}", "--top", "0"], "--top must be >= 1"),
        (["export", "{run}", "--rank", "99", "-o", "{out}"], "rank 99 out of range"),
        (["export", "{run}", "--name", "class", "-o", "{out}"], "not a Python identifier"),
        (["export", "{run}", "--name", "my-opt", "-o", "{out}"], "not a Python identifier"),
        (["export", "{run}", "--name", "optax", "-o", "{out}"], "would shadow"),
        (["export", "{run}", "--format", "msgpack"], "give an output file"),
        (["export", "{run}", "--rule-file", "{out}", "-o", "{out}"], "either RUN_DIR"),
        (["export", "--rule-file", "{out}", "--rank", "2", "-o", "{out}"], "--rank needs RUN_DIR"),
        (["export", "--rule-file", "{missing}", "-o", "{out}"], "No such file"),
        (["compare", "{missing}"], "No such file"),
    ],
)
def test_bad_input_is_a_one_line_error_and_writes_nothing(tiny_run, tmp_path, capsys, args, message):
    paths = {"run": str(tiny_run.path), "missing": str(tmp_path / "nope"), "out": str(tmp_path / "o.py")}
    assert cli.main([a.format(**paths) for a in args]) == 2
    assert message in one_line_error(capsys, args[0])
    assert list(tmp_path.iterdir()) == []


def test_unreadable_checkpoint_and_existing_output(tiny_run, tmp_path, capsys):
    broken = copy_run(tiny_run, tmp_path / "copy")
    (broken.path / "checkpoint.msgpack").write_bytes(b"\xc1 not msgpack")
    assert cli.main(["inspect", str(broken.path)]) == 0
    warning = capsys.readouterr().err.strip()
    assert warning.startswith("discovery inspect: warning: cannot read checkpoint") and "\n" not in warning
    assert "using the previous checkpoint checkpoint.prev.msgpack (generation 2), verified" in warning

    out = tmp_path / "best.py"
    out.write_text("mine")
    assert cli.main(["export", str(tiny_run.path), "-o", str(out)]) == 2
    assert "already exists" in one_line_error(capsys, "export") and out.read_text() == "mine"
    assert cli.main(["export", str(tiny_run.path), "-o", str(out), "--force"]) == 0
    pick = inspection.pick(tiny_run)
    assert out.read_text().startswith(f'"""{tiny_run.rule(pick).name}: an optimizer update rule')


def test_compare_adds_the_rule_as_a_column_of_the_baselines_table(tmp_path, capsys):
    rule_file = tmp_path / "adam.txt"
    rule_file.write_text(dsl.library.get("adam").to_text())
    out = tmp_path / "cmp"
    args = ["compare", str(rule_file), "--size", "small", "--tasks", "mf_k1", "--optimizers", "adam",
            "--steps", "20", "--seeds", "1", "--out", str(out)]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "adam_rule" in printed and "TUNED" in printed and "OUT OF THE BOX" in printed
    with open(out / "baselines.csv") as f:
        rows = {r["optimizer"]: r for r in csv.DictReader(f)}
    assert list(rows) == ["adam", "adam_rule"]
    # Adam written in the DSL is Adam: the same scores as optax.adam, to float32 noise.
    for metric in ("tuned", "out_of_box"):
        assert float(rows["adam_rule"][metric]) == pytest.approx(float(rows["adam"][metric]), rel=1e-4)
    doc = json.loads((out / "baselines.json").read_text())
    assert doc["optimizers"]["adam_rule"] == {"default_lr": 1e-3, "source": f"rule file {rule_file}"}
    assert cli.main(args) == 2 and "--force" in one_line_error(capsys, "compare")
