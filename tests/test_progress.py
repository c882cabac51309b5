"""The progress line: count, ETA from computed (not reused) units."""

import io

from discovery.runs import progress


def test_the_eta_counts_only_computed_units(monkeypatch):
    clock = iter([0.0, 0.0, 0.0, 10.0])  # start, first line, two reused units, one computed in 10 s
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    out = io.StringIO()
    with progress.Progress(4, "work", stream=out) as bar:
        bar.advance(2, "seed 0 loaded", reused=True)
        bar.advance(1, "seed 1 done")
    first, loaded, computed = out.getvalue().splitlines()
    assert "0/4" in first and "ETA     ?" in first
    assert "2/4" in loaded and "ETA     ?" in loaded  # nothing computed yet: no rate to guess from
    assert "3/4" in computed and "ETA    10s" in computed  # 10 s per computed unit, one left (not 3.3 s)
