"""Where candidate evaluations run. One interface: ``map`` over encoded candidates, results in order.

Candidates travel as bytes (a rule's ``dsl.dumps``, or a rule/architecture
pair's msgpack: plain data), never as DEAP objects, so a backend can move
them across processes or machines.

* ``InProcessBackend``: one candidate after another in this process (each
  vmapped over lr x seed, and spread over the local devices by ``trainer.train``),
  or ``Evaluator.evaluate_many``'s batches of pairs when they are switched on.
* ``RayBackend``: Ray actors, each holding its own ``Evaluator`` built from the
  run config and the driver's reference (Adam's scores, path choices), fed
  chunks of encoded rules from a queue; a chunk whose actor dies is re-queued
  on a fresh actor. Training is deterministic given the task seeds, so results
  do not depend on which actor ran what.
"""

from __future__ import annotations

import math
import socket
import warnings
from collections.abc import Callable
from typing import Protocol

import dsl
from discovery.config import BACKENDS, BackendName, Config
from discovery.evaluation.evaluator import Evaluator, References
from discovery.records import Evaluation

CHUNKS_PER_WORKER = 4  # per map: small enough to balance load, large enough to amortize dispatch
MAX_CHUNK_FAILURES = 3  # a chunk that kills this many actors is a bug, not bad luck
GPU_MEMORY_SHARE = 0.9  # of each actor's GPU share, left to XLA's allocator


class Backend(Protocol):
    def map(self, encoded_rules: list[bytes]) -> list[Evaluation]: ...

    def close(self) -> None: ...


class InProcessBackend:
    """Evaluates candidates one after another in this process (each one vmapped over lr x seed;
    with ``[coevolution] batch_architectures``, a generation's pairs of one shape together)."""

    def __init__(self, evaluator: Evaluator):
        self.evaluator = evaluator

    def map(self, encoded_rules: list[bytes]) -> list[Evaluation]:
        return self.evaluator.evaluate_many(encoded_rules)

    def close(self) -> None:
        pass


class ClusterUnreachableError(ConnectionError, ValueError):
    """The Ray cluster named by ``[evaluation] address`` could not be reached (message names it)."""


class _Worker:
    """The body of one Ray actor: an in-process backend over its own ``Evaluator``.

    When rules are evolved, construction compiles the trainers (one Adam
    evaluation on every search task), so candidates sent later cost no
    compilation on this worker. (Pairs compile once per new architecture shape.)
    """

    def __init__(self, config: Config, reference: References):
        self.backend = InProcessBackend(Evaluator(config, reference))
        if not config.evolves_architectures:
            self.backend.map([dsl.dumps(dsl.library.get("adam"))])

    def map(self, encoded_rules: list[bytes]) -> list[Evaluation]:
        return self.backend.map(encoded_rules)


