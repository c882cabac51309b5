"""Launching, resuming and loading evolution runs.

``run(config)`` creates ``runs/<run-id>/`` and evolves, checkpointing after
every generation; ``run(resume=path)`` continues from the last checkpoint and
gives the same result as a run that was never interrupted; ``load_run(path)``
reads a finished or running run without executing anything from it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import optax

import dsl
from discovery.codec import Stored, decode, mapping, optional, record, sequence, stored, text, whole
from discovery.config import Config, reading_stored
from discovery.evaluation.backends import make_backend
from discovery.evaluation.evaluator import Evaluator, References, TaskReference
from discovery.evolution import niches
from discovery.evolution.engine import Evolution
from discovery.evolution.generation import Generation, Totals
from discovery.evolution.reporting import report_hall_of_fame, report_pareto_front
from discovery.records import Candidate, Evaluation
from discovery.runs import events, upgrade
from discovery.runs.lock import RunLock
from discovery.runs.progress import Progress
from discovery.runs.store import Checkpoint, RunStore, RunWarning
from discovery.training import compiler


@dataclasses.dataclass(frozen=True)
class Summary(Stored):
    """``summary.json``: written when a run completes (hall of fame with held-out scores).

    ``log_missing`` counts the candidates the checkpoint recorded that a damaged
    ``log.jsonl`` lacks: the Pareto front (over the logged candidates) is without them.
    ``niches``: how many distinct optimizers (``evolution.niches``) the run's best behaviours
    hold, ``forms`` in how many forms (``niches.by_form``: one hall-of-fame entry each); None
    where unknown (``runs.upgrade``).
    """

    status: str = stored(text)
    generations: int = stored(whole())
    totals: Totals = stored(record(Totals))
    reference: References = stored(mapping(mapping(record(TaskReference))))
    hall_of_fame: tuple[Candidate, ...] = stored(sequence(record(Candidate)))
    pareto_front: tuple[Candidate, ...] = stored(sequence(record(Candidate)))
    log_missing: int = stored(whole())
    niches: int | None = stored(optional(whole()))
    forms: int | None = stored(optional(whole()))


def read_summary(store: RunStore) -> Summary | None:
    """The run's ``summary.json`` (upgraded if older code wrote it), or None if the run has not
    finished; a malformed one is a ``RecordError`` naming the file."""
    data = store.read_summary()
    where = str(store.path / "summary.json")
    return None if data is None else decode(
        lambda d: Summary.from_dict(upgrade.current("summary", d, where), where), data, where)


@dataclasses.dataclass
class Run:
    """A run folder as Python data: config, population, hall of fame, logbook, summary."""

    path: Path
    config: Config
    generation: int
    population: list[Candidate]
    hall_of_fame: list[Candidate]
    logbook: list[Generation]
    summary: Summary | None
    niches: int | None = None  # distinct optimizers among the run's best behaviours
    forms: int | None = None  # the forms they take (one hall-of-fame entry each)

    def rule(self, rank: int = 1) -> dsl.Rule:
        """The hall-of-fame rule at 1-based ``rank``."""
        return self.candidate(rank).rule

    def candidate(self, rank: int = 1) -> Candidate:
        """The hall-of-fame candidate at 1-based ``rank``."""
        if not 1 <= rank <= len(self.hall_of_fame):
            raise ValueError(f"rank {rank} out of range: the hall of fame has {len(self.hall_of_fame)} rules")
        return self.hall_of_fame[rank - 1]

    def to_optax(self, rank: int = 1, learning_rate: float | None = None) -> optax.GradientTransformation:
        """Hall-of-fame rule ``rank`` (as reported: ``reporting.reported``) as an Optax optimizer, at
        ``learning_rate`` or the run's recommended one (``Candidate.recommended_lr``)."""
        c = self.candidate(rank)
        return dsl.to_optax(c.simplified, c.recommended_lr if learning_rate is None else learning_rate)


