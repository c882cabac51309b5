"""Evolution runs: launching and resuming (``launch``), the run folder (``store``), progress lines."""

from discovery.runs.launch import Run, load_run, report, run

__all__ = ["Run", "load_run", "report", "run"]
