"""The lr x seed trainer and the scores built on it."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dsl
from discovery import tasks
from discovery.training import consistency, scoring, trainer

LRS = (1e-3, 1e-2, 1e-1, 1.0)
SEEDS = (0, 1)
STEPS = 50


@pytest.fixture(scope="module")
def quadratic():
    return tasks.get("quadratic_ill", "small")


def test_rule_through_interpreter_equals_optax(quadratic):
    ours = trainer.train(dsl.library.get("adam"), quadratic, LRS, SEEDS, STEPS)
    ref = trainer.train(optax.adam, quadratic, LRS, SEEDS, STEPS)
    np.testing.assert_allclose(ours.final_loss, ref.final_loss, rtol=1e-5)
    # one float32 rounding apart per step: 1 of 400 curve points differs by 1.07e-5 relative
    np.testing.assert_allclose(ours.curves, ref.curves, rtol=2e-5)
    assert ours.curves.shape == (len(LRS), len(SEEDS), STEPS)
    assert ours.final_loss[1, 0] < ours.initial_loss[1, 0]


def test_a_new_rule_trains_without_compiling(quadratic):
    trainer.train(dsl.library.get("adam"), quadratic, LRS, SEEDS, STEPS)
    fresh = dsl.parse("def fresh(k=0.5):\n    m = k * m + sign(g) * abs(g) ** 0.5\n    return m\n")
    with dsl.count_compilations() as compiles:
        result = trainer.train(fresh, quadratic, LRS, SEEDS, STEPS, k=0.7)
        trainer.train(dsl.library.get("lion"), quadratic, LRS, SEEDS, STEPS)
    assert compiles.count == 0
    assert np.isfinite(result.value).all()


def test_a_short_grid_padded_to_a_longer_ones_lanes_trains_alike_on_its_trace(quadratic):
    lion = dsl.library.get("lion")
    long = trainer.train(lion, quadratic, LRS, SEEDS, STEPS)
    before = trainer.traced()
    short = trainer.train(lion, quadratic, LRS[:1], SEEDS, STEPS, lanes=len(LRS))
    assert trainer.traced() == before  # one lane padded to four: the four-lane trace
    np.testing.assert_array_equal(short.curves, long.curves[:1])
    assert short.curves.shape == (1, len(SEEDS), STEPS)


def test_divergence_is_scored_not_raised(quadratic):
    result = trainer.train(optax.sgd, quadratic, (1e-3, 10.0), SEEDS, STEPS)
    assert not result.diverged[0].any() and result.diverged[1].all()
    np.testing.assert_allclose(result.value[1], result.initial_loss[1] - quadratic.f_star)
    s = scoring.score(result)
    assert np.isfinite([s.tuned, s.robust]).all() and s.diverged_fraction == 0.5
    assert s.tuned_lr == pytest.approx(1e-3)


def test_nan_rule_is_marked_diverged(quadratic):
    nan_rule = dsl.parse("def bad():\n    return log(g - 1e9)\n")
    result = trainer.train(nan_rule, quadratic, LRS, SEEDS, 5)
    assert result.diverged.all()
    np.testing.assert_allclose(result.value, result.initial_loss - quadratic.f_star)


def test_training_is_deterministic_per_seed():
    task = tasks.get("mnist1d_mlp", "small")
    a = trainer.train(dsl.library.get("signum"), task, (1e-2,), (0, 1), 20)
    b = trainer.train(dsl.library.get("signum"), task, (1e-2,), (0, 1), 20)
    np.testing.assert_array_equal(a.curves, b.curves)
    assert not np.array_equal(a.curves[0, 0], a.curves[0, 1])
    assert set(a.metrics) == {"test_loss", "accuracy"}
    assert ((a.metrics["accuracy"] >= 0) & (a.metrics["accuracy"] <= 1)).all()


def test_bad_arguments(quadratic):
    with pytest.raises(ValueError, match="steps"):
        trainer.train(optax.sgd, quadratic, LRS, SEEDS, 0)
    with pytest.raises(ValueError, match="at least one"):
        trainer.train(optax.sgd, quadratic, (), SEEDS, 5)
    with pytest.raises(dsl.DSLError, match="no hyper-parameter"):
        trainer.train(dsl.library.get("adam"), quadratic, LRS, SEEDS, 5, beta=3)
    with pytest.raises(ValueError, match="positive"):
        scoring.Protocol(learning_rates=(0.0, 1.0))


def _fake_result(values, lrs=(1e-3, 1e-2, 1e-1), f_star=None, diverged=None):
    values = np.asarray(values, np.float64)
    initial = np.full_like(values, 10.0)
    return trainer.TrainResult(
        task="fake", learning_rates=np.asarray(lrs), seeds=np.arange(values.shape[1]), steps=1,
        curves=values[..., None], initial_loss=initial, final_loss=values, metrics={},
        diverged=np.zeros(values.shape, bool) if diverged is None else diverged, f_star=f_star,
    )


def test_scores_are_min_window_mean_and_default_of_seed_means():
    result = _fake_result([[4.0, 6.0], [1.0, 2.0], [20.0, 30.0]], f_star=0.5)
    s = scoring.score(result, default_lr=1e-3)
    assert s.tuned == pytest.approx(1.0) and s.tuned_lr == pytest.approx(1e-2)  # (1+2)/2 - 0.5
    assert s.out_of_box == pytest.approx(4.5)  # (4+6)/2 - 0.5
    # geometric mean within one decade of the tuned lr: 4.5, 1.0, 9.5 (clipped at 10 - 0.5)
    assert s.robust == pytest.approx((4.5 * 1.0 * 9.5) ** (1 / 3))
    assert not s.at_limit and s.learning_rates == (1e-3, 1e-2, 1e-1)
    with pytest.raises(ValueError, match="not trained"):
        scoring.score(result, default_lr=3e-3)
    wide = _fake_result([[9.0, 9.0], [4.0, 4.0], [1.0, 1.0], [2.0, 2.0]], lrs=(1e-4, 1e-3, 1e-2, 1e-1))
    assert scoring.score(wide).robust == pytest.approx((4.0 * 1.0 * 2.0) ** (1 / 3))  # 1e-4 is outside
    edge = scoring.score(_fake_result([[1.0, 1.0], [2.0, 2.0]], lrs=(1e-3, 1e-2)))
    assert edge.at_limit and edge.tuned_lr == 1e-3  # an optimum at the edge of what was tried


def _nan_at_init(quadratic):
    """The quadratic with a loss that is NaN at its initial parameters: the task's own fault."""
    return dataclasses.replace(quadratic, name="quadratic_nan_at_init",
                               loss=lambda p, batch: quadratic.loss(p, batch) * jnp.nan)


