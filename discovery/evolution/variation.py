"""Variation of rules: mutations and crossovers on their GP genomes.

Every variation maps parent rule(s) and a ``random.Random`` to ``(child, description)``:

* ``insert_statement``  ``x = <random expression>`` at a random position; a new
  variable is also read by one later statement, so it is not dead code;
* ``delete_statement``  remove a statement; reads of a variable nothing assigns
  any more become another readable name or a constant;
* ``modify_statement``  replace one statement's (or the return's) expression;
* ``mutate_subtree``    replace a random subtree (``gp.mutUniform``);
* ``replace_node``      swap an operator for one of the same arity, or a terminal
  for another (``gp.mutNodeReplacement``);
* ``perturb_constant``  scale a constant or hyper-parameter default by
  ``exp(N(0, s))``; values in (0, 1) move in log-odds space instead, which is
  ``log(1 - c)`` near 1, so decays stay decays (0.999 -> 0.9995 or 0.997);
* ``crossover_statements`` / ``crossover_subtrees``  take a whole statement, or a
  subtree (``gp.cxOnePoint``, operators picked over leaves 9:1), from a second
  parent, preferring the statement with the same target (``m`` for ``m``,
  return for return);
* with the ``"blocks"`` vocabulary, also the building blocks of ``blocks``: a running
  average of a sub-expression, division by the root of a running second moment, sign,
  clipping, a bias correction.

``mutate`` and ``crossover`` pick a kind by configurable weights (``config.VariationSettings``,
``[variation]`` in a run's config). A child that
breaks a ``dsl`` size limit (statements, depth, nodes, state slots,
hyper-parameters) or equals its parent is never returned: the variation is
retried, and after ``MAX_TRIES`` the parent comes back with ``NO_OP``.
Results depend only on the ``rng`` passed in (no global ``random``).
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Mapping

from deap import gp

from discovery.config import MUTATION_KINDS, VariationSettings
from dsl.errors import DSLError
from dsl.printer import expr_text
from dsl.rule import MAX_STATEMENTS, Rule

from . import blocks
from .genome import (
    Genome,
    Tensor,
    genome_to_rule,
    is_const,
    is_name,
    name_node,
    random_terminal,
    random_tree,
    rule_to_genome,
    tree_to_expr,
)

MAX_TRIES = 10  # attempts before a variation gives up with NO_OP
NO_OP = "no-op"  # the description of a variation that changed nothing: the parent comes back
_DEFAULT = VariationSettings()

Edit = Callable[[Genome, random.Random, VariationSettings], str | None]


def perturb_value(value: float, rng: random.Random, scale: float) -> float:
    """``value * exp(N(0, scale))``, or for ``0 < value < 1`` the same step on ``log(c / (1 - c))``.

    Rounded to 3 significant digits (of ``1 - c`` for ``c`` above 0.5), so
    printed rules stay readable; values in (0, 1) stay in (0, 1).
    """
    step = rng.gauss(0.0, scale)
    if 0.0 < value < 1.0:
        z = min(30.0, max(-30.0, math.log(value / (1.0 - value)) + step))
        c = 1.0 / (1.0 + math.exp(-z))
        return _round(c) if c < 0.5 else float(f"{1.0 - _round(1.0 - c):.12g}")
    return _round(value * math.exp(step))


def _round(x: float) -> float:
    return float(f"{x:.3g}")


def _text(nodes) -> str:
    return expr_text(tree_to_expr(nodes))


def _readable_terminals(genome: Genome) -> list[gp.Terminal]:
    readable = set(genome.readable())
    return [t for t in genome.pset.terminals[Tensor] if t.value in readable]


def _new_tree(genome: Genome, rng: random.Random, config: VariationSettings,
              extra: tuple[str, ...] = ()) -> gp.PrimitiveTree:
    return random_tree(rng, genome.pset, (*genome.readable(), *extra), config.max_height)


def _repair(genome: Genome, rng: random.Random,
            donor_params: Mapping[str, float] | None = None) -> None:
    """Make every name read known: a donor's hyper-parameter joins ``params``; any other
    unknown name becomes a random readable terminal."""
    known = set(genome.readable())
    unknown = {n.value for tree in genome for n in tree if is_name(n) and n.value not in known}
    genome.params += [(n, v) for n, v in (donor_params or {}).items() if n in unknown]
    known = set(genome.readable())
    terminals = _readable_terminals(genome)
    for tree in genome:
        for i, node in enumerate(tree):
            if is_name(node) and node.value not in known:
                tree[i] = random_terminal(rng, terminals)


# ----------------------------------------------------------------------------- mutations


def _insert(genome: Genome, rng: random.Random, config: VariationSettings) -> str | None:
    if len(genome) >= MAX_STATEMENTS:
        return None
    k = rng.randrange(len(genome))
    fresh = genome.fresh_variables()
    existing = list(dict.fromkeys(genome.targets))
    new_variable = bool(fresh) and (not existing or rng.random() < 0.5)
    target = rng.choice(fresh if new_variable else existing)
    tree = _new_tree(genome, rng, config, (target,))
    genome.insert(k, tree)
    genome.targets.insert(k, target)
    description = f"insert {target} = {_text(tree)} at {k}"
    if new_variable:
        j = rng.randrange(k + 1, len(genome))
        i = rng.choice([i for i, node in enumerate(genome[j]) if node.arity == 0])
        genome[j][i] = name_node(target)
        description += f", read in {genome.locate(j)}"
    return description


def _delete(genome: Genome, rng: random.Random, config: VariationSettings) -> str | None:
    if len(genome) == 1:
        return None
    k = rng.randrange(len(genome) - 1)
    description = f"delete stmt {k}: {genome.targets[k]} = {_text(genome[k])}"
    del genome[k], genome.targets[k]
    _repair(genome, rng)
    return description


def _modify(genome: Genome, rng: random.Random, config: VariationSettings) -> str | None:
    k = rng.randrange(len(genome))
    old, genome[k] = genome[k], _new_tree(genome, rng, config)
    return f"modify {genome.locate(k)}: {_text(old)} -> {_text(genome[k])}"


def _subtree(genome: Genome, rng: random.Random, config: VariationSettings) -> str | None:
    k = rng.randrange(len(genome))
    tree = genome[k]
    span = tree.searchSubtree(rng.randrange(len(tree)))
    old, new = tree[span], _new_tree(genome, rng, config)
    tree[span] = new
    return f"subtree in {genome.locate(k)}: {_text(old)} -> {_text(new)}"


def _node(genome: Genome, rng: random.Random, config: VariationSettings) -> str | None:
    k = rng.randrange(len(genome))
    tree = genome[k]
    i = rng.randrange(len(tree))
    old = tree[i]
    if old.arity:
        choices = [p for p in genome.pset.primitives[Tensor] if p.arity == old.arity and p != old]
        new = rng.choice(choices)
    else:
        new = random_terminal(rng, [t for t in _readable_terminals(genome) if t != old])
    if new == old:
        return None
    tree[i] = new
    return f"replace {old.name} -> {new.name} in {genome.locate(k)}"


def _constant(genome: Genome, rng: random.Random, config: VariationSettings) -> str | None:
    sites = [(k, i) for k, tree in enumerate(genome) for i, n in enumerate(tree)
             if is_const(n) and n.value != 0.0]
    sites += [(None, j) for j in range(len(genome.params))]
    if not sites:
        return None
    k, i = rng.choice(sites)
    if k is None:
        name, old = genome.params[i]
        new = perturb_value(old, rng, config.perturb_scale)
        genome.params[i] = (name, new)
        return f"perturb {name}={old!r} -> {new!r}"
    old = genome[k][i].value
    new = perturb_value(old, rng, config.perturb_scale)
    genome[k][i] = gp.Terminal(new, False, Tensor)
    return f"perturb {old!r} -> {new!r} in {genome.locate(k)}"


def _block(block: blocks.Block) -> Edit:
    """A building block as a genome edit: the genome becomes the rule the block makes."""
    def edit(genome: Genome, rng: random.Random, config: VariationSettings) -> str | None:
        out = block(genome_to_rule(genome), rng)
        if out is None:
            return None
        child = rule_to_genome(out[0])
        genome[:], genome.targets, genome.params = child, child.targets, child.params
        return out[1]
    return edit


_MUTATIONS: dict[str, Edit] = {
    "insert": _insert, "delete": _delete, "modify": _modify,
    "subtree": _subtree, "node": _node, "constant": _constant,
    **{kind: _block(block) for kind, block in blocks.BLOCKS.items()},
}
assert tuple(_MUTATIONS) == MUTATION_KINDS


# ----------------------------------------------------------------------------- crossovers


def _partner(genome: Genome, k: int, donor: Genome, rng: random.Random) -> int:
    """A donor tree for tree ``k``: the return for the return, else one assigning the
    same target if any, else any tree."""
    if k == len(genome) - 1:
        return len(donor) - 1
    same = [j for j, t in enumerate(donor.targets) if t == genome.targets[k]]
    return rng.choice(same) if same else rng.randrange(len(donor))


def _crossover_point(tree: gp.PrimitiveTree, rng: random.Random, leaf_prob: float = 0.1) -> int:
    """A node index; an operator with probability ``1 - leaf_prob`` when there is one (Koza)."""
    operators = [i for i, node in enumerate(tree) if node.arity]
    if operators and rng.random() >= leaf_prob:
        return rng.choice(operators)
    return rng.choice([i for i, node in enumerate(tree) if not node.arity])


def _cx_statement(genome: Genome, rng: random.Random, config: VariationSettings,
                  donor: Genome) -> str | None:
    k = rng.randrange(len(genome))
    j = _partner(genome, k, donor, rng)
    genome[k] = gp.PrimitiveTree(donor[j])
    _repair(genome, rng, dict(donor.params))
    return f"crossover {genome.locate(k)} <- {donor.locate(j)}: {_text(genome[k])}"


def _cx_subtree(genome: Genome, rng: random.Random, config: VariationSettings,
                donor: Genome) -> str | None:
    k = rng.randrange(len(genome))
    j = _partner(genome, k, donor, rng)
    tree, other = genome[k], donor[j]
    span = tree.searchSubtree(_crossover_point(tree, rng))
    old, new = tree[span], other[other.searchSubtree(_crossover_point(other, rng))]
    tree[span] = new
    _repair(genome, rng, dict(donor.params))
    new = tree[span.start:span.start + len(new)]  # as repaired
    return f"crossover subtree in {genome.locate(k)}: {_text(old)} <- {_text(new)}"


def _crossovers(donor: Rule) -> dict[str, Edit]:
    genome = rule_to_genome(donor)
    return {"statement": functools.partial(_cx_statement, donor=genome),
            "subtree": functools.partial(_cx_subtree, donor=genome)}


# ----------------------------------------------------------------------------- driver


def _vary(parent: Rule, rng: random.Random, config: VariationSettings | None,
          edits: Mapping[str, Edit], weights: Mapping[str, float] | None = None) -> tuple[Rule, str]:
    """Apply an edit chosen by ``weights`` to a fresh genome of ``parent`` until the child
    is a valid rule different from the parent; ``(parent, NO_OP)`` after ``MAX_TRIES``."""
    config = config or _DEFAULT
    weights = weights or dict.fromkeys(edits, 1.0)
    kinds = [k for k in edits if weights.get(k, 0.0) > 0]
    chances = [weights[k] for k in kinds]
    for _ in range(MAX_TRIES):
        genome = rule_to_genome(parent)
        description = edits[rng.choices(kinds, chances)[0]](genome, rng, config)
        if description is None:
            continue
        try:
            child = genome_to_rule(genome)
        except DSLError:
            continue
        if child != parent:
            return child, description
    return parent, NO_OP


def mutate(parent: Rule, rng: random.Random, config: VariationSettings | None = None) -> tuple[Rule, str]:
    """A mutated child, its kind drawn by ``config.mutations``, and what was done."""
    return _vary(parent, rng, config, _MUTATIONS, (config or _DEFAULT).mutations)


def crossover(a: Rule, b: Rule, rng: random.Random,
              config: VariationSettings | None = None) -> tuple[Rule, str]:
    """``a`` with a statement or subtree from ``b`` (kind drawn by ``config.crossovers``).

    The child keeps ``a``'s name and hyper-parameters, plus those of ``b`` that it reads."""
    return _vary(a, rng, config, _crossovers(b), (config or _DEFAULT).crossovers)


