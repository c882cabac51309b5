"""A run folder that cannot be corrupted: one owner, checksummed checkpoints, a repairable log,
strict JSON, atomic writes."""

import errno
import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest

from discovery import cli, runs
from discovery import config as config_lib
from discovery.analysis import inspection
from discovery.records import Candidate
from discovery.runs import events
from discovery.runs.files import atomic_write, json_text
from discovery.runs.lock import RunLock, RunLockedError
from discovery.runs.store import (
    CHECKPOINT,
    FORMAT,
    PREVIOUS,
    VERSION,
    CheckpointError,
    RunStore,
    RunWarning,
)
from tests import test_golden as golden

ROOT = Path(__file__).parents[1]
# A second process that takes the lock and holds it until killed (only lock.py is loaded: fast).
HOLD_LOCK = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("lock", "discovery/runs/lock.py")
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)
lock.RunLock(sys.argv[1]).acquire()
print("held", flush=True)
sys.stdin.read()
"""


def state_of(raw: bytes) -> dict:
    return msgpack.unpackb(msgpack.unpackb(raw)["payload"], strict_map_key=False)


def packed(state) -> bytes:
    """A checkpoint (or its stored data) as bytes, to compare states holding NaN (timings the
    cost model never measured)."""
    return msgpack.packb(state.to_dict() if hasattr(state, "to_dict") else state)


def flat(state: dict) -> dict:
    """A checkpoint payload in the flat layout of format versions 1 and 2."""
    return {**state["search"], **{k: v for k, v in state.items() if k != "search"}}


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ----------------------------------------------------------------------------- the lock


def test_a_second_process_is_refused_while_the_owner_lives_and_let_in_after_kill_9(run_copy, capsys):
    owner = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run_copy)], cwd=ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=f"in use by process {owner.pid} "):
            RunLock(run_copy).acquire()
        before = files_of(run_copy)
        assert cli.main(["run", "--resume", str(run_copy)]) == 2
        err = capsys.readouterr().err
        assert f"in use by process {owner.pid}" in err and err.count("\n") == 1
        assert files_of(run_copy) == before
    finally:
        owner.kill()  # SIGKILL: no clean-up runs, the kernel drops the lock
        owner.wait()
    assert (run_copy / "run.lock").read_text().strip() == str(owner.pid)  # a stale lock file ...
    with RunLock(run_copy):  # ... blocks nobody
        pass


def test_temp_files_are_unique_and_a_killed_writers_are_removed_on_resume(run_copy, monkeypatch):
    store = RunStore(run_copy)
    state = store.read_checkpoint()
    renamed, replace = [], os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renamed.append(Path(src)), replace(src, dst)))
    store.write_checkpoint(state)
    store.write_checkpoint(state)
    temps = [p for p in renamed if p.name.endswith(".tmp")]
    assert len(temps) == len(set(temps)) == 2 and not any(p.exists() for p in temps)
    left = run_copy / f".{CHECKPOINT}.abc123.tmp"  # what a writer killed mid-write leaves
    left.write_bytes(b"half")
    with RunLock(run_copy):
        store.remove_temp_files()
    assert not left.exists() and packed(store.read_checkpoint()) == packed(state)


# ----------------------------------------------------------------------------- checkpoints


def test_a_checkpoint_carries_its_format_version_and_sha256(stopped_run):
    outer = msgpack.unpackb((stopped_run / CHECKPOINT).read_bytes())
    assert set(outer) == {"format", "version", "sha256", "payload"}
    assert outer["format"] == FORMAT and outer["version"] == VERSION == 5  # 5: a candidate's origin (runs.upgrade)
    assert outer["sha256"] == hashlib.sha256(outer["payload"]).hexdigest()
    assert state_of((stopped_run / CHECKPOINT).read_bytes())["search"]["generation"] == 2


def test_a_flipped_bit_in_any_region_falls_back_to_the_verified_previous(run_copy):
    """Header, checksum, payload and tail: every sampled flip is caught, never resumed from."""
    current = run_copy / CHECKPOINT
    good = current.read_bytes()
    previous = state_of((run_copy / PREVIOUS).read_bytes())
    n = len(good)
    positions = sorted({*range(128), *range(128, n, max(1, n // 200)), *range(n - 16, n)})
    store = RunStore(run_copy)
    for i in positions:
        flipped = bytearray(good)
        flipped[i] ^= 1 << (i % 8)
        current.write_bytes(bytes(flipped))
        with pytest.warns(RunWarning, match="using the previous checkpoint .* verified intact"):
            assert packed(store.read_checkpoint()) == packed(previous), f"flip at byte {i} of {n}"
    assert len(positions) > 300


def test_two_damaged_checkpoints_are_an_error_naming_both(run_copy):
    for name in (CHECKPOINT, PREVIOUS):
        raw = bytearray((run_copy / name).read_bytes())
        raw[-5] ^= 0x10
        (run_copy / name).write_bytes(bytes(raw))
    with pytest.raises(CheckpointError) as caught:
        RunStore(run_copy).read_checkpoint()
    message = str(caught.value)
    assert message.count("SHA-256") == 2 and PREVIOUS in message and "intact" not in message


def test_version_1_and_2_checkpoints_are_still_read_and_one_without_log_offset_is_refused(run_copy):
    state = state_of((run_copy / CHECKPOINT).read_bytes())
    legacy = msgpack.packb({"format": FORMAT, "version": 1, **flat(state)}, use_bin_type=True)
    (run_copy / CHECKPOINT).write_bytes(legacy)
    assert packed(RunStore(run_copy).read_checkpoint()) == packed(state)
    payload = msgpack.packb(flat(state), use_bin_type=True)
    (run_copy / CHECKPOINT).write_bytes(msgpack.packb({"format": FORMAT, "version": 2, "payload": payload,
                                                       "sha256": hashlib.sha256(payload).hexdigest()}))
    assert packed(RunStore(run_copy).read_checkpoint()) == packed(state)
    del state["log_offset"]
    for name in (CHECKPOINT, PREVIOUS):
        (run_copy / name).write_bytes(msgpack.packb({"format": FORMAT, "version": 1, **flat(state)}))
    with pytest.raises(CheckpointError, match="field 'log_offset' is missing"):
        RunStore(run_copy).read_checkpoint()


@pytest.mark.parametrize("field, value, says", [
    ("shapes", [[2, "wide"]], "field 'shapes' is malformed: item 0: item 1: expected an integer"),
    ("shapes", "7x64", "field 'shapes' is malformed: expected a list"),
    ("held_out", {"abc": {"fitness": 1.0}}, "field 'held_out' is malformed: entry 'abc'"),
    ("held_out", [1, 2], "field 'held_out' is malformed: expected a table"),
])
def test_a_malformed_field_is_a_one_line_error_naming_it(run_copy, field, value, says):
    state = state_of((run_copy / CHECKPOINT).read_bytes())
    (state["search"] if field == "shapes" else state)[field] = value
    store = RunStore(run_copy)
    for name in (CHECKPOINT, PREVIOUS):  # both: no intact checkpoint to fall back on
        payload = msgpack.packb(state, use_bin_type=True)
        (run_copy / name).write_bytes(msgpack.packb({"format": FORMAT, "version": 3, "payload": payload,
                                                     "sha256": hashlib.sha256(payload).hexdigest()}))
    with pytest.raises(CheckpointError) as caught:
        store.read_checkpoint()
    message = str(caught.value)
    assert says in message and "\n" not in message and str(run_copy / CHECKPOINT) in message
    assert cli.main(["run", "--resume", str(run_copy)]) == 2


def test_resuming_from_the_previous_checkpoint_reproduces_the_golden_run(run_copy, tiny_run):
    raw = bytearray((run_copy / CHECKPOINT).read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (run_copy / CHECKPOINT).write_bytes(bytes(raw))
    with pytest.warns(RunWarning, match="previous checkpoint"):
        resumed = runs.run(resume=run_copy, progress=False)
    assert golden.snapshot(resumed) == golden.snapshot(tiny_run)  # exactly, on this machine
    assert golden.differences(golden.snapshot(resumed), json.loads(golden.GOLDEN.read_text())) == []


# ----------------------------------------------------------------------------- the log


def test_a_torn_last_line_is_skipped_with_a_warning(run_copy, capsys):
    store = RunStore(run_copy)
    whole = store.read_log()
    with open(store.log_file, "ab") as f:
        f.write(b'{"kind": "candidate", "id": 99, "gener')
    with pytest.warns(RunWarning, match="last line is incomplete"):
        assert store.read_log() == whole
    assert cli.main(["inspect", str(run_copy), "--rule", "1"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("discovery inspect: warning: ") and "incomplete" in err


def test_a_damaged_line_is_skipped_and_named(run_copy):
    store = RunStore(run_copy)
    lines = store.log_file.read_bytes().split(b"\n")
    number = next(i for i, line in enumerate(lines) if b'"candidate"' in line) + 1
    lines[number - 1] = lines[number - 1][:40] + b"\x00garbage"
    lines[number] = b'{"kind": "candidate", "id": "x"}'
    store.log_file.write_bytes(b"\n".join(lines))
    with pytest.warns(RunWarning) as caught:
        found = store.candidates()
    assert len(found) == 12 - 2
    messages = " ".join(str(w.message) for w in caught)
    assert f"line {number}" in messages and f"line {number + 1}" in messages


@pytest.mark.parametrize("damage", ["truncated", "deleted"])
def test_a_short_log_is_reported_on_resume_and_counted_in_the_summary(run_copy, tiny_run, damage):
    log = run_copy / "log.jsonl"
    if damage == "deleted":
        log.unlink()
    else:
        log.write_bytes(log.read_bytes()[: log.stat().st_size // 2])
    with pytest.warns(RunWarning) as caught:
        resumed = runs.run(resume=run_copy, progress=False)
    messages = [str(w.message) for w in caught]
    assert any(str(log) in m and "truncated or replaced" in m for m in messages)
    assert any("lacks" in m and "Pareto front" in m for m in messages)
    assert resumed.summary.log_missing == 12 if damage == "deleted" else 0 < resumed.summary.log_missing < 12
    lacks = f"log.jsonl lacks {resumed.summary.log_missing} candidates"
    assert lacks in runs.report(resumed) and lacks in inspection.format_table(resumed)
    assert [c.fitness for c in resumed.hall_of_fame] == [c.fitness for c in tiny_run.hall_of_fame]
    entries = RunStore(run_copy).read_log()  # whole lines only: the next reader sees no damage
    assert [events.kind(e) for e in entries].count("log_damaged") == 1


# ----------------------------------------------------------------------------- strict JSON, atomic writes


def test_non_finite_numbers_are_strict_json_strings_that_read_back(stopped_run, tmp_path):
    strict = lambda text: json.loads(text, parse_constant=lambda c: pytest.fail(f"invalid JSON {c}"))
    candidate = RunStore(stopped_run).candidates()[0]
    data = candidate.to_dict()
    data["fitness"], data["tasks"]["mf_k4"]["tuned"] = math.nan, -math.inf
    text = json_text(data)
    assert '"fitness": "NaN"' in text and '"tuned": "-Infinity"' in text
    back = Candidate.from_dict(strict(text))
    assert math.isnan(back.fitness) and back.tasks["mf_k4"].tuned == -math.inf
    store = RunStore(tmp_path)
    store.append_log([{"kind": "generation", "best": math.inf}])
    store.write_summary({"best": math.nan})
    assert strict(store.log_file.read_text()) == {"kind": "generation", "best": "Infinity"}
    assert strict((tmp_path / "summary.json").read_text()) == {"best": "NaN"}


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch, failure):
    target = tmp_path / "report.json"
    target.write_text("old")

    def fail(fd):
        raise failure

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(type(failure)) as caught:
        atomic_write(target, b"new")
    if isinstance(failure, OSError):
        assert caught.value.filename == str(target) and caught.value.errno == errno.ENOSPC
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"] and target.read_text() == "old"


def test_run_folders_are_found_by_what_their_config_says(tmp_path):
    made = {}
    for name, seed in (("arm-a", 0), ("arm-a", 1), ("arm", 0)):
        cfg = config_lib.load(**{"run.name": name, "run.seed": seed})
        store = RunStore.create(tmp_path, cfg)
        store.write_config(cfg)
        made[name, seed] = store.path
    (tmp_path / "arm-s0-not-a-run").mkdir()  # named like a run, holding none
    assert RunStore.folders(tmp_path, "arm", 0) == [made["arm", 0]]
    assert RunStore.folders(tmp_path, "arm-a") == [made["arm-a", 0], made["arm-a", 1]]
    assert len(RunStore.folders(tmp_path)) == 3 and RunStore.folders(tmp_path / "none") == []