def load_run(path: str | Path) -> Run:
    """Read a run folder (finished, interrupted or still running); a damaged file is a
    ValueError naming it."""
    store = RunStore.open(path)
    checkpoint = store.read_checkpoint()
    summary = read_summary(store)
    search = checkpoint.search if checkpoint else None
    config = store.config()
    return Run(
        path=store.path,
        config=config,
        generation=search.generation if search else 0,
        population=list(search.population) if search else [],
        hall_of_fame=(list(summary.hall_of_fame) if summary else attach_held_out(
            report_hall_of_fame(list(search.hall_of_fame), config.evaluation.hall_of_fame),
            checkpoint.held_out) if search else []),
        logbook=list(search.logbook) if search else [],
        summary=summary,
        **(_diversity(search.hall_of_fame) if summary is None and search else
           {"niches": summary.niches, "forms": summary.forms} if summary else {}),
    )


def _diversity(pool) -> dict[str, int]:
    """How many niches the pool holds, and in how many forms."""
    found = niches.niches(pool)
    return {"niches": len(found), "forms": len(niches.by_form(found))}


class HeldOutChecks:
    """Held-out scores of hall-of-fame rules (Lion's meta-validation), cached by candidate key.

    Every ``[evaluation] held_out_every`` generations the top ``held_out_top``
    entries are re-checked; at the end, all of them. Held-out tasks guard
    against overfitting the search tasks: the reported pick is chosen by them.
    """

    def __init__(self, evaluator: Evaluator, store: RunStore, cached: dict[str, Evaluation] | None = None):
        self.evaluator, self.store = evaluator, store
        self.scores = dict(cached or {})

    @property
    def active(self) -> bool:
        return bool(self.evaluator.held_out_tasks) and not self.evaluator.config.evolves_architectures

    def check(self, candidates: list[Candidate], bar: Progress | None = None) -> list[Candidate]:
        """``candidates`` with their held-out scores (computed for those not seen before)."""
        if not self.active:
            return candidates
        if "held_out" not in self.evaluator.reference:
            structures = {dsl.template(c.rule)[0] for c in candidates}
            reference = self.evaluator.prepare(
                "held_out", new_structure_rate=len(structures) / max(len(candidates), 1))
            self.store.log([events.Calibration(split="held_out", tasks=reference, time=time.time())])
        for rank, c in enumerate(candidates, start=1):
            if c.key not in self.scores:
                if bar:
                    bar.advance(0, status=f"held-out re-check of hall of fame #{rank}")
                self.scores[c.key] = self.evaluator.evaluate(c.rule, "held_out")
        return attach_held_out(candidates, self.scores)

def attach_held_out(candidates: list[Candidate], scores: dict[str, Evaluation]) -> list[Candidate]:
    return [dataclasses.replace(c, held_out=scores[c.key]) if c.key in scores else c for c in candidates]


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
    generations: int | None = None,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> Run:
    """Run (or resume) an evolution; return the run as data.

    The run folder is locked (``RunLock``) while this process writes it.
    ``stop_after`` ends this process after that many generations, as an
    interruption would (used to test resuming). With ``resume``, ``generations``
    sets the run's length anew: a finished run grows to that many generations
    (its summary kept in ``history/``) as if it had been launched with them; a
    finished run without a larger ``generations`` is returned unchanged.
    ``on_checkpoint`` is called with the run folder after each generation's checkpoint (e.g.
    to write a report of the run so far); its time counts as the generation's bookkeeping.
    """
    with contextlib.ExitStack() as held:
        if resume is not None:
            store = RunStore.open(resume)
            held.enter_context(RunLock(store.path))  # before reading what an owner may be writing
            config = store.config()
            state = store.read_checkpoint()
            done, lengthened = state.search.generation if state else 0, False
            finished = read_summary(store)
            if finished is not None and (generations is None or generations <= done):
                return load_run(store.path)
            if generations is not None:
                if generations < done:
                    raise ValueError(f"--generations {generations} is below the {done} generations "
                                     f"{store.path} has run; give at least {done}")
                lengthened = generations != config.run.generations
                with reading_stored():  # a registered task is looked up by the evaluator, with its advice
                    config = config.replace(**{"run.generations": generations})
        elif config is None:
            raise ValueError("pass a config (discovery.config.load(...)) or resume=RUN_DIR")
        else:
            store, state = None, None
        compiler.use_compilation_cache(config.evaluation.compilation_cache)
        evaluator = Evaluator(config, None if state is None else state.reference)
        backend = make_backend(config.evaluation.backend, evaluator)  # fails early if unreachable
        with contextlib.closing(backend):
            if store is None:
                store = RunStore.create(out, config)
                held.enter_context(RunLock(store.path))
                store.write_config(config)
                store.log([events.Start(config=config.to_dict(), commit=source_commit(), time=time.time())])
            else:
                _rewind(store, state)
                if lengthened:
                    _lengthen(store, config, finished)
            finished = _evolve(config, store, evaluator, backend, state, progress, stop_after, on_checkpoint)
        if finished:
            _finish(store, evaluator, progress)
    return load_run(store.path)


