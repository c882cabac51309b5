"""Native compiler: Rule -> optax.GradientTransformation, evaluated leaf by leaf.

For each parameter leaf, with hyper-parameters ``h`` and state slots ``s``::

    t = count + 1
    s', u = body(g, p, t, h, s)       # dsl.semantics.run_body with jax.numpy
    update = -learning_rate * u       # optax sign convention

XLA sees the rule's own expression graph, so the result is as fast as a
hand-written Optax optimizer; each new rule structure is a new compilation.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from .errors import DSLError
from .rule import Rule
from .semantics import resolve_hyperparams, run_body


class ScaleByRuleState(NamedTuple):
    """``count``: updates done so far; ``slots``: one params-shaped pytree per state slot."""

    count: jax.Array
    slots: dict


def scale_by_rule(rule: Rule, /, **hyperparams) -> optax.GradientTransformation:
    """The transform ``g -> u`` of a rule (no learning rate, no sign flip)."""
    hyper = resolve_hyperparams(rule, hyperparams)
    reads_p = "p" in rule.names_read

    def init_fn(params):
        zeros = {name: optax.tree.zeros_like(params) for name in rule.state}
        return ScaleByRuleState(count=jnp.zeros([], jnp.int32), slots=zeros)

    def update_fn(updates, state, params=None):
        if params is None:
            if reads_p:
                raise DSLError(f"rule {rule.name!r} reads p: pass params to update()")
            params = updates
        count = optax.safe_increment(state.count)
        t = count.astype(jnp.float32)
        treedef = jax.tree.structure(updates)
        leaves_g = treedef.flatten_up_to(updates)
        leaves_p = treedef.flatten_up_to(params)
        leaves_s = {n: treedef.flatten_up_to(s) for n, s in state.slots.items()}
        out_u, out_s = [], {n: [] for n in rule.state}
        for i, (g, p) in enumerate(zip(leaves_g, leaves_p)):
            slots = {n: leaves_s[n][i] for n in rule.state}
            u, new = run_body(rule, g, p, t, hyper, slots, jnp)
            out_u.append(_like(u, g))
            for n in rule.state:
                out_s[n].append(_like(new[n], g))
        new_slots = {n: treedef.unflatten(v) for n, v in out_s.items()}
        return treedef.unflatten(out_u), ScaleByRuleState(count=count, slots=new_slots)

    return optax.GradientTransformation(init_fn, update_fn)


def _like(x, g):
    """Broadcast a (possibly scalar) value to the leaf's shape and dtype."""
    return jnp.broadcast_to(jnp.asarray(x, g.dtype), g.shape)


def to_optax(rule: Rule, /, learning_rate: optax.ScalarOrSchedule, **hyperparams) -> optax.GradientTransformation:
    """Compile ``rule`` natively: ``chain(scale_by_rule(rule), scale_by_learning_rate(lr))``.

    ``learning_rate`` is a float or an Optax schedule; ``hyperparams``
    override the rule's defaults (e.g. ``b1=0.95``).
    """
    return optax.chain(
        scale_by_rule(rule, **hyperparams), optax.scale_by_learning_rate(learning_rate)
    )


def optimizer_factory(rule: Rule) -> Callable[..., optax.GradientTransformation]:
    """A factory with an explicit signature, like ``optax.adam``'s.

    For Adam written in the DSL it is ``(learning_rate, b1=0.9, b2=0.999,
    eps=1e-08)``, so ``optax.inject_hyperparams(optimizer_factory(rule))``
    can make every hyper-parameter a traced value.
    """
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    signature = inspect.Signature(
        [inspect.Parameter("learning_rate", kind)]
        + [inspect.Parameter(n, kind, default=v) for n, v in rule.params]
    )

    def factory(*args, **kwargs) -> optax.GradientTransformation:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        return to_optax(rule, values.pop("learning_rate"), **values)

    factory.__signature__ = signature
    factory.__name__ = factory.__qualname__ = rule.name
    factory.__doc__ = f"Optax optimizer compiled from the rule:\n\n{rule.to_text()}"
    return factory
