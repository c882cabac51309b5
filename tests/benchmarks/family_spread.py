"""Where the optimizer matters in an architecture family: the panel over random architectures.

For ``--n`` random architectures of ``--family`` within the hypothesis preset's parameter
budget (``evolution.architectures.random_architecture``, seeded), every optimizer of the
hypothesis panel (the nine Optax baselines as DSL twins) is fairly tuned and scored exactly as
the experiment's panels score it (``Evaluator.evaluate_pair``: log10 of the tuned held-out loss,
mean over the preset's training seeds, with its standard error over seeds). Per architecture:

* panel spread = worst minus best optimizer, in decades, and its noise (the combined
  standard error of the two, sqrt(se_best^2 + se_worst^2));
* Adam minus momentum, in decades (> 0: momentum ahead).

Summary: the spread's median and range, the share of architectures with Adam ahead of momentum
by >= 0.3 decades and with momentum ahead by >= 0.3, and how often each optimizer is best.
Rows are appended to ``--out``/rows.jsonl as they finish (a second call resumes), the summary is
written to ``--out``/summary.json.

Run: ``python -m tests.benchmarks.family_spread --family token_model --n 30 --out runs/spread-token``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import statistics
import time
from pathlib import Path

import dsl
from discovery.evaluation.evaluator import Evaluator
from discovery.evolution import architectures
from discovery.experiments import adam_hypothesis as hx
from discovery.experiments.adam_hypothesis import EXPERIMENT_PRESETS, PANEL

MARGIN = 0.3


def summary(rows: list[dict]) -> dict:
    spreads = [r["spread"] for r in rows]
    gaps = [r["adam_minus_momentum"] for r in rows]
    best: dict[str, int] = {}
    for r in rows:
        best[r["best"]] = best.get(r["best"], 0) + 1
    return {
        "architectures": len(rows),
        "spread_median": statistics.median(spreads), "spread_min": min(spreads), "spread_max": max(spreads),
        "spread_noise_median": statistics.median(r["spread_noise"] for r in rows),
        "adam_ahead_share": sum(g <= -MARGIN for g in gaps) / len(rows),
        "momentum_ahead_share": sum(g >= MARGIN for g in gaps) / len(rows),
        "adam_minus_momentum_median": statistics.median(gaps), "adam_minus_momentum_min": min(gaps),
        "adam_minus_momentum_max": max(gaps),
        "best_counts": dict(sorted(best.items(), key=lambda kv: -kv[1])),
    }


# The protocol the README's spread tables were measured with (the medium preset before pools):
# 7 lrs, training seeds (0, 1), the preset's steps and budget (the experiment's pool is not used).
SPREAD_PROTOCOL = dict(learning_rates=(1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2, 3.16e-2, 0.1), train_seeds=(0, 1),
                       measure_seeds=(2, 3))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--family", default="token_model")
    parser.add_argument("--n", type=int, default=30, help="random architectures")
    parser.add_argument("--preset", default="medium", choices=list(EXPERIMENT_PRESETS), help="the protocol and budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    preset = dataclasses.replace(hx.EXPERIMENT_PRESETS[args.preset], family=args.family)
    experiment = hx.Experiment(out, dataclasses.replace(preset, **SPREAD_PROTOCOL), progress=False)
    preset = experiment.preset
    config = experiment.config("spread", 0, **{"coevolution.mode": "joint",
                                               "coevolution.start_architectures": "varied"})
    evaluator = Evaluator(config)
    rows_file = out / "rows.jsonl"
    done = [json.loads(line) for line in rows_file.read_text().splitlines()] if rows_file.exists() else []
    rng = random.Random(args.seed)
    archs = [architectures.random_architecture(rng, preset.param_budget, args.family) for _ in range(args.n)]
    start = time.perf_counter()
    for i, arch in enumerate(archs):
        if i < len(done):
            assert done[i]["architecture"] == arch.to_dict(), "rows.jsonl holds other architectures"
            continue
        cells = {}
        for name in PANEL:
            result = evaluator.evaluate_pair(dsl.library.get(name), arch).tasks["architecture"]
            cells[name] = {"log10": result.ratio, "se": result.spread, "lr": result.tuned_lr,
                           "at_limit": result.at_limit}
        finite = {k: v for k, v in cells.items() if math.isfinite(v["log10"])}
        best, worst = min(finite, key=lambda k: finite[k]["log10"]), max(finite, key=lambda k: finite[k]["log10"])
        row = {"architecture": arch.to_dict(), "summary": arch.summary(), "n_params": arch.n_params(),
               "shape": list(arch.shape(preset.param_budget)), "cells": cells, "best": best, "worst": worst,
               "spread": cells[worst]["log10"] - cells[best]["log10"],
               "spread_noise": math.hypot(cells[worst]["se"], cells[best]["se"]),
               "adam_minus_momentum": cells["adam"]["log10"] - cells["momentum"]["log10"]}
        done.append(row)
        with rows_file.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"{i + 1}/{args.n} {time.perf_counter() - start:.0f}s  spread {row['spread']:.2f} "
              f"(+-{row['spread_noise']:.2f}, best {best}, worst {worst})  adam-momentum "
              f"{row['adam_minus_momentum']:+.2f}  {arch.summary()}", flush=True)
    result = summary(done)
    (out / "summary.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