def source_commit() -> str | None:
    """The git commit of the code running, ``<sha>-dirty`` with tracked files changed; None
    outside a git checkout (an installed package). Logged at each start and resume."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=20, check=True).stdout.strip()

    try:
        sha, changed = git("rev-parse", "HEAD"), git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("-dirty" if changed else "")


def _rewind(store: RunStore, state: Checkpoint | None) -> None:
    """Continue the log where the checkpoint left it; a damaged log is reported and kept."""
    store.remove_temp_files()
    problem = store.rewind_log(state.log_offset if state else 0)
    if problem:
        warnings.warn(f"{problem}; continuing: records logged before this resume may be missing "
                      "(summary.json counts them in log_missing)", RunWarning, stacklevel=3)
        store.log([events.LogDamaged(problem=problem)])
    store.log([events.Resume(generation=state.search.generation if state else 0, commit=source_commit(),
                             time=time.time())])


def _lengthen(store: RunStore, config: Config, finished: Summary | None) -> None:
    """Record a new length: the config, the ``finished`` summary moved to ``history/``, a log line."""
    old = store.config().run.generations  # before it is overwritten
    archived = None if finished is None else store.archive_summary(finished.generations)
    store.write_config(config)
    store.log([events.Lengthened(previous=old, generations=config.run.generations,
                                 summary=None if archived is None else str(archived.relative_to(store.path)),
                                 time=time.time())])


def _evolve(config, store, evaluator, backend, state, progress, stop_after, on_checkpoint) -> bool:
    """Generations until the run's end (True) or an interruption (False), each logged and checkpointed."""
    if not config.evolves_architectures and "search" not in evaluator.reference:
        reference = evaluator.prepare("search")
        store.log([events.Calibration(split="search", tasks=reference, time=time.time())])
    evo = Evolution(config, backend.map, state.search if state else None)
    held_out = HeldOutChecks(evaluator, store, state.held_out if state else None)
    every = config.evaluation.held_out_every
    total = config.run.generations
    bar = Progress(total, f"run {store.path.name}") if progress else None
    if bar:
        bar.done = evo.generation
    done_here = 0
    unit = "log10 loss" if config.evolves_architectures else "vs Adam"
    with _StopFlag() as stop, contextlib.ExitStack() as closing:
        if bar:
            closing.callback(bar.close)
        while evo.generation < total and not _budget_spent(config, evo.totals):
            candidates = evo.step()
            if every and evo.generation % every == 0:
                held_out.check(evo.hall_of_fame[:config.evaluation.held_out_top], bar)
            persisting = time.perf_counter()
            offset = store.log([*candidates, evo.logbook[-1]])
            store.write_checkpoint(Checkpoint(evo.state(), evaluator.reference, offset,
                                              dict(held_out.scores)))
            store.write_metrics(evo.logbook)
            if on_checkpoint is not None:
                on_checkpoint(store.path)
            evo.persist_seconds = time.perf_counter() - persisting  # counted in the next generation
            done_here += 1
            if bar:
                last = evo.logbook[-1]
                shapes = f" | {last.compiled_shapes} shapes" if config.evolves_architectures else ""
                bar.advance(status=_progress(last, len(candidates), unit) + shapes)
            if stop.requested or (stop_after is not None and done_here >= stop_after):
                store.log([events.Interrupted(generation=evo.generation)])
                return False
    return True


