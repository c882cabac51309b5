"""Training and scoring: one jitted (lr x seed)-vmapped call per optimizer and task, then scores.

Example::

    from discovery.training import scoring, trainer
    result = trainer.train(dsl.library.get("lion"), tasks.get("mf_k4"), [1e-3, 1e-2], [0, 1], 200)
    scoring.score(result).tuned
"""
