"""Rules as typed GP genomes: one DEAP ``PrimitiveTree`` per statement, one for the return.

A ``Genome`` is a list of trees (the last one is the returned update) plus the
rule's name, its hyper-parameters ``(name, default)`` and the statement
targets. ``rule_to_genome`` and ``genome_to_rule`` convert losslessly::

    genome_to_rule(rule_to_genome(r)) == r      # for every valid rule r

Trees are built from node lists and read back by walking them; nothing is ever
compiled or evaluated as Python (DEAP's compile and string-parsing helpers are
never used). Node kinds:
``gp.Primitive`` named after a ``dsl.ops`` operator; ``gp.Terminal`` whose value
is a ``str`` (a name: input, hyper-parameter or variable) or a ``float`` (a
constant, the way DEAP's own parser stores numbers). Constants are not DEAP
ephemerals: ``addEphemeralConstant`` registers classes in a process-wide cache
and draws values from the global ``random`` module, and this layer draws every
random choice from an explicit ``random.Random``.

All values have one type, ``Tensor``: every operator maps arrays to arrays
(comparisons give 0/1), so any expression may stand anywhere and a single
typed primitive set has terminals and primitives at every depth by
construction. Random trees come from ``random_tree``, which draws only from
the names a statement may read.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Sequence

from deap import gp

from dsl.ops import OPS
from dsl.rule import INPUTS, MAX_STATE, RESERVED, Assign, Const, Expr, Name, Op, Rule, walk

# Variable names offered to new statements: enough for MAX_STATE slots plus locals.
VARIABLE_POOL = ("m", "v", "w", "s", "a", "b", "c", "d", "e", "f", "k", "q")
assert len(VARIABLE_POOL) >= MAX_STATE + 4 and not set(VARIABLE_POOL) & (RESERVED | set(OPS))

# Constants drawn for new terminals: decays, scales, small epsilons.
CONSTANT_POOL = (0.5, 1.0, 2.0, 0.1, 0.9, 0.99, 0.999, 1e-3, 1e-8)


class Tensor:
    """The one value type: an elementwise float array (booleans are 0.0 / 1.0)."""


@functools.lru_cache(maxsize=1024)
def primitive_set(names: tuple[str, ...]) -> gp.PrimitiveSetTyped:
    """Typed primitive set: every ``dsl.ops`` operator, and one terminal per name.

    Name terminals go through ``addTerminal`` without a symbol so that a
    variable may share its name with an operator (``add = g`` is a valid rule).
    Sets are immutable once built and cached by their name tuple.
    """
    pset = gp.PrimitiveSetTyped("rule", [], Tensor)
    for op, spec in OPS.items():
        pset.addPrimitive(spec.fn, [Tensor] * spec.arity, Tensor, name=op)
    for name in names:
        pset.addTerminal(name, Tensor)
    return pset


OPERATORS: dict[str, gp.Primitive] = {
    p.name: p for p in primitive_set(()).primitives[Tensor]
}


def name_node(name: str) -> gp.Terminal:
    return gp.Terminal(name, False, Tensor)


def const_node(value: float) -> gp.Terminal:
    return gp.Terminal(float(value), False, Tensor)


def is_name(node) -> bool:
    return isinstance(node, gp.Terminal) and isinstance(node.value, str)


def is_const(node) -> bool:
    return isinstance(node, gp.Terminal) and isinstance(node.value, float)


class Genome(list):
    """A rule as a list of ``gp.PrimitiveTree``: one per statement, then the return.

    ``targets[i]`` is the variable statement ``i`` assigns; ``params`` the
    hyper-parameters as ``(name, default)`` pairs; ``pset`` the primitive set
    over the inputs, the hyper-parameters and the variable pool (plus any other
    target the rule uses).
    """

    def __init__(self, name: str, params: Iterable[tuple[str, float]],
                 targets: Iterable[str], trees: Iterable[gp.PrimitiveTree]):
        super().__init__(trees)
        self.name = name
        self.params = list(params)
        self.targets = list(targets)
        if len(self.targets) != len(self) - 1:
            raise ValueError(f"{len(self.targets)} targets for {len(self) - 1} statement trees")

    @property
    def pset(self) -> gp.PrimitiveSetTyped:
        hyper = [n for n, _ in self.params]
        pool = [v for v in VARIABLE_POOL if v not in hyper]
        extra = [v for v in self.targets if v not in pool]
        return primitive_set((*INPUTS, *hyper, *pool, *dict.fromkeys(extra)))

    def readable(self) -> list[str]:
        """Names any statement may read: inputs, hyper-parameters, and assigned variables
        (read before its assignment, a variable is a state slot)."""
        return [*INPUTS, *(n for n, _ in self.params), *dict.fromkeys(self.targets)]

    def fresh_variables(self) -> list[str]:
        """Pool variables the rule neither assigns nor uses as hyper-parameters."""
        taken = set(self.readable())
        return [v for v in VARIABLE_POOL if v not in taken]

    def locate(self, index: int) -> str:
        """``stmt i (target)`` or ``return``, for descriptions."""
        return "return" if index == len(self) - 1 else f"stmt {index} ({self.targets[index]})"


def expr_to_tree(expr: Expr) -> gp.PrimitiveTree:
    """An expression as a prefix-ordered node list (DEAP's tree layout)."""
    nodes = []
    for node in walk(expr):
        if isinstance(node, Op):
            nodes.append(OPERATORS[node.op])
        elif isinstance(node, Name):
            nodes.append(name_node(node.id))
        else:
            nodes.append(const_node(node.value))
    return gp.PrimitiveTree(nodes)


def tree_to_expr(nodes: Sequence) -> Expr:
    """Read a prefix node list (a tree or a subtree slice) back into an expression."""
    stack: list[Expr] = []
    for node in reversed(nodes):
        if isinstance(node, gp.Primitive):
            args = tuple(stack.pop() for _ in range(node.arity))
            stack.append(Op(node.name, args))
        elif is_name(node):
            stack.append(Name(node.value))
        else:
            stack.append(Const(node.value))
    if len(stack) != 1:
        raise ValueError(f"node list holds {len(stack)} expressions, not one")
    return stack[0]


def rule_to_genome(rule: Rule) -> Genome:
    """The rule's statements and return as GP trees."""
    return Genome(
        rule.name,
        rule.params,
        (a.target for a in rule.body),
        [*(expr_to_tree(a.value) for a in rule.body), expr_to_tree(rule.result)],
    )


def genome_to_rule(genome: Genome) -> Rule:
    """The validated rule; raises ``dsl.DSLError`` if the genome breaks a rule limit."""
    body = tuple(Assign(t, tree_to_expr(tree)) for t, tree in zip(genome.targets, genome[:-1]))
    return Rule(genome.name, genome.params, body, tree_to_expr(genome[-1]))


def random_terminal(rng: random.Random, names: Sequence[gp.Terminal],
                    const_prob: float = 0.25) -> gp.Terminal:
    """A constant from ``CONSTANT_POOL`` with probability ``const_prob``, else one of ``names``."""
    if not names or rng.random() < const_prob:
        return const_node(rng.choice(CONSTANT_POOL))
    return rng.choice(names)


def random_tree(rng: random.Random, pset: gp.PrimitiveSetTyped, readable: Iterable[str],
                max_height: int, terminal_prob: float = 0.35) -> gp.PrimitiveTree:
    """A random tree ("grow" method) of height at most ``max_height`` over ``pset``,
    reading only the names in ``readable``.

    Each position is a terminal with probability ``terminal_prob`` (always at
    ``max_height``), else a uniformly chosen primitive. Never fails: the single
    type has terminals and primitives at every depth.
    """
    allowed = set(readable)
    names = [t for t in pset.terminals[Tensor] if t.value in allowed]
    primitives = pset.primitives[Tensor]
    nodes = []
    open_slots = [0]
    while open_slots:
        depth = open_slots.pop()
        if depth >= max_height or rng.random() < terminal_prob:
            nodes.append(random_terminal(rng, names))
        else:
            op = rng.choice(primitives)
            nodes.append(op)
            open_slots.extend([depth + 1] * op.arity)
    return gp.PrimitiveTree(nodes)


def random_genome(rng: random.Random, n_statements: int, params: Iterable[tuple[str, float]] = (),
                  name: str = "random", max_height: int = 3) -> Genome:
    """``n_statements`` random assignments to pool variables, then a random return.

    Each expression may read the inputs, the hyper-parameters and every target
    (a target read before its assignment is a state slot).
    """
    params = list(params)
    hyper = {n for n, _ in params}
    targets = [rng.choice([v for v in VARIABLE_POOL if v not in hyper]) for _ in range(n_statements)]
    genome = Genome(name, params, targets, [gp.PrimitiveTree([name_node("g")])] * (n_statements + 1))
    pset, readable = genome.pset, genome.readable()
    genome[:] = [random_tree(rng, pset, readable, max_height) for _ in genome]
    return genome
