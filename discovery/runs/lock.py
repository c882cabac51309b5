"""One process at a time in a run folder: an exclusive ``fcntl.flock`` on ``run.lock``.

The kernel drops the lock when its owner exits, however it exits (``kill -9``
included), so a lock file left behind never blocks a resume: only a live
owner does. The owner writes its pid into the file, which a second process
quotes in its error.

Example::

    with RunLock(run_dir):
        ...  # append to the log, write checkpoints
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "run.lock"


class RunLockedError(ValueError):
    """Another live process owns the run folder; the message names it by pid."""


class RunLock:
    """Exclusive ownership of a run folder while held (a context manager)."""

    def __init__(self, folder: str | os.PathLike):
        self.file = Path(folder) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLockedError(
                f"run folder {self.file.parent} is in use by process {owner} (lock {self.file}); "
                "wait for it to finish or stop it, then try again") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
