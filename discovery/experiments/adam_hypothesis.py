"""The hypothesis experiment: did architectures evolve to make Adam look best?

(Orabona, "Neural Networks (Maybe) Evolved to Make Adam The Best Optimizer".)
Two estimators of each optimizer's home advantage, per replicate seed, side by side:

* **selection on a shared pool** (``pool``, ``selection``): ``Preset.pool`` random
  architectures of the family within the parameter budget; every optimizer of the panel
  fairly tuned on every member once (``pools/s<seed>.json``); each panel optimizer ``f``
  selects its top ``Preset.pool_top_k`` by its scores on the *selection* training seeds,
  and the home advantage is computed from the *measurement* seeds only. Adding a fixed
  optimizer costs its selection. The controls are pools too: every base at each value of a
  planted gene (``pool.Design``): ``positive`` (``gradient_spread``: a home advantage of
  ``PLANTED`` by construction) and ``negative`` (``label_noise``: moves every optimizer
  alike). The pool also says which genes favour Adam (``gene_effects``).
* **evolution** (``arch-<f>`` arms): architectures evolve with ``f`` held fixed for every ``f``
  of ``Preset.fixed``; every arm of a seed starts from the same population (the run's seed
  draws it); the panel is then tuned on each arm's top ``Preset.top_k`` architectures on the
  measurement seeds, which never selected anything (``cross-<f>``). Several rounds of
  selection can go where a random pool does not; its power is not measured by a control.

And the arms that ask the other questions:

* ``joint-noadam`` rules and architectures evolve jointly from starts without Adam;
* ``joint-random`` the same from random rules;
* ``nondeep``      rules evolve on the non-deep suite, and the panel is tuned (and run at
                   its default lr) on each non-deep task.

Each arm is an ``arms.Arm`` record (its name spelled there) and a seed's result maps arm names
to ``findings.ArmResult``: a new arm is one entry in ``Experiment.arms``. Each seed is an independent replicate: its own pool,
evolution runs and training seeds (``selection_seeds``, ``panel_seeds``). Everything is
written under ``--out``: ``experiment.json`` (the preset), ``runs/<arm>-s<seed>-...``,
``pools/s<seed>.json`` and ``cells/<panel>-s<seed>.json``; a second call with the same
``--out`` resumes each unfinished run and pool and skips finished panels, and gives the same
report as an uninterrupted one; a call with more ``seeds`` reuses the finished ones. With
``backend="ray"`` the evolution runs go to Ray (the pools and the panels run in-process; before
pools, the evolution arms' panels went too). The statistics are in ``findings``, the report in ``report_files``.

The architectures come from the preset's ``family``: ``token_model`` (the token model on the
Zipf stream, with controls) by default; ``--family mlp`` runs the MNIST-1D MLP experiment as
it was before pools (``FAMILY_SIZES``: no pool, panels on ``panel_seeds`` as then).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dsl
from discovery import config as config_lib
from discovery import runs, tasks
from discovery.analysis import outputs
from discovery.codec import Stored, record, sequence, stored, text, whole
from discovery.evaluation.backends import make_backend
from discovery.evaluation.evaluator import ARCHITECTURE_TASK, Evaluator
from discovery.experiments import findings, report_files, upgrade
from discovery.experiments import pool as pool_lib
from discovery.experiments.arms import ADAM, ARCHITECTURES, JOINT, RULES, Arm
from discovery.experiments.findings import ArmResult, Cell
from discovery.experiments.pool import MAIN, PLANTED
from discovery.experiments.preset import PANEL, Preset
from discovery.records import encode_candidate
from discovery.runs.progress import Progress
from discovery.runs.store import RunStore
from discovery.training import scoring, tuning
from discovery.training.optimizers import OPTIMIZERS
from dsl.probe import similarity

NO_ADAM_STARTS = ("momentum", "lion", "signum", "rmsprop", "sgd", "adagrad")
NONDEEP_STARTS = ("adam", "momentum", "lion", "signum", "rmsprop", "sgd")
# How the joint arms search rules: from building blocks, with cheap screening (training.fitness
# grades every candidate, so a search from scratch is not a coin toss on a flat landscape).
JOINT_SEARCH = {"variation.vocabulary": "blocks", "screening.promote": 0.25}


_SMALL_GRID = (1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2, 3.16e-2, 0.1)
_TOKEN_PANEL = ("adam", "momentum", "sgd", "adabelief")
EXPERIMENT_PRESETS: dict[str, Preset] = {  # experiment sizes; a run's presets are config.RUN_PRESETS
    "quick": Preset(seeds=2, population=4, generations=2, steps=60, size="small",
                    learning_rates=_SMALL_GRID[1:-1], train_seeds=(0,), measure_seeds=(1, 2),
                    nondeep=("mf_k4",), param_budget=10000, fixed=("adam", "momentum"),
                    panel=_TOKEN_PANEL, top_k=2, pool=6, pool_top_k=2,
                    expected="pipeline check with controls: 5 min 26 s on 2 CPU cores (9 min 54 s shared with other jobs)"),
    "medium": Preset(seeds=4, population=6, generations=2, steps=150, size="small",
                     learning_rates=_SMALL_GRID[1:-1], train_seeds=(0,), measure_seeds=(1, 2),
                     nondeep=("quadratic_ill", "mf_k4"), param_budget=10000, fixed=("adam", "momentum"),
                     panel=_TOKEN_PANEL, top_k=2, pool=8, pool_top_k=2,
                     expected="35 minutes on 2 CPU cores shared with other jobs"),
    "full": Preset(seeds=5, population=32, generations=40, steps=500, size="default",
                   learning_rates=tuple(scoring.DEFAULT_LEARNING_RATES), train_seeds=(0, 1),
                   measure_seeds=(2, 3, 4), nondeep=tuple(tasks.names("nondeep")), param_budget=50000,
                   top_k=5, pool=64, pool_top_k=8,
                   expected="a GPU or a cluster (--backend ray): not measured, a few hundred times medium's work per seed"),
}

# The MLP family's experiment as it ran before pools (``--family mlp``): evolution arms only,
# their panels on the replicate's shifted training seeds, the reports in the README reproduce.
_MLP = dict(fixed=("adam", "momentum", "lion", "adagrad"), panel=PANEL, measure_seeds=(), pool=0)
FAMILY_SIZES: dict[tuple[str, str], dict[str, Any]] = {
    ("quick", "mlp"): dict(_MLP, seeds=2, population=6, generations=3, train_seeds=(0, 1),
                           nondeep=("quadratic_ill", "mf_k4"), param_budget=20000, top_k=2,
                           expected="pipeline check: about 5 minutes on 2 CPU cores with --family mlp"),
    ("medium", "mlp"): dict(_MLP, seeds=8, population=12, generations=8, train_seeds=(0, 1),
                            nondeep=("quadratic_ill", "mf_k4", "klr_mushrooms", "rosenbrock"),
                            param_budget=20000, top_k=3, expected="about an hour on 2 CPU cores with --family mlp"),
    ("full", "mlp"): dict(_MLP, train_seeds=(0, 1, 2)),
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


class Experiment:
    """The experiment folder: runs, pools and panels, each computed once and resumed after a crash."""

    def __init__(self, out: str | Path, preset: str | Preset, seeds: int | None = None,
                 backend: str = "inprocess", address: str = "", progress: bool = True,
                 family: str | None = None):
        preset_name, preset = ((preset, config_lib.named_preset(EXPERIMENT_PRESETS, preset))
                               if isinstance(preset, str) else ("custom", preset))
        if family is not None:
            preset = dataclasses.replace(preset, family=family, **FAMILY_SIZES.get((preset_name, family), {}))
        if seeds is not None:
            if seeds < 2:
                raise ValueError(f"--seeds must be >= 2 (intervals need two seeds), got {seeds}")
            preset = dataclasses.replace(preset, seeds=seeds)
        self.out, self.name, self.preset = Path(out), preset_name, preset
        self.backend, self.address, self.progress = backend, address, progress
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
            if data != claim:  # another number of seeds (or note, or an older form): rewritten
                outputs.write_json(file, claim)
        else:
            self.out.mkdir(parents=True, exist_ok=True)
            outputs.write_json(file, claim)

    # -- training seeds ------------------------------------------------------------------------

    def _stride(self) -> int:
        return max((*self.preset.train_seeds, *self.preset.measure_seeds)) + 1

    def selection_seeds(self, seed: int) -> tuple[int, ...]:
        """The training seeds that select in replicate ``seed`` (evolution's fitness, the pool's
        selection scores); before pools, ``train_seeds`` in every replicate."""
        p = self.preset
        if not p.measure_seeds:
            return p.train_seeds
        return tuple(seed * self._stride() + t for t in p.train_seeds)

    def panel_seeds(self, seed: int) -> tuple[int, ...]:
        """The training seeds that measure in replicate ``seed`` (every panel, the pool's
        measurement scores): disjoint from every seed that selected and from every other
        replicate's. Before pools, the replicate's shifted ``train_seeds`` (seed 0's panels then
        trained on the seeds its evolution selected with)."""
        p = self.preset
        return tuple(seed * self._stride() + t for t in (p.measure_seeds or p.train_seeds))

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
        """Every arm, as data: the fixed-optimizer arms, the joint ones, the non-deep one."""
        p = self.preset
        arms = [Arm(ARCHITECTURES, fixed=f, overrides=(
            ("coevolution.mode", "architectures"), ("coevolution.fixed_rule", f),
            ("coevolution.start_architectures", "varied")), panel=p.panel) for f in p.fixed]
        joint = (("coevolution.mode", "joint"), ("coevolution.start_architectures", "varied"),
                 *JOINT_SEARCH.items())
        return arms + [Arm(JOINT, start="noadam", overrides=(*joint, ("run.warm_start", list(NO_ADAM_STARTS)))),
                       Arm(JOINT, start="random", overrides=(*joint, ("run.warm_start", []))),
                       Arm(RULES, overrides=(("tasks.search", list(p.nondeep)),
                                               ("run.warm_start", list(NONDEEP_STARTS))), panel=p.panel)]

    def arm(self, name: str) -> Arm:
        """The arm named ``name`` (``Arm.name``); a ValueError lists the arms for another name."""
        arms = {a.name: a for a in self.arms()}
        if name not in arms:
            raise ValueError(f"unknown arm {name!r}; arms: {list(arms)}")
        return arms[name]

    def designs(self) -> list[pool_lib.Design]:
        """How the pool is read: the main design, then each control the family has."""
        p = self.preset
        if not p.pool:
            return []
        out = [pool_lib.Design(MAIN, p.panel, p.pool_top_k)]
        for kind in p.controls:
            family = tasks.control_family(p.family, kind)
            if family is not None:
                per_base = len(tasks.family(family).genes.PLANTED[1])
                out.append(pool_lib.Design(kind, p.control_panel, p.pool_top_k * per_base, family))
        return out

    def _run_folder(self, arm: str, seed: int) -> Path | None:
        """The arm's run folder for ``seed``, if it was started."""
        folder = self.out / "runs"
        return next(iter(RunStore.folders(folder, arm, seed)), None)

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

    # -- the pool ------------------------------------------------------------------------------

    def pool_members(self, seed: int) -> dict[str, list[pool_lib.Member]]:
        """Each design's members for ``seed`` (the bases are drawn from the seed)."""
        p = self.preset
        bases = pool_lib.draw_bases(seed, p.pool, p.param_budget, p.family)
        return {d.group: pool_lib.members(d, bases) for d in self.designs()}

    def _pool_work(self, seed: int) -> list[tuple[pool_lib.Member, tuple[str, ...]]]:
        """Every distinct member of the seed's designs, with the optimizers any design needs."""
        need: dict[str, tuple[pool_lib.Member, list[str]]] = {}
        for design, members in zip(self.designs(), self.pool_members(seed).values()):
            for m in members:
                _, panel = need.setdefault(m.key, (m, []))
                panel += [g for g in design.panel if g not in panel]
        return [(m, tuple(sorted(panel, key=lambda g: g != ADAM))) for m, panel in need.values()]

    def pool_store(self, seed: int) -> pool_lib.PoolStore:
        p = self.preset
        protocol = pool_lib.PoolProtocol(p.learning_rates, p.steps, p.size, p.param_budget,
                                         self.selection_seeds(seed), self.panel_seeds(seed))
        return pool_lib.PoolStore(self.out / "pools" / f"s{seed}.json", protocol)

    def pool_seeds(self, seed: int, bar: Progress | None = None) -> dict[str, findings.PoolSeed]:
        """The seed's pool, every missing cell trained (saved member by member), as each design reads it."""
        p = self.preset
        store = self.pool_store(seed)
        protocol = scoring.Protocol(p.learning_rates, self.selection_seeds(seed) + self.panel_seeds(seed), p.steps)
        for member, panel in self._pool_work(seed):
            missing = tuple(g for g in panel if not store.has(member, g))
            if bar is not None:
                bar.advance(0, status=f"seed {seed}: pool member {member.block} ({member.genes().summary()})")
            if missing:
                adam = store.get(member, ADAM) if store.has(member, ADAM) else None
                store.add(pool_lib.tune_member(member, missing, protocol, len(p.train_seeds), p.size,
                                               p.param_budget, adam))
            if bar is not None:
                bar.advance(1, status=f"seed {seed}: pool member {member.block} {'loaded' if not missing else 'done'}",
                            reused=not missing)
        return {d.group: findings.PoolSeed(seed, tuple(ms), tuple(store.get(m, g) for m in ms for g in d.panel))
                for d, ms in zip(self.designs(), self.pool_members(seed).values())}

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

    def cross_cells(self, run: runs.Run, seed: int, panel: tuple[str, ...] | None = None) -> list[Cell]:
        """Every ``panel`` optimizer (default: the preset's) on the top-k distinct architectures of
        ``run``: log10 held-out loss on the measurement seeds (``panel_seeds``), trained as a pool's
        cells are (``pool.tune_member``: one compilation serves both) and the measurement half kept.
        Before pools, as then: the evaluator (and its backend) tunes on the panel seeds alone."""
        p = self.preset
        archs = list({c.architecture.key(): c.architecture for c in run.hall_of_fame}.values())[:p.top_k]
        pairs = [(g, arch) for arch in archs for g in (panel or p.panel)]
        if not p.measure_seeds:
            return self._evaluated_cells(run, seed, pairs)
        protocol = scoring.Protocol(p.learning_rates, self.selection_seeds(seed) + self.panel_seeds(seed), p.steps)
        out = []
        for arch in archs:
            member = pool_lib.Member(0, tasks.architecture_record(arch))
            cells = pool_lib.tune_member(member, panel or p.panel, protocol, len(p.train_seeds), p.size,
                                         p.param_budget)
            out += [Cell(c.optimizer, arch.summary(), c.measurement) for c in cells]
        return out

    def _evaluated_cells(self, run: runs.Run, seed: int, pairs: list[tuple[str, Any]]) -> list[Cell]:
        config = self.config("panel", seed, **{"coevolution.mode": "joint", "coevolution.start_architectures": "varied",
                                               "protocol.seeds": list(self.panel_seeds(seed)),
                                               "coevolution.family": run.config.coevolution.family})
        evaluator = Evaluator(config)
        backend = make_backend(config.evaluation.backend, evaluator)
        try:
            results = backend.map([encode_candidate(dsl.library.get(g), arch) for g, arch in pairs])
        finally:
            backend.close()
        return [Cell(g, arch.summary(), tuple(_log10(x) for x in result.tasks[ARCHITECTURE_TASK].per_seed))
                for (g, arch), result in zip(pairs, results)]

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

        def cells(panel: str, what: str, compute) -> list[Cell]:
            return step(f"{panel} panel ({what})", self._cells_file(panel, seed).exists(),
                        lambda: self.cells(panel, seed, compute))

        pools = self.pool_seeds(seed, bar)
        results = {}
        for arm in self.arms():
            run = step(f"{arm.name} ({arm.doing})", self.run_finished(arm.name, seed),
                       lambda arm=arm: self.run(arm.name, seed))
            if arm.kind == ARCHITECTURES:
                found = cells(f"cross-{arm.fixed}",
                              f"every optimizer on {arm.name}'s top {self.preset.top_k}",
                              lambda arm=arm, run=run: self.cross_cells(run, seed, arm.panel))
                results[arm.name] = ArmResult(arm.kind, str(run.path), tuple(found))
            elif arm.kind == JOINT:
                results[arm.name] = ArmResult(arm.kind, str(run.path), joint=_joint_summary(run))
            else:
                found = cells("nondeep", "every optimizer on the non-deep tasks", lambda: self.nondeep_cells(seed))
                results[arm.name] = ArmResult(arm.kind, str(run.path), tuple(found), rule=run.candidate(1).text)
        return findings.SeedResult(seed=seed, arms=results, pools=pools)

    def execute(self) -> findings.Report:
        start = time.perf_counter()
        members = len(self._pool_work(0)) if self.preset.pool else 0
        units = self.preset.seeds * (sum(arm.units for arm in self.arms()) + members)
        with Progress(units, f"hypothesis ({self.name})", stream=None if self.progress else _Quiet()) as bar:
            seeds = [self.seed_result(seed, bar) for seed in range(self.preset.seeds)]
        report = findings.analyse(self.name, self.preset, seeds, self.arms(), self.preset.panel,
                                  time.perf_counter() - start, planted=PLANTED, designs=self.designs())
        report_files.write(report, self.out)
        return report


