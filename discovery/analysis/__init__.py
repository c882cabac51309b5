"""Reading results: inspect a run, export a rule, the baselines table, compare, plots."""
