"""Every stage group the generator can need, computed once per generator with the staging
function it was given (cds's ``StagingApi``).

The engine never stages row by row: it joins its sampled T/N/M (and grade, location for pTNM)
onto these tables. A combination the AJCC tables do not define has no row here, so it can
neither be sampled (cTNM) nor produced by a shift (p/ypTNM) without the join showing it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cached_property

import polars as pl

from inescape.modules.cds.api import StagingApi, StagingError
from inescape.modules.generation.codes import GRADES, LOCATIONS, M_CATEGORIES, N_ORDER, STAGE_GROUPS, T_ORDER

SCHEMES = ("squamous_cell_carcinoma", "adenocarcinoma")


class StageTables:
    """The AJCC lookups the engine and the profile checks join on, each made on first use."""

    def __init__(self, staging: StagingApi) -> None:
        self._staging = staging
        self._groups: dict[str, tuple[str, ...]] = {}

    def _stage_or_none(self, **inputs: str) -> str | None:
        try:
            return self._staging.stage(**inputs).stage_group
        except StagingError:
            return None

    @cached_property
    def clinical(self) -> pl.DataFrame:
        """scheme, t, n, m, stage_group for every cTNM combination of sampled categories that stages."""
        rows = [
            (scheme, t, n, m, self._stage_or_none(kind="clinical", histology=scheme, t=t, n=n, m=m))
            for scheme, t, n, m in itertools.product(SCHEMES, T_ORDER, N_ORDER, M_CATEGORIES)
        ]
        return _frame(rows, ("scheme", "t", "n", "m", "stage_group"))

    @cached_property
    def pathological(self) -> pl.DataFrame:
        """scheme, t, n, m, grade, location, stage_group for every pTNM combination that stages."""
        rows = [
            (
                scheme,
                t,
                n,
                "M0",
                g,
                loc,
                self._stage_or_none(
                    kind="pathological", histology=scheme, t=t, n=n, m="M0", grade=g, location=loc
                ),
            )
            for scheme, t, n, g, loc in itertools.product(SCHEMES, T_ORDER, N_ORDER, GRADES, LOCATIONS)
        ]
        return _frame(rows, ("scheme", "t", "n", "m", "grade", "location", "stage_group"))

    @cached_property
    def post_neoadjuvant(self) -> pl.DataFrame:
        """t, n, m, stage_group of ypTNM (identical for both cell types, Rice 2017)."""
        rows = [
            (
                t,
                n,
                "M0",
                self._stage_or_none(kind="post_neoadjuvant", histology="adenocarcinoma", t=t, n=n, m="M0"),
            )
            for t, n in itertools.product(T_ORDER, N_ORDER)
        ]
        return _frame(rows, ("t", "n", "m", "stage_group"))

    def clinical_groups(self, scheme: str) -> tuple[str, ...]:
        """The cTNM stage groups of a scheme, in table order."""
        if scheme not in self._groups:
            groups = set(self.clinical.filter(pl.col("scheme") == scheme)["stage_group"].to_list())
            self._groups[scheme] = tuple(g for g in STAGE_GROUPS if g in groups)
        return self._groups[scheme]


def _frame(rows: Sequence[tuple[object, ...]], columns: tuple[str, ...]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=list(columns), orient="row")
    return frame.filter(pl.col("stage_group").is_not_null())
