"""The run folder: ``runs/<run-id>/`` is self-describing and restartable.

* ``config.toml``         the resolved config (TOML)
* ``checkpoint.msgpack``  state after the last completed generation (atomic:
  temp file, fsync, rename); ``checkpoint.prev.msgpack`` the one before
* ``log.jsonl``           one JSON line per event: every evaluated candidate,
  the cost model's path choices, each generation, resumes, interruptions
* ``summary.json``        written at the end: hall of fame, Pareto front, scores

Loading reads msgpack, TOML and JSON only: nothing in a run folder is ever
executed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import msgpack

from discovery import config as config_lib
from discovery.records import Candidate

CHECKPOINT = "checkpoint.msgpack"
PREVIOUS = "checkpoint.prev.msgpack"
FORMAT = "discovery-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint could not be read; the message names the file and what to do."""


class RunStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def create(cls, out_dir: str | Path, config: config_lib.Config) -> RunStore:
        """A new folder ``out_dir/<name>-s<seed>-<timestamp>`` with the config written."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"{config.run.name}-s{config.run.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
        path, n = out / stem, 1
        while path.exists():
            n += 1
            path = out / f"{stem}-{n}"
        path.mkdir()
        store = cls(path)
        _atomic_write(path / "config.toml", config_lib.dumps(config).encode())
        return store

    @classmethod
    def open(cls, path: str | Path) -> RunStore:
        path = Path(path)
        if not (path / "config.toml").is_file():
            raise FileNotFoundError(f"{path} is not a run folder (no config.toml)")
        return cls(path)

    def config(self) -> config_lib.Config:
        file = self.path / "config.toml"
        return config_lib.loads(file.read_text(), where=str(file))

    # -- checkpoints -------------------------------------------------------------------------

    def write_checkpoint(self, state: dict) -> None:
        raw = msgpack.packb({"format": FORMAT, "version": VERSION, **state}, use_bin_type=True)
        current = self.path / CHECKPOINT
        tmp = self.path / (CHECKPOINT + ".tmp")
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        if current.exists():
            os.replace(current, self.path / PREVIOUS)
        os.replace(tmp, current)

    def read_checkpoint(self) -> dict | None:
        """The latest checkpoint, or None if the run has none yet."""
        current, previous = self.path / CHECKPOINT, self.path / PREVIOUS
        file = current if current.exists() else previous if previous.exists() else None
        if file is None:
            return None
        try:
            data = msgpack.unpackb(file.read_bytes(), raw=False, strict_map_key=False)
        except Exception as e:  # corrupt or truncated bytes raise several msgpack types
            hint = (f"; the previous checkpoint {previous} is intact: delete {file} to resume from it"
                    if file == current and previous.exists() else "")
            raise CheckpointError(f"cannot read checkpoint {file}: {type(e).__name__}: {e}{hint}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
            raise CheckpointError(f"{file} is not a version-{VERSION} discovery checkpoint")
        return data

    # -- log ---------------------------------------------------------------------------------

    @property
    def log_file(self) -> Path:
        return self.path / "log.jsonl"

    def append_log(self, entries: list[dict]) -> int:
        """Append JSON lines; return the log's size in bytes afterwards."""
        with open(self.log_file, "a") as f:
            for entry in entries:
                f.write(json.dumps(entry, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return self.log_file.stat().st_size

    def truncate_log(self, size: int) -> None:
        """Drop what was logged after the checkpoint we resume from."""
        if self.log_file.exists() and self.log_file.stat().st_size > size:
            with open(self.log_file, "r+b") as f:
                f.truncate(size)

    def read_log(self) -> list[dict]:
        if not self.log_file.exists():
            return []
        lines = self.log_file.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def candidates(self) -> list[Candidate]:
        """Every candidate the log records, in order."""
        return [Candidate.from_dict(e) for e in self.read_log() if e["kind"] == "candidate"]

    # -- summary -----------------------------------------------------------------------------

    def write_summary(self, summary: dict) -> None:
        _atomic_write(self.path / "summary.json", json.dumps(summary, indent=2).encode())

    def read_summary(self) -> dict | None:
        file = self.path / "summary.json"
        return json.loads(file.read_text()) if file.exists() else None


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