def insert_statement(rule: Rule, rng: random.Random, config: VariationSettings | None = None) -> tuple[Rule, str]:
    """Insert ``x = <random expression>``; a new ``x`` is read by a later statement."""
    return _vary(rule, rng, config, {"insert": _insert})


def delete_statement(rule: Rule, rng: random.Random, config: VariationSettings | None = None) -> tuple[Rule, str]:
    """Delete a statement, repairing reads of a variable no longer assigned."""
    return _vary(rule, rng, config, {"delete": _delete})


def modify_statement(rule: Rule, rng: random.Random, config: VariationSettings | None = None) -> tuple[Rule, str]:
    """Replace a statement's (or the return's) expression by a random one."""
    return _vary(rule, rng, config, {"modify": _modify})


def mutate_subtree(rule: Rule, rng: random.Random, config: VariationSettings | None = None) -> tuple[Rule, str]:
    """Replace a random subtree by a random tree of height <= ``config.max_height``."""
    return _vary(rule, rng, config, {"subtree": _subtree})


def replace_node(rule: Rule, rng: random.Random, config: VariationSettings | None = None) -> tuple[Rule, str]:
    """Swap one operator for another of the same arity, or one terminal for another."""
    return _vary(rule, rng, config, {"node": _node})


def perturb_constant(rule: Rule, rng: random.Random, config: VariationSettings | None = None) -> tuple[Rule, str]:
    """Perturb one constant or hyper-parameter default (see ``perturb_value``)."""
    return _vary(rule, rng, config, {"constant": _constant})


def crossover_statements(a: Rule, b: Rule, rng: random.Random,
                         config: VariationSettings | None = None) -> tuple[Rule, str]:
    """``a`` with one statement's expression (or its return) taken whole from ``b``."""
    return _vary(a, rng, config, {"statement": _crossovers(b)["statement"]})


def crossover_subtrees(a: Rule, b: Rule, rng: random.Random,
                       config: VariationSettings | None = None) -> tuple[Rule, str]:
    """``a`` with one subtree replaced by a subtree of ``b`` (``gp.cxOnePoint``)."""
    return _vary(a, rng, config, {"subtree": _crossovers(b)["subtree"]})
