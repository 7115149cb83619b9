"""Random streams that make each patient's values independent of how the cohort is chunked.

Patients fall in fixed blocks of ``BLOCK`` (by index); block k draws from its own PCG64 stream,
``SeedSequence(seed, spawn_key=(1, k))``. Every draw takes one value per patient of every block
the chunk touches, in the same order whatever the chunk, so patient i's values depend only on
(seed, i, n): a chunk boundary inside a block only means part of that block's draws are unused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

BLOCK = 10_000
_BLOCK_KEY = 1  # spawn_key prefixes: 1 = patient blocks, 2 = the quota shuffle
QUOTA_KEY = 2
# UUID version 4 and RFC 4122 variant bits, set on 16 random bytes.
_VERSION = (6, 0x0F, 0x40)
_VARIANT = (8, 0x3F, 0x80)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


class Draws:
    """One value per patient of ``[start, stop)`` for each call, from the patients' block streams."""

    def __init__(self, seed: int, n: int, start: int, stop: int) -> None:
        first, last = start // BLOCK, (stop - 1) // BLOCK
        self._blocks = [
            (stream(seed, _BLOCK_KEY, k), k * BLOCK, min((k + 1) * BLOCK, n)) for k in range(first, last + 1)
        ]
        self._start, self._stop = start, stop
        self.size = stop - start

    def _take(self, draw: Callable[[np.random.Generator, int], np.ndarray]) -> np.ndarray:
        parts = []
        for rng, low, high in self._blocks:
            values = draw(rng, high - low)  # the whole block, always: same stream position for all
            parts.append(values[max(self._start - low, 0) : min(self._stop, high) - low])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def uniform(self) -> np.ndarray:
        return self._take(lambda rng, size: rng.random(size))

    def normal(self) -> np.ndarray:
        return self._take(lambda rng, size: rng.standard_normal(size))

    def exponential(self) -> np.ndarray:
        return self._take(lambda rng, size: rng.standard_exponential(size))

    def integers(self, high: int) -> np.ndarray:
        return self._take(lambda rng, size: rng.integers(0, high, size))

    def span(self, low: float, high: float) -> np.ndarray:
        """Uniform on [low, high]."""
        return low + (high - low) * self.uniform()

    def days(self, low: float, high: float) -> np.ndarray:
        """Whole days, uniform on [low, high]."""
        return np.asarray(np.floor(self.span(low, high + 1 - 1e-9)), dtype=np.int64)

    def uuids(self) -> pl.Series:
        """Version-4 UUID strings from 16 random bytes per patient."""
        raw = self._take(lambda rng, size: rng.integers(0, 256, (size, 16), dtype=np.uint8))
        return pl.Series("id", format_uuids(raw)).cast(pl.String)


def format_uuids(raw: np.ndarray) -> np.ndarray:
    """Rows of 16 bytes as canonical UUID text, built as characters without a Python loop."""
    raw = raw.copy()
    for byte, keep, mark in (_VERSION, _VARIANT):
        raw[:, byte] = (raw[:, byte] & keep) | mark
    digits = np.empty((raw.shape[0], 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 0x0F]
    text = np.insert(digits, [8, 12, 16, 20], ord("-"), axis=1)  # dashes at 8, 13, 18, 23
    return np.ascontiguousarray(text).view("S36").ravel()  # ASCII bytes: polars reads them as Binary


def categorical(u: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Indices drawn from one distribution by inverting its CDF with uniforms ``u``."""
    cdf = np.cumsum(probabilities)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def categorical_rows(u: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Indices drawn per row from a (rows × k) matrix of weights, rows not necessarily normalised."""
    cdf = np.cumsum(probabilities, axis=1)
    total = cdf[:, -1:]
    picked = (u[:, None] * total >= cdf).sum(axis=1)
    return np.asarray(np.minimum(picked, probabilities.shape[1] - 1))


@dataclass(frozen=True)
class Cat:
    """A categorical column as small integer codes into ``names`` (-1 = null): comparisons are
    integer comparisons, and text is made once, in polars, when the frame is built."""

    names: tuple[str, ...]
    codes: np.ndarray

    def series(self, name: str) -> pl.Series:
        index = np.where(self.codes < 0, len(self.names), self.codes)
        return pl.Series(name, [*self.names, None], dtype=pl.String).gather(index)

    def is_(self, value: str) -> np.ndarray:
        return (
            self.codes == self.names.index(value) if value in self.names else np.zeros(len(self.codes), bool)
        )

    def isin(self, values: Iterable[str]) -> np.ndarray:
        wanted = [self.names.index(v) for v in values if v in self.names]
        return np.isin(self.codes, wanted)

    def where(self, keep: np.ndarray) -> Cat:
        return Cat(self.names, np.where(keep, self.codes, -1))

    def lookup(self, values: Mapping[str, float], default: float = np.nan) -> np.ndarray:
        """A number per row from a value per code."""
        table = np.array([values.get(name, default) for name in self.names] + [default], dtype=float)
        return table[np.where(self.codes < 0, len(self.names), self.codes)]


Row = dict[str, Cat]  # a patient's joint-table fields, by name


def choose(u: np.ndarray, shares: Mapping[str, float]) -> Cat:
    """Codes drawn from one distribution."""
    return Cat(tuple(shares), categorical(u, np.array(list(shares.values()), dtype=float)))


def choose_by(u: np.ndarray, key: Cat, mixes: Mapping[str, Mapping[str, float]]) -> Cat:
    """Codes drawn per row from the distribution of the row's key (e.g. its histology); rows
    whose key has no distribution get null."""
    names = tuple(sorted({code for mix in mixes.values() for code in mix}))
    matrix = np.zeros((len(key.names) + 1, len(names)))
    known = np.zeros(len(key.names) + 1, dtype=bool)
    for i, k in enumerate(key.names):
        if k in mixes:
            known[i] = True
            for code, share in mixes[k].items():
                matrix[i, names.index(code)] = share
    matrix[~known, 0] = 1.0  # any code; nulled below
    row = np.where(key.codes < 0, len(key.names), key.codes)
    return Cat(names, np.where(known[row], categorical_rows(u, matrix[row]), -1))
