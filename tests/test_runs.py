"""Evolution runs: determinism, checkpoints, resume after interruption or a hard kill, errors."""

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import msgpack
import pytest

import dsl
from discovery import cli, config, runs, tasks
from discovery.codec import RecordError
from discovery.evolution import niches
from discovery.evolution.engine import Child, Evolution
from discovery.evolution.generation import TIME_SPLIT, Generation
from discovery.records import Evaluation, TaskResult, pareto_front
from discovery.runs import events
from discovery.runs.files import json_text
from discovery.runs.store import RunStore
from discovery.training import trainer
from tests.tiny import tiny


def outcome(run: runs.Run):
    """What must be identical between equivalent runs (timings excluded)."""
    return (
        [(r.fingerprint, r.fitness, r.id) for r in run.hall_of_fame],
        [(r.fingerprint, r.fitness, r.id) for r in run.population],
        [(r.gen, r.best, r.median, r.trained) for r in run.logbook],
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return runs.run(tiny(), out=tmp_path_factory.mktemp("ref"), progress=False)


def test_a_run_writes_a_self_describing_folder(reference):
    files = {p.name for p in reference.path.iterdir()}
    assert {"config.toml", "checkpoint.msgpack", "log.jsonl", "summary.json"} <= files
    assert reference.generation == 3 and len(reference.population) == 6
    assert reference.summary.status == "complete"
    kinds = [json.loads(line)["kind"] for line in (reference.path / "log.jsonl").read_text().splitlines()]
    assert kinds.count("candidate") == 18 and kinds.count("generation") == 3 and "calibration" in kinds
    best = reference.hall_of_fame[0]
    assert best.fitness <= min(r.fitness for r in reference.population)
    assert set(best.tasks) == {"quadratic_ill", "mf_k4"} and "rosenbrock" in best.held_out.tasks
    assert isinstance(reference.rule(1), dsl.Rule)
    assert reference.summary.pareto_front
    with pytest.raises(ValueError, match="out of range"):
        reference.rule(99)


def test_warm_start_is_trained_once_and_duplicates_hit_the_cache(reference):
    first = reference.logbook[0]
    assert first.trained == 1 and first.cache_hits == 5 and first.best == 0.0  # Adam is 0
    totals = reference.summary.totals
    assert totals.evaluated + totals.cache_hits == 18


def test_generation_records_are_typed_and_store_byte_for_byte(reference):
    lines = [line for line in (reference.path / "log.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] == "generation"]
    outer = msgpack.unpackb((reference.path / "checkpoint.msgpack").read_bytes())
    stored = msgpack.unpackb(outer["payload"])["search"]["logbook"]
    for line, record, raw in zip(lines, reference.logbook, stored, strict=True):
        assert isinstance(record, Generation) and record.gen >= 1 and record.best <= record.median
        assert sum(getattr(record, k) for k in TIME_SPLIT) == pytest.approx(record.seconds, abs=0.005)
        assert json_text(events.line(record), sort_keys=True) == line  # the log's line
        assert list(record.to_dict().items()) == list(raw.items())  # the checkpoint's, in its order
        assert Generation.from_dict(raw) == record
    # A line older code wrote (no version, most fields missing) is upgraded as it is read; the
    # current format is strict.
    old = {"gen": 1, "trained": 2, "cache_hits": 4, "seconds": 1.5, "candidates_per_s": 4.0,
           "best": -0.1, "median": 0.2}
    read = events.read({"kind": "generation", **old}, "an old line")
    assert isinstance(read, Generation) and read.scale_equivalent is None and read.best == -0.1
    assert {k: v for k, v in read.to_dict().items() if v is not None} == old
    with pytest.raises(RecordError, match="an old line: field 'trained' is malformed"):
        events.read({"kind": "generation", **old, "trained": -1}, "an old line")
    with pytest.raises(RecordError, match="field 'scale_equivalent' is missing"):
        Generation.from_dict(old)
    with pytest.raises(RecordError, match="unknown field"):
        Generation.from_dict({**raw, "fitness": 0.0})


def test_a_checkpointed_task_reference_reads_back_its_unmeasured_costs_as_numbers(reference):
    stored = RunStore.open(reference.path).read_checkpoint().reference
    ref = next(iter(stored["search"].values()))
    unmeasured = dataclasses.replace(ref, costs=dataclasses.replace(ref.costs, native_run=math.nan))
    back = type(ref).from_dict(json.loads(json_text(unmeasured.to_dict())))  # NaN stored as "NaN"
    assert math.isnan(back.costs.native_run) and back.costs.choose() == "interpreter"
    assert back.to_dict().keys() == ref.to_dict().keys() and back.adam == ref.adam
    with pytest.raises(RecordError, match="field 'costs' is malformed.*'interp_run'"):
        type(ref).from_dict({**ref.to_dict(), "costs": {**ref.costs.to_dict(), "interp_run": "fast"}})


def test_same_config_and_seed_give_the_same_run(reference, tmp_path):
    again = runs.run(tiny(), out=tmp_path, progress=False)
    assert outcome(again) == outcome(reference)
    other_seed = runs.run(tiny(**{"run.seed": 1}), out=tmp_path, progress=False)
    assert outcome(other_seed) != outcome(reference)


def test_interrupted_then_resumed_equals_uninterrupted(reference, tmp_path):
    partial = runs.run(tiny(), out=tmp_path, progress=False, stop_after=1)
    assert partial.generation == 1 and partial.summary is None
    seen = runs.load_run(partial.path)  # a run in progress can be read
    assert len(seen.population) == 6 and seen.hall_of_fame
    resumed = runs.run(resume=partial.path, progress=False)
    assert outcome(resumed) == outcome(reference)


def _signal_run_mid_way(tmp_path, cfg, sig) -> tuple[Path, int]:
    """Start ``discovery run`` in a subprocess, send ``sig`` after generation 3; (run dir, exit code)."""
    cfg_file = tmp_path / "run.toml"
    cfg_file.write_text(config.dumps(cfg))
    out = tmp_path / "signalled"
    proc = subprocess.Popen(
        [sys.executable, "-m", "discovery.cli", "run", str(cfg_file), "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=Path(__file__).parents[1],
    )
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            folders = list(out.glob("*")) if out.exists() else []
            if folders and (folders[0] / "checkpoint.msgpack").exists():
                state = RunStore(folders[0]).read_checkpoint()
                if state and state.search.generation >= 3:
                    break
            time.sleep(0.02)
        os.kill(proc.pid, sig)
        code = proc.wait(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    run_dir = next(out.glob("*"))
    assert not (run_dir / "summary.json").exists(), "the run finished before it could be signalled"
    return run_dir, code


def test_hard_kill_mid_run_then_resume_equals_uninterrupted(tmp_path):
    cfg = tiny(**{"run.generations": 40, "run.population": 4})
    run_dir, code = _signal_run_mid_way(tmp_path, cfg, signal.SIGKILL)
    assert code == -signal.SIGKILL
    killed_at = RunStore(run_dir).read_checkpoint().search.generation
    assert 3 <= killed_at < 40
    resumed = runs.run(resume=run_dir, progress=False)
    uninterrupted = runs.run(cfg, out=tmp_path / "straight", progress=False)
    assert outcome(resumed) == outcome(uninterrupted)
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    ids = [e["id"] for e in log if e["kind"] == "candidate"]
    assert ids == sorted(set(ids)), "entries logged after the last checkpoint must be dropped on resume"


def test_ctrl_c_checkpoints_the_generation_and_exits_cleanly(tmp_path):
    cfg = tiny(**{"run.generations": 40, "run.population": 4})
    run_dir, code = _signal_run_mid_way(tmp_path, cfg, signal.SIGINT)
    assert code == 130
    state = RunStore(run_dir).read_checkpoint()
    assert RunStore(run_dir).read_log()[-1] == events.Interrupted(generation=state.search.generation)
    resumed = runs.run(resume=run_dir, progress=False)
    assert resumed.summary.status == "complete" and resumed.generation == 40


def test_mu_plus_lambda_keeps_the_best(tmp_path):
    result = runs.run(tiny(**{"run.mode": "mu_plus_lambda"}), out=tmp_path, progress=False)
    fitnesses = [r.fitness for r in result.population]
    assert fitnesses == sorted(fitnesses)
    assert result.hall_of_fame[0].fitness == fitnesses[0]


def test_pareto_front_is_non_dominated():
    points = [(0, 10, 0.0), (1, 5, 0.5), (2, 7, 0.6), (3, 20, -1.0), (4, 12, 0.1)]
    candidates = [SimpleNamespace(id=i, complexity=c, fitness=f) for i, c, f in points]
    assert [c.id for c in pareto_front(candidates)] == [1, 0, 3]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"run.generations": 0}, r"\[run\] generations = 0 is invalid"),
        ({"run.population": "8"}, r"\[run\] population = '8' is invalid"),
        ({"tasks.search": ["nope"]}, "task names from"),
        ({"run.warm_start": ["adamz"]}, "library rules"),
        ({"run.colour": 1}, "unknown key 'colour' in \\[run\\]"),
        ({"evaluation.path": "gpu"}, "one of"),
    ],
)
def test_bad_config_is_rejected_before_anything_runs(overrides, message):
    with pytest.raises(ValueError, match=message):
        config.load(**overrides)


def test_cli_run_and_errors(tmp_path, capsys):
    cfg_file = tmp_path / "run.toml"
    cfg_file.write_text(config.dumps(tiny(**{"run.generations": 2})))
    assert cli.main(["run", str(cfg_file), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "#1 fitness" in printed and "def " in printed

    bad = tmp_path / "bad.toml"
    bad.write_text("[run]\ngenerations = 'many'\n")
    assert cli.main(["run", str(bad), "--out", str(tmp_path / "err")]) == 2
    assert "generations = 'many' is invalid" in capsys.readouterr().err
    bad.write_text("[run\n")
    assert cli.main(["run", str(bad)]) == 2
    assert "invalid TOML" in capsys.readouterr().err
    assert cli.main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["run", "--resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert cli.main(["run", "--preset", "quick", "--tasks", "mf_k4,bogus", "--out", str(tmp_path / "err")]) == 2
    assert "task names from" in capsys.readouterr().err
    assert not (tmp_path / "err").exists(), "nothing is written for a bad config"


def test_held_out_rechecks_during_the_run_and_a_recommended_lr(tmp_path):
    cfg = tiny(**{"evaluation.held_out_every": 1, "evaluation.held_out_top": 2})
    partial = runs.run(cfg, out=tmp_path, progress=False, stop_after=2)
    checked = {c.key for c in partial.hall_of_fame if c.held_out}
    assert {c.key for c in partial.hall_of_fame[:2]} <= checked  # scored before the run ends
    finished = runs.run(resume=partial.path, progress=False)
    assert all(c.held_out and c.recommendation for c in finished.hall_of_fame)
    task = tasks.get("rosenbrock", "small")
    for c in finished.hall_of_fame[:2]:
        rec = c.recommendation
        assert rec.split == "held_out" and set(rec.ratios) == {"rosenbrock"}
        result = trainer.train(c.rule, task, [rec.lr], [0], 40)
        assert rec.trains_everywhere == (not result.diverged.any())


def test_evolved_rules_are_named_for_themselves(reference):
    names = {c.rule.name for c in RunStore.open(reference.path).candidates()}
    keys = {c.rule.name: c.key for c in RunStore.open(reference.path).candidates()}
    assert "adam" in names and len(names) > 1
    assert all(n == "adam" or n == f"evolved_{keys[n][:8]}" for n in names)


def test_tournaments_prefer_the_simpler_of_rules_within_the_parsimony_margin():
    evo = Evolution(tiny(**{"run.tournament": 3, "run.population": 3, "run.parsimony": 0.05}), None)
    fit = lambda f, c: SimpleNamespace(fitness=f, complexity=c)  # noqa: E731
    evo.population = [fit(-0.50, 40), fit(-0.47, 12), fit(-0.30, 5)]
    assert evo._tournament().complexity == 12  # within 0.05 of the best, and simpler
    evo.settings = dataclasses.replace(evo.settings, parsimony=0.0)
    assert evo._tournament().complexity == 40


def test_scale_equivalent_children_are_not_trained_again_and_get_rescaled_lrs():
    trained = []

    def evaluate_batch(raws):
        trained.append(len(raws))
        task = TaskResult(ratio=-0.1, robust_ratio=0.0, tuned=1e-3, tuned_lr=0.1, diverged=0.0,
                          learning_rates=(0.01, 0.1, 1.0), scale=2.0)
        return [Evaluation(-0.1, {"mf_k4": task}, False, 0.0) for _ in raws]

    evo = Evolution(tiny(), evaluate_batch)
    ema = "def ema(b=0.9):\n    m = b * m + (1 - b) * g\n    return {}\n"
    children = [Child(dsl.parse(ema.format(u)), None, (), "mutation", "test") for u in ("m", "1000 * m", "-m")]
    candidates, work = evo.evaluate(children)
    assert trained == [2] and work.trained == 2 and work.scale_equivalent == 1  # -m: another optimizer
    base, scaled = candidates[0].tasks["mf_k4"], candidates[1].tasks["mf_k4"]
    assert candidates[0].key == candidates[1].key != candidates[2].key
    assert scaled.tuned_lr == pytest.approx(base.tuned_lr / 1000) and scaled.scale == pytest.approx(2e-3)
    assert scaled.learning_rates == pytest.approx([lr / 1000 for lr in base.learning_rates])
    assert candidates[1].fitness == candidates[0].fitness and candidates[1].cached


def test_the_hall_of_fame_holds_distinct_optimizers_reported_canonical(reference):
    keys = [c.key for c in reference.hall_of_fame]
    assert len(set(keys)) == len(keys)
    hall = reference.hall_of_fame
    for i, a in enumerate(hall):
        assert all(niches.similarity(a.rule, b.rule) < niches.SAME_OPTIMIZER for b in hall[:i])
    for c in hall:
        canonical = dsl.canonical(dsl.prune(c.rule))  # reported once: reporting again changes nothing
        assert c.simplified == c.rule == dsl.rounded(canonical.rule) and canonical.factor == pytest.approx(1.0)
        assert c.complexity == c.simplified.size and c.text == c.rule.to_text()
    assert reference.logbook[-1].scale_equivalent is not None  # counted, as in summary.totals
