"""Preprocessing fitted on the training split only, and saved with the model (as JSON).

A numeric feature is imputed with its training median and standardised with the training mean
and standard deviation (a missing value also sets a ``<name>=missing`` indicator when training
saw any). A categorical feature becomes one indicator per level seen in training, except the
commonest (the reference, so that a linear model has no redundant column); a missing or unseen
value is all zeros, that is the reference. The split is stratified by event and histology.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec
import numpy as np
import polars as pl

from inescape.kernel.errors import Invalid
from inescape.modules.training.features import BY_NAME

MISSING = "missing"


class Column(msgspec.Struct, frozen=True, kw_only=True):
    """One column of the design matrix."""

    name: str  # "age", "histology=adenocarcinoma", "bmi=missing"
    feature: str
    kind: Literal["numeric", "indicator", "missing"]
    value: str | None = None  # the level an indicator stands for
    center: float = 0.0  # numeric: (x - center) / scale, x imputed with ``fill``
    scale: float = 1.0
    fill: float = 0.0


class Preprocessor(msgspec.Struct, frozen=True, kw_only=True):
    features: list[str]
    columns: list[Column]
    references: dict[str, str] = {}  # categorical feature -> its reference level

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        """The design matrix (float32, one row per row of ``frame``)."""
        absent = [f for f in self.features if f not in frame.columns]
        if absent:
            raise Invalid(
                f"the data lacks the model's features {', '.join(absent)}",
                errors=[{"field": f, "message": "required by the model"} for f in absent],
            )
        out = np.zeros((frame.height, len(self.columns)), dtype=np.float32)
        cache: dict[str, np.ndarray] = {}
        for j, col in enumerate(self.columns):
            if col.feature not in cache:
                series = frame[col.feature]
                if BY_NAME[col.feature].kind == "numeric":
                    cache[col.feature] = series.cast(pl.Float64).to_numpy().astype(np.float64)
                else:
                    cache[col.feature] = np.asarray(
                        series.cast(pl.String).fill_null(MISSING).to_list(), dtype=object
                    )
            raw = cache[col.feature]
            if col.kind == "numeric":
                values = np.where(np.isnan(raw), col.fill, raw)
                out[:, j] = (values - col.center) / col.scale
            elif col.kind == "missing":
                out[:, j] = np.isnan(raw)
            else:
                out[:, j] = raw == col.value
        return out

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, data: bytes) -> Preprocessor:
        return msgspec.json.decode(data, type=cls)


def fit_preprocessor(train: pl.DataFrame, features: Sequence[str]) -> Preprocessor:
    columns: list[Column] = []
    references: dict[str, str] = {}
    for name in features:
        series = train[name]
        if BY_NAME[name].kind == "numeric":
            values = series.cast(pl.Float64).drop_nulls().drop_nans()
            if values.len() == 0:
                continue  # never recorded in training: nothing to learn from it
            median = float(np.median(values.to_numpy()))
            filled = series.cast(pl.Float64).fill_nan(None).fill_null(median).to_numpy()
            std = float(filled.std(ddof=1)) if len(filled) > 1 else 0.0
            columns.append(
                Column(
                    name=name,
                    feature=name,
                    kind="numeric",
                    center=float(filled.mean()),
                    scale=std if std > 1e-9 else 1.0,
                    fill=median,
                )
            )
            if values.len() < series.len():
                columns.append(Column(name=f"{name}={MISSING}", feature=name, kind="missing"))
        else:
            counts = series.cast(pl.String).fill_null(MISSING).value_counts(sort=True)
            levels = counts[counts.columns[0]].to_list()
            if len(levels) < 2:
                continue  # one level: carries no information
            references[name] = levels[0]
            columns.extend(
                Column(name=f"{name}={level}", feature=name, kind="indicator", value=level)
                for level in sorted(levels[1:])
            )
    if not columns:
        raise Invalid("no feature varies in the training data; nothing to learn from")
    return Preprocessor(features=list(features), columns=columns, references=references)


def stratified_split(
    frame: pl.DataFrame, *, seed: int, validation: float = 0.15, test: float = 0.15
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of the train, validation and test splits, each stratum (event × histology)
    divided in the same proportions; the same seed gives the same split."""
    if not 0 < validation < 1 or not 0 < test < 1 or validation + test >= 1:
        raise Invalid("validation and test fractions must be in (0, 1) and leave rows to train on")
    rng = np.random.default_rng(seed)
    strata = frame.select(
        pl.concat_str(
            [pl.col("event").cast(pl.String), pl.col("histology").fill_null(MISSING)], separator="|"
        )
    ).to_series()
    order = np.argsort(np.asarray(strata.to_list(), dtype=object), kind="stable")
    keys = np.asarray(strata.to_list(), dtype=object)[order]
    parts: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
    for key in dict.fromkeys(keys.tolist()):
        rows = order[keys == key]
        rows = rows[rng.permutation(len(rows))]
        n_test, n_val = round(len(rows) * test), round(len(rows) * validation)
        parts[2].append(rows[:n_test])
        parts[1].append(rows[n_test : n_test + n_val])
        parts[0].append(rows[n_test + n_val :])
    train, val, tst = (np.sort(np.concatenate(p)) if p else np.array([], dtype=np.int64) for p in parts)
    return train, val, tst


__all__ = ["Column", "Preprocessor", "fit_preprocessor", "stratified_split"]
