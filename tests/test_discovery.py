"""Discovery from scratch: a fitness with signal everywhere, building blocks, cheap screening,
no collapse (issue 23)."""

import random

import numpy as np
import optax
import pytest

import dsl
from discovery import runs, tasks
from discovery.config import BLOCK_MUTATIONS, MUTATION_KINDS, VariationSettings
from discovery.evaluation.evaluator import Evaluator
from discovery.evolution import blocks, validity
from discovery.evolution.engine import Evolution
from discovery.evolution.variation import mutate
from discovery.records import Evaluation, TaskResult
from discovery.training import fitness, scoring, tuning
from tests.tiny import tiny

NO_PROGRESS = dsl.parse("def stalls():\n    return g * (t > 1000)\n")  # zero for the first 1000 steps
MOMENTUM = dsl.parse("def heavy_ball():\n    m = 0.9 * m + g\n    return m\n")


@pytest.fixture(scope="module")
def evaluator():
    return Evaluator(tiny(**{"tasks.search": ["quadratic_ill"], "protocol.steps": 100,
                             "protocol.learning_rates": [1e-3, 1e-2, 1e-1, 1.0]}))


def test_task_scores_are_graded_beyond_the_clip_up_to_no_progress():
    assert fitness.task_score(-3.0, 6.0, 1.0) == -1.0 and fitness.task_score(0.5, 6.0, 1.0) == 0.5
    assert fitness.task_score(1.5, 6.0, 1.0) == pytest.approx(1.1)
    assert fitness.task_score(6.0, 6.0, 1.0) == 2.0 == fitness.no_progress(1.0)
    graded = [fitness.task_score(r, 6.0, 1.0) for r in np.linspace(-2, 6, 33)]
    assert graded == sorted(graded)  # monotone: less progress never scores better
    assert fitness.task_score(3.0, None, 1.0) == 1.0  # references without Adam's decades: clipped
    assert fitness.fitness([1.1], 3, 1.0) == pytest.approx((1.1 + 4.0) / 3)  # two tasks untrained


def test_no_progress_scores_worst_then_sgd_then_momentum(evaluator):
    """On the ill-conditioned quadratic tuned SGD is far behind Adam and momentum between them:
    the fitness orders them so, where the clip at one decade scored SGD like a stalled rule."""
    stalled, sgd, heavy = (evaluator.evaluate(r) for r in (NO_PROGRESS, dsl.library.get("sgd"), MOMENTUM))
    assert stalled.tasks["quadratic_ill"].ratio == fitness.no_progress(1.0) and stalled.hurdle_failed
    assert stalled.fitness > sgd.fitness > heavy.fitness
    assert sgd.tasks["quadratic_ill"].log_ratio > 1.0  # more than a decade behind Adam: beyond the clip
    assert sgd.tasks["quadratic_ill"].ratio < fitness.no_progress(1.0)


def test_a_sharp_optimum_is_refined_within_half_a_decade_without_recompiling():
    task = tasks.get("quadratic_ill", "small")
    coarse = scoring.Protocol(learning_rates=(1e-2, 3.16e-2, 0.1, 0.316, 1.0, 3.16), seeds=(0,), steps=60,
                              refine=False)
    fine = scoring.Protocol(coarse.learning_rates, coarse.seeds, coarse.steps, refine=True)
    before = tuning.tune(optax.sgd, task, coarse)
    with dsl.count_compilations() as compiles:
        after = tuning.tune(optax.sgd, task, fine)
    assert compiles.count == 0  # the refinement block has the first block's size
    assert len(after.score.learning_rates) == len(before.score.learning_rates) + len(coarse.learning_rates)
    assert after.score.tuned < before.score.tuned
    assert abs(np.log10(after.score.tuned_lr / before.score.tuned_lr)) < 0.5
    flat = tuning.tune(optax.adam, task, fine)  # Adam's optimum is flat: nothing to refine
    assert not tuning._sharp(flat.result, flat.score, "train")


# ----------------------------------------------------------------------------- building blocks


