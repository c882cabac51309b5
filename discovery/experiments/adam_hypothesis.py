"""The hypothesis experiment: is Adam best only because architectures evolved around it?

Three regimes, each an evolution run with the same population, generations,
steps and learning-rate grid (the same compute), repeated over seeds:

* A  architectures evolve with Adam held fixed (the community's process); then
     a panel (the Optax baselines, as their DSL twins, plus the best rules of
     B and C) is trained on A's final architecture: Adam's rank and margin;
* B  architectures and rules evolve jointly from varied starts: the winning
     rule's behavioural distance to Adam and its gain over tuned Adam on its
     co-evolved architecture and on A's;
* C  rules evolve on the non-deep suite: the winner's distance to Adam and
     Adam's rank there among the baselines (tuned and out of the box).

Verdicts are computed from the numbers with the rules in ``VERDICT_RULES``.
Architectures are scored by held-out loss, non-deep tasks by f - f* (or the
training loss); gains are log10 ratios (negative: lower loss than Adam).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

import dsl
from discovery import config as config_lib
from discovery import runs, tasks
from discovery.analysis.baselines import OPTIMIZERS
from discovery.training import scoring, tuning
from dsl.probe import similarity

PANEL = tuple(OPTIMIZERS)  # adam adamw sgd momentum nesterov rmsprop adagrad lion adabelief
VARIED_STARTS = ["adam", "momentum", "lion", "signum", "rmsprop", "sgd"]
ADAM_LIKE = 0.95  # similarity to Adam at or above which a rule counts as Adam-like
WIN = -0.05  # log10 gain below which a rule beats tuned Adam (>= 11% lower loss)

PRESETS = {
    "quick": {"seeds": 3, "population": 8, "generations": 5, "steps": 100, "size": "small",
              "learning_rates": [1e-4, 1e-3, 3.16e-3, 1e-2, 3.16e-2, 1e-1], "train_seeds": [0],
              "nondeep": ["quadratic_ill", "mf_k4", "klr_mushrooms"], "param_budget": 20000},
    "full": {"seeds": 5, "population": 32, "generations": 40, "steps": 500, "size": "default",
             "learning_rates": list(scoring.DEFAULT_LEARNING_RATES), "train_seeds": [0, 1],
             "nondeep": tasks.names("nondeep"), "param_budget": 50000},
}

VERDICT_RULES = {
    "P1": ("Adam is strong on deep nets and weak elsewhere: supported if Adam's median tuned rank "
           "on A's evolved architectures is in the top third of the panel AND its median rank on "
           "the non-deep tasks is at least 2 places worse; contradicted if its non-deep rank is no "
           "worse than its deep rank; otherwise inconclusive."),
    "P2": (f"Co-evolved non-Adam rules win: supported if in a majority of seeds B's best rule is "
           f"not Adam-like (similarity to Adam < {ADAM_LIKE}) and beats tuned Adam on its own "
           f"co-evolved architecture by log10 gain < {WIN}; contradicted if that happens in no "
           f"seed and the median gain is >= 0; otherwise inconclusive."),
}


def _config(preset: dict, seed: int, **overrides) -> dict:
    base = {
        "run.name": overrides.pop("name"),
        "run.seed": seed,
        "run.population": preset["population"],
        "run.generations": preset["generations"],
        "run.tournament": min(4, preset["population"]),
        "protocol.learning_rates": preset["learning_rates"],
        "protocol.seeds": preset["train_seeds"],
        "protocol.steps": preset["steps"],
        "tasks.size": preset["size"],
        "tasks.held_out": [],
        "evaluation.path": "interpreter",
        "coevolution.param_budget": preset["param_budget"],
    }
    return config_lib.load(**{**base, **overrides})


def panel_scores(rules: dict[str, dsl.Rule], task: tasks.Task, preset: dict, metric: str) -> dict:
    """TaskScore per rule on ``task``, each fairly tuned (``tuning.tune``: natural scale,
    bracketing) and also trained at its default lr if it is an Optax baseline."""
    protocol = scoring.Protocol(tuple(preset["learning_rates"]), tuple(preset["train_seeds"]),
                                preset["steps"])
    out = {}
    for name, rule in rules.items():
        default = OPTIMIZERS[name].default_lr if name in OPTIMIZERS else None
        out[name] = tuning.tune(rule, task, protocol, default_lr=default, metric=metric).score
    return out


def _rank(scores: dict, name: str, metric: str = "tuned") -> int:
    values = {k: max(getattr(s, metric), scoring.FLOOR) for k, s in scores.items()
              if getattr(s, metric) is not None}
    return scoring.rank(values, name)


def _gain(scores: dict, name: str) -> float:
    return scoring.log_ratio(scores[name].tuned, scores["adam"].tuned)


def run_seed(preset: dict, seed: int, out: Path, progress: bool) -> dict:
    """The three regimes and their panels for one seed."""
    run_a = runs.run(_config(preset, seed, name="A", **{
        "coevolution.mode": "architectures", "coevolution.fixed_rule": "adam",
        "coevolution.start_architectures": "varied"}), out=out, progress=progress)
    run_b = runs.run(_config(preset, seed, name="B", **{
        "coevolution.mode": "joint", "coevolution.start_architectures": "varied",
        "run.warm_start": VARIED_STARTS}), out=out, progress=progress)
    run_c = runs.run(_config(preset, seed, name="C", **{
        "tasks.search": preset["nondeep"], "run.warm_start": VARIED_STARTS}),
        out=out, progress=progress)

    best_b = run_b.candidate(1)
    rule_b, rule_c = best_b.rule, run_c.rule(1)
    arch_a, arch_b = run_a.candidate(1).architecture, best_b.architecture
    panel = {name: dsl.library.get(name) for name in PANEL}
    size, budget = preset["size"], preset["param_budget"]

    on_a = panel_scores({**panel, "B": rule_b, "C": rule_c}, tasks.from_architecture(arch_a, size, budget=budget),
                        preset, "test")
    on_b = panel_scores({"adam": panel["adam"], "B": rule_b}, tasks.from_architecture(arch_b, size, budget=budget),
                        preset, "test")
    nondeep = {name: panel_scores({**panel, "C": rule_c}, tasks.get(name, size), preset, "train")
               for name in preset["nondeep"]}
    others_a = [n for n in on_a if n != "adam"]
    adam = dsl.library.get("adam")
    return {
        "seed": seed,
        "runs": {"A": str(run_a.path), "B": str(run_b.path), "C": str(run_c.path)},
        "A": {
            "architecture": arch_a.to_dict(),
            "adam_rank": _rank(on_a, "adam"),
            "panel_size": len(on_a),
            "margin": scoring.log_ratio(min(on_a[n].tuned for n in others_a), on_a["adam"].tuned),
            "scores": {n: s.to_dict() for n, s in on_a.items()},
        },
        "B": {
            "rule": rule_b.to_text(), "architecture": arch_b.to_dict(),
            "similarity_to_adam": similarity(rule_b, adam),
            "gain_own_architecture": _gain(on_b, "B"),
            "gain_on_A_architecture": _gain(on_a, "B"),
        },
        "C": {
            "rule": rule_c.to_text(),
            "similarity_to_adam": similarity(rule_c, adam),
            "gain": float(np.mean([_gain(s, "C") for s in nondeep.values()])),
            "adam_rank_tuned": float(np.median([_rank(s, "adam") for s in nondeep.values()])),
            "adam_rank_out_of_box": float(np.median([
                _rank({k: v for k, v in s.items() if k != "C"}, "adam", "out_of_box")
                for s in nondeep.values()])),
            "scores": {t: {n: s.to_dict() for n, s in sc.items()} for t, sc in nondeep.items()},
        },
    }


def verdicts(seeds: list[dict]) -> dict:
    """Each prediction: supported / contradicted / inconclusive, from the numbers (VERDICT_RULES)."""
    panel = seeds[0]["A"]["panel_size"]
    rank_deep = float(np.median([s["A"]["adam_rank"] for s in seeds]))
    rank_nondeep = float(np.median([s["C"]["adam_rank_tuned"] for s in seeds]))
    if rank_deep <= panel / 3 and rank_nondeep >= rank_deep + 2:
        p1 = "supported"
    elif rank_nondeep <= rank_deep:
        p1 = "contradicted"
    else:
        p1 = "inconclusive"
    wins = [s["B"]["similarity_to_adam"] < ADAM_LIKE and s["B"]["gain_own_architecture"] < WIN
            for s in seeds]
    median_gain = float(np.median([s["B"]["gain_own_architecture"] for s in seeds]))
    if sum(wins) > len(seeds) / 2:
        p2 = "supported"
    elif not any(wins) and median_gain >= 0:
        p2 = "contradicted"
    else:
        p2 = "inconclusive"
    return {
        "P1": {"verdict": p1, "rule": VERDICT_RULES["P1"], "adam_rank_deep": rank_deep,
               "adam_rank_nondeep": rank_nondeep, "panel_size": panel},
        "P2": {"verdict": p2, "rule": VERDICT_RULES["P2"], "seeds_won": int(sum(wins)),
               "median_gain": median_gain},
    }


def _spread(values: list[float]) -> dict:
    return {"median": float(np.median(values)), "min": float(np.min(values)),
            "max": float(np.max(values)), "values": [float(v) for v in values]}


def table(seeds: list[dict]) -> list[dict]:
    """Rows: regime | best rule | distance to Adam | gain vs tuned Adam | Adam's rank."""
    def short(text: str) -> str:
        return " ; ".join(line.strip() for line in text.strip().splitlines()[1:])

    return [
        {"regime": "A: architectures evolve, Adam fixed", "best_rule": "adam",
         "distance_to_adam": _spread([0.0 for _ in seeds]),
         "gain_vs_tuned_adam": _spread([s["A"]["margin"] for s in seeds]),
         "gain_note": "best other panel rule on A's architecture",
         "adam_rank": _spread([s["A"]["adam_rank"] for s in seeds])},
        {"regime": "B: architectures and rules evolve jointly", "best_rule": short(seeds[0]["B"]["rule"]),
         "distance_to_adam": _spread([1 - s["B"]["similarity_to_adam"] for s in seeds]),
         "gain_vs_tuned_adam": _spread([s["B"]["gain_own_architecture"] for s in seeds]),
         "gain_note": "B's rule on its co-evolved architecture",
         "gain_on_A_architecture": _spread([s["B"]["gain_on_A_architecture"] for s in seeds]),
         "adam_rank": None},
        {"regime": "C: rules evolve on the non-deep suite", "best_rule": short(seeds[0]["C"]["rule"]),
         "distance_to_adam": _spread([1 - s["C"]["similarity_to_adam"] for s in seeds]),
         "gain_vs_tuned_adam": _spread([s["C"]["gain"] for s in seeds]),
         "gain_note": "mean over non-deep tasks",
         "adam_rank": _spread([s["C"]["adam_rank_tuned"] for s in seeds]),
         "adam_rank_out_of_box": _spread([s["C"]["adam_rank_out_of_box"] for s in seeds])},
    ]


