"""Reliability figures: fuzzed rule text and bytes, checkpoint bit flips, kill/resume trials.

Each attack prints how many inputs it tried and how many did what they must:

* ``parse``: mutated rule texts (library rules with characters, keywords and look-alike
  Unicode letters spliced in) only ever give a ``DSLError`` or a rule whose text and msgpack
  read back as itself;
* ``loads``: mutated msgpack rules (bit flips, cuts, names swapped for keywords and
  look-alikes) likewise;
* ``names``: random rules named from a pool of awkward names agree in all five forms
  (text, msgpack, native, interpreter, exported module: ``tests/agreement.py``);
* ``flips``: one flipped bit in every byte of a checkpoint is caught, and the previous
  checkpoint used;
* ``trials``: ``discovery run`` killed (SIGKILL at a random time, Ctrl-C twice, a file size
  limit that fills the "disk", a second process resuming at once), then resumed: the same
  hall of fame as a run never interrupted;
* ``compilations``: every task of the suite trained by four Optax baselines (Adam, SGD,
  momentum, Lion) and by DSL Adam on the interpreter, each twice (n and n + 1 learning rates: two independent compilations) and
  compared on the shared lanes (``training.consistency``), plus issue 21's reproduction
  (``softmax_regression`` at its default size, six optimizers, grids of 5 to 8 lrs): how many
  compilations were checked, how many disagreed, how many computed a NaN initial loss.

Run: ``JAX_PLATFORMS=cpu python -m tests.benchmarks.bench_reliability [--quick] [--parts trials]``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import msgpack
import numpy as np

import dsl
from discovery import config, runs, tasks
from discovery.analysis.baselines import OPTIMIZERS
from discovery.runs.store import CHECKPOINT, PREVIOUS, CheckpointError, RunStore, RunWarning
from discovery.training import consistency, trainer
from tests.agreement import assert_evaluators_agree
from tests.test_names import ACCEPTED, NOT_NAMES, RESERVED
from tests.tiny import tiny

ROOT = Path(__file__).parents[2]
PARTS = ("parse", "loads", "names", "flips", "trials", "compilations")
SPLICES = ["None", "def", "lambda", "match", "\uff4d", "\u00b5", "\ufb01", "e\u0301", "(", ")", ":", "=",
           "**", "\n", "    ", "#", "1e400", "nan", "_", "\x00", "\u2028", "'", "import os", "x" * 70]


def mutate_text(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(text) + 1)
        j = min(len(text), i + rng.choice([0, 0, 1, 2, 5]))
        text = text[:i] + rng.choice(SPLICES + [chr(rng.randrange(32, 0x3000))]) + text[j:]
    return text


def mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw)
    kind = rng.randrange(4)
    if kind == 0:
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == 1:
        data = data[: rng.randrange(len(data))]
    elif kind == 2:
        i = rng.randrange(len(data))
        data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    else:
        doc = msgpack.unpackb(raw)
        names = [n for n, _ in doc["params"]] + [t for t, _ in doc["body"]]
        if names:
            old, new = rng.choice(names), rng.choice(list(NOT_NAMES) + list(RESERVED))
            return msgpack.packb(json.loads(json.dumps(doc).replace(f'"{old}"', json.dumps(new))))
    return bytes(data)


def accepted_reads_back(rule: dsl.Rule) -> bool:
    return dsl.parse(rule.to_text()) == rule and dsl.loads(dsl.dumps(rule)) == rule


def fuzz(kind: str, n: int, seed: int) -> tuple[int, int, int]:
    """(tried, refused with DSLError, accepted and read back); anything else raises."""
    rng = random.Random(seed)
    library = [dsl.library.get(name) for name in dsl.library.names()]
    refused = accepted = 0
    for _ in range(n):
        rule = rng.choice(library)
        try:
            got = (dsl.parse(mutate_text(rng, rule.to_text())) if kind == "parse"
                   else dsl.loads(mutate_bytes(rng, dsl.dumps(rule))))
        except dsl.DSLError:
            refused += 1
            continue
        assert accepted_reads_back(got), got
        accepted += 1
    return n, refused, accepted


def names(n: int, seed: int) -> tuple[int, int, int]:
    """Rules named from the awkward pool: (tried, refused, agreeing in all five forms)."""
    rng = random.Random(seed)
    pool = list(ACCEPTED) * 3 + list(NOT_NAMES) + list(RESERVED)
    refused = agreed = 0
    for _ in range(n):
        chosen = rng.sample(pool, 3)
        text = (f"def {rng.choice(pool)}({chosen[0]}=0.5):\n"
                f"    {chosen[1]} = {chosen[0]} * {chosen[1]} + g\n"
                f"    {chosen[2]} = sign({chosen[1]}) * sqrt(abs(g) + {chosen[2]} * t)\n"
                f"    return {chosen[2]} - {chosen[1]}\n")
        try:
            rule = dsl.parse(text)
        except dsl.DSLError:
            refused += 1
            continue
        assert accepted_reads_back(rule)
        assert_evaluators_agree(rule)
        agreed += 1
    return n, refused, agreed


def flips(folder: Path) -> tuple[int, int]:
    """A bit flipped in every byte of the checkpoint: (flips, caught and the previous used)."""
    store = RunStore(folder)
    current = folder / CHECKPOINT
    good, previous = current.read_bytes(), msgpack.packb(_state(folder / PREVIOUS))
    caught = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunWarning)
        for i in range(len(good)):
            flipped = bytearray(good)
            flipped[i] ^= 1 << (i % 8)
            current.write_bytes(bytes(flipped))
            caught += msgpack.packb(store.read_checkpoint().to_dict()) == previous
    current.write_bytes(good)
    return len(good), caught


def _state(file: Path) -> dict:
    return msgpack.unpackb(msgpack.unpackb(file.read_bytes())["payload"], strict_map_key=False)


def _cli(args: list[str], file_size_kib: int | None = None) -> subprocess.Popen:
    """``discovery ARGS`` in a new process, its files limited to ``file_size_kib`` (``ulimit -f``)."""
    command = [sys.executable, "-m", "discovery.cli", *args]
    if file_size_kib:
        command = ["bash", "-c", f'ulimit -f {file_size_kib} && exec "$@"', "bash", *command]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def _hall(run: runs.Run) -> list:
    return [(c.fingerprint, c.fitness) for c in run.hall_of_fame]


def _reached(out: Path, generation: int, proc: subprocess.Popen) -> Path | None:
    """The run folder once its checkpoint reaches ``generation`` (or the process ended)."""
    while True:
        folder = next(out.glob("*"), None)
        if folder is not None and (folder / CHECKPOINT).exists():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RunWarning)
                try:
                    if RunStore(folder).read_checkpoint().search.generation >= generation:
                        return folder
                except CheckpointError:
                    pass
        if proc.poll() is not None:
            return folder
        time.sleep(0.05)


def trial(kind: str, cfg_file: Path, out: Path, log_size: int, rng: random.Random) -> tuple[bool, str]:
    """Interrupt one run as ``kind`` says, then resume it; (ok so far, what was printed)."""
    limit = log_size // 2048 if kind == "disk full" else None  # KiB: half the log
    proc = _cli(["run", str(cfg_file), "--out", str(out)], limit)
    folder = _reached(out, rng.randint(2, 9), proc)
    if kind == "kill -9":
        proc.kill()
    elif kind == "ctrl-c twice":
        proc.send_signal(signal.SIGINT)
        time.sleep(rng.uniform(0.0, 0.5))
        proc.send_signal(signal.SIGINT)
    elif kind == "concurrent resume":
        second = _cli(["run", "--resume", str(folder)])
        err = second.communicate()[1]
        refused = second.returncode == 2 and f"in use by process {proc.pid}" in err
        return refused and proc.wait() == 0, " ".join(err.split())
    err = proc.communicate()[1]
    said = [line for line in err.splitlines() if line.startswith("discovery run: ")]
    if "Traceback" in err or len(said) > 1 or (kind != "kill -9" and proc.returncode not in (2, 130)):
        return False, err[-300:]
    resumed = _cli(["run", "--resume", str(folder)])
    resumed.wait()
    ending = said[0] if said else "killed" if kind == "kill -9" else "stopped after the generation"
    return resumed.returncode == 0, f"exit {proc.returncode}: {ending}"


def trials(n: int, seed: int) -> list[tuple[str, bool, str]]:
    rng = random.Random(seed)
    cfg = tiny(**{"run.generations": 12, "run.population": 4})
    work = Path(tempfile.mkdtemp(prefix="bench-reliability-"))
    cfg_file = work / "run.toml"
    cfg_file.write_text(config.dumps(cfg))
    uninterrupted = runs.run(cfg, out=work / "reference", progress=False)
    reference, log_size = _hall(uninterrupted), (uninterrupted.path / "log.jsonl").stat().st_size
    kinds = ["kill -9", "ctrl-c twice", "disk full", "concurrent resume"]
    results = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        out = work / f"trial-{i}"
        ok, what = trial(kind, cfg_file, out, log_size, rng)
        if ok:
            ok = _hall(runs.load_run(next(out.glob("*")))) == reference
        results.append((kind, ok, what))
        print(f"  trial {i + 1:2} {kind:18} {'ok' if ok else 'FAILED'}  {what[:110]}", flush=True)
    shutil.rmtree(work)
    return results


def compilations(size: str, steps: int) -> tuple[int, int, int]:
    """(compilations checked, pairs that disagreed, NaN initial losses); prints each pair."""
    panel = {name: spec.optimizer for name, spec in OPTIMIZERS.items()}
    checked_panel = ("adam", "sgd", "momentum", "lion")
    adam = dsl.library.get("adam")
    checked = disagreed = nans = 0

    def check(optimizer, task, lrs, seeds, n_steps, name, path="interpreter"):
        nonlocal checked, disagreed, nans
        try:
            a = consistency.compare_compilations(optimizer, task, lrs, seeds, n_steps, path=path, name=name)
        except trainer.ExecutableError as e:
            checked, nans = checked + 2, nans + 1
            print(f"  {task.name:22} {name:14} NaN initial loss: {e}", flush=True)
            return
        checked += a.compilations
        disagreed += not a.agree
        if not a.agree:
            print(f"  {task.name:22} {name:14} DISAGREE initial {a.worst_initial:.1e} curve "
                  f"{a.worst_curve:.1e}", flush=True)

    for name in tasks.names():
        task = tasks.get(name, size)
        for oname in checked_panel:
            check(panel[oname], task, [1e-4, 1e-3, 1e-2, 1e-1], [0, 1], steps, oname)
        check(adam, task, [1e-4, 1e-3, 1e-2, 1e-1], [0, 1], steps, "dsl adam")
        print(f"  {name:22} checked so far: {checked} compilations, {disagreed} disagreed, {nans} NaN",
              flush=True)
    softmax = tasks.get("softmax_regression", "default")
    for n_lrs in range(5, 9):  # issue 21's reproduction, each grid with one more lr beside it
        for oname in ("adam", "adamw", "sgd", "adagrad", "rmsprop", "nesterov"):
            check(panel[oname], softmax, list(np.logspace(-4, 0, n_lrs)), [0, 1, 2], 300, oname)
    return checked, disagreed, nans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the inputs, 4 trials")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {PARTS}")
    parser.add_argument("--size", default="small", help="task size of the compilations part")
    parser.add_argument("--steps", type=int, default=100, help="training steps of the compilations part")
    args = parser.parse_args()
    parts = args.parts.split(",")
    scale = 10 if args.quick else 1
    for kind, n in (("parse", 40_000 // scale), ("loads", 30_000 // scale)):
        if kind in parts:
            tried, refused, accepted = fuzz(kind, n, args.seed)
            print(f"{kind:6} {tried:6} fuzzed inputs: {refused} DSLError, {accepted} accepted and "
                  "read back as themselves, 0 other outcomes")
    if "names" in parts:
        tried, refused, agreed = names(400 // scale, args.seed)
        print(f"names  {tried:6} rules with awkward names: {refused} refused, {agreed} agree in all "
              "five forms")
    if "flips" in parts:
        with tempfile.TemporaryDirectory() as folder:
            run_dir = runs.run(tiny(), out=folder, progress=False, stop_after=2).path
            n, caught = flips(run_dir)
        print(f"flips  {n:6} one-bit flips, one per checkpoint byte: {caught} caught, previous "
              "checkpoint used")
    if "trials" in parts:
        results = trials(4 if args.quick else 12, args.seed)
        good = sum(ok for _, ok, _ in results)
        print(f"trials {len(results):6} kill/interrupt/disk-full/concurrent trials: {good} ended with "
              "the uninterrupted run's hall of fame (the concurrent one refusing the second process)")
    if "compilations" in parts:
        checked, disagreed, nans = compilations(args.size, args.steps)
        print(f"compilations {checked:6} compilations of the suite checked in pairs: {disagreed} pairs "
              f"disagreed on their shared lanes, {nans} computed a NaN initial loss")


if __name__ == "__main__":
    main()
