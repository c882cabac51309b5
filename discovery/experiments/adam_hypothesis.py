"""The hypothesis experiment: did architectures evolve to make Adam look best?

(Orabona, "Neural Networks (Maybe) Evolved to Make Adam The Best Optimizer".) The home
advantage of each optimizer under **rounds of selection on one shared, growing pool**, per
replicate seed:

* round 0 is ``Preset.pool`` random architectures of the family within the parameter budget;
  every optimizer of the panel is fairly tuned on every member once (``pools/s<seed>.json``,
  cells shared by every lineage), scored apart on *selection* and *measurement* training seeds;
* each panel optimizer ``f`` has a lineage: in round ``r >= 1`` its parents are its top
  ``Preset.pool_top_k`` candidates of round ``r - 1`` by its selection scores, and its
  candidates are the parents and ``Preset.children`` children of each (``pool.children``: one
  family edit each, from a stream common to all lineages); every new member is tuned once with
  every panel optimizer;
* per round, every lineage selects its top k candidates and the home advantage is computed from
  the measurement seeds only (``findings``), with the controls riding on the same lineages:
  every candidate also at each value of a planted gene (``pool.Design``): ``positive``
  (``gradient_spread``: a home advantage of ``PLANTED`` by construction) and ``negative``
  (``label_noise``: moves every optimizer alike), so each round says what it could have seen.

And the arms (``arms.Arm``) that ask the other questions, one generation per round:

* ``joint-noadam`` rules and architectures evolve jointly from starts without Adam;
* ``nondeep``      rules evolve on the non-deep suite, and the panel is tuned (and run at
                   its default lr) on each non-deep task.

Each seed is an independent replicate: its own pool, lineages, runs and training seeds
(``selection_seeds``, ``panel_seeds``). Everything is written under ``--out``:
``experiment.json`` (the preset), ``pools/s<seed>.json``, ``runs/<arm>-s<seed>-...`` and
``cells/nondeep-s<seed>.json``; a second call with the same ``--out`` resumes (a stored cell is
never trained again, a lineage's choices are recomputed from stored cells) and gives the same
report as an uninterrupted one; a call with more ``seeds`` reuses the finished ones. With
``workers > 1`` a round's new members are tuned in that many processes, each pinned to one CPU
core; with ``backend="ray"`` the arms' runs go to Ray. The statistics are in ``findings``, the
report in ``report_files``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

import dsl
from discovery import config as config_lib
from discovery import runs, tasks
from discovery.analysis import outputs
from discovery.codec import Stored, record, sequence, stored, text, whole
from discovery.experiments import findings, report_files, upgrade
from discovery.experiments import pool as pool_lib
from discovery.experiments import selection as sel
from discovery.experiments.arms import ADAM, JOINT, RULES, Arm
from discovery.experiments.findings import ArmResult, Cell
from discovery.experiments.pool import MAIN, PLANTED, Member
from discovery.experiments.preset import Preset
from discovery.runs.progress import Progress
from discovery.runs.store import RunStore
from discovery.training import scoring, tuning
from discovery.training.optimizers import OPTIMIZERS
from dsl.probe import similarity

NO_ADAM_STARTS = ("momentum", "lion", "signum", "rmsprop", "sgd", "adagrad")
NONDEEP_STARTS = ("adam", "momentum", "lion", "signum", "rmsprop", "sgd")
# How the joint arm searches rules: from building blocks, with cheap screening (training.fitness
# grades every candidate, so a search from scratch is not a coin toss on a flat landscape).
JOINT_SEARCH = {"variation.vocabulary": "blocks", "screening.promote": 0.25}


_SMALL_GRID = (1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2, 3.16e-2, 0.1)
_TOKEN_PANEL = ("adam", "momentum", "sgd", "adabelief")
EXPERIMENT_PRESETS: dict[str, Preset] = {  # experiment sizes; a run's presets are config.RUN_PRESETS
    "quick": Preset(seeds=2, population=4, steps=60, size="small", learning_rates=_SMALL_GRID[1:-1],
                    train_seeds=(0,), measure_seeds=(1, 2), nondeep=("mf_k4",), param_budget=10000,
                    panel=_TOKEN_PANEL, pool=6, pool_top_k=2, rounds=1, children=1,
                    expected="pipeline check with controls, one round: about 10 min on 2 CPU cores"),
    "medium": Preset(seeds=5, population=6, steps=150, size="small", learning_rates=_SMALL_GRID[1:-1],
                     train_seeds=(0,), measure_seeds=(1, 2), nondeep=("quadratic_ill", "mf_k4"),
                     param_budget=10000, panel=_TOKEN_PANEL, pool=8, pool_top_k=2, rounds=3, children=2,
                     expected="three rounds with controls: about 1 hour on 2 CPU cores with --workers 2"),
    "full": Preset(seeds=5, population=32, steps=500, size="default",
                   learning_rates=tuple(scoring.DEFAULT_LEARNING_RATES), train_seeds=(0, 1),
                   measure_seeds=(2, 3, 4), nondeep=tuple(tasks.names("nondeep")), param_budget=50000,
                   pool=64, pool_top_k=8, rounds=10, children=2,
                   expected="a GPU or a cluster (--backend ray): not measured, a few hundred times medium's work per seed"),
}


@dataclasses.dataclass(frozen=True)
class ExperimentFile(Stored):
    """``experiment.json``: the preset's name and sizes (an older one is read through
    ``upgrade.experiment``)."""

    preset: str = stored(text)
    config: Preset = stored(record(Preset))


@dataclasses.dataclass(frozen=True)
class PanelFile(Stored):
    """``cells/<panel>-s<seed>.json``: a panel's cells for one seed."""

    panel: str = stored(text)
    seed: int = stored(whole())
    cells: tuple[Cell, ...] = stored(sequence(record(Cell)))


