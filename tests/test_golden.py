"""Golden run: a tiny run's hall of fame and its rank-1 export, pinned.

Refactors must not change what a run finds. The snapshot in
``tests/golden/tiny_run.json`` was recorded before the last intended change of
behaviour; when a change *should* alter results, regenerate it with
``GOLDEN_UPDATE=1 pytest tests/test_golden.py`` and say why in the commit.
"""

import json
import os
from pathlib import Path

import discovery
import dsl
from discovery.analysis import export
from tests.tiny import tiny

GOLDEN = Path(__file__).parent / "golden" / "tiny_run.json"


def snapshot(run) -> dict:
    return {
        "hall_of_fame": [
            {"rule": dsl.to_dict(c.rule), "fitness": c.fitness, "key": c.key,
             "tasks": {t: v.ratio for t, v in c.tasks.items()},
             "held_out": c.held_out.fitness if c.held_out else None}
            for c in run.hall_of_fame
        ],
        "best_per_generation": [r["best"] for r in run.logbook],
        "export_rank1": export.render(run.candidate(1).simplified, "py", "golden",
                                      lr=run.candidate(1).recommended_lr).decode(),
    }


def test_tiny_run_reproduces_the_golden_hall_of_fame(tmp_path):
    run = discovery.run(tiny(), out=tmp_path, progress=False)
    got = snapshot(run)
    if os.environ.get("GOLDEN_UPDATE"):
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert got == expected
