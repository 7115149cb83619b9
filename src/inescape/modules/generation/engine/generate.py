"""``generate``: a cohort of n patients for a profile, deterministic for a seed, in chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from inescape.kernel.errors import Invalid
from inescape.modules.generation.api import Quota
from inescape.modules.generation.engine.chunk import chunk
from inescape.modules.generation.engine.frames import Cohort
from inescape.modules.generation.engine.joint import Joint, joint
from inescape.modules.generation.engine.quotas import Cell, labels, plan
from inescape.modules.generation.engine.staging import StageTables
from inescape.modules.generation.profiles.model import Profile


def _check(n: int, seed: int, chunk_size: int) -> None:
    problems = [
        (name, message)
        for name, bad, message in (
            ("n", n < 0, "the number of patients cannot be negative"),
            ("seed", seed < 0, "a non-negative integer"),
            ("chunk_size", chunk_size < 1, "at least 1 patient per chunk"),
        )
        if bad
    ]
    if problems:
        raise Invalid(
            "; ".join(f"{f}: {m}" for f, m in problems),
            errors=[{"field": f, "message": m} for f, m in problems],
        )


def _chunks(
    profile: Profile,
    table: Joint,
    cells: list[Cell],
    order: np.ndarray | None,
    n: int,
    seed: int,
    size: int,
    tables: StageTables,
) -> Iterator[Cohort]:
    for start in range(0, n, size):
        yield chunk(
            profile,
            table,
            cells,
            order,
            seed=seed,
            n=n,
            start=start,
            stop=min(start + size, n),
            tables=tables,
        )


def generate(
    profile: Profile,
    n: int,
    *,
    seed: int,
    tables: StageTables,
    quotas: Iterable[Quota] = (),
    chunk_size: int = 50_000,
) -> Iterator[Cohort]:
    """The cohort as consecutive chunks of at most ``chunk_size`` patients.

    The same (profile, n, seed, quotas) give byte-identical frames, whatever ``chunk_size``:
    each patient's draws come from the stream of its block of patients (``streams``). Quotas
    are checked before the first chunk; an impossible one raises ``Invalid`` naming its field.
    ``tables`` are the AJCC lookups (``StageTables``) the cohort is staged with.
    """
    _check(n, seed, chunk_size)
    table = joint(profile, tables)
    cells = plan(table.frame, tuple(quotas), n)
    return _chunks(profile, table, cells, labels(cells, n, seed), n, seed, chunk_size, tables)
