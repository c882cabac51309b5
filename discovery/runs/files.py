"""Files that are never half-written or misread: atomic replacement, strict JSON, bounded reads.

``atomic_write`` puts the bytes in a uniquely named temporary file beside the
target, flushes them to disk, then renames it over the target: a reader, a
crash, a full disk or Ctrl-C leaves either the old file or the new one, never
a mix, and a symlink at the target is replaced, never written through.

``json_text`` writes strict JSON (RFC 8259): the non-finite floats that
Python's ``json`` would write as the invalid tokens ``NaN``/``Infinity``
become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, which
``float()`` reads back.

Example::

    atomic_write(Path("out/report.json"), json_text({"loss": float("nan")}, indent=2).encode())
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TEMP_SUFFIX = ".tmp"


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def naming(path: str | os.PathLike) -> Iterator[None]:
    """Re-raise an OSError (full disk, permissions) as one that names ``path``, the file the
    user knows, rather than a temporary file or nothing."""
    try:
        yield
    except OSError as e:
        if e.filename == str(path):
            raise
        raise OSError(e.errno, e.strerror or str(e), str(path)) from None


def atomic_write(path: str | os.PathLike, data: bytes, previous: str | os.PathLike | None = None) -> Path:
    """Replace ``path`` with ``data`` atomically (temp file, fsync, rename, fsync of the folder).

    With ``previous``, the file at ``path`` (if any) is first renamed to ``previous``.
    On any error the temporary file is removed and ``path`` is left as it was; an
    OSError names ``path``.
    """
    path = Path(path)
    with naming(path):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), 0o666 & ~_umask())
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if previous is not None and path.exists():
                os.replace(path, previous)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_folder(path.parent)
    return path


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def json_text(doc: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    """``doc`` as strict JSON text; non-finite floats as the strings NaN, Infinity, -Infinity."""
    return json.dumps(_strict(doc), indent=indent, sort_keys=sort_keys, allow_nan=False)


def read_capped(path: str | os.PathLike, limit: int, what: str = "file") -> bytes:
    """The bytes of ``path``; ValueError naming it if it is a folder or holds more than ``limit``
    bytes (a device such as /dev/zero is read no further than that)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder, not a file")
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{what} {path} is larger than {limit:,} bytes")
    return data
