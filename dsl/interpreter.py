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
from .expr import Const, Expr, Name
from .ops import OP_NAMES, OPS
from .rule import MAX_NODES, MAX_STATE, Rule
from .semantics import fold_constants, resolve_hyperparams

CAP_CONSTS = MAX_NODES
CAP_SCALAR_CODE = MAX_NODES
CAP_VECTOR_CODE = MAX_NODES + 2 * MAX_STATE + 1
CAP_REGISTERS = 24
SCALAR_BASE = 1 + CAP_CONSTS  # S = [t, consts..., scalar results...]
_COPY = len(OP_NAMES)  # internal opcode: dst <- a
OPCODES = {name: i for i, name in enumerate(OP_NAMES)}


class Program(NamedTuple):
    """An encoded rule. All fields are arrays of fixed shape (a pytree, jit-friendly).

    An operand is three ints ``(code, scale, shift)`` and reads
    ``X * S[scale] + S[shift]`` where ``X`` is vector register ``code`` if
    ``code >= 0`` and scalar ``S[-code - 1]`` otherwise.
    """

    consts: jax.Array  # float32[CAP_CONSTS]
    scalar_code: jax.Array  # int32[CAP_SCALAR_CODE, 4]: op, a, b, c (indices into S)
    n_scalar: jax.Array  # int32[]
    vector_code: jax.Array  # int32[CAP_VECTOR_CODE, 11]: op, dst, then 3 operands
    n_vector: jax.Array  # int32[]
    result: jax.Array  # int32[3]: the operand that is u


@dataclass(frozen=True)
class _S:
    """A scalar value: ``S[index]``."""

    index: int


@dataclass(frozen=True)
class _V:
    """A vector value read as ``register(ssa) * scale + shift``.

    Folding a scalar multiply and add into the operand that reads a value keeps
    instruction counts low (an EMA ``b*m + (1-b)*g`` is one instruction) and
    is exact: only ``x*k``, ``x*s + k`` and negations are folded, which round
    exactly as the separate operations do.
    """

    ssa: int
    scale: float | _S = 1.0
    shift: float | _S = 0.0

    @property
    def plain(self) -> bool:
        return self.scale == 1.0 and self.shift == 0.0

    @property
    def unshifted(self) -> bool:
        return isinstance(self.shift, float) and self.shift == 0.0


Value = float | _S | _V  # a host constant, a scalar, or a vector


class _Encoder:
    def __init__(self, rule: Rule):
        self.rule = rule
        self.n_state = len(rule.state)
        self.consts: dict[str, int] = {}
        self.scalar: list[tuple[int, tuple[int, ...]]] = []
        self.vector: list[tuple[int, tuple[Value, ...]]] = []  # SSA id = 2 + n_state + index
        self.memo: dict[tuple, Value] = {}

    def s_index(self, value: float | _S) -> int:
        if isinstance(value, _S):
            return value.index
        key = float(np.float32(value)).hex() if value == value else "nan"
        if key not in self.consts:
            if len(self.consts) >= CAP_CONSTS:
                raise DSLError(f"rule has more than {CAP_CONSTS} distinct constants")
            self.consts[key] = len(self.consts)
        return 1 + self.consts[key]

    def scalar_op(self, op: str, *args: float | _S) -> float | _S:
        value = fold_constants(op, args)
        if value is not None:
            return value
        key = ("s", op, args)
        if key not in self.memo:
            if len(self.scalar) >= CAP_SCALAR_CODE:
                raise DSLError(f"rule needs more than {CAP_SCALAR_CODE} scalar instructions")
            self.scalar.append((OPCODES[op], tuple(self.s_index(a) for a in args)))
            self.memo[key] = _S(SCALAR_BASE + len(self.scalar) - 1)
        return self.memo[key]

    def vector_op(self, op: str, *args: Value) -> _V:
        if OPS[op].commutative:
            args = tuple(sorted(args, key=repr))
        key = ("v", op, args)
        if key not in self.memo:
            self.vector.append((OPCODES[op], args))
            self.memo[key] = _V(2 + self.n_state + len(self.vector) - 1)
        return self.memo[key]

    def apply(self, op: str, args: list[Value]) -> Value:
        if not any(isinstance(a, _V) for a in args):
            return self.scalar_op(op, *args)
        if op == "pow" and args[1] == 2.0:
            return self.vector_op("square", args[0])
        if op == "mul":
            v, k = args if isinstance(args[0], _V) else args[::-1]
            if v.plain and not isinstance(k, _V):
                return _V(v.ssa, scale=k)
        if op == "neg" and args[0].unshifted:
            return _V(args[0].ssa, self.scalar_op("neg", args[0].scale))
        if op in ("add", "sub"):
            v, k = args if isinstance(args[0], _V) else args[::-1]
            if v.unshifted and not isinstance(k, _V):
                if op == "add":
                    return _V(v.ssa, v.scale, k)
                if v is args[0]:  # v*s - k
                    return _V(v.ssa, v.scale, self.scalar_op("neg", k))
                return _V(v.ssa, self.scalar_op("neg", v.scale), k)  # k - v*s
        return self.vector_op(op, *args)

    def expr(self, e: Expr, env: dict[str, Value]) -> Value:
        if isinstance(e, Const):
            return e.value
        if isinstance(e, Name):
            return env[e.id]
        return self.apply(e.op, [self.expr(a, env) for a in e.args])

    def run(self, hyper: dict[str, float]) -> tuple[list[Value], Value]:
        rule = self.rule
        env: dict[str, Value] = {"g": _V(0), "p": _V(1), "t": _S(0), **hyper}
        env |= {n: _V(2 + k) for k, n in enumerate(rule.state)}
        for stmt in rule.body:
            env[stmt.target] = self.expr(stmt.value, env)
        return [env[n] for n in rule.state], self.expr(rule.result, env)


