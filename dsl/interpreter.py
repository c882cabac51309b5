"""Interpreter: a rule as fixed-size arrays, run by one jitted program.

``encode(rule)`` turns a rule into a ``Program`` of numeric arrays whose shapes
never depend on the rule, so a training function compiled once runs every rule
(a new rule is new *data*, not a new XLA compilation).

Execution per step, on all parameter leaves flattened into one vector of
length N:

* sub-expressions of constants and hyper-parameters (``1 - b2``) are folded
  on the host in float64 at encode time, exactly as the native compiler folds
  them, and stored as float32 constants;
* scalar code (what depends only on ``t`` and constants, e.g. ``1 - b1**t``)
  runs on a small scalar file ``S``; each scalar instruction evaluates every
  operator on 0-d values and selects one, which is cheaper than branching;
* vector code runs on a register file ``V`` of shape ``[CAP_REGISTERS, N]``,
  one ``lax.switch`` per instruction; an operand is a register or a scalar.
  Per-leaf reductions (``norm``, ``rms``, ``mean``) use segment sums;
* ``V`` is the optimizer state: state slot ``k`` lives in register ``2 + k``
  across steps (``V[0] = g`` and ``V[1] = p`` are written each step), so no
  copies are needed at the end of a step.

The encoder does common-subexpression elimination, dead-code elimination and
linear-scan register allocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .errors import DSLError
from .native import fold, resolve_hyperparams
from .ops import OP_NAMES, OPS
from .rule import MAX_NODES, MAX_STATE, Const, Expr, Name, Rule

CAP_CONSTS = MAX_NODES
CAP_SCALAR_CODE = MAX_NODES
CAP_VECTOR_CODE = MAX_NODES + 2 * MAX_STATE + 1
CAP_REGISTERS = 24
SCALAR_BASE = 1 + CAP_CONSTS  # S = [t, consts..., scalar results...]
_COPY = len(OP_NAMES)  # internal opcode: dst <- a
OPCODES = {name: i for i, name in enumerate(OP_NAMES)}


class Program(NamedTuple):
    """An encoded rule. All fields are arrays of fixed shape (a pytree, jit-friendly).

    Operand codes: ``c >= 0`` is vector register ``c``; ``c < 0`` is scalar ``S[-c - 1]``.
    """

    consts: jax.Array  # float32[CAP_CONSTS]
    scalar_code: jax.Array  # int32[CAP_SCALAR_CODE, 4]: op, a, b, c (indices into S)
    n_scalar: jax.Array  # int32[]
    vector_code: jax.Array  # int32[CAP_VECTOR_CODE, 5]: op, dst, a, b, c (operand codes)
    n_vector: jax.Array  # int32[]
    result: jax.Array  # int32[]: operand code of u


@dataclass(frozen=True)
class _Val:
    kind: str  # "s" (index into S) or "v" (vector SSA id)
    id: int


class _Encoder:
    def __init__(self, rule: Rule):
        self.rule = rule
        self.consts: dict[float, int] = {}
        self.scalar: list[tuple[int, tuple[_Val, ...]]] = []
        self.vector: list[tuple[int, tuple[_Val, ...]]] = []  # SSA id = 2 + n_state + index
        self.memo: dict[tuple, _Val] = {}
        self.n_state = len(rule.state)

    def operand(self, value: float | _Val) -> _Val:
        if isinstance(value, _Val):
            return value
        key = float(np.float32(value)).hex() if value == value else "nan"
        if key not in self.consts:
            if len(self.consts) >= CAP_CONSTS:
                raise DSLError(f"rule has more than {CAP_CONSTS} distinct constants")
            self.consts[key] = len(self.consts)
        return _Val("s", 1 + self.consts[key])

    def expr(self, e: Expr, env: dict[str, float | _Val]) -> float | _Val:
        """A host constant (float) or an encoded value."""
        if isinstance(e, Const):
            return e.value
        if isinstance(e, Name):
            return env[e.id]
        values = [self.expr(a, env) for a in e.args]
        if all(isinstance(v, float) for v in values):
            return fold(e.op, values)
        args = tuple(self.operand(v) for v in values)
        opcode = OPCODES[e.op]
        if OPS[e.op].commutative:
            args = tuple(sorted(args, key=lambda v: (v.kind, v.id)))
        key = (opcode, args)
        if key not in self.memo:
            if all(a.kind == "s" for a in args):
                self.scalar.append((opcode, args))
                self.memo[key] = _Val("s", SCALAR_BASE + len(self.scalar) - 1)
            else:
                self.vector.append((opcode, args))
                self.memo[key] = _Val("v", 2 + self.n_state + len(self.vector) - 1)
        return self.memo[key]

    def run(self, hyper: dict[str, float]) -> tuple[list[_Val], _Val]:
        rule = self.rule
        env = {"g": _Val("v", 0), "p": _Val("v", 1), "t": _Val("s", 0), **hyper}
        env |= {n: _Val("v", 2 + k) for k, n in enumerate(rule.state)}
        for stmt in rule.body:
            env[stmt.target] = self.expr(stmt.value, env)
        finals = [self.operand(env[n]) for n in rule.state]
        return finals, self.operand(self.expr(rule.result, env))


def encode(rule: Rule, **hyperparams) -> Program:
    """Encode ``rule`` with hyper-parameters at their defaults unless overridden.

    Encoding is host-side and cheap (no compilation); hyper-parameter values
    are folded into the program's constants.
    """
    hyper = {k: float(v) for k, v in resolve_hyperparams(rule, hyperparams).items()}
    enc = _Encoder(rule)
    finals, result = enc.run(hyper)
    n_state = enc.n_state
    first_temp = 2 + n_state

    # Dead-code elimination of vector code (scalar code is too cheap to bother).
    live_v = set()
    stack = [*finals, result]
    while stack:
        val = stack.pop()
        if val.kind == "v" and val.id >= first_temp and val.id not in live_v:
            live_v.add(val.id)
            stack.extend(enc.vector[val.id - first_temp][1])
    if len(enc.scalar) > CAP_SCALAR_CODE:
        raise DSLError(f"rule needs more than {CAP_SCALAR_CODE} scalar instructions")
    vector = [(ssa, *enc.vector[ssa - first_temp]) for ssa in sorted(live_v)]

    code, result_code = _allocate(vector, finals, result, n_state)
    if len(code) > CAP_VECTOR_CODE:
        raise DSLError(f"rule needs more than {CAP_VECTOR_CODE} vector instructions")

    consts = np.zeros(CAP_CONSTS, np.float32)
    for key, i in enc.consts.items():
        consts[i] = float.fromhex(key) if key != "nan" else np.nan
    scalar_code = np.zeros((CAP_SCALAR_CODE, 4), np.int32)
    for i, (op, args) in enumerate(enc.scalar):
        scalar_code[i, 0] = op
        scalar_code[i, 1 : 1 + len(args)] = [a.id for a in args]
    vector_code = np.zeros((CAP_VECTOR_CODE, 5), np.int32)
    if code:
        vector_code[: len(code)] = code
    return Program(
        consts=jnp.asarray(consts),
        scalar_code=jnp.asarray(scalar_code),
        n_scalar=jnp.asarray(len(enc.scalar), jnp.int32),
        vector_code=jnp.asarray(vector_code),
        n_vector=jnp.asarray(len(code), jnp.int32),
        result=jnp.asarray(result_code, jnp.int32),
    )


def _allocate(vector, finals: list[_Val], result: _Val, n_state: int):
    """Linear-scan register allocation; returns (code rows, result operand code)."""
    end = len(vector)
    last_use: dict[int, int] = {}
    for i, (_, _, args) in enumerate(vector):
        for a in args:
            if a.kind == "v":
                last_use[a.id] = i
    for val in (*finals, result):
        if val.kind == "v":
            last_use[val.id] = end
    home_of = {val.id: 2 + k for k, val in enumerate(finals) if val.kind == "v" and val.id >= 2 + n_state}
    reg: dict[int, int] = {ssa: ssa for ssa in range(2 + n_state)}  # g, p, old slots
    homes = set(range(2, 2 + n_state))
    free = [r for r in range(CAP_REGISTERS - 1, 1 + n_state, -1)]  # temps, lowest popped first
    busy = {ssa for ssa in reg if last_use.get(ssa, -1) >= 0}
    for ssa in list(reg):
        if ssa not in busy:
            _release(free, reg[ssa], homes)

    def operand(val: _Val) -> int:
        return -(val.id + 1) if val.kind == "s" else reg[val.id]

    rows = []
    for i, (ssa, op, args) in enumerate(vector):
        codes = [operand(a) for a in args] + [0] * (3 - len(args))
        for a in set(args):
            if a.kind == "v" and last_use[a.id] == i:
                _release(free, reg[a.id], homes)
        want = home_of.get(ssa)
        if want is not None and want in free:
            free.remove(want)
            reg[ssa] = want
        else:
            reg[ssa] = _take(free)
        rows.append([op, reg[ssa], *codes])

    # End of step: move each slot's final value into its home register. Sources
    # that a move would overwrite (and the result) are first copied to temps.
    moves = [(2 + k, operand(v)) for k, v in enumerate(finals) if operand(v) != 2 + k]
    targets = {dst for dst, _ in moves}
    result_code = operand(result)
    saved = {}
    free[:] = [r for r in free if r not in targets]
    for src in [s for _, s in moves] + [result_code]:
        if src in targets and src not in saved:
            saved[src] = _take(free)
            rows.append([_COPY, saved[src], src, 0, 0])
    rows += [[_COPY, dst, saved.get(src, src), 0, 0] for dst, src in moves]
    return rows, saved.get(result_code, result_code)


def _release(free: list[int], r: int, homes: set[int]) -> None:
    if r in homes:
        free.insert(0, r)  # homes are taken last, so they stay free for final slot values
    else:
        free.append(r)


def _take(free: list[int]) -> int:
    if not free:
        raise DSLError(f"rule needs more than {CAP_REGISTERS} vector registers")
    return free.pop()


# ----------------------------------------------------------------------------- runtime


class InterpreterState(NamedTuple):
    """``count``: updates done; ``registers``: float32[CAP_REGISTERS, N], slots in 2..."""

    count: jax.Array
    registers: jax.Array


def _flat_layout(tree):
    leaves, treedef = jax.tree.flatten(tree)
    sizes = [int(np.prod(x.shape)) for x in leaves]
    segment_ids = np.repeat(np.arange(len(leaves)), sizes).astype(np.int32)
    return leaves, treedef, sizes, segment_ids


def _flatten(leaves) -> jax.Array:
    return jnp.concatenate([jnp.ravel(x).astype(jnp.float32) for x in leaves])


def _run_scalar(program: Program, t: jax.Array) -> jax.Array:
    """The scalar file S after running the scalar code at step ``t``."""
    S = jnp.concatenate(
        [
            jnp.reshape(t, (1,)).astype(jnp.float32),
            program.consts.astype(jnp.float32),
            jnp.zeros(CAP_SCALAR_CODE, jnp.float32),
        ]
    )

    def step(i, S):
        op, a, b, c = program.scalar_code[i, 0], *(S[program.scalar_code[i, j]] for j in (1, 2, 3))
        every = jnp.stack([_scalar_op(name, a, b, c) for name in OP_NAMES])
        return S.at[SCALAR_BASE + i].set(every[op])

    return jax.lax.fori_loop(0, program.n_scalar, step, S)


def _scalar_op(name: str, a, b, c):
    spec = OPS[name]
    return jnp.asarray(spec.fn(jnp, *(a, b, c)[: spec.arity]), jnp.float32)


def _vector_branches(segment_ids: np.ndarray, sizes: list[int]):
    """One function per opcode: (V, S, row) -> the instruction's result, float32[N]."""
    n_leaves = len(sizes)
    leaf_size = jnp.asarray(np.asarray(sizes, np.float32))

    def fetch(V, S, code):
        return jnp.where(code >= 0, V[jnp.maximum(code, 0)], S[jnp.maximum(-code - 1, 0)])

    def per_leaf_sum(x):
        return jax.ops.segment_sum(x, segment_ids, num_segments=n_leaves)[segment_ids]

    reductions = {
        "norm": lambda x: jnp.sqrt(per_leaf_sum(jnp.square(x))),
        "rms": lambda x: jnp.sqrt(per_leaf_sum(jnp.square(x)) / leaf_size[segment_ids]),
        "mean": lambda x: per_leaf_sum(x) / leaf_size[segment_ids],
    }

    def branch(name):
        spec = OPS[name]

        def run(V, S, row):
            args = [fetch(V, S, row[2 + j]) for j in range(spec.arity)]
            if spec.reduction:
                return reductions[name](*args)
            return jnp.asarray(spec.fn(jnp, *args), jnp.float32)

        return run

    def copy(V, S, row):
        return fetch(V, S, row[2])

    return [branch(name) for name in OP_NAMES] + [copy], fetch