def _log10(x: float) -> float:
    return math.log10(max(x, scoring.FLOOR))


def _pin(counter) -> None:
    """A worker's initializer: pin this process to one CPU core of those allowed, a different one
    for each worker in turn."""
    with counter.get_lock():
        i = counter.value
        counter.value += 1
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[i % len(cores)]})


class Experiment:
    """The experiment folder: pools, runs and panels, each computed once and resumed after a crash."""

    def __init__(self, out: str | Path, preset: str | Preset, seeds: int | None = None,
                 backend: str = "inprocess", address: str = "", progress: bool = True,
                 family: str | None = None, workers: int = 1):
        preset_name, preset = ((preset, config_lib.named_preset(EXPERIMENT_PRESETS, preset))
                               if isinstance(preset, str) else ("custom", preset))
        if family is not None:
            preset = dataclasses.replace(preset, family=family)
        if seeds is not None:
            if seeds < 2:
                raise ValueError(f"--seeds must be >= 2 (intervals need two seeds), got {seeds}")
            preset = dataclasses.replace(preset, seeds=seeds)
        if workers < 1:
            raise ValueError(f"--workers must be >= 1, got {workers}")
        self.out, self.name, self.preset = Path(out), preset_name, preset
        self.backend, self.address, self.progress, self.workers = backend, address, progress, workers
        self._executor: ProcessPoolExecutor | None = None
        self._claim()

    def _claim(self) -> None:
        """Write ``experiment.json``, or check that the folder holds this same experiment."""
        claim = ExperimentFile(self.name, self.preset).to_dict()
        file = self.out / "experiment.json"
        if file.exists():
            try:
                data = json.loads(file.read_text())
                found = ExperimentFile.from_dict(upgrade.experiment(data))
            except (OSError, ValueError) as e:
                raise ValueError(f"{file} is not readable ({e}); choose another --out") from None
            if not found.config.same_work(self.preset):
                raise ValueError(f"{self.out} holds another experiment ({found.preset!r}, other settings); "
                                 "resume it with the same preset and family (--seeds may differ), or "
                                 "choose another --out")
            if data != claim:  # another number of seeds (or note): rewritten
                outputs.write_json(file, claim)
        else:
            self.out.mkdir(parents=True, exist_ok=True)
            outputs.write_json(file, claim)

    # -- training seeds ------------------------------------------------------------------------

    def _stride(self) -> int:
        return max((*self.preset.train_seeds, *self.preset.measure_seeds)) + 1

    def selection_seeds(self, seed: int) -> tuple[int, ...]:
        """The training seeds that select in replicate ``seed`` (the pool's selection scores, the
        arms' fitness)."""
        return tuple(seed * self._stride() + t for t in self.preset.train_seeds)

    def panel_seeds(self, seed: int) -> tuple[int, ...]:
        """The training seeds that measure in replicate ``seed`` (the pool's measurement scores,
        the non-deep panel): disjoint from every seed that selected and from every other
        replicate's."""
        return tuple(seed * self._stride() + t for t in self.preset.measure_seeds)

    # -- configs and runs ----------------------------------------------------------------------

    def config(self, arm: str, seed: int, **overrides) -> config_lib.Config:
        p = self.preset
        return config_lib.load(**{
            "run.name": arm, "run.seed": seed, "run.population": p.population,
            "run.generations": p.generations, "run.tournament": min(4, p.population),
            "protocol.learning_rates": list(p.learning_rates), "protocol.seeds": list(self.selection_seeds(seed)),
            "protocol.steps": p.steps, "tasks.size": p.size, "tasks.held_out": [],
            "evaluation.path": "interpreter", "evaluation.backend": self.backend,
            "evaluation.address": self.address, "coevolution.param_budget": p.param_budget,
            "coevolution.family": p.family, **overrides})

    def arms(self) -> list[Arm]:
        """Every arm, as data: the joint one, the non-deep one."""
        joint = (("coevolution.mode", "joint"), ("coevolution.start_architectures", "varied"),
                 *JOINT_SEARCH.items(), ("run.warm_start", list(NO_ADAM_STARTS)))
        return [Arm(JOINT, start="noadam", overrides=joint),
                Arm(RULES, overrides=(("tasks.search", list(self.preset.nondeep)),
                                      ("run.warm_start", list(NONDEEP_STARTS))))]

    def arm(self, name: str) -> Arm:
        """The arm named ``name`` (``Arm.name``); a ValueError lists the arms for another name."""
        arms = {a.name: a for a in self.arms()}
        if name not in arms:
            raise ValueError(f"unknown arm {name!r}; arms: {list(arms)}")
        return arms[name]

    def designs(self) -> list[pool_lib.Design]:
        """How the pool is read: the main design, then each control the family has."""
        p = self.preset
        out = [pool_lib.Design(MAIN, p.panel, p.pool_top_k)]
        for kind in p.controls:
            family = tasks.control_family(p.family, kind)
            if family is not None:
                per_base = len(tasks.family(family).genes.PLANTED[1])
                out.append(pool_lib.Design(kind, p.control_panel, p.pool_top_k * per_base, family))
        return out

    def _run_folder(self, arm: str, seed: int) -> Path | None:
        """The arm's run folder for ``seed``, if it was started."""
        return next(iter(RunStore.folders(self.out / "runs", arm, seed)), None)

    def _cells_file(self, panel: str, seed: int) -> Path:
        return self.out / "cells" / f"{panel}-s{seed}.json"

    def run_finished(self, arm: str, seed: int) -> bool:
        folder = self._run_folder(arm, seed)
        return folder is not None and (folder / "summary.json").exists()

    def run(self, arm: str, seed: int) -> runs.Run:
        """The arm's run for ``seed``: loaded if finished, resumed if interrupted, else started."""
        folder = self._run_folder(arm, seed)
        if self.run_finished(arm, seed):
            return runs.load_run(folder)
        result = (runs.run(resume=folder, progress=False) if folder is not None else
                  runs.run(self.config(arm, seed, **dict(self.arm(arm).overrides)), out=self.out / "runs",
                           progress=False))
        if result.summary is None:  # Ctrl-C: the run checkpointed and stopped; so does the experiment
            raise KeyboardInterrupt(f"{result.path} interrupted; run the same command again to continue")
        return result

    # -- the pool and its rounds ---------------------------------------------------------------

    def pool_store(self, seed: int) -> pool_lib.PoolStore:
        p = self.preset
        protocol = pool_lib.PoolProtocol(p.learning_rates, p.steps, p.size, p.param_budget,
                                         self.selection_seeds(seed), self.panel_seeds(seed))
        return pool_lib.PoolStore(self.out / "pools" / f"s{seed}.json", protocol)

    def _work(self, bases: list[Member]) -> list[tuple[Member, tuple[str, ...]]]:
        """Every distinct member the designs make of ``bases``, with the optimizers any design needs
        on it (Adam first)."""
        need: dict[str, tuple[Member, list[str]]] = {}
        for design in self.designs():
            for m in pool_lib.members(design, bases):
                _, panel = need.setdefault(m.key, (m, []))
                panel += [g for g in design.panel if g not in panel]
        return [(m, tuple(sorted(panel, key=lambda g: g != ADAM))) for m, panel in need.values()]

    def _train(self, store: pool_lib.PoolStore, seed: int, bases: list[Member], bar: Progress, what: str) -> None:
        """Every missing cell of the members the designs make of ``bases`` trained and stored as each
        member finishes (in ``workers`` processes where there are more than one)."""
        p = self.preset
        protocol = scoring.Protocol(p.learning_rates, self.selection_seeds(seed) + self.panel_seeds(seed), p.steps)
        jobs = []
        for member, panel in self._work(bases):
            missing = tuple(g for g in panel if not store.has(member, g))
            if missing:
                adam = store.get(member, ADAM) if store.has(member, ADAM) else None
                jobs.append((member, missing, protocol, len(p.train_seeds), p.size, p.param_budget, adam))
        done = 0
        bar.advance(0, status=f"seed {seed}: {what}, {len(jobs)} members to tune")
        if self.workers == 1 or len(jobs) < 2:
            for job in jobs:
                store.add(pool_lib.tune_member(*job))
                done += 1
                bar.advance(0, status=f"seed {seed}: {what}, {done}/{len(jobs)} members tuned")
            return
        for future in as_completed([self._pool().submit(pool_lib.tune_member, *job) for job in jobs]):
            store.add(future.result())
            done += 1
            bar.advance(0, status=f"seed {seed}: {what}, {done}/{len(jobs)} members tuned")

    def _pool(self) -> ProcessPoolExecutor:
        """The worker processes (started on first use, one per core, closed by ``execute``)."""
        if self._executor is None:
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_pin,
                                                 initargs=(context.Value("i", 0),))
        return self._executor

    def _parents(self, store: pool_lib.PoolStore, seed: int, candidates: list[Member], f: str) -> list[Member]:
        """``f``'s top k of ``candidates`` by its selection scores (exact ties in ``findings.tie_order``)."""
        scores = np.array([store.get(m, f).selection_score for m in candidates])
        order = findings.tie_order(seed, [m.key for m in candidates])
        k = min(self.preset.pool_top_k, len(candidates))
        return [candidates[i] for i in sel.top_k(scores, k, order)]

    def pool_seeds(self, seed: int, bar: Progress) -> dict[str, findings.PoolSeed]:
        """The seed's pool through every round, every missing cell trained, as each design reads it.

        Round 0: the random bases, every lineage's candidates. Round r: each lineage's parents (its
        top k of round r - 1) and their children; a child already in the pool is that member."""
        p = self.preset
        main = self.designs()[0]
        store = self.pool_store(seed)
        bases = [Member(i, tasks.architecture_record(a))
                 for i, a in enumerate(pool_lib.draw_bases(seed, p.pool, p.param_budget, p.family))]
        by_key = {m.key: m for m in bases}
        lineages = [{f: [m.key for m in bases] for f in main.panel}]
        self._train(store, seed, bases, bar, "round 0 (random pool)")
        bar.advance(1, status=f"seed {seed}: round 0 done")
        for r in range(1, p.rounds + 1):
            candidates = {}
            for f in main.panel:
                keys = []
                for parent in self._parents(store, seed, [by_key[k] for k in lineages[-1][f]], f):
                    keys.append(parent.key)
                    for child in pool_lib.children(parent, seed, r, p.children, p.param_budget):
                        record_ = tasks.architecture_record(child)
                        key = Member(0, record_).key
                        if key not in by_key:
                            by_key[key] = Member(len(by_key), record_, r)
                        keys.append(key)
                candidates[f] = list(dict.fromkeys(keys))
            lineages.append(candidates)
            born = [m for m in by_key.values() if m.born == r]
            self._train(store, seed, born, bar, f"round {r} ({len(born)} new architectures)")
            bar.advance(1, status=f"seed {seed}: round {r} done")
        return {d.group: findings.design_seed(d, seed, list(by_key.values()), lineages, store.get)
                for d in self.designs()}

    # -- panels --------------------------------------------------------------------------------

    def cells(self, panel: str, seed: int, compute: Callable[[], list[Cell]]) -> list[Cell]:
        """The panel's cells for ``seed``, computed once (``cells/<panel>-s<seed>.json``)."""
        file = self._cells_file(panel, seed)
        if file.exists():
            return list(PanelFile.from_dict(json.loads(file.read_text()), str(file)).cells)
        cells = compute()
        file.parent.mkdir(exist_ok=True)
        outputs.write_json(file, PanelFile(panel, seed, tuple(cells)).to_dict())
        return cells

    def nondeep_cells(self, seed: int) -> list[Cell]:
        """Every panel optimizer on every non-deep task: tuned, and at its default lr."""
        p = self.preset
        protocol = scoring.Protocol(p.learning_rates, self.panel_seeds(seed), p.steps)
        cells = []
        for name in p.nondeep:
            task = tasks.get(name, p.size)
            adam_lr = None
            for g in self.preset.panel:  # adam first: the others start around its optimum
                s = tuning.tune(dsl.library.get(g), task, protocol, default_lr=OPTIMIZERS[g].default_lr,
                                center=adam_lr).score
                adam_lr = adam_lr or s.tuned_lr
                cells.append(Cell(g, name, tuple(_log10(x) for x in s.tuned_per_seed), _log10(s.out_of_box)))
        return cells

    # -- the whole experiment ------------------------------------------------------------------

    def seed_result(self, seed: int, bar: Progress) -> findings.SeedResult:
        def step(what: str, reused: bool, fn):
            bar.advance(0, status=f"seed {seed}: {what}")
            value = fn()
            bar.advance(1, status=f"seed {seed}: {what} {'loaded' if reused else 'done'}", reused=reused)
            return value

        pools = self.pool_seeds(seed, bar)
        results = {}
        for arm in self.arms():
            run = step(f"{arm.name} ({arm.doing})", self.run_finished(arm.name, seed),
                       lambda arm=arm: self.run(arm.name, seed))
            if arm.kind == JOINT:
                results[arm.name] = ArmResult(arm.kind, str(run.path), joint=_joint_summary(run))
            else:
                found = step("nondeep panel (every optimizer on the non-deep tasks)",
                             self._cells_file("nondeep", seed).exists(),
                             lambda: self.cells("nondeep", seed, lambda: self.nondeep_cells(seed)))
                results[arm.name] = ArmResult(arm.kind, str(run.path), tuple(found), rule=run.candidate(1).text)
        return findings.SeedResult(seed=seed, arms=results, pools=pools)

    def execute(self) -> findings.Report:
        start = time.perf_counter()
        units = self.preset.seeds * (self.preset.rounds + 1 + sum(arm.units for arm in self.arms()))
        try:
            with Progress(units, f"hypothesis ({self.name})", stream=None if self.progress else _Quiet()) as bar:
                seeds = [self.seed_result(seed, bar) for seed in range(self.preset.seeds)]
        finally:
            if self._executor is not None:
                self._executor.shutdown(cancel_futures=True)
                self._executor = None
        report = findings.analyse(self.name, self.preset, seeds, self.designs(), time.perf_counter() - start,
                                  planted=PLANTED)
        report_files.write(report, self.out)
        return report