def encode(rule: Rule, /, **hyperparams) -> Program:
    """Encode ``rule`` with hyper-parameters at their defaults unless overridden.

    Encoding is host-side and cheap (no compilation); hyper-parameter values
    are folded into the program's constants.
    """
    hyper = {k: float(v) for k, v in resolve_hyperparams(rule, hyperparams).items()}
    enc = _Encoder(rule)
    finals, result = enc.run(hyper)
    first_temp = 2 + enc.n_state

    # Dead-code elimination of vector code (scalar code is too cheap to bother).
    live = set()
    stack = [*finals, result]
    while stack:
        val = stack.pop()
        if isinstance(val, _V) and val.ssa >= first_temp and val.ssa not in live:
            live.add(val.ssa)
            stack.extend(enc.vector[val.ssa - first_temp][1])
    vector = [(ssa, *enc.vector[ssa - first_temp]) for ssa in sorted(live)]
    code, result_row = _Allocator(enc, finals).run(vector, result)
    if len(code) > CAP_VECTOR_CODE:
        raise DSLError(f"rule needs more than {CAP_VECTOR_CODE} vector instructions")

    consts = np.zeros(CAP_CONSTS, np.float32)
    for key, i in enc.consts.items():
        consts[i] = float.fromhex(key) if key != "nan" else np.nan
    scalar_code = np.zeros((CAP_SCALAR_CODE, 4), np.int32)
    for i, (op, args) in enumerate(enc.scalar):
        scalar_code[i, : 1 + len(args)] = [op, *args]
    vector_code = np.zeros((CAP_VECTOR_CODE, 11), np.int32)
    vector_code[: len(code)] = np.asarray(code, np.int32).reshape(len(code), 11)
    return Program(
        consts=jnp.asarray(consts),
        scalar_code=jnp.asarray(scalar_code),
        n_scalar=jnp.asarray(len(enc.scalar), jnp.int32),
        vector_code=jnp.asarray(vector_code),
        n_vector=jnp.asarray(len(code), jnp.int32),
        result=jnp.asarray(result_row, jnp.int32),
    )


