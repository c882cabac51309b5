"""Run folders written by older code: read, upgraded to the live records, resumed exactly."""

import json
import shutil
from pathlib import Path

import pytest

from discovery import runs
from discovery.codec import RecordError
from discovery.evolution.generation import Generation
from discovery.records import Candidate
from discovery.runs import events, upgrade
from discovery.runs.store import RunStore
from tests import test_golden as golden

# The tiny run (tests/tiny.py) stopped after 1 of its 3 generations by commit a830404, before
# the stored records carried a format version (config, log and checkpoints as it wrote them).
OLD_RUN = Path(__file__).parent / "fixtures" / "old_run_a830404"


def test_a_checkpoint_written_by_older_code_resumes_to_the_golden_run(tiny_run, tmp_path):
    old = Path(shutil.copytree(OLD_RUN, tmp_path / "old"))
    resumed = runs.run(resume=old, progress=False)
    assert resumed.generation == 3 and resumed.summary.status == "complete"
    # Exact in structure; its first generation's numbers come from the CPU that wrote the fixture,
    # so they are held to the golden check's tolerance for other instruction sets (test_golden).
    assert golden.differences(golden.snapshot(resumed), golden.snapshot(tiny_run)) == []


def test_old_candidate_and_generation_records_upgrade_to_the_live_types():
    store = RunStore(OLD_RUN)
    logged = store.read_log()
    assert [events.kind(e) for e in logged] == ["start", "calibration", *["candidate"] * 6, "generation",
                                                "interrupted"]
    generation, candidate = logged[-2], logged[2]
    assert isinstance(generation, Generation) and generation.compiled_shapes is None and generation.population_niches == 1
    assert isinstance(candidate, Candidate) and candidate.niche == () and candidate.held_out is None
    assert store.read_checkpoint().search.logbook == (generation,)  # the checkpoint's, upgraded alike
    # A candidate and a generation as the first versions of the engine wrote them: lacking every
    # field added since, and the format version.
    raw = [json.loads(line) for line in (OLD_RUN / "log.jsonl").read_text().splitlines()]
    first = {k: v for k, v in raw[2].items() if k not in ("niche", "held_out", "recommendation", "screened")}
    first["tasks"] = {t: {k: r[k] for k in ("ratio", "robust_ratio", "tuned", "tuned_lr", "diverged")}
                      for t, r in first["tasks"].items()}
    old = events.read(first, "an old line")
    assert old.tasks["mf_k4"].learning_rates == () and old.tasks["mf_k4"].log_ratio is None
    assert old.evaluation.screened is False and old.rule == candidate.rule
    bare = {k: raw[-2][k] for k in ("kind", "gen", "trained", "cache_hits", "seconds", "candidates_per_s",
                                    "best", "median")}
    assert events.read(bare, "an old line").training_s is None
    with pytest.raises(RecordError, match=r"^an old line: field 'tasks' is malformed: entry 'mf_k4'.*'tuned'"):
        events.read({**first, "tasks": {"mf_k4": {**first["tasks"]["mf_k4"], "tuned": "low"}}}, "an old line")
    with pytest.raises(RecordError, match="format version 9"):
        events.read({**raw[-2], "version": 9}, "a line")


def test_an_old_summary_reads_and_a_lengthened_run_logs_its_old_length(tmp_path):
    old = Path(shutil.copytree(OLD_RUN, tmp_path / "old"))
    finished = runs.run(resume=old, progress=False)
    summary = json.loads((old / "summary.json").read_text())
    assert summary["version"] == upgrade.FORMAT
    unversioned = {k: v for k, v in summary.items() if k not in ("version", "niches", "forms", "log_missing")}
    (old / "summary.json").write_text(json.dumps(unversioned))
    again = runs.load_run(old)
    assert again.summary.niches is None and again.summary.log_missing == 0
    assert again.summary.totals == finished.summary.totals and again.hall_of_fame == finished.hall_of_fame


def test_an_old_candidate_reads_its_origin_from_its_mutation_text():
    raw = json.loads((OLD_RUN / "log.jsonl").read_text().splitlines()[2])
    assert events.read(raw, "an old line").origin == "warm start"
    texts = {"random": "random", "immigrant: a random rule": "immigrant", "insert x = g at 0": "mutation",
             "crossover subtree in m: g <- v": "crossover", "arch crossover: width=32": "crossover",
             "arch depth up: depth=3": "mutation", "crossover m <- m: g; again: delete stmt 0: m = g": "crossover",
             "no-op": "mutation"}
    for text, origin in texts.items():
        assert events.read({**raw, "mutation": text}, "an old line").origin == origin, text
