"""From a notebook, without a server: the cohort as polars DataFrames, read on a plain
synchronous connection to the configured database (what ``inescape.notebook.load_cohort``
opens and hands to ``ClinicalCodecs.read_cohort``)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import msgspec
import pytest
from sqlalchemy import create_engine

from inescape.migrate import sync_url
from inescape.modules.patients.api import PatientCreate
from inescape.modules.patients.facade import Codecs
from inescape.modules.patients.service import PatientService
from tests.support.records import record


def read_cohort(url: str, **options: Any) -> Any:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return Codecs().read_cohort(conn, today=date.today(), **options)
    finally:
        engine.dispose()


async def test_a_notebook_reads_the_cohort_of_the_configured_database_without_identifiers(services, settings):
    patients = PatientService(db=services.db, uow=services.uow, clock=services.clock, cache=services.cache)
    two = [record(), record(sex="female")]
    await patients.create_many(records=[msgspec.convert(r, PatientCreate) for r in two])

    frames = await asyncio.to_thread(read_cohort, settings.database_url)
    wide = await asyncio.to_thread(read_cohort, settings.database_url, wide=True, filters={"sex": "female"})

    assert frames["patients"].height == 2
    assert "mrn" not in frames["patients"].columns
    assert "given_name" not in frames["patients"].columns
    assert frames["treatments"].height == 6
    assert wide.height == 1
    assert set(wide.columns) >= {"time", "event", "histology", "age"}


def test_an_unknown_notebook_filter_is_refused_by_name_before_any_connection():
    from inescape.kernel.errors import Invalid
    from inescape.notebook import load_cohort

    with pytest.raises(Invalid) as refused:
        load_cohort(colour="red", histology="adenocarcinoma", settings=object())  # never opened

    assert "colour" in str(refused.value)
    assert "histology" not in refused.value.detail.split("(")[0]
    assert [e["field"] for e in refused.value.errors] == ["colour"]


async def test_a_cohort_read_refuses_an_unknown_filter(services, settings):
    with pytest.raises(Exception, match="mrm") as refused:
        await asyncio.to_thread(read_cohort, settings.database_url, filters={"mrm": "123"})

    assert type(refused.value).__name__ == "Invalid"


def read_tallies(url: str, **options: Any) -> Any:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return Codecs().read_tallies(conn, today=date.today(), **options)
    finally:
        engine.dispose()


async def test_a_notebook_gets_the_tallies_the_endpoints_read_with_the_same_curve(services, settings):
    patients = PatientService(db=services.db, uow=services.uow, clock=services.clock, cache=services.cache)
    dead = {"vital_status": "dead", "last_follow_up": "2024-02-01", "death_date": "2024-02-01"}
    cohort = [record(), record(sex="female"), record(outcome=dead), record(sex="female", outcome=dead)]
    await patients.create_many(records=[msgspec.convert(r, PatientCreate) for r in cohort])

    wide = await asyncio.to_thread(read_cohort, settings.database_url, wide=True)
    tallies = await asyncio.to_thread(read_tallies, settings.database_url, kind="survival", group="sex")
    counted = await asyncio.to_thread(read_tallies, settings.database_url, kind="counts", by=["sex"])

    assert tallies["n"].sum() == 4
    assert tallies.height == 4  # two groups, each one death and one censored time
    codecs = Codecs()
    assert codecs.kaplan_meier(tallies, group="sex", weight="n").equals(
        codecs.kaplan_meier(wide, group="sex")
    )
    assert {r["sex"]: r["n"] for r in counted.to_dicts()} == {"male": 2, "female": 2}
