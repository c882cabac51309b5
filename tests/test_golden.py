"""Golden run: a tiny run's hall of fame, its pick and its rank-1 export, pinned.

Refactors must not change what a run finds. The snapshot in
``tests/golden/tiny_run.json`` was recorded before the last intended change of
behaviour; when a change *should* alter results, regenerate it with
``GOLDEN_UPDATE=1 pytest tests/test_golden.py`` and say why in the commit.

What must match, and how (``differences``):

* **exactly**: the structure (keys, lengths, order), every rule, key and name, which entry
  is the pick, and the exported source of rank 1;
* **within ``TOLERANCE``**: the measured numbers (``MEASURED``: fitnesses, per-task ratios,
  held-out scores, the best fitness per generation).

XLA compiles for the host's instruction set, so a float32 training differs in its last bits
between CPUs; the numbers are stored rounded to 4 decimals, so such a difference can move one
by a unit of its last decimal where it sits on a rounding boundary. Measured on this
project's 2-core machine (AVX-512), the tiny run compiled with ``--xla_cpu_max_isa`` at
``SSE4_2``, ``AVX``, ``AVX2`` and unrestricted: one number of the snapshot's 30 moves, by
exactly 1e-4 (``quadratic_ill`` of rank 1: -0.0406 with AVX2 and AVX-512, -0.0405 with AVX and
SSE4_2; a machine with AVX2 and no AVX-512 gave -0.0405 too). ``TOLERANCE`` is that one unit:
a last-bit difference can move a rounded number by no more, while a change of behaviour moves
a rule, a key, the pick or the export (exact), or a number by more
(``test_the_golden_check_fails_on_a_change_of_behaviour``). ``make test-isa`` runs these tests
compiled for older CPUs.

On one machine, in one process, the same config and seed give the same run bit for bit, and a
resumed run equals an uninterrupted one exactly (``tests/test_runs.py``,
``tests/test_run_folder.py``).
"""

import copy
import json
import math
import os
from pathlib import Path

import pytest

import dsl
from discovery.analysis import export, inspection

GOLDEN = Path(__file__).parent / "golden" / "tiny_run.json"
TOLERANCE = 1e-4  # one unit of the stored numbers' last decimal (measured: see above)
MEASURED = ("fitness", "held_out", "tasks", "best_per_generation")  # numbers a CPU may move


def snapshot(run) -> dict:
    return {
        "hall_of_fame": [
            {"rule": dsl.to_dict(c.rule), "fitness": c.fitness, "key": c.key,
             "tasks": {t: v.ratio for t, v in c.tasks.items()},
             "held_out": c.held_out.fitness if c.held_out else None}
            for c in run.hall_of_fame
        ],
        "pick": inspection.pick(run),
        "best_per_generation": [r.best for r in run.logbook],
        "export_rank1": export.render(run.candidate(1).simplified, "py", "golden",
                                      lr=run.candidate(1).recommended_lr).decode(),
    }


def differences(got, expected, where: str = "", measured: bool = False) -> list[str]:
    """Where ``got`` departs from ``expected``: structure and non-numbers exactly, numbers under
    a ``MEASURED`` key within ``TOLERANCE``, every other number exactly. Empty when they match."""
    if isinstance(expected, dict) and isinstance(got, dict):
        if sorted(got) != sorted(expected):
            return [f"{where or '/'}: keys {sorted(got)} != {sorted(expected)}"]
        return [d for k in expected
                for d in differences(got[k], expected[k], f"{where}/{k}", measured or k in MEASURED)]
    if isinstance(expected, list) and isinstance(got, list):
        if len(got) != len(expected):
            return [f"{where}: {len(got)} items != {len(expected)}"]
        return [d for i, (g, e) in enumerate(zip(got, expected)) for d in differences(g, e, f"{where}[{i}]", measured)]
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (got, expected))
    if measured and numbers and math.isfinite(expected):
        return [] if abs(got - expected) <= TOLERANCE * (1 + 1e-6) else [f"{where}: {got} != {expected} ± {TOLERANCE}"]
    return [] if got == expected and type(got) is type(expected) else [f"{where}: {got!r} != {expected!r}"]


@pytest.fixture(scope="module")
def golden():
    return json.loads(GOLDEN.read_text())


def test_tiny_run_reproduces_the_golden_hall_of_fame(tiny_run, golden):
    got = snapshot(tiny_run)
    if os.environ.get("GOLDEN_UPDATE"):
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        golden = got
    assert differences(got, golden) == []


def _perturbed(golden: dict, change) -> dict:
    out = copy.deepcopy(golden)
    change(out)
    return out


def _constant_in(node) -> list:
    """The (container, key) places of the numbers in a stored rule's expressions."""
    places = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for k, v in items:
        if isinstance(v, float) and k != "eps":
            places.append((node, k))
        places += _constant_in(v)
    return places


def test_the_golden_check_fails_on_a_change_of_behaviour(golden):
    assert differences(copy.deepcopy(golden), golden) == []
    within = _perturbed(golden, lambda g: g["hall_of_fame"][0]["tasks"].update(
        {t: v + TOLERANCE for t, v in g["hall_of_fame"][0]["tasks"].items()}))
    assert differences(within, golden) == []  # a last-decimal flip is the CPU's, not a change

    def scale_a_constant(g):  # one rule's behaviour changes: one of its constants, by 1%
        container, key = _constant_in(g["hall_of_fame"][1]["rule"])[0]
        container[key] *= 1.01

    changes = {
        "a constant of one rule": scale_a_constant,
        "a task's ratio beyond one unit": lambda g: g["hall_of_fame"][0]["tasks"].update(
            {t: v + 2 * TOLERANCE for t, v in g["hall_of_fame"][0]["tasks"].items()}),
        "a fitness": lambda g: g["hall_of_fame"][2].update(fitness=g["hall_of_fame"][2]["fitness"] - 0.01),
        "the order of two entries": lambda g: g["hall_of_fame"].insert(0, g["hall_of_fame"].pop(1)),
        "the pick": lambda g: g.update(pick=g["pick"] % len(g["hall_of_fame"]) + 1),
        "a key": lambda g: g["hall_of_fame"][0].update(key=g["hall_of_fame"][0]["key"][::-1]),
        "the export": lambda g: g.update(export_rank1=g["export_rank1"].replace("0.9", "0.8", 1)),
        "an entry dropped": lambda g: g["hall_of_fame"].pop(),
    }
    for what, change in changes.items():
        assert differences(_perturbed(golden, change), golden), what
