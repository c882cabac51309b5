"""Hostile input to the command line: every case is a one-line error naming the file or option,
a non-zero exit, and the files on disk as they were. All in this process but the Ctrl-C case."""

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import pytest

from discovery import cli, config
from discovery.runs.lock import RunLock
from discovery.runs.store import CHECKPOINT, FORMAT, PREVIOUS
from tests.tiny import tiny

ROOT = Path(__file__).parents[1]


def toml(text: str):
    return lambda tmp, run: _write(tmp / "c.toml", text.encode())


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _summary(doc: str):
    return lambda tmp, run: (_write(run / "summary.json", doc.encode()), run)[1]


def _without_log_offset(tmp, run):
    state = msgpack.unpackb(msgpack.unpackb((run / CHECKPOINT).read_bytes())["payload"],
                            strict_map_key=False)
    del state["log_offset"]
    for name in (CHECKPOINT, PREVIOUS):
        _write(run / name, msgpack.packb({"format": FORMAT, "version": 1, **state}))
    return run


# Placeholders of the cases' arguments: each makes what it names in a fresh tmp folder.
MAKE = {
    "run": lambda tmp, run: run,
    "config": lambda tmp, run: _write(tmp / "ok.toml", config.dumps(tiny()).encode()),
    "file": lambda tmp, run: _write(tmp / "a-file", b"mine"),
    "folder": lambda tmp, run: (tmp / "a-folder").mkdir() or tmp / "a-folder",
    "readonly": lambda tmp, run: (tmp / "ro").mkdir() or tmp / "ro",
    "link": lambda tmp, run: os.symlink(tmp / "nowhere.py", tmp / "link.py") or tmp / "link.py",
    "binary": lambda tmp, run: _write(tmp / "binary", bytes(range(256)) * 4),
    "bad_rule": lambda tmp, run: _write(tmp / "bad.txt", b"def r():\n    return foo(g)\n"),
    "long_name": toml(f"[run]\nname = '{'n' * 300}'\n"),
    "big_seed": toml("[protocol]\nseeds = [4294967296]\n"),
    "huge_lr": toml("[protocol]\nlearning_rates = [1e400]\n"),
    "nan_hurdle": toml("[evaluation]\nhurdle = nan\n"),
    "many_steps": toml("[protocol]\nsteps = 10000000000\n"),
    "same_seeds": toml("[protocol]\nseeds = [3, 3]\n"),
    "empty_record": _summary('{"status": "complete", "hall_of_fame": [{}]}'),
    "number_record": _summary('{"status": "complete", "generations": 3, "totals": {}, '
                              '"reference": {}, "hall_of_fame": 7, "pareto_front": []}'),
    "deep_summary": _summary('{"hall_of_fame": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "no_log_offset": _without_log_offset,
    "huge_index": lambda tmp, run: _write(tmp / "data.libsvm", b"1 1:0.5\n-1 4000000000:1\n"),
}

CASES = {
    "run --out FILE": (["run", "{config}", "--out", "{file}"], "--out {file} is not a folder"),
    "run --out FILE/sub": (["run", "{config}", "--out", "{file}/sub"], "Not a directory: {file}"),
    "run --out read-only": (["run", "{config}", "--out", "{readonly}"], "Permission denied: {readonly}"),
    "run name of 300 chars": (["run", "{long_name}"], "[run] name = 'nnn"),
    "run binary config": (["run", "{binary}"], "config file {binary} is not UTF-8 text"),
    "run config folder": (["run", "{folder}"], "config file {folder} is a folder"),
    "run seed 2**32": (["run", "{big_seed}"], "[protocol] seeds = [4294967296] is invalid"),
    "run lr 1e400": (["run", "{huge_lr}"], "[protocol] learning_rates = [inf] is invalid"),
    "run hurdle nan": (["run", "{nan_hurdle}"], "[evaluation] hurdle = nan is invalid"),
    "run steps 1e10": (["run", "{many_steps}"], "[protocol] steps = 10000000000 is invalid"),
    "run seeds repeated": (["run", "{same_seeds}"], "[protocol] seeds = [3, 3] is invalid"),
    "run --resume locked": (["run", "--resume", "{run}"], "{run} is in use by process {pid}"),
    "export -o FOLDER --force": (["export", "{run}", "-o", "{folder}", "--force"], "{folder} is a folder"),
    "export -o read-only": (["export", "{run}", "-o", "{readonly}/o.py"], "Permission denied: {readonly}/o.py"),
    "export -o dangling link": (["export", "{run}", "-o", "{link}"], "{link} already exists"),
    "export full disk": (["export", "{run}", "-o", "{folder}/o.py"], "No space left on device: {folder}/o.py"),
    "export --rule-file FOLDER": (["export", "--rule-file", "{folder}"], "rule file {folder} is a folder"),
    "export --rule-file /dev/zero": (["export", "--rule-file", "/dev/zero"], "rule file /dev/zero is larger than"),
    "export --rule-file binary": (["export", "--rule-file", "{binary}"], "rule file {binary}: cannot decode"),
    "export --rule-file bad rule": (["export", "--rule-file", "{bad_rule}"], "rule file {bad_rule}: line 2, col 12"),
    "compare FOLDER": (["compare", "{folder}"], "rule file {folder} is a folder"),
    "inspect --plots read-only run": (["inspect", "{run}", "--plots"], "cannot write figures into this folder: {run}"),
    "inspect summary [{}]": (["inspect", "{empty_record}"], "summary.json: field 'generations' is missing"),
    "inspect summary number": (["inspect", "{number_record}"], "summary.json: field 'hall_of_fame' is malformed: expected a list"),
    "inspect summary 100k deep": (["inspect", "{deep_summary}"], "summary.json is not valid JSON (RecursionError"),
    "inspect no log_offset": (["inspect", "{no_log_offset}"], "field 'log_offset' is missing"),
    "baselines index 4e9": (["baselines", "--suite", "nondeep", "--tasks", "klr_mushrooms", "--size", "small",
                             "--seeds", "1", "--steps", "2", "--data-file", "{huge_index}", "--out", "{folder}"],
                            "{huge_index}, line 2: feature index 4000000000 makes the dense data"),
}


def deny_writes(monkeypatch, folder: Path) -> None:
    """What a read-only folder does to a user who is not root (tests may run as root): nothing
    can be created in it, and ``os.access`` says it is not writable."""
    def refuse(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    within = lambda path: folder in Path(os.path.abspath(path)).parents
    mkdir, open_, access = os.mkdir, os.open, os.access
    monkeypatch.setattr(os, "mkdir", lambda p, *a, **k: refuse(p) if within(p) else mkdir(p, *a, **k))
    monkeypatch.setattr(os, "open", lambda p, flags, *a, **k: refuse(p) if within(p) and flags & os.O_CREAT
                        else open_(p, flags, *a, **k))
    monkeypatch.setattr(os, "access", lambda p, mode, **k: not (mode & os.W_OK and (
        within(p) or Path(os.path.abspath(p)) == folder)) and access(p, mode, **k))


def no_space(fd):
    raise OSError(errno.ENOSPC, "No space left on device")


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, every link with its target (lock files aside)."""
    return {str(p): os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
            for p in folder.rglob("*") if (p.is_symlink() or p.is_file()) and p.name != "run.lock"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_is_a_one_line_error_and_leaves_the_disk_as_it_was(case, run_copy, tmp_path,
                                                                        monkeypatch, capsys):
    args, message = CASES[case]
    names = {n for a in args + [message] for n in MAKE if f"{{{n}}}" in a}
    paths = {n: str(MAKE[n](tmp_path, run_copy)) for n in sorted(names)}
    if "read-only" in case:
        deny_writes(monkeypatch, Path(paths["readonly"] if "readonly" in paths else paths["run"]))
    if "full disk" in case:
        monkeypatch.setattr(os, "fsync", no_space)
    before = files_under(tmp_path)
    with RunLock(run_copy) if "locked" in case else contextlib.nullcontext():
        code = cli.main([a.format(**paths) for a in args])
    err = capsys.readouterr().err
    *progress, last = err.splitlines()  # progress lines may come first (baselines)
    assert code == 2 and last.startswith(f"discovery {args[0]}: error: "), err
    assert "Traceback" not in err and not any(line.startswith("discovery") for line in progress)
    assert message.format(**paths, pid=os.getpid()) in last
    assert files_under(tmp_path) == before


def test_export_force_replaces_a_link_and_leaves_what_it_points_to(stopped_run, tmp_path, capsys):
    target, link = _write(tmp_path / "precious.py", b"mine"), tmp_path / "link.py"
    link.symlink_to(target)
    assert cli.main(["export", str(stopped_run), "-o", str(link)]) == 2
    assert cli.main(["export", str(stopped_run), "-o", str(link), "--force"]) == 0
    assert not link.is_symlink() and link.read_text().startswith('"""') and target.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.py", "precious.py"]


def test_the_matrix_covers_every_subcommand_that_reads_or_writes_files():
    assert {args[0] for args, _ in CASES.values()} == {"run", "export", "compare", "inspect", "baselines"}
    assert len(CASES) >= 25


def test_ctrl_c_twice_while_jax_loads_is_an_interruption_not_a_traceback():
    proc = subprocess.Popen([sys.executable, "-m", "discovery.cli", "tasks"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    maps = Path(f"/proc/{proc.pid}/maps")
    while proc.poll() is None and "_multiarray_umath" not in maps.read_text():
        time.sleep(0.01)  # until NumPy's C extension is loading: the subcommands' imports
    for _ in range(2):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
    err = proc.communicate(timeout=60)[1]
    assert "Traceback" not in err and err == "discovery: interrupted\n"
    assert proc.returncode == 130