class _Allocator:
    """Linear-scan register allocation of SSA vector values, then the end-of-step moves."""

    def __init__(self, enc: _Encoder, finals: list[Value]):
        self.enc = enc
        self.finals = finals
        n_state = enc.n_state
        self.homes = set(range(2, 2 + n_state))
        self.reg: dict[int, int] = {ssa: ssa for ssa in range(2 + n_state)}  # g, p, old slots
        self.free = list(range(CAP_REGISTERS - 1, 1 + n_state, -1))  # pop() gives the lowest
        # A slot's final value is computed straight into its home register when possible.
        self.home_of = {v.ssa: 2 + k for k, v in enumerate(finals) if isinstance(v, _V) and v.plain}

    def operand(self, value: Value) -> list[int]:
        if isinstance(value, _V):
            return [self.reg[value.ssa], self.enc.s_index(value.scale), self.enc.s_index(value.shift)]
        return [-(self.enc.s_index(value) + 1), self.enc.s_index(1.0), self.enc.s_index(0.0)]

    def release(self, register: int) -> None:
        if register in self.homes:
            self.free.insert(0, register)  # taken last: keep homes free for final slot values
        else:
            self.free.append(register)

    def take(self) -> int:
        if not self.free:
            raise DSLError(f"rule needs more than {CAP_REGISTERS} vector registers")
        return self.free.pop()

    def run(self, vector, result: Value) -> tuple[list[list[int]], list[int]]:
        end = len(vector)
        last_use: dict[int, int] = {}
        for i, (_, _, args) in enumerate(vector):
            last_use.update((a.ssa, i) for a in args if isinstance(a, _V))
        last_use.update((v.ssa, end) for v in (*self.finals, result) if isinstance(v, _V))
        for ssa in list(self.reg):
            if ssa not in last_use:
                self.release(self.reg[ssa])

        rows = []
        for i, (ssa, op, args) in enumerate(vector):
            operands = [x for a in args for x in self.operand(a)]
            for a in {a.ssa for a in args if isinstance(a, _V)}:
                if last_use[a] == i:
                    self.release(self.reg[a])
            want = self.home_of.get(ssa)
            if want in self.free:
                self.free.remove(want)
                self.reg[ssa] = want
            else:
                self.reg[ssa] = self.take()
            rows.append([op, self.reg[ssa], *operands] + [0] * (9 - len(operands)))

        # Move each slot's final value home. Registers that a move overwrites
        # but that are still to be read (by another move or as u) go to temps first.
        moves = [(2 + k, v) for k, v in enumerate(self.finals)
                 if not (isinstance(v, _V) and v.plain and self.reg[v.ssa] == 2 + k)]
        targets = {home for home, _ in moves}
        self.free = [r for r in self.free if r not in targets]
        for v in [v for _, v in moves] + [result]:
            if isinstance(v, _V) and self.reg[v.ssa] in targets:
                temp = self.take()
                rows.append([_COPY, temp, *self.operand(_V(v.ssa)), 0, 0, 0, 0, 0, 0])
                self.reg[v.ssa] = temp
        rows += [[_COPY, home, *self.operand(v), 0, 0, 0, 0, 0, 0] for home, v in moves]
        return rows, self.operand(result)


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


class _PerLeaf:
    """``jax.numpy`` on a flat vector of several leaves: ``sum`` and ``size`` act per leaf
    (segment sums, broadcast back), so the table's reductions run on it unchanged."""

    def __init__(self, segment_ids: np.ndarray, sizes: list[int]):
        self._segment_ids = segment_ids
        self._n_leaves = len(sizes)
        self._sizes = jnp.asarray(np.asarray(sizes, np.float32))[segment_ids]

    def __getattr__(self, name: str):
        return getattr(jnp, name)

    def sum(self, x: jax.Array) -> jax.Array:
        total = jax.ops.segment_sum(x, self._segment_ids, num_segments=self._n_leaves)
        return total[self._segment_ids]

    def size(self, x: jax.Array) -> jax.Array:
        return self._sizes


def _vector_branches(segment_ids: np.ndarray, sizes: list[int]):
    """One function per opcode: (V, S, row) -> the instruction's result, float32[N]."""
    xp = _PerLeaf(segment_ids, sizes)

    def fetch(V, S, operand):
        code, scale, shift = operand[0], operand[1], operand[2]
        x = jnp.where(code >= 0, V[jnp.maximum(code, 0)], S[jnp.maximum(-code - 1, 0)])
        return x * S[scale] + S[shift]

    def branch(name):
        spec = OPS[name]

        def run(V, S, row):
            args = [fetch(V, S, row[2 + 3 * j : 5 + 3 * j]) for j in range(spec.arity)]
            return jnp.asarray(spec.fn(xp, *args), jnp.float32)

        return run

    def copy(V, S, row):
        return fetch(V, S, row[2:5])

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
