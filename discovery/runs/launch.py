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
from discovery.config import Config
from discovery.evaluation.backends import make_backend
from discovery.evaluation.evaluator import Evaluator, references_from_dict, references_to_dict
from discovery.records import Candidate, pareto_front
from discovery.runs.progress import Progress
from discovery.runs.store import RunStore
from discovery.search.engine import Evolution


@dataclasses.dataclass(frozen=True)
class Summary:
    """``summary.json``: written when a run completes (hall of fame with held-out scores)."""

    status: str
    generations: int
    totals: dict[str, int]
    reference: dict
    hall_of_fame: list[Candidate]
    pareto_front: list[Candidate]

    def to_dict(self) -> dict:
        return {"status": self.status, "generations": self.generations, "totals": self.totals,
                "reference": self.reference,
                "hall_of_fame": [c.to_dict() for c in self.hall_of_fame],
                "pareto_front": [c.to_dict() for c in self.pareto_front]}

    @classmethod
    def from_dict(cls, data: dict) -> Summary:
        return cls(status=data["status"], generations=data["generations"], totals=data["totals"],
                   reference=data["reference"],
                   hall_of_fame=[Candidate.from_dict(c) for c in data["hall_of_fame"]],
                   pareto_front=[Candidate.from_dict(c) for c in data["pareto_front"]])


@dataclasses.dataclass
class Run:
    """A run folder as Python data: config, population, hall of fame, logbook, summary."""

    path: Path
    config: Config
    generation: int
    population: list[Candidate]
    hall_of_fame: list[Candidate]
    logbook: list[dict]
    summary: Summary | None

    def rule(self, rank: int = 1) -> dsl.Rule:
        """The hall-of-fame rule at 1-based ``rank``."""
        return self.candidate(rank).rule

    def candidate(self, rank: int = 1) -> Candidate:
        """The hall-of-fame candidate at 1-based ``rank``."""
        if not 1 <= rank <= len(self.hall_of_fame):
            raise ValueError(f"rank {rank} out of range: the hall of fame has {len(self.hall_of_fame)} rules")
        return self.hall_of_fame[rank - 1]


def load_run(path: str | Path) -> Run:
    """Read a run folder (finished, interrupted or still running)."""
    store = RunStore.open(path)
    state = store.read_checkpoint() or {}
    summary_data = store.read_summary()
    summary = None if summary_data is None else Summary.from_dict(summary_data)
    hall = summary.hall_of_fame if summary else [Candidate.from_dict(c) for c in state.get("hall_of_fame", [])]
    return Run(
        path=store.path,
        config=store.config(),
        generation=state.get("generation", 0),
        population=[Candidate.from_dict(c) for c in state.get("population", [])],
        hall_of_fame=hall,
        logbook=state.get("logbook", []),
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
    config: Config | None = None,
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
        store, state = None, None
    reference = None if state is None else references_from_dict(state["reference"])
    evaluator = Evaluator(config, reference)
    backend = make_backend(config.evaluation.backend, evaluator)  # fails early if unreachable
    try:
        if store is None:
            store = RunStore.create(out, config)
            store.append_log([{"kind": "start", "config": config.to_dict(), "time": time.time()}])
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
    if not config.evolves_architectures and "search" not in evaluator.reference:
        reference = evaluator.prepare("search")
        store.append_log([{"kind": "calibration", "split": "search",
                           "tasks": {t: r.to_dict() for t, r in reference.items()}}])
    evo = Evolution(config, backend.map, state)
    total = config.run.generations
    bar = Progress(total, f"run {store.path.name}") if progress else None
    if bar:
        bar.done = evo.generation
    done_here = 0
    unit = "log10 loss" if config.evolves_architectures else "vs Adam"
    with _StopFlag() as stop:
        while evo.generation < total:
            candidates = evo.step()
            offset = store.append_log([{"kind": "candidate", **c.to_dict()} for c in candidates]
                                      + [{"kind": "generation", **evo.logbook[-1]}])
            store.write_checkpoint({**evo.state(), "reference": references_to_dict(evaluator.reference),
                                    "log_offset": offset})
            done_here += 1
            if bar:
                last = evo.logbook[-1]
                shapes = f" | {last['compiled_shapes']} shapes" if config.evolves_architectures else ""
                bar.advance(status=f"best {last['best']:+.3f} median {last['median']:+.3f} {unit} "
                                   f"| cache {last['cache_hits']}/{len(candidates)} "
                                   f"| {last['candidates_per_s']:.1f} cand/s{shapes}")
            if stop.requested or (stop_after is not None and done_here >= stop_after):
                store.append_log([{"kind": "interrupted", "generation": evo.generation}])
                return "interrupted"
    return "complete"


def _finish(store: RunStore, evaluator: Evaluator, progress: bool = True) -> None:
    """Re-check the hall of fame on held-out tasks (funnel) and write the summary."""
    state = store.read_checkpoint()
    hall = [Candidate.from_dict(c) for c in state["hall_of_fame"]]
    if evaluator.held_out_tasks and not evaluator.config.evolves_architectures:
        stream = None if progress else io.StringIO()
        with Progress(1 + len(hall), "held-out re-check", stream=stream) as bar:
            bar.advance(0, status=f"Adam and the cost model on {len(evaluator.held_out_tasks)} tasks")
            structures = {dsl.template(c.rule)[0] for c in hall}
            reference = evaluator.prepare("held_out", new_structure_rate=len(structures) / max(len(hall), 1))
            store.append_log([{"kind": "calibration", "split": "held_out",
                               "tasks": {t: r.to_dict() for t, r in reference.items()}}])
            for rank, c in enumerate(hall, start=1):
                bar.advance(status=f"hall of fame #{rank}")
                hall[rank - 1] = dataclasses.replace(c, held_out=evaluator.evaluate(c.rule, "held_out"))
            bar.advance(status="done")
    everyone = list({c.key: c for c in store.candidates()}.values())
    store.write_summary(Summary(
        status="complete",
        generations=state["generation"],
        totals=state["totals"],
        reference=references_to_dict(evaluator.reference),
        hall_of_fame=hall,
        pareto_front=pareto_front(everyone),
    ).to_dict())


def report(result: Run, top: int = 5) -> str:
    """The top hall-of-fame rules: fitness vs Adam per task, complexity, simplified text."""
    status = result.summary.status if result.summary else "interrupted: resume with --resume"
    lines = [f"run {result.path} ({status}, {result.generation} generations)",
             "fitness = mean log10(tuned score / Adam's) over search tasks; negative beats Adam"]
    if result.config.evolves_architectures:
        lines[1] = "fitness = log10(tuned held-out loss) of the (rule, architecture) pair; lower is better"
    for rank, c in enumerate(result.hall_of_fame[:top], start=1):
        if c.architecture is None:
            per_task = ", ".join(f"{k} {v.ratio:+.2f}" for k, v in c.tasks.items())
        else:
            per_task = ", ".join(
                f"test loss {v.test_loss:.4g}, accuracy {v.accuracy:.3f} at lr {v.tuned_lr:.3g}"
                for v in c.tasks.values()) + " | " + c.architecture.summary()
        held_text = f" | held-out {c.held_out.fitness:+.3f}" if c.held_out else ""
        lines.append(f"\n#{rank} fitness {c.fitness:+.3f}{held_text} | complexity "
                     f"{c.complexity} | {per_task}")
        lines += ["    " + line for line in c.text.rstrip().splitlines()]
    return "\n".join(lines)
