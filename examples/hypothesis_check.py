"""A pipeline check of the hypothesis experiment: every round, control, arm and verdict.

    python examples/hypothesis_check.py                 # the `quick` preset (about 10 min, 2 CPU cores)
    python examples/hypothesis_check.py --tiny          # the smallest budget (about a minute): the plumbing only
    python examples/hypothesis_check.py --out DIR       # where the experiment folder goes

The same as `discovery hypothesis --preset quick`, from Python. The numbers of a pipeline
check mean nothing (a budget this small decides no prediction); the answer on a CPU is the
`medium` preset (docs: The hypothesis experiment). Re-running with the same --out resumes.
"""

from __future__ import annotations

import argparse
import dataclasses

from discovery.experiments import adam_hypothesis, findings, report_files


def tiny_preset() -> adam_hypothesis.Preset:
    """``quick`` cut to the least that runs every round and arm: 1 seed, a pool of 3 and one round,
    arms of 2 rules x 2 generations, 8 steps."""
    return dataclasses.replace(adam_hypothesis.EXPERIMENT_PRESETS["quick"], seeds=1, population=2, steps=8,
                               learning_rates=(1e-3, 1e-2, 1e-1), nondeep=("mf_k4",), param_budget=2500,
                               pool=3, pool_top_k=1, rounds=1, children=1, panel=("adam", "momentum", "sgd"),
                               control_panel=("adam", "momentum", "sgd"))


def main(argv: list[str] | None = None) -> findings.Report:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the smallest budget: checks the plumbing only")
    parser.add_argument("--out", default="runs/hypothesis-check", help="experiment folder (resumed)")
    args = parser.parse_args(argv)
    preset = tiny_preset() if args.tiny else "quick"
    report = adam_hypothesis.run_experiment(preset, out=args.out, progress=not args.tiny)
    print(report_files.markdown(report))
    print(f"written: {', '.join(f'{args.out}/{name}' for name in report_files.REPORT_FILES)}")
    return report


if __name__ == "__main__":
    main()