def _fmt(spread: dict | None, digits: int = 2) -> str:
    if spread is None:
        return "-"
    return f"{spread['median']:+.{digits}f} [{spread['min']:+.{digits}f}, {spread['max']:+.{digits}f}]"


def markdown(result: dict) -> str:
    rows = result["table"]
    lines = [
        "# Hypothesis experiment",
        "",
        f"Preset `{result['preset']}`, {len(result['seeds'])} seeds, {result['seconds']:.0f} s. "
        "Gains are log10(loss / tuned Adam's loss): negative means lower loss than Adam. "
        "Distance to Adam is 1 - cosine similarity of update directions on probe gradients. "
        "Median [min, max] over seeds. Adam's rank is among the "
        f"{result['seeds'][0]['A']['panel_size']}-rule panel (1 = best).",
        "",
        "| regime | best rule (seed 0) | distance to Adam | gain vs tuned Adam | Adam's rank |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        rank = _fmt(row["adam_rank"], 1) if row["adam_rank"] else "-"
        if "adam_rank_out_of_box" in row:
            rank += f" (out of the box {_fmt(row['adam_rank_out_of_box'], 1)})"
        gain = _fmt(row["gain_vs_tuned_adam"]) + f" ({row['gain_note']})"
        if "gain_on_A_architecture" in row:
            gain += f"; on A's architecture {_fmt(row['gain_on_A_architecture'])}"
        lines.append(f"| {row['regime']} | `{row['best_rule']}` | {_fmt(row['distance_to_adam'])} | "
                     f"{gain} | {rank} |")
    lines += ["", "## Verdicts", ""]
    for key, v in result["verdicts"].items():
        lines.append(f"- **{key}: {v['verdict']}**. Rule: {v['rule']}")
    lines += ["", "Runs: " + ", ".join(p for s in result["seeds"] for p in s["runs"].values())]
    return "\n".join(lines) + "\n"


def figure(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["table"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for i, row in enumerate(rows):
        values = row["gain_vs_tuned_adam"]["values"]
        axes[0].scatter([i] * len(values), values, color=f"C{i}", zorder=3)
        axes[0].hlines(row["gain_vs_tuned_adam"]["median"], i - 0.25, i + 0.25, color=f"C{i}")
    axes[0].axhline(0, color="gray", lw=1, ls="--")
    axes[0].set_xticks(range(len(rows)), ["A: Adam fixed", "B: joint", "C: non-deep"])
    axes[0].set_ylabel("log10(loss / tuned Adam's loss)")
    axes[0].set_title("Gain over tuned Adam per seed (lower: beats Adam)")
    ranked = [(i, r) for i, r in enumerate(rows) if r["adam_rank"]]
    for i, row in ranked:
        axes[1].scatter([i] * len(row["adam_rank"]["values"]), row["adam_rank"]["values"], color=f"C{i}")
    labels = {0: "A: evolved architectures", 2: "C: non-deep tasks"}
    axes[1].set_xticks([i for i, _ in ranked], [labels[i] for i, _ in ranked])
    axes[1].set_ylabel("Adam's rank in the panel (1 = best)")
    axes[1].yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes[1].invert_yaxis()
    axes[1].set_title("Where Adam ranks")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_experiment(preset_name: str = "quick", seeds: int | None = None, out: str | Path = "runs/hypothesis",
                   progress: bool = True) -> dict:
    if preset_name not in PRESETS:
        raise ValueError(f"unknown preset {preset_name!r}; presets: {list(PRESETS)}")
    preset = dict(PRESETS[preset_name])
    n_seeds = preset["seeds"] if seeds is None else seeds
    if n_seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {n_seeds}")
    out = Path(out)
    if (out / "report.json").exists():
        raise ValueError(f"{out} already holds a report; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    per_seed = [run_seed(preset, seed, out, progress) for seed in range(n_seeds)]
    result = {"preset": preset_name, "config": preset, "seeds": per_seed,
              "seconds": time.perf_counter() - start}
    result["table"] = table(per_seed)
    result["verdicts"] = verdicts(per_seed)
    (out / "report.json").write_text(json.dumps(result, indent=2))
    (out / "report.md").write_text(markdown(result))
    figure(result, out / "report.png")
    return result
