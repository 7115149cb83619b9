"""From a notebook, without a server: the cohort as polars DataFrames."""

from __future__ import annotations

import msgspec

from inescape.modules.patients.api import load_cohort
from inescape.modules.patients.schemas import PatientCreate
from tests.support.records import record


async def test_load_cohort_reads_the_configured_database_without_identifiers(services, settings):
    svc = services.extensions.get("patients")
    if svc is None:
        from inescape.modules.patients.service import PatientService

        svc = PatientService(services.clock, services.cache)
    async with services.uow() as uow:
        await svc.create_many(
            uow,
            [msgspec.convert(record(), PatientCreate), msgspec.convert(record(sex="female"), PatientCreate)],
        )

    import asyncio

    frames = await asyncio.to_thread(load_cohort, settings=settings)
    wide = await asyncio.to_thread(load_cohort, settings=settings, wide=True, sex="female")

    assert frames["patients"].height == 2
    assert "mrn" not in frames["patients"].columns
    assert "given_name" not in frames["patients"].columns
    assert frames["treatments"].height == 6
    assert wide.height == 1
    assert set(wide.columns) >= {"time", "event", "histology", "age"}