def interpreter_transform(program: Program) -> optax.GradientTransformation:
    """The transform ``g -> u`` of an encoded rule; ``program`` may be a traced value."""

    def init_fn(params):
        n = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))
        return InterpreterState(
            count=jnp.zeros([], jnp.int32), registers=jnp.zeros((CAP_REGISTERS, n), jnp.float32)
        )

    def update_fn(updates, state, params=None):
        if params is None:
            raise DSLError("the interpreter needs params: call update(grads, state, params)")
        leaves_g, treedef, sizes, segment_ids = _flat_layout(updates)
        leaves_p = treedef.flatten_up_to(params)
        count = optax.safe_increment(state.count)
        S = _run_scalar(program, count.astype(jnp.float32))
        V = state.registers.at[0].set(_flatten(leaves_g)).at[1].set(_flatten(leaves_p))
        branches, fetch = _vector_branches(segment_ids, sizes)

        def step(i, V):
            row = program.vector_code[i]
            return V.at[row[1]].set(jax.lax.switch(row[0], branches, V, S, row))

        V = jax.lax.fori_loop(0, program.n_vector, step, V)
        u = fetch(V, S, program.result)
        out, offset = [], 0
        for g, size in zip(leaves_g, sizes):
            out.append(jnp.reshape(u[offset : offset + size], g.shape).astype(g.dtype))
            offset += size
        return treedef.unflatten(out), InterpreterState(count=count, registers=V)

    return optax.GradientTransformation(init_fn, update_fn)


def interpreter(program: Program, learning_rate: optax.ScalarOrSchedule) -> optax.GradientTransformation:
    """Optax optimizer running an encoded rule: ``-learning_rate * u``.

    Compile a training function once with ``program`` as an argument and every
    rule of the language runs in it without recompiling.
    """
    return optax.chain(interpreter_transform(program), optax.scale_by_learning_rate(learning_rate))
