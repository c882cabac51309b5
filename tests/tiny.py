"""The tiny run config the run, inspect and export tests share (seconds, not minutes)."""

from discovery import config

TINY = {
    "run.generations": 3,
    "run.population": 6,
    "run.tournament": 3,
    "tasks.search": ["quadratic_ill", "mf_k4"],
    "tasks.held_out": ["rosenbrock"],
    "protocol.learning_rates": [1e-3, 1e-2, 1e-1],
    "protocol.seeds": [0],
    "protocol.steps": 30,
    "protocol.held_out_steps": 40,
    "evaluation.path": "interpreter",
    "evaluation.hall_of_fame": 4,
}


def tiny(**extra) -> dict:
    return config.load(**{**TINY, **extra})