def test_a_non_finite_initial_loss_of_the_task_scores_infinite_never_nan(quadratic):
    task = _nan_at_init(quadratic)
    curve = np.ones((2, 2, 3))  # a finite curve, but the initial full-data loss is NaN
    outputs = (curve, np.full((2, 2), np.nan), np.ones((2, 2)), {"test_loss": np.ones((2, 2))})
    broken = trainer._result(task, (1e-3, 1e-2), np.arange(2), 3, outputs)
    assert broken.diverged.all() and np.all(broken.value == np.inf) and np.all(broken.test_value == np.inf)
    s = scoring.score(broken, default_lr=1e-3)
    assert s.tuned == s.out_of_box == np.inf
    fine = scoring.score(_fake_result([[1.0, 1.0], [0.5, 0.5]], lrs=(1e-3, 1e-2)), default_lr=1e-3)
    assert scoring.noisy_rank({"fine": fine, "broken": s}, "broken", "tuned") == 2  # last, not first
    finite = (curve, np.full((2, 2), 10.0), np.array([[1.0, 1.0], [0.5, 0.5]]), {"test_loss": np.ones((2, 2))})
    both = broken.merge(trainer._result(task, (1e-1, 1.0), np.arange(2), 3, finite))
    assert scoring.score(both).tuned == pytest.approx(0.5)  # finite lrs still tune
    trained = trainer.train(optax.sgd, task, [1e-2], [0], 3)  # the real thing scores alike
    assert trained.diverged.all() and np.all(trained.value == np.inf)


def test_an_executable_that_computes_a_finite_initial_loss_as_nan_is_an_error(quadratic):
    """What a miscompiled training returned (NaN where the loss at init is finite) is never a score."""
    outputs = (np.ones((2, 2, 3)), np.full((2, 2), np.nan), np.ones((2, 2)), {"test_loss": np.ones((2, 2))})
    with pytest.raises(trainer.ExecutableError, match="miscompiled executable") as caught:
        trainer._result(quadratic, (1e-3, 1e-2), np.arange(2), 3, outputs)
    assert "in 4 of 4 lanes" in str(caught.value) and "\n" not in str(caught.value)
    assert trainer.initial_losses(quadratic, [0, 1]) == pytest.approx(
        trainer.train(optax.sgd, quadratic, [1e-2], [0, 1], 1).initial_loss[0])