def _budget_spent(config: Config, totals: Totals) -> bool:
    """Whether ``[run] max_evaluated`` distinct behaviours are trained (a budget in evaluations,
    e.g. random search given a search's count): the run then ends as complete."""
    return 0 < config.run.max_evaluated <= totals.evaluated


def _progress(last: Generation, children: int, unit: str) -> str:
    """A generation on the progress line: fitness, niches, cache hits and throughput."""
    work = (f"{last.screened_per_s:.1f} screened/s, {last.evaluated_per_s:.1f} evaluated/s"
            if last.screened else f"{last.candidates_per_s:.1f} cand/s")
    return (f"best {last.best:+.3f} median {last.median:+.3f} {unit} | {last.niches} niches "
            f"| cache {last.cache_hits}/{children} | {work}")


def _finish(store: RunStore, evaluator: Evaluator, progress: bool = True) -> None:
    """Re-check the whole hall of fame on held-out tasks (funnel), recommend a learning rate
    for each rule (``Evaluator.recommend``), and write the summary."""
    state = store.read_checkpoint()
    hall = report_hall_of_fame(list(state.search.hall_of_fame), evaluator.config.evaluation.hall_of_fame)
    held_out = HeldOutChecks(evaluator, store, state.held_out)
    if not evaluator.config.evolves_architectures:
        stream = None if progress else io.StringIO()
        with Progress(len(hall), "held-out re-check and recommended lr", stream=stream) as bar:
            hall = held_out.check(hall, bar)
            for rank, c in enumerate(hall, start=1):
                evaluation, split = (c.held_out, "held_out") if c.held_out else (c.evaluation, "search")
                hall[rank - 1] = dataclasses.replace(c, recommendation=evaluator.recommend(c.rule, evaluation, split))
                bar.advance(status=f"hall of fame #{rank}")
    logged = store.candidates()
    missing = len(set(range(state.search.next_id)) - {c.id for c in logged})
    if missing:
        warnings.warn(f"{store.log_file} lacks {missing} of the {state.search.next_id} candidates the "
                      "checkpoint counts: the Pareto front in summary.json is computed without them",
                      RunWarning, stacklevel=3)
    everyone = list({c.key: c for c in logged}.values())
    front = report_pareto_front(everyone)
    store.write_summary(upgrade.stamped(Summary(
        status="complete",
        generations=state.search.generation,
        totals=state.search.totals,
        reference=evaluator.reference,
        hall_of_fame=tuple(hall),
        pareto_front=tuple(front),
        log_missing=missing,
        **_diversity(state.search.hall_of_fame),
    ).to_dict()))


def report(result: Run, top: int = 5) -> str:
    """The top hall-of-fame rules: fitness vs Adam per task, complexity, simplified text."""
    status = result.summary.status if result.summary else "interrupted: resume with --resume"
    if result.summary and result.summary.log_missing:
        status += f"; log.jsonl lacks {result.summary.log_missing} candidates"
    lines = [f"run {result.path} ({status}, {result.generation} generations)",
             "fitness = mean over search tasks of log10(tuned score / Adam's), graded beyond the clip "
             "(training.fitness); negative beats Adam"]
    if result.config.evolves_architectures:
        lines[1] = "fitness = log10(tuned held-out loss) of the (rule, architecture) pair; lower is better"
    for rank, c in enumerate(result.hall_of_fame[:top], start=1):
        if c.architecture is None:
            per_task = ", ".join(f"{k} {v.ratio:+.2f}" for k, v in c.tasks.items())
        else:
            per_task = ", ".join(
                f"test loss {v.test_loss:.4g}"
                + ("" if v.accuracy is None else f", accuracy {v.accuracy:.3f}") + f" at lr {v.tuned_lr:.3g}"
                for v in c.tasks.values()) + " | " + c.architecture.summary()
        held_text = f" | held-out {c.held_out.fitness:+.3f}" if c.held_out else ""
        lines.append(f"\n#{rank} fitness {c.fitness:+.3f}{held_text} | complexity "
                     f"{c.complexity} | {per_task}")
        lines += ["    " + line for line in c.text.rstrip().splitlines()]
    return "\n".join(lines)