def _check_reachable(address: str, timeout: float) -> None:
    """Raise ``ClusterUnreachableError`` unless a TCP connection to ``HOST:PORT`` opens in time."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"Ray address {address!r} is not 'auto' or HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ClusterUnreachableError(f"cannot reach the Ray cluster at {address}: {e}") from None


class RayBackend:
    """Evaluates candidates on Ray actors, one per GPU (or per CPU on a CPU-only cluster).

    ``address``: ``None``/``""`` starts a local Ray (shut down by ``close``);
    ``"auto"`` or ``"HOST:PORT"`` joins a running cluster, checked within
    ``connect_timeout`` seconds before anything runs. A Ray already initialized
    by the caller (``ray.init(...)``) is used as it is. ``workers`` overrides
    the actor count. Actors start on the first ``map`` with the driver's
    reference (``evaluator.prepare("search")``, when rules are evolved) and
    stay for the run.

    Example::

        backend = RayBackend(evaluator, address="head-node:6379")
        results = backend.map([dsl.dumps(rule) for rule in rules])
    """

    def __init__(self, evaluator: Evaluator, address: str | None = None, workers: int | None = None,
                 connect_timeout: float = 10.0):
        try:
            import ray
        except ImportError:
            raise ValueError("backend 'ray' needs Ray: pip install 'ray>=2.9' (in a checkout of this project: "
                             "pip install -e '.[ray]')") from None
        self.ray = ray
        self.evaluator = evaluator
        self.address = address or None
        self.owns_ray = not ray.is_initialized()
        if self.address not in (None, "auto"):
            _check_reachable(self.address, connect_timeout)
        if self.owns_ray:
            local = {} if self.address else {"include_dashboard": False}
            try:
                with warnings.catch_warnings():  # Popen forks then execs at once: no JAX in the child
                    warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
                    ray.init(address=self.address, logging_level="warning", **local)
            except (ConnectionError, RuntimeError, TimeoutError) as e:
                raise ClusterUnreachableError(
                    f"cannot connect to the Ray cluster at {self.address or 'a new local cluster'}: {e} "
                    "(same Ray and Python versions as the cluster? with token authentication, "
                    "RAY_AUTH_MODE=token and the cluster's token on this machine?)"
                ) from None
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        self.workers = workers or gpus or max(int(resources.get("CPU", 1)), 1)
        env = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
        gpu_share = min(gpus / self.workers, 1.0)
        if gpus:
            env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{GPU_MEMORY_SHARE * gpu_share:.3f}"
        self.actor_class = ray.remote(_Worker).options(
            num_cpus=1, num_gpus=gpu_share, runtime_env={"env_vars": env})
        self.actors: list = []
        self.replaced = 0  # actors that died and were replaced (for logs and tests)

    def _start_actor(self):
        if not self.evaluator.config.evolves_architectures:
            self.evaluator.prepare("search")  # measured once, here: every actor scores against it
            if self.evaluator.config.screening.on:
                self.evaluator.prepare("screen")
        return self.actor_class.remote(self.evaluator.config, self.evaluator.reference)

    def _submit(self, actor, chunk: list[bytes]):
        return actor.map.remote(chunk)

    def map(self, encoded_rules: list[bytes]) -> list[Evaluation]:
        if not encoded_rules:
            return []
        while len(self.actors) < self.workers:
            self.actors.append(self._start_actor())
        size = math.ceil(len(encoded_rules) / (CHUNKS_PER_WORKER * self.workers))
        queue = [(start, encoded_rules[start:start + size]) for start in range(0, len(encoded_rules), size)]
        queue.reverse()  # pop() takes chunks in order
        failures: dict[int, int] = {}
        results: list[Evaluation | None] = [None] * len(encoded_rules)
        in_flight: dict = {}  # object ref -> (actor, start, chunk)
        idle = list(self.actors)
        while queue or in_flight:
            while queue and idle:
                actor = idle.pop()
                start, chunk = queue.pop()
                in_flight[self._submit(actor, chunk)] = (actor, start, chunk)
            [ref], _ = self.ray.wait(list(in_flight), num_returns=1)
            actor, start, chunk = in_flight.pop(ref)
            try:
                results[start:start + len(chunk)] = self.ray.get(ref)
                idle.append(actor)
            except self.ray.exceptions.RayActorError as e:
                failures[start] = failures.get(start, 0) + 1
                if failures[start] >= MAX_CHUNK_FAILURES:
                    raise RuntimeError(f"candidates {start}..{start + len(chunk) - 1} killed "
                                       f"{MAX_CHUNK_FAILURES} Ray workers; last error: {e}") from e
                queue.append((start, chunk))
                self.ray.kill(actor)
                fresh = self._start_actor()
                self.actors[self.actors.index(actor)] = fresh
                idle.append(fresh)
                self.replaced += 1
        return results

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
        if self.owns_ray:
            self.ray.shutdown()


_BACKENDS: dict[BackendName, Callable[[Evaluator], Backend]] = {
    "inprocess": InProcessBackend,
    "ray": lambda evaluator: RayBackend(evaluator, address=evaluator.config.evaluation.address),
}
assert tuple(_BACKENDS) == BACKENDS  # config names the backends, this module builds them


def make_backend(name: BackendName, evaluator: Evaluator) -> Backend:
    """The backend named in ``[evaluation] backend``; ``ray`` also reads ``[evaluation] address``."""
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}; available: {BACKENDS}")
    return _BACKENDS[name](evaluator)