def test_ratios_against_adam_and_ranks():
    ours = scoring.score(_fake_result([[0.1, 0.1], [1.0, 1.0], [2.0, 2.0]]), default_lr=1e-2)
    adam = scoring.score(_fake_result([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]), default_lr=1e-2)
    ratios = scoring.versus(ours, adam)
    assert ratios["tuned"] == pytest.approx(-1.0)
    assert ratios["out_of_box"] == pytest.approx(0.0)
    assert scoring.log_ratio(0.0, 0.0) == 0.0
    assert scoring.rank({"adam": 0.3, "sgd": 0.1, "lion": 0.3}, "adam") == 2
    grid = scoring.Protocol(learning_rates=(1e-3, 1e-1)).grid_with(1e-2)
    assert grid == (1e-3, 1e-2, 1e-1)


def test_native_path_matches_interpreter_and_reuses_structure(quadratic):
    adam = dsl.library.get("adam")
    interp = trainer.train(adam, quadratic, LRS, SEEDS, STEPS)
    native = trainer.train(adam, quadratic, LRS, SEEDS, STEPS, path="native")
    np.testing.assert_allclose(native.final_loss, interp.final_loss, rtol=5e-5)
    with dsl.count_compilations() as compiles:
        child = trainer.train(adam, quadratic, LRS, SEEDS, STEPS, path="native", b1=0.8, eps=1e-6)
    assert compiles.count == 0
    ref = trainer.train(adam, quadratic, LRS, SEEDS, STEPS, b1=0.8, eps=1e-6)
    np.testing.assert_allclose(child.final_loss, ref.final_loss, rtol=5e-5)
    with pytest.raises(ValueError, match="unknown path"):
        trainer.train(adam, quadratic, LRS, SEEDS, STEPS, path="gpu")


def test_compiled_trainers_are_bounded_least_recently_used_first(monkeypatch, quadratic):
    monkeypatch.setattr(trainer, "MAX_COMPILED", 2)
    adam = dsl.library.get("adam")
    first = trainer.train(adam, quadratic, LRS, SEEDS, 7)
    trainer.train(adam, quadratic, LRS, SEEDS, 8)
    trainer.train(adam, quadratic, LRS, SEEDS, 9)  # evicts the 7-step trainer
    assert len(trainer._COMPILED) <= 2
    with dsl.count_compilations() as compiles:
        again = trainer.train(adam, quadratic, LRS, SEEDS, 7)
    assert compiles.count >= 1  # it was evicted, so it compiles again, with the same result
    np.testing.assert_array_equal(again.final_loss, first.final_loss)


def test_ranks_treat_differences_within_seed_noise_as_ties():
    def score(values):
        return scoring.TaskScore("t", float(np.mean(values)), 1e-2, 1.0, None, None, 0.0,
                                 tuned_per_seed=tuple(values))

    scores = {"adam": score([1.0, 1.3, 0.8]), "close": score([0.9, 1.2, 0.7]),
              "far": score([0.01, 0.012, 0.009]), "worse": score([10.0, 11.0, 9.0])}
    assert scoring.noisy_rank(scores, "far") == 1
    assert scoring.noisy_rank(scores, "adam") == scoring.noisy_rank(scores, "close") == 2
    assert scoring.noisy_rank(scores, "worse") == 4
    assert not scoring.beats(scores["close"], scores["adam"]) and scoring.beats(scores["far"], scores["adam"])
    exact = {"a": score([1.0]), "b": score([0.999])}  # one seed: no spread, any difference counts
    assert scoring.noisy_rank(exact, "a") == 2


@pytest.mark.parametrize("name", tasks.names())
def test_two_compilations_of_a_training_agree_on_every_task(name):
    """n and n + 1 learning rates are two independent XLA compilations of the same training: on
    their shared lanes they must give the same numbers (a miscompiled one need not give NaN)."""
    agreement = consistency.compare_compilations(optax.sgd, tasks.get(name, "small"), [1e-3, 1e-2],
                                                 [0], 5, name="sgd")
    assert agreement.compilations == 2 and agreement.lanes == 2
    assert agreement.agree, agreement


def test_the_consistency_check_catches_a_finite_wrong_number(quadratic, monkeypatch):
    train = trainer.train

    def corrupted(*args, **kwargs):  # an executable that returns finite, wrong curves at n + 1 lrs
        result = train(*args, **kwargs)
        if len(args[2]) == 3:
            result = dataclasses.replace(result, curves=result.curves * (1 + 1e-3))
        return result

    monkeypatch.setattr(trainer, "train", corrupted)
    bad = consistency.compare_compilations(optax.sgd, quadratic, [1e-3, 1e-2], [0], 5)
    assert not bad.agree and bad.worst_curve == pytest.approx(1e-3, rel=1e-2) and bad.worst_initial == 0
