"""The progress bar (tqdm): count, status text, ETA from computed (not reused) units."""

import io

from tqdm import std

from discovery.runs import progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _lines(out: io.StringIO) -> list[str]:
    return [line for line in out.getvalue().replace("\r", "\n").splitlines() if line.strip()]


def test_the_eta_counts_only_computed_units(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(std, "time", clock)
    out = io.StringIO()
    with progress.Progress(4, "work", stream=out) as bar:
        bar.advance(2, "seed 0 loaded", reused=True)
        clock.now = 10.0
        bar.advance(1, "seed 1 done")
    first, loaded, computed = _lines(out)[:3]
    assert first.startswith("work:") and "0/4" in first
    assert "2/4 [00:00<?" in loaded and "seed 0 loaded" in loaded  # nothing computed yet: no rate
    assert "3/4 [00:10<00:10" in computed and "seed 1 done" in computed  # 10 s per computed unit, one left


def test_units_done_before_a_resume_are_not_in_the_rate(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(std, "time", clock)
    out = io.StringIO()
    with progress.Progress(5, "run x", stream=out) as bar:
        bar.done = 2  # generations a resumed run found done
        clock.now = 10.0
        bar.advance(status="best -0.100 median +0.200 vs Adam | 3 niches")
    assert bar.done == 3
    last = _lines(out)[-1]
    assert "3/5 [00:10<00:20" in last and "best -0.100 median +0.200 vs Adam | 3 niches" in last


def test_advancing_by_zero_shows_the_status_and_never_passes_the_total():
    out = io.StringIO()
    with progress.Progress(2, "work", stream=out) as bar:
        bar.advance(0, "training rank 1")
        assert "0/2" in _lines(out)[-1] and "training rank 1" in _lines(out)[-1]
        bar.advance(5)
        assert bar.done == 2
