"""All four evaluators of a rule fed the same gradients and parameters, compared.

Native (``dsl.scale_by_rule``), interpreter (``dsl.encode`` run by one shared
compiled step), the exported module (``dsl.python_module`` source written to a
file and imported) and the NumPy probe (``dsl.probe.run_numpy``, float64).
The three float32 evaluators give NaN at the same places and agree elsewhere
to float32 noise. The probe is compared where its float64 value is finite and
well-conditioned: unchanged, to 1e-4, when the inputs move by float32 rounding.
Two known disagreements are left out, each pinned by an xfail test: the
interpreter on ``reduces_a_reduction`` rules, the exported module where not
``constants_fold_to_reals``.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import dsl
from dsl.expr import Const, Expr, Name, Op
from dsl.ops import OPS
from dsl.probe import probe_streams, run_numpy
from dsl.semantics import fold_constants, run_body

SHAPES = ((4,), (2, 3))
STEPS = 4
_modules = itertools.count()


def streams(seed: int = 1):
    """``grads[step][leaf]``, ``params[step][leaf]``: float32 values, magnitudes over decades."""
    grads, params = probe_streams(seed=seed, steps=STEPS, shapes=SHAPES)
    return ([[np.float32(x) for x in row] for row in grads],
            [[np.float32(x) for x in row] for row in params])


def _tree(leaves):
    return {"a": jnp.asarray(leaves[0]), "b": jnp.asarray(leaves[1])}


def _run(init, update, grads, params) -> list[list[np.ndarray]]:
    """``u[step][leaf]`` of a ``g -> u`` transform, as float64."""
    state = init(_tree(params[0]))
    out = []
    for g, p in zip(grads, params):
        u, state = update(_tree(g), state, _tree(p))
        out.append([np.asarray(u["a"], np.float64), np.asarray(u["b"], np.float64)])
    return out


@jax.jit
def _interpreter_update(program, g, state, p):
    return dsl.interpreter_transform(program).update(g, state, p)


def native_updates(rule, grads, params):
    """``u[step][leaf]`` from ``dsl.scale_by_rule``; likewise the next two evaluators."""
    native = dsl.scale_by_rule(rule)
    return _run(native.init, native.update, grads, params)


def interpreted_updates(rule, grads, params):
    program = dsl.encode(rule)
    return _run(dsl.interpreter_transform(program).init,
                lambda g, s, p: _interpreter_update(program, g, s, p), grads, params)


def exported_updates(rule, grads, params):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "exported_rule.py"
        path.write_text(dsl.python_module(rule, name="exported"))
        spec = importlib.util.spec_from_file_location(f"exported_rule_{next(_modules)}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    transform = module.scale_by_exported()
    return _run(transform.init, transform.update, grads, params)


def constants_fold_to_reals(rule: dsl.Rule) -> bool:
    """Whether every constant sub-expression (literals and hyper-parameters only) folds to a
    finite float. The exported module computes those with Python's float arithmetic, which
    raises or turns complex (``1 / 0``, ``sqrt(-h)``, ``(-h) ** 0.5``) where the rule
    language gives inf or NaN: exported rules agree with the others only where this holds."""
    env = dict(rule.params)
    real = True

    def value(e: Expr) -> float | None:
        nonlocal real
        if isinstance(e, Const):
            return e.value
        if isinstance(e, Name):
            return env.get(e.id)
        folded = fold_constants(e.op, [value(a) for a in e.args])
        real = real and (folded is None or math.isfinite(folded))
        return folded

    for stmt in rule.body:
        folded = value(stmt.value)
        env.pop(stmt.target, None)
        if folded is not None:
            env[stmt.target] = folded
    value(rule.result)
    return real


_SCALAR, _REDUCED, _LEAF = range(3)  # 0-d from t and constants; 0-d from a leaf; leaf-shaped


def reduces_a_reduction(rule: dsl.Rule) -> bool:
    """Whether a reduction reads a per-leaf scalar computed from the leaf (``norm(rms(p))``,
    also through variables). Natively that value is 0-d, so ``norm`` gives its magnitude;
    the interpreter holds it broadcast over the leaf, so ``norm`` gives sqrt(leaf size) times
    that: a known disagreement, and the interpreter is compared only where this is False."""
    kinds = {"g": _LEAF, "p": _LEAF, **dict.fromkeys(rule.state, _LEAF)}
    found = False

    def kind(e: Expr) -> int:
        nonlocal found
        if not isinstance(e, Op):
            return kinds.get(e.id, _SCALAR) if isinstance(e, Name) else _SCALAR
        args = [kind(a) for a in e.args]
        if not OPS[e.op].reduction:
            return max(args)
        found = found or args[0] == _REDUCED
        return _SCALAR if args[0] == _SCALAR else _REDUCED

    for stmt in rule.body:
        kinds[stmt.target] = kind(stmt.value)
    kind(rule.result)
    return found


def _moved_literals(rule: dsl.Rule, move) -> dsl.Rule:
    """``rule`` with ``move`` applied to every literal but an exponent, and to every default."""
    def visit(e: Expr, exponent: bool = False) -> Expr:
        if isinstance(e, Const):
            return e if exponent else Const(float(move(e.value)))
        if isinstance(e, Name):
            return e
        return Op(e.op, tuple(visit(a, e.op == "pow" and i == 1) for i, a in enumerate(e.args)))

    body = tuple(dsl.Assign(a.target, visit(a.value)) for a in rule.body)
    return dsl.Rule(rule.name, tuple((n, float(move(v))) for n, v in rule.params), body,
                    visit(rule.result))


def _probe_run(rule, grads, params, move=lambda x: x) -> tuple[list, list]:
    """The probe's ``u[step][leaf]`` (float64) with ``move`` applied to g, p, t, the literals and
    the defaults, and ``clean[step][leaf]``: every value computed in that leaf so far was finite."""
    rule = _moved_literals(rule, move)
    slots = [{name: np.zeros(np.shape(g)) for name in rule.state} for g in grads[0]]
    clean = [True] * len(slots)
    updates, cleans = [], []
    with np.errstate(all="ignore"):
        for step, (gs, ps) in enumerate(zip(grads, params)):
            row = []
            for i, (g, p) in enumerate(zip(gs, ps)):
                record = []
                u, new = run_body(rule, move(np.float64(g)), move(np.float64(p)), move(step + 1.0),
                                  rule.hyperparams, slots[i], np, record)
                clean[i] = clean[i] and all(np.all(np.isfinite(v)) for v in record)
                row.append(np.broadcast_to(np.asarray(u, np.float64), np.shape(g)))
                slots[i] = {k: np.broadcast_to(np.asarray(v, np.float64), np.shape(g))
                            for k, v in new.items()}
            updates.append(row)
            cleans.append(list(clean))
    return updates, cleans


def careful_probe(rule, grads, params, wiggle: float, threshold: float, tries: int = 1):
    """The probe's ``u[step][leaf]`` and two masks of it: ``stable``, finite and moved by at most
    ``threshold`` (relative) when g, p, t, the literals (but exponents) and the defaults all move
    by about ``wiggle`` (relative, random; ``tries`` times), as rounding moves them; ``clean[step][leaf]``,
    every value the rule computed in that leaf up to that step was finite."""
    rng = np.random.default_rng(0)
    move = lambda x: x * (1 + wiggle * rng.standard_normal(np.shape(x)))
    values, clean = _probe_run(rule, grads, params)
    stable = [[np.isfinite(v) for v in row] for row in values]
    for _ in range(tries):
        moved, _ = _probe_run(rule, grads, params, move)
        with np.errstate(invalid="ignore"):  # inf - inf where the probe overflows
            stable = [[ok & (np.abs(v - m) <= threshold * np.abs(v)) for ok, v, m in zip(rs, rv, rm)]
                      for rs, rv, rm in zip(stable, values, moved)]
    return values, stable, clean


def _probe(rule, grads, params) -> tuple[list, list]:
    """The probe's ``u[step][leaf]`` and where it is finite and well-conditioned: moved by at
    most 1e-4 (relative) when every input moves by about float32 rounding."""
    values, stable, _ = careful_probe(rule, grads, params, wiggle=2.0**-22, threshold=1e-4)
    return values, stable


def assert_same_probe_updates(rule: dsl.Rule, other: dsl.Rule, seed: int = 3) -> None:
    """``other`` has ``rule``'s float64 probe updates (to 1e-6 relative) wherever those mean
    something: in a leaf where every value computed so far was finite, and where rounding-sized
    moves of the inputs, literals and defaults move the update by at most 1e-7 (relative)."""
    grads, params = probe_streams(seed=seed)
    want, stable, clean = careful_probe(rule, grads, params, wiggle=1e-12, threshold=1e-7, tries=3)
    got = run_numpy(other, grads, params)
    for step, (got_row, want_row, stable_row, clean_row) in enumerate(zip(got, want, stable, clean)):
        for leaf, (x, y, ok, leaf_clean) in enumerate(zip(got_row, want_row, stable_row, clean_row)):
            if leaf_clean:
                np.testing.assert_allclose(x[ok], y[ok], rtol=1e-6, atol=0,
                                           err_msg=f"step {step + 1}, leaf {leaf}")


def assert_compiled_alike(rule: dsl.Rule, other: dsl.Rule, seed: int = 1) -> None:
    """``other`` compiled natively and by the interpreter gives ``rule``'s updates compiled the
    same way (float32), where ``rule``'s probe is stable and clean at float32 rounding (see
    ``careful_probe``) and its compiled update finite."""
    grads, params = streams(seed)
    _, stable, clean = careful_probe(rule, grads, params, wiggle=2.0**-22, threshold=1e-4)
    compilers = {"native": native_updates}
    if not reduces_a_reduction(rule) and not reduces_a_reduction(other):
        compilers["interpreter"] = interpreted_updates
    for name, compiled in compilers.items():
        want, got = compiled(rule, grads, params), compiled(other, grads, params)
        for step, rows in enumerate(zip(got, want, stable, clean)):
            for leaf, (x, y, ok, leaf_clean) in enumerate(zip(*rows)):
                ok = ok & np.isfinite(y) & leaf_clean
                np.testing.assert_allclose(x[ok], y[ok], rtol=1e-3, atol=1e-6,
                                           err_msg=f"{name}, step {step + 1}, leaf {leaf}")


def assert_evaluators_agree(rule: dsl.Rule, seed: int = 1) -> None:
    """Native, interpreter, exported module (if ``constants_fold_to_reals``) and probe agree."""
    grads, params = streams(seed)
    want = native_updates(rule, grads, params)
    others = {}
    if not reduces_a_reduction(rule):
        others["interpreter"] = interpreted_updates(rule, grads, params)
    if constants_fold_to_reals(rule):
        others["exported"] = exported_updates(rule, grads, params)
    for name, rows in others.items():
        for step, (got_row, want_row) in enumerate(zip(rows, want)):
            for leaf, (got, ref) in enumerate(zip(got_row, want_row)):
                where = f"{name}, step {step + 1}, leaf {leaf}"
                assert np.array_equal(np.isnan(got), np.isnan(ref)), where
                np.testing.assert_allclose(got, ref, rtol=2e-4, atol=1e-6, err_msg=where)
    probe, good = _probe(rule, grads, params)
    for step, (got_row, good_row, want_row) in enumerate(zip(probe, good, want)):
        for leaf, (got, ok, ref) in enumerate(zip(got_row, good_row, want_row)):
            ok = ok & np.isfinite(ref)
            np.testing.assert_allclose(got[ok], ref[ok], rtol=1e-3, atol=1e-6,
                                       err_msg=f"probe, step {step + 1}, leaf {leaf}")
