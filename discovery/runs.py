"""Launching, resuming and loading evolution runs.

``run(config)`` creates ``runs/<run-id>/`` and evolves, checkpointing after
every generation; ``run(resume=path)`` continues from the last checkpoint and
gives the same result as a run that was never interrupted; ``load_run(path)``
reads a finished or running run without executing anything from it.
"""

from __future__ import annotations

import dataclasses
import io
import signal
import sys
import time
from pathlib import Path

import dsl
from discovery import config as config_lib
from discovery.backends import make_backend
from discovery.fitness import Evaluator
from discovery.progress import Progress
from discovery.search.engine import Evolution, pareto_front
from discovery.store import RunStore
from discovery.tasks import Architecture


@dataclasses.dataclass
class Run:
    """A run folder as Python data: config, population, hall of fame, logbook, summary."""

    path: Path
    config: dict
    generation: int
    population: list[dict]
    hall_of_fame: list[dict]
    logbook: list[dict]
    summary: dict | None

    def rule(self, rank: int = 1) -> dsl.Rule:
        """The hall-of-fame rule at 1-based ``rank``."""
        if not 1 <= rank <= len(self.hall_of_fame):
            raise ValueError(f"rank {rank} out of range: the hall of fame has {len(self.hall_of_fame)} rules")
        return dsl.from_dict(self.hall_of_fame[rank - 1]["rule"])

    def plot(self, kind: str, **kwargs):
        """A matplotlib Figure of this run: "fitness", "curves" or "lr" (``discovery.plots``)."""
        from discovery import plots

        return plots.figure(self, kind, **kwargs)


def load_run(path: str | Path) -> Run:
    """Read a run folder (finished, interrupted or still running)."""
    store = RunStore.open(path)
    state = store.read_checkpoint()
    summary = store.read_summary()
    hall = (summary or {}).get("hall_of_fame") or (state or {}).get("hall_of_fame", [])
    return Run(
        path=store.path,
        config=store.config(),
        generation=(state or {}).get("generation", 0),
        population=(state or {}).get("population", []),
        hall_of_fame=hall,
        logbook=(state or {}).get("logbook", []),
        summary=summary,
    )


