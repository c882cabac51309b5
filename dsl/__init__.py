"""The optimizer rule language: parse, print, compile to Optax, encode, hash, store.

Modules, each importing only those listed before it (JAX only in the last three):

    errors          DSLError, with line and column
    ops             the operator table: arity, fn(xp, ...), flags, text/LaTeX/code forms
    expr            expression nodes (Const, Name, Op) and statements (Assign)
    printer         rule text and LaTeX, written from the table's forms
    rule            Rule: a validated, immutable rule
    parser          text -> Rule, its syntax read from the table's text forms
    semantics       what a rule computes over numpy or jax.numpy; constant folding
    serialize       Rule <-> msgpack bytes
    probe           rules run in NumPy on fixed streams; similarity of two rules
    fingerprint     functional hash: rules with the same updates hash alike; up to scale too
    sums            sums as linear combinations: like terms collected, written canonically
    value_sets      the few values an expression bounded by comparisons can take
    simplify        a simpler rule with the same updates (exact identities)
    stress          stress streams: zero, tiny, large gradients, leaves as rows
    prune           a shorter rule with the same updates on the stress streams (behavioural)
    canonical       a rule without the constant factor fair tuning absorbs; constants rounded
    template        a rule's structure, its constants lifted out as data
    library         known optimizers as rule text
    python_module   Rule -> source of a standalone Optax module (the export)
    native          Rule -> optax transform (XLA sees the rule)
    interpreter     Rule -> fixed-size program for one compiled interpreter
    compilations    counting XLA compilations
"""

from . import library
from .canonical import Canonical, canonical, rounded
from .compilations import count_compilations
from .errors import DSLError
from .expr import Assign, Const, Name, Op
from .fingerprint import Behaviour, behaviour, fingerprint
from .interpreter import Program, encode, interpreter, interpreter_transform
from .native import optimizer_factory, scale_by_rule, to_optax
from .parser import parse
from .prune import prune
from .python_module import check_export_name, python_module
from .rule import Rule
from .serialize import dumps, from_dict, loads, to_dict
from .simplify import simplify
from .template import template

__all__ = [
    "Assign",
    "Behaviour",
    "Canonical",
    "Const",
    "DSLError",
    "Name",
    "Op",
    "Program",
    "Rule",
    "behaviour",
    "canonical",
    "check_export_name",
    "count_compilations",
    "dumps",
    "encode",
    "fingerprint",
    "from_dict",
    "interpreter",
    "interpreter_transform",
    "library",
    "loads",
    "optimizer_factory",
    "parse",
    "prune",
    "python_module",
    "rounded",
    "scale_by_rule",
    "simplify",
    "template",
    "to_dict",
    "to_optax",
]
