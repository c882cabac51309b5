"""A reader for binary-classification files in LIBSVM text format.

Each non-blank line is ``label idx:val idx:val ...`` with 1-based feature
indices; text after ``#`` is a comment. The two class labels (+1/-1, 0/1,
1/2, or any two numbers) map to 0 (the smaller) and 1 (the larger).
The data is returned dense, so its size is bounded: at most ``MAX_DENSE_BYTES``
(a feature index such as ``4000000000:1`` is an error naming its line, not
a 16 GB allocation).

Example::

    X, y = load_libsvm("mushrooms")   # X (8124, 112) float32, y in {0, 1}
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

MAX_DENSE_BYTES = 2**31  # 2 GiB of float32 features


def _fail(path: Path, lineno: int, message: str) -> ValueError:
    return ValueError(f"{path}, line {lineno}: {message}")


def _number(token: str, path: Path, lineno: int, what: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise _fail(path, lineno, f"bad {what} {token!r} (not a number)") from None
    if not math.isfinite(value):
        raise _fail(path, lineno, f"bad {what} {token!r} (not finite)")
    return value


def _parse_line(
    text: str, path: Path, lineno: int, n_features: int | None
) -> tuple[float, dict[int, float]]:
    label_token, *feature_tokens = text.split()
    label = _number(label_token, path, lineno, "label")
    features = {}
    for token in feature_tokens:
        index_text, colon, value_text = token.partition(":")
        if not colon:
            raise _fail(path, lineno, f"bad feature {token!r} (expected index:value)")
        try:
            index = int(index_text)
        except ValueError:
            index = 0
        if index < 1:
            raise _fail(path, lineno, f"bad feature index {index_text!r} (need an integer >= 1)")
        if n_features is not None and index > n_features:
            raise _fail(path, lineno, f"feature index {index} exceeds n_features={n_features}")
        features[index] = _number(value_text, path, lineno, f"value for feature {index}")
    return label, features


def load_libsvm(
    path: str | os.PathLike, n_features: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read a binary LIBSVM file into dense arrays.

    Returns (X, y): X float32 of shape (n, n_features or the largest index),
    y int32 in {0, 1}. Raises FileNotFoundError for a missing file and
    ValueError naming the file and 1-based line for a malformed line, a bad
    index or value, or a third class; ValueError also for a file with no
    examples or only one class.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LIBSVM data file not found: {path}")
    labels: list[float] = []
    rows: list[dict[int, float]] = []
    classes: set[float] = set()
    widest = (0, 0)  # (largest feature index, its line)
    with path.open(errors="replace") as f:  # bytes that are not UTF-8 fail as bad numbers
        for lineno, line in enumerate(f, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            label, features = _parse_line(text, path, lineno, n_features)
            if label not in classes and len(classes) == 2:
                raise _fail(
                    path,
                    lineno,
                    f"third class label {label:g} (classes so far: "
                    f"{sorted(classes)}); only binary data is supported",
                )
            classes.add(label)
            labels.append(label)
            rows.append(features)
            if max(features, default=0) > widest[0]:
                widest = (max(features), lineno)
    if len(classes) != 2:
        found = sorted(classes) if classes else "no examples"
        raise ValueError(f"{path}: need exactly two classes, found {found}")
    width = n_features if n_features is not None else widest[0]
    size = 4 * len(rows) * width
    if size > MAX_DENSE_BYTES:
        where = f"{path}, line {widest[1]}: feature index {widest[0]}" if n_features is None else \
            f"{path}: n_features={n_features}"
        raise ValueError(f"{where} makes the dense data {len(rows)} x {width} float32 "
                         f"({size / 2**30:.1f} GiB; at most {MAX_DENSE_BYTES / 2**30:g} GiB)")
    x = np.zeros((len(rows), width), np.float32)
    for i, row in enumerate(rows):
        for index, value in row.items():
            x[i, index - 1] = value
    y = (np.asarray(labels) == max(classes)).astype(np.int32)
    return x, y