@pytest.mark.parametrize("kind", BLOCK_MUTATIONS)
def test_every_building_block_makes_valid_rules(kind):
    rng = random.Random(kind)
    config = VariationSettings(vocabulary="blocks", mutation_weights=dict.fromkeys(MUTATION_KINDS, 0.0) | {kind: 1.0})
    made = 0
    for name in ("sgd", "momentum", "adam", "signum", "rmsprop"):
        child, what = mutate(dsl.library.get(name), rng, config)
        if what == "no-op":
            assert kind == "correct"  # no averaged slot read by the update to correct
            continue
        assert what.startswith(f"block {kind}") and isinstance(child, dsl.Rule) and child != dsl.library.get(name)
        assert dsl.parse(child.to_text()) == child
        made += 1
    assert made >= 3


def test_random_rules_of_the_blocks_vocabulary_are_made_of_blocks_and_valid():
    rng = random.Random(0)
    made = [validity.random_rule(rng, vocabulary="blocks") for _ in range(30)]
    assert all(validity.check(r) is None for r in made)
    assert len({r for r in made}) >= 10
    library = {dsl.simplify(dsl.library.get(n)) for n in dsl.library.names()}
    assert sum(dsl.simplify(r) in library for r in made) <= 3  # `return g`, `sign(g)`: blocks, not whole rules
    ema = blocks.ema(dsl.library.get("sgd"), random.Random(1))[0]
    assert len(ema.state) == 1 and ema.result == dsl.Name(ema.state[0])


# ----------------------------------------------------------------------------- screening


def test_screening_promotes_what_the_full_evaluation_ranks_best(evaluator):
    rules = [NO_PROGRESS, dsl.library.get("sgd"), MOMENTUM, dsl.library.get("adam"),
             dsl.parse("def damped():\n    return sign(g) * 0.5\n")]
    screened = [evaluator.screen(r) for r in rules]
    full = [evaluator.evaluate(r) for r in rules]
    assert all(s.screened for s in screened) and not any(f.screened for f in full)
    best_full = min(range(len(rules)), key=lambda i: full[i].fitness)
    promoted = sorted(range(len(rules)), key=lambda i: screened[i].fitness)[:2]
    assert best_full in promoted
    assert screened[0].fitness == max(s.fitness for s in screened)  # the stalled rule is last either way


def test_a_run_with_screening_resumes_exactly_and_logs_both_stages(tmp_path):
    cfg = tiny(**{"screening.promote": 0.5, "screening.steps": 10, "screening.learning_rates": 2,
                  "run.warm_start": [], "variation.vocabulary": "blocks"})
    straight = runs.run(cfg, out=tmp_path / "straight", progress=False)
    stopped = runs.run(cfg, out=tmp_path / "stopped", progress=False, stop_after=1)
    resumed = runs.run(resume=stopped.path, progress=False)
    assert [(c.key, c.fitness) for c in resumed.hall_of_fame] == [(c.key, c.fitness) for c in straight.hall_of_fame]
    logged = straight.logbook
    assert all(g.screened >= g.fully_evaluated >= 1 for g in logged if g.trained > 1)
    assert straight.summary.totals.screened > straight.summary.totals.fully_evaluated
    assert any(c.evaluation.screened for c in straight.population)
    header = (straight.path / "metrics.csv").read_text().splitlines()[0]
    assert "screened_per_s" in header and "distinct_per_1000" in header and "niches" in header


def test_a_collapsing_generation_mutates_repeats_again_and_takes_in_immigrants():
    def evaluate_batch(raws):  # every behaviour scores alike: nothing to select on
        task = TaskResult(ratio=0.0, robust_ratio=0.0, tuned=1.0, tuned_lr=0.1, diverged=0.0)
        return [Evaluation(0.0, {"mf_k4": task}, False, 0.0) for _ in raws]

    evo = Evolution(tiny(**{"run.population": 8, "run.tournament": 3}), evaluate_batch)
    evo.step()  # eight copies of the warm start: one trained, seven cache hits
    assert evo.logbook[-1].cache_hits == 7 and evo._collapsing()
    candidates = evo.step()
    last = evo.logbook[-1]
    assert last.immigrants == 2 and last.retried >= 1
    assert last.trained >= 6 and last.distinct_per_1000 > 1000 * 2 / 16
    fresh = [c for c in candidates if "; again: " in c.mutation]
    assert len(fresh) == last.retried and all(not c.cached for c in fresh)  # new behaviours only
    quiet = Evolution(tiny(**{"run.population": 8, "run.tournament": 3, "run.immigrants": 0,
                              "run.fresh_retries": 0}), evaluate_batch)
    quiet.step()
    quiet.step()
    assert quiet.logbook[-1].immigrants == 0 and quiet.logbook[-1].retried == 0
