"""Background (other-cause) mortality from national period life tables, by age, sex and year.

table = life_table("US")                                   # engine/lifetables/us.csv
table.death_years(female, age, year, draws.exponential())  # years from diagnosis to death
table.expected(female, age, year, 5)                       # each year's expected survival

A table file (``lifetables/<key>.csv``) holds the central death rate nMx by sex, calendar year
and 5-year age group, with a comment header citing the publication and saying how its rows
were made. The hazard at an exact age and date is read from a grid of whole years of age and
calendar: log nMx interpolated linearly between the groups' mid-points and between the table's
years (the nearest table outside them), the last two groups' slope extended past the last
mid-point. ``limit`` (the header's ``# limit:``) closes the table: nobody lives past it.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources

import numpy as np
import polars as pl

TABLES = {"US": "us.csv", "IR": "ir.csv"}
_SEXES = ("male", "female")
_FIRST_DAY_YEAR = 1970  # day numbers count from 1970-01-01 (people.day_number)


def calendar_year(day: np.ndarray) -> np.ndarray:
    """A day number as a fractional calendar year."""
    return np.asarray(_FIRST_DAY_YEAR + day / 365.2425)


class LifeTable:
    """One country's tables on a grid of whole years: ``rates[sex, year, age]`` is the annual
    hazard over [age, age + 1) in that calendar year (sex 0 male, 1 female)."""

    def __init__(self, key: str, frame: pl.DataFrame, limit: int) -> None:
        self.key, self.limit = key, limit
        years = sorted(frame["year"].unique().to_list())
        self.first_year, self.last_year = years[0], years[-1]
        calendar = np.arange(self.first_year, self.last_year + 1, dtype=float)
        at = np.arange(limit) + 0.5
        self.rates = np.empty((2, len(calendar), limit))
        for s, sex in enumerate(_SEXES):
            by_year = []
            for year in years:
                rows = frame.filter((pl.col("sex") == sex) & (pl.col("year") == year)).sort("age")
                middle = rows["age"].to_numpy() + 2.5
                log_rate = np.log(rows["mx"].to_numpy())
                slope = (log_rate[-1] - log_rate[-2]) / (middle[-1] - middle[-2])
                inside = np.interp(at, middle, log_rate)
                by_year.append(np.where(at > middle[-1], log_rate[-1] + slope * (at - middle[-1]), inside))
            grid = np.array(by_year)  # table years × ages
            for a in range(limit):
                self.rates[s, :, a] = np.exp(np.interp(calendar, years, grid[:, a]))

    def hazard(self, female: np.ndarray, age: np.ndarray, year: np.ndarray) -> np.ndarray:
        """Annual other-cause hazard at exact ``age`` in calendar ``year`` (fractional)."""
        y = np.clip(np.floor(year).astype(np.int64) - self.first_year, 0, self.rates.shape[1] - 1)
        a = np.clip(np.floor(age).astype(np.int64), 0, self.limit - 1)
        return np.asarray(self.rates[female.astype(np.int64), y, a])

    def _steps(self, female: np.ndarray, age: np.ndarray, year: np.ndarray, steps: int) -> np.ndarray:
        """Hazard over each whole year since diagnosis (patients × steps), read at its middle:
        at whole step s the age and year indices are those at the middle of the first year plus
        s, so the grid is read by flat integer indices."""
        years, ages = self.rates.shape[1], self.limit
        s = np.arange(steps, dtype=np.int64)
        a = np.minimum(np.clip(np.floor(age + 0.5).astype(np.int64), 0, ages - 1)[:, None] + s, ages - 1)
        y0 = np.floor(year + 0.5).astype(np.int64) - self.first_year
        y = np.clip(y0[:, None] + s, 0, years - 1)
        flat = (female.astype(np.int64)[:, None] * years + y) * ages + a
        return np.asarray(self.rates.ravel()[flat])

    def death_years(
        self,
        female: np.ndarray,
        age: np.ndarray,
        year: np.ndarray,
        drawn: np.ndarray,
        horizon: np.ndarray | float = math.inf,
    ) -> np.ndarray:
        """Years from diagnosis (at ``age``, in ``year``) to death from other causes, inverting
        the cumulative hazard at the Exp(1) draw ``drawn``; at most ``limit - age``. A death
        later than the patient's ``horizon`` (years; past anything it could change) is
        returned as infinite. Patients are taken in a few groups by how many years of the table
        they need, so that a short horizon reads a short stretch of it."""
        left = np.maximum(self.limit - age, 0.0)
        need = np.ceil(np.minimum(left, horizon)).astype(np.int64)
        out = np.full(len(age), np.inf)
        low = 0
        for high in (2, 5, 10**6):
            rows = np.flatnonzero((need > low) & (need <= high))
            low = high
            if len(rows) == 0:
                continue
            steps = int(need[rows].max())
            rates = self._steps(female[rows], age[rows], year[rows], steps)
            cumulative = np.cumsum(rates, axis=1)
            e = drawn[rows]
            k = (cumulative < e[:, None]).sum(axis=1)
            inside = np.minimum(k, steps - 1)
            before = np.take_along_axis(cumulative, np.maximum(inside - 1, 0)[:, None], 1)[:, 0]
            before = np.where(inside > 0, before, 0.0)
            rate = np.take_along_axis(rates, inside[:, None], 1)[:, 0]
            years = np.where(k < steps, inside + (e - before) / rate, np.inf)
            out[rows] = np.minimum(years, np.where(left[rows] <= steps, left[rows], np.inf))
        return np.asarray(np.where(need == 0, left, out))

    def expected(self, female: np.ndarray, age: np.ndarray, year: np.ndarray, years: int) -> np.ndarray:
        """Each patient's expected survival over each whole year since diagnosis (patients ×
        ``years``): the life table's, with nobody alive past ``limit``."""
        s = np.arange(years)
        survive = np.exp(-self._steps(female, age, year, years))
        return np.asarray(np.where(age[:, None] + s + 1 > self.limit, 0.0, survive))


def _limit(text: str) -> int:
    for line in text.splitlines():
        if line.startswith("# limit:"):
            return int(line.removeprefix("# limit:"))
    raise ValueError("a life table needs a '# limit: <age>' header line")


@cache
def life_table(key: str) -> LifeTable:
    """The packaged table of a country (``TABLES``), read once."""
    text = (
        resources.files("inescape.modules.generation.engine").joinpath("lifetables", TABLES[key]).read_text()
    )
    frame = pl.read_csv(text.encode(), comment_prefix="#")
    return LifeTable(key, frame, _limit(text))
