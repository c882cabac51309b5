"""Run folders written by older code: read, upgraded to the live records, resumed exactly."""

import shutil
from pathlib import Path

from discovery import runs
from tests import test_golden as golden

# The tiny run (tests/tiny.py) stopped after 1 of its 3 generations by commit a830404, before
# the stored records carried a format version (config, log and checkpoints as it wrote them).
OLD_RUN = Path(__file__).parent / "fixtures" / "old_run_a830404"


def outcome(run: runs.Run):
    """What must be identical between equivalent runs (timings excluded)."""
    return (
        [(c.fingerprint, c.fitness, c.id, c.held_out.fitness) for c in run.hall_of_fame],
        [(c.fingerprint, c.fitness, c.id) for c in run.population],
        [(r.gen, r.best, r.median, r.trained, r.cache_hits) for r in run.logbook],
    )


def test_a_checkpoint_written_by_older_code_resumes_exactly(tiny_run, tmp_path):
    old = Path(shutil.copytree(OLD_RUN, tmp_path / "old"))
    resumed = runs.run(resume=old, progress=False)
    assert resumed.generation == 3 and resumed.summary.status == "complete"
    assert outcome(resumed) == outcome(tiny_run)  # exactly, on this machine (its numbers are this one's)
    assert golden.snapshot(resumed) == golden.snapshot(tiny_run)