def _joint_summary(run: runs.Run) -> findings.JointArm:
    """Per generation, the share of the children that are Adam-like; the best rule's distances."""
    adam = dsl.library.get(ADAM)
    seen: dict[str, float] = {}
    by_generation: dict[int, list[bool]] = {}
    for c in RunStore.open(run.path).candidates():
        if c.fingerprint not in seen:
            seen[c.fingerprint] = similarity(c.rule, adam)
        by_generation.setdefault(c.generation, []).append(seen[c.fingerprint] >= findings.ADAM_LIKE)
    best = run.rule(1)
    return findings.JointArm(
        adam_like_share=tuple(sum(v) / len(v) for _, v in sorted(by_generation.items())),
        best_rule=run.candidate(1).text,
        distance={name: 1 - similarity(best, dsl.library.get(name)) for name in findings.REFERENCES},
    )


class _Quiet:
    def write(self, _): ...

    def flush(self): ...


def run_experiment(preset: str | Preset = "quick", seeds: int | None = None, out: str | Path = "runs/hypothesis",
                   backend: str = "inprocess", address: str = "", progress: bool = True,
                   family: str | None = None) -> findings.Report:
    """Run (or resume) the experiment in ``out`` with architectures of ``family`` (default: the
    preset's, ``token_model``; "mlp" runs the MLP experiment as before pools); write ``report.md``,
    ``report.json``, ``report.png`` and, with a pool, ``genes.png``."""
    return Experiment(out, preset, seeds, backend, address, progress, family).execute()