class _StopFlag:
    """First Ctrl-C: finish the generation, checkpoint, stop. Second: stop now."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, *_):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupt: finishing this generation and checkpointing (Ctrl-C again to abort)",
              file=sys.stderr)

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)


def run(
    config: dict | None = None,
    out: str | Path = "runs",
    resume: str | Path | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> Run:
    """Run (or resume) an evolution; return the run as data.

    ``stop_after`` ends this process after that many generations, as an
    interruption would (used to test resuming).
    """
    if resume is not None:
        store = RunStore.open(resume)
        config = store.config()
        state = store.read_checkpoint()
    else:
        if config is None:
            raise ValueError("pass a config (discovery.config.load(...)) or resume=RUN_DIR")
        config_lib.validate(config)
        store, state = None, None
    evaluator = Evaluator(config, reference=(state or {}).get("reference"))
    backend = make_backend(config["evaluation"]["backend"], evaluator)  # fails early if unreachable
    try:
        if store is None:
            store = RunStore.create(out, config)
            store.append_log([{"kind": "start", "config": config, "time": time.time()}])
        else:
            store.truncate_log(state["log_offset"] if state else 0)
            store.append_log([{"kind": "resume", "generation": (state or {}).get("generation", 0),
                               "time": time.time()}])
        status = _evolve(config, store, evaluator, backend, state, progress, stop_after)
    finally:
        backend.close()
    if status == "complete":
        _finish(store, evaluator, progress)
    return load_run(store.path)


def _evolve(config, store, evaluator, backend, state, progress, stop_after) -> str:
    if config["coevolution"]["mode"] == "rules" and "search" not in evaluator.reference:
        reference = evaluator.prepare("search")
        store.append_log([{"kind": "calibration", "split": "search", "tasks": reference}])
    evo = Evolution(config, backend.map, state)
    total = config["run"]["generations"]
    bar = Progress(total, f"run {store.path.name}") if progress else None
    if bar:
        bar.done = evo.generation
    done_here = 0
    with _StopFlag() as stop:
        while evo.generation < total:
            records = evo.step()
            offset = store.append_log([{"kind": "candidate", **r} for r in records]
                                      + [{"kind": "generation", **evo.logbook[-1]}])
            store.write_checkpoint({**evo.state(), "reference": evaluator.reference, "log_offset": offset})
            done_here += 1
            if bar:
                last = evo.logbook[-1]
                unit = "vs Adam" if config["coevolution"]["mode"] == "rules" else "log10 loss"
                bar.advance(status=f"best {last['best']:+.3f} median {last['median']:+.3f} {unit} "
                                   f"| cache {last['cache_hits']}/{len(records)} "
                                   f"| {last['candidates_per_s']:.1f} cand/s")
            if stop.requested or (stop_after is not None and done_here >= stop_after):
                store.append_log([{"kind": "interrupted", "generation": evo.generation}])
                return "interrupted"
    return "complete"


def _finish(store: RunStore, evaluator: Evaluator, progress: bool = True) -> None:
    """Re-check the hall of fame on held-out tasks (funnel) and write the summary."""
    state = store.read_checkpoint()
    hall = state["hall_of_fame"]
    if evaluator.held_out_tasks and evaluator.config["coevolution"]["mode"] == "rules":
        stream = None if progress else io.StringIO()
        with Progress(1 + len(hall), "held-out re-check", stream=stream) as bar:
            bar.advance(0, status=f"Adam and the cost model on {len(evaluator.held_out_tasks)} tasks")
            structures = {dsl.template(dsl.from_dict(r["rule"]))[0] for r in hall}
            reference = evaluator.prepare("held_out", new_structure_rate=len(structures) / max(len(hall), 1))
            store.append_log([{"kind": "calibration", "split": "held_out", "tasks": reference}])
            for rank, record in enumerate(hall, start=1):
                bar.advance(status=f"hall of fame #{rank}")
                record["held_out"] = evaluator.evaluate(dsl.from_dict(record["rule"]), "held_out")
            bar.advance(status="done")
    everyone = list({r["key"]: r for r in _candidates(store)}.values())
    store.write_summary({
        "status": "complete",
        "generations": state["generation"],
        "totals": state["totals"],
        "reference": evaluator.reference,
        "hall_of_fame": hall,
        "pareto_front": pareto_front(everyone),
    })


def _candidates(store: RunStore) -> list[dict]:
    return [e for e in store.read_log() if e.get("kind") == "candidate"]


def report(result: Run, top: int = 5) -> str:
    """The top hall-of-fame rules: fitness vs Adam per task, complexity, simplified text."""
    status = (result.summary or {}).get("status", "interrupted: resume with --resume")
    lines = [f"run {result.path} ({status}, {result.generation} generations)",
             "fitness = mean log10(tuned score / Adam's) over search tasks; negative beats Adam"]
    if result.config["coevolution"]["mode"] != "rules":
        lines[1] = "fitness = log10(tuned held-out loss) of the (rule, architecture) pair; lower is better"
    for rank, record in enumerate(result.hall_of_fame[:top], start=1):
        per_task = ", ".join(
            f"test loss {v['test_loss']:.4g}, accuracy {v['accuracy']:.3f} at lr {v['tuned_lr']:.3g}"
            if "test_loss" in v else f"{k} {v['ratio']:+.2f}"
            for k, v in record["tasks"].items())
        if record.get("architecture"):
            per_task += " | " + Architecture.from_dict(record["architecture"]).summary()
        held = record.get("held_out")
        held_text = f" | held-out {held['fitness']:+.3f}" if held else ""
        lines.append(f"\n#{rank} fitness {record['fitness']:+.3f}{held_text} | complexity "
                     f"{record['complexity']} | {per_task}")
        lines += ["    " + line for line in record["text"].rstrip().splitlines()]
    return "\n".join(lines)