def _joint_summary(run: runs.Run) -> findings.JointArm:
    """Per generation, the share of the children that are Adam-like and the distance to Adam of the
    best rule so far; the final best rule and its distances."""
    adam = dsl.library.get(ADAM)
    seen: dict[str, float] = {}
    by_generation: dict[int, list[bool]] = {}
    best: dict[int, tuple[float, float]] = {}  # generation -> (fitness, similarity) of its best child
    for c in RunStore.open(run.path).candidates():
        if c.fingerprint not in seen:
            seen[c.fingerprint] = similarity(c.rule, adam)
        by_generation.setdefault(c.generation, []).append(seen[c.fingerprint] >= findings.ADAM_LIKE)
        if c.generation not in best or c.evaluation.fitness < best[c.generation][0]:
            best[c.generation] = (c.evaluation.fitness, seen[c.fingerprint])
    so_far, distances = (math.inf, 0.0), []
    for g in sorted(best):
        so_far = min(so_far, best[g])
        distances.append(1 - so_far[1])
    final = run.rule(1)
    return findings.JointArm(
        adam_like_share=tuple(sum(v) / len(v) for _, v in sorted(by_generation.items())),
        best_rule=run.candidate(1).text,
        distance={name: 1 - similarity(final, dsl.library.get(name)) for name in findings.REFERENCES},
        adam_distance=tuple(distances),
    )


class _Quiet:
    def write(self, _): ...

    def flush(self): ...


def run_experiment(preset: str | Preset = "quick", seeds: int | None = None, out: str | Path = "runs/hypothesis",
                   backend: str = "inprocess", address: str = "", progress: bool = True,
                   family: str | None = None, workers: int = 1) -> findings.Report:
    """Run (or resume) the experiment in ``out`` with architectures of ``family`` (default: the
    preset's, ``token_model``), a round's new members tuned in ``workers`` processes; write
    ``report_files.files(report)`` (``report.md`` first)."""
    return Experiment(out, preset, seeds, backend, address, progress, family, workers).execute()
