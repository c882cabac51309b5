"""``discovery inspect``: a run's hall of fame as a table, or one rule in full."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    from discovery.analysis import inspection
    from discovery.cli import subparser

    p = subparser(subparsers, "inspect", "the hall of fame of a run as a table, or one rule in full",
                  "Print a run's hall of fame (scores vs Adam, complexity, Pareto front, "
                  "recommended pick) or, with --rule K, one rule in full. Read-only: works on a run "
                  "that is still going.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (runs/<name>-s<seed>-<time>)")
    p.add_argument("--top", type=int, help="rows to show (default: the whole hall of fame)")
    p.add_argument("--rule", type=int, metavar="K", help="show the rule at rank K in full")
    p.add_argument("--format", choices=inspection.FORMATS, default=inspection.TABLE,
                   help="table: hall of fame and Pareto front as text; json: both; csv: the hall of "
                   "fame (or the Pareto front with --pareto)")
    p.add_argument("--pareto", action="store_true", help="with --format csv: the Pareto front")
    p.add_argument("--plots", action="store_true",
                   help="also write PNG figures into the run folder (trains the top rules and "
                   "baselines once more on the search tasks; overwrites earlier figures)")
    p.add_argument("--html", action="store_true",
                   help="also write report.html into the run folder: charts, the hall of fame, the "
                   "pick's lineage, time split, config and commit on one page that works offline")
    p.add_argument("--curves", action="store_true",
                   help="with --html: also the pick's training curves against tuned Adam on each "
                   "search task (trains both once more with the run's protocol)")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from discovery import runs
    from discovery.analysis import inspection

    if args.top is not None and args.top < 1:
        raise ValueError(f"--top must be >= 1, got {args.top}")
    if args.curves and not args.html:
        raise ValueError("--curves needs --html")
    run = runs.load_run(args.run_dir)
    if args.rule is not None:
        print(inspection.format_rule(run, args.rule))
    else:
        print(inspection.render(run, args.format, args.top, args.pareto), end="\n" * (args.format == inspection.TABLE))
    if args.html:
        from discovery.analysis import report_html

        print(f"wrote {report_html.write(run, curves=args.curves)}")
    if args.plots:
        from discovery.analysis import plots

        paths = plots.write(run)
        print("wrote " + ", ".join(str(p) for p in paths))
    return 0
