"""The run folder: ``runs/<run-id>/`` is self-describing and restartable.

* ``config.toml``         the resolved config (TOML)
* ``checkpoint.msgpack``  state after the last completed generation, with its
  SHA-256 and format version; ``checkpoint.prev.msgpack`` the one before
* ``log.jsonl``           one JSON line per event (``runs.events``): every evaluated candidate,
  the cost model's path choices, each generation, resumes, interruptions
* ``summary.json``        written at the end: hall of fame, Pareto front, scores
* ``metrics.csv``         one row per generation (``generation.METRICS``), for any plotting tool
* ``report.html``         the run on one page (``analysis.report_html``; written by the callers of
  ``launch.run`` and by ``discovery inspect --html``, never read back)
* ``history/summary-g<N>.json``  the summary of the run when it had N generations,
  kept when ``--generations`` extends a finished run
* ``run.lock``            held by the one process writing the folder (``lock.RunLock``)

Every file is written atomically (``files.atomic_write``) except the log,
which is appended one fsynced block of whole lines at a time; readers skip an
incomplete last line. A checkpoint that fails its checksum is never used: the
previous one is, once verified, with a warning. JSON is strict (no NaN).
Loading reads msgpack, TOML and JSON only: nothing in a run folder is ever
executed. Data written by older code is upgraded before it is read (``runs.upgrade``).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import io
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import msgpack

from discovery import config as config_lib
from discovery.codec import RecordError, Stored, decode, mapping, record, stored, whole
from discovery.evaluation.evaluator import References, TaskReference
from discovery.evolution.engine import SearchState
from discovery.evolution.generation import METRICS, Generation
from discovery.records import Candidate, Evaluation
from discovery.runs import events, upgrade
from discovery.runs.files import TEMP_SUFFIX, atomic_write, json_text, naming

CONFIG = "config.toml"  # what makes a folder a run folder
CHECKPOINT = "checkpoint.msgpack"
PREVIOUS = "checkpoint.prev.msgpack"
FORMAT = "discovery-checkpoint"
# A Checkpoint record as a msgpack payload with its SHA-256 (from format 2; 1: flat, no checksum).
# Every format is read (``upgrade``).
VERSION = upgrade.FORMAT


@dataclasses.dataclass(frozen=True)
class Checkpoint(Stored):
    """A run's state after its last completed generation: the search (``SearchState``), Adam's
    reference scores per split and task, how many bytes of ``log.jsonl`` were written when it was
    taken, and the held-out scores of hall-of-fame rules by key."""

    search: SearchState = stored(record(SearchState))
    reference: References = stored(mapping(mapping(record(TaskReference))))
    log_offset: int = stored(whole())
    held_out: dict[str, Evaluation] = stored(mapping(record(Evaluation)))


class CheckpointError(ValueError):
    """No checkpoint could be read; the message names each file and what is wrong with it."""


class RunWarning(UserWarning):
    """Damage in a run folder that was worked around; the message says what and how."""


class RunStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def create(cls, out_dir: str | Path, config: config_lib.Config) -> RunStore:
        """A new folder ``out_dir/<name>-s<seed>-<timestamp>`` with the config written."""
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {out} is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        stem = f"{config.run.name}-s{config.run.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
        path, n = out / stem, 1
        while True:
            try:
                path.mkdir()
                break
            except FileExistsError:
                n += 1
                path = out / f"{stem}-{n}"
        return cls(path)

    def write_config(self, config: config_lib.Config) -> None:
        atomic_write(self.path / CONFIG, config_lib.dumps(config).encode())

    @classmethod
    def open(cls, path: str | Path) -> RunStore:
        path = Path(path)
        if not (path / CONFIG).is_file():
            raise FileNotFoundError(f"{path} is not a run folder (no {CONFIG})")
        return cls(path)

    @staticmethod
    def folders(out: str | Path, name: str | None = None, seed: int | None = None) -> list[Path]:
        """The run folders in ``out`` (those holding a ``config.toml``) in name order, which for one
        name and seed is oldest first (``create``); given ``name`` or ``seed``, those whose config
        has them."""
        out = Path(out)
        found = []
        for path in sorted(out.iterdir()) if out.is_dir() else []:
            if (path / CONFIG).is_file():
                run = RunStore(path).config().run
                if name in (None, run.name) and seed in (None, run.seed):
                    found.append(path)
        return found

    def config(self) -> config_lib.Config:
        with config_lib.reading_stored():
            return config_lib.load(self.path / CONFIG)

    def remove_temp_files(self) -> None:
        """Delete temporary files a killed writer left behind (call while holding the lock)."""
        for tmp in self.path.glob(f".*{TEMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)

    # -- checkpoints -------------------------------------------------------------------------

    def write_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Write ``checkpoint``; the one it replaces becomes the previous one."""
        payload = msgpack.packb(checkpoint.to_dict(), use_bin_type=True)
        raw = msgpack.packb({"format": FORMAT, "version": VERSION,
                             "sha256": hashlib.sha256(payload).hexdigest(), "payload": payload},
                            use_bin_type=True)
        atomic_write(self.path / CHECKPOINT, raw, previous=self.path / PREVIOUS)

    def read_checkpoint(self) -> Checkpoint | None:
        """The latest intact checkpoint, or None if the run has none yet.

        If the latest fails its checks the previous one is verified and used, with a
        ``RunWarning`` saying so; if neither is intact, ``CheckpointError``.
        """
        current, previous = self.path / CHECKPOINT, self.path / PREVIOUS
        if not current.exists() and not previous.exists():
            return None
        problems = []
        for file in (current, previous):
            try:
                state = _verified_state(file)
            except CheckpointError as e:
                problems.append(str(e))
                continue
            if file == previous:
                warnings.warn(f"{problems[0]}; using the previous checkpoint {previous.name} "
                              f"(generation {state.search.generation}), verified intact", RunWarning,
                              stacklevel=2)
            return state
        raise CheckpointError("; ".join(problems) + ": no checkpoint can be used")

    # -- log ---------------------------------------------------------------------------------

    @property
    def log_file(self) -> Path:
        return self.path / "log.jsonl"

    def log(self, entries: list[events.Event]) -> int:
        """Append events (``events.line``) in one fsynced write; return the log's size in bytes."""
        return self.append_log([events.line(e) for e in entries])

    def append_log(self, entries: list[dict]) -> int:
        """Append JSON lines in one fsynced write; return the log's size in bytes afterwards."""
        data = "".join(json_text(e, sort_keys=True) + "\n" for e in entries).encode()
        with naming(self.log_file), open(self.log_file, "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            return f.tell()

    def rewind_log(self, offset: int) -> str | None:
        """Drop what was logged after the checkpoint (``offset`` bytes were logged before it).

        Returns None, or what is wrong if the log is shorter than ``offset`` or does not
        end a line there; the log then keeps its whole lines and loses an incomplete last one.
        """
        with naming(self.log_file), open(self.log_file, "a+b") as f:
            f.seek(0)
            head = f.read(offset)
            intact = len(head) == offset and (offset == 0 or head.endswith(b"\n"))
            f.truncate(offset if intact else head.rfind(b"\n") + 1)
        if intact:
            return None
        return (f"{self.log_file} holds {len(head)} bytes where {CHECKPOINT} says {offset} bytes "
                "of whole lines were logged: the log was truncated or replaced")

    def read_log(self, *kinds: str) -> list[events.Event]:
        """The log's events (of ``kinds``, or all), in order. An incomplete last line (being
        written, or torn by a crash) and damaged lines are skipped with a ``RunWarning`` naming them."""
        found, damaged = [], []
        for number, entry in self._log_lines():
            if kinds and entry.get("kind") not in kinds:
                continue
            where = f"{self.log_file}, line {number}"
            try:
                found.append(decode(functools.partial(events.read, where=where), entry, where))
            except RecordError:
                damaged.append(number)
        _warn_damaged(self.log_file, damaged, f"not {' or '.join(kinds) or 'an event'} record(s)")
        return found

    def _log_lines(self) -> list[tuple[int, dict]]:
        if not self.log_file.exists():
            return []
        raw = self.log_file.read_bytes()
        end = raw.rfind(b"\n") + 1
        if end < len(raw):
            warnings.warn(f"{self.log_file}: the last line is incomplete ({len(raw) - end} bytes; "
                          "still being written, or the writer was stopped mid-line): skipped",
                          RunWarning, stacklevel=2)
        lines, damaged = [], []
        for number, line in enumerate(raw[:end].split(b"\n")[:-1], start=1):
            try:
                entry = json.loads(line)
            except (ValueError, RecursionError):
                entry = None
            if isinstance(entry, dict):
                lines.append((number, entry))
            elif line.strip():
                damaged.append(number)
        _warn_damaged(self.log_file, damaged, "not a JSON record")
        return lines

    def candidates(self) -> list[Candidate]:
        """Every candidate the log records, in order (damaged records skipped with a warning)."""
        return self.read_log("candidate")

    # -- summary -----------------------------------------------------------------------------

    def write_summary(self, summary: dict) -> None:
        atomic_write(self.path / "summary.json", (json_text(summary, indent=2) + "\n").encode())

    def write_metrics(self, logbook: list[Generation]) -> None:
        """``metrics.csv``: the ``METRICS`` columns of every generation record so far (empty
        where a field is None)."""
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(METRICS)
        writer.writerows([_blank_if_none(getattr(record, key)) for key in METRICS] for record in logbook)
        atomic_write(self.path / "metrics.csv", text.getvalue().encode())

    def archive_summary(self, generations: int) -> Path:
        """Move ``summary.json``, of a run of ``generations``, to ``history/summary-g<generations>.json``
        (before an extension)."""
        target = self.path / "history" / f"summary-g{generations}.json"
        target.parent.mkdir(exist_ok=True)
        os.replace(self.path / "summary.json", target)
        return target

    def read_summary(self) -> dict | None:
        """``summary.json`` as data, or None if the run has not finished."""
        file = self.path / "summary.json"
        if not file.exists():
            return None
        try:
            data = json.loads(file.read_bytes())
        except (ValueError, RecursionError) as e:
            raise ValueError(f"{file} is not valid JSON ({type(e).__name__}: {e}); "
                             "delete it and resume the run to write it again") from None
        if not isinstance(data, dict):
            raise ValueError(f"{file} is not a summary (a JSON object)")
        return data


def _blank_if_none(value: Any) -> Any:
    return "" if value is None else value


def _verified_state(file: Path) -> Checkpoint:
    """The checkpoint a file holds, after its checksum and fields are checked."""
    if not file.exists():
        raise CheckpointError(f"{file} is missing")
    try:
        outer = msgpack.unpackb(file.read_bytes(), raw=False, strict_map_key=False)
    except Exception as e:  # corrupt or truncated bytes raise several msgpack types
        detail = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        raise CheckpointError(f"cannot read checkpoint {file}: not msgpack ({detail})") from None
    if not isinstance(outer, dict) or outer.get("format") != FORMAT:
        raise CheckpointError(f"{file} is not a discovery checkpoint")
    version = outer.get("version")
    if version == 1:
        state = outer
    elif type(version) is int and 2 <= version <= VERSION:
        payload = outer.get("payload")
        if (not isinstance(payload, bytes) or set(outer) != {"format", "version", "sha256", "payload"}
                or hashlib.sha256(payload).hexdigest() != outer.get("sha256")):
            raise CheckpointError(f"checkpoint {file} fails its SHA-256 check (changed after it "
                                  "was written)")
        state = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    else:
        raise CheckpointError(f"{file} has format version {version!r}; "
                              f"this discovery reads versions 1 to {VERSION}")
    where = f"checkpoint {file}"
    try:
        return decode(lambda s: Checkpoint.from_dict(upgrade.upgraded("checkpoint", s, version, where), where),
                      state, where)
    except RecordError as e:
        raise CheckpointError(str(e)) from None


def _warn_damaged(file: Path, lines: list[int], what: str) -> None:
    if lines:
        shown = ", ".join(map(str, lines[:10])) + (", ..." if len(lines) > 10 else "")
        warnings.warn(f"{file}: {len(lines)} line(s) are {what} (line {shown}): skipped",
                      RunWarning, stacklevel=2)
