"""The cBioPortal connector against a replay API on loopback: a study's PATIENT and SAMPLE
clinical data paged by ``pageNumber``/``pageSize`` (a patient's rows spanning API pages),
pivoted per patient, ingested a few patients a page, resumed from its checkpoint, faults
retried, and each patient mapped as far as its attributes allow."""

from __future__ import annotations

import time

import pytest

from inescape.infra.ratelimit.backends import MemoryRateLimiter
from inescape.kernel.errors import Invalid, Unavailable
from inescape.modules.collection.connectors.base import Item, MappingFailed, Reach
from inescape.modules.collection.connectors.cbioportal import CbioportalConfig, CbioportalConnector
from inescape.modules.patients.api import ClinicalCodecs
from inescape.runtime import library
from tests.support.cbioportal_server import CbioportalServer, esca_patient
from tests.support.replay import replay_outbound

# this process's own pace (no Redis here); the replay server allowed explicitly
REACH = Reach(limiter=MemoryRateLimiter(), outbound=replay_outbound())
CODECS = library(ClinicalCodecs)

CBIO = CbioportalConnector()


@pytest.fixture
def portal():
    server = CbioportalServer([row for i in range(5) for row in esca_patient(i)])
    yield server
    server.close()


def config_for(server: CbioportalServer, **extra) -> CbioportalConfig:
    return CbioportalConfig(base_url=server.base, page_size=7, patients_per_page=2, backoff_s=0.01, **extra)


async def read_all(config: CbioportalConfig, cursor=None) -> list:
    return [page async for page in CBIO.pages(REACH, config, cursor)]


def record_of(**changes: str):
    rows = esca_patient(1, **changes)
    attrs = {r["clinicalAttributeId"]: r["value"] for r in rows}
    return CBIO.to_record(
        Item(location="patient x", source_id="x", data=attrs), CbioportalConfig(), codecs=CODECS
    )


async def test_the_studys_patients_are_read_in_api_pages_and_ingested_a_few_at_a_time(portal):
    pages = await read_all(config_for(portal))

    assert [[i.source_id for i in p.items] for p in pages] == [
        ["TCGA-CB-0000", "TCGA-CB-0001"],
        ["TCGA-CB-0002", "TCGA-CB-0003"],
        ["TCGA-CB-0004"],
    ]
    assert [p.cursor for p in pages] == [{"patients": 2}, {"patients": 4}, None]
    assert pages[0].items[0].data["GRADE"] == "G2"  # the sample's attribute
    assert len(pages[0].items[0].data) == 15  # every row, across API pages of 7
    kinds = [(r["clinicalDataType"], r["pageNumber"]) for r in portal.requests]
    assert kinds == [("PATIENT", str(n)) for n in range(11)] + [("SAMPLE", "0")]
    assert pages[0].raw
    assert not pages[1].raw  # the study's answers are kept once


async def test_a_resumed_read_skips_the_patients_already_done(portal):
    resumed = await read_all(config_for(portal), {"patients": 4})

    assert [i.source_id for p in resumed for i in p.items] == ["TCGA-CB-0004"]


@pytest.mark.parametrize(
    "fault",
    [{"status": 429, "headers": {"Retry-After": "1"}}, {"status": 500}, {"truncate": True}, {"stall_s": 1.0}],
    ids=["429", "500", "truncated", "stall"],
)
async def test_a_transient_fault_is_retried_and_every_patient_is_read(portal, fault):
    portal.script = [{}, fault]
    started = time.monotonic()

    pages = await read_all(config_for(portal, timeout_s=0.3))

    assert sum(len(p.items) for p in pages) == 5
    assert [r["pageNumber"] for r in portal.requests[:3]] == ["0", "1", "1"]
    if fault.get("status") == 429:
        assert time.monotonic() - started >= 1.0


async def test_an_api_that_keeps_failing_is_unavailable_so_the_job_retries_later(portal):
    portal.fail_status = 502

    with pytest.raises(Unavailable, match="cBioPortal failed 2 times: HTTP 502"):
        await read_all(config_for(portal, max_retries=1))


async def test_an_unknown_study_fails_at_once_saying_what_to_check(portal):
    with pytest.raises(Invalid, match=r"HTTP 404.*study_id"):
        await read_all(CbioportalConfig(base_url=portal.base, study_id="esca_nowhere"))
    assert len(portal.requests) == 1


def test_a_patient_maps_with_its_dates_derived_from_the_diagnosis_year():
    record = record_of()

    assert str(record.conditions[0].diagnosis_date) == "2010-07-01"
    assert str(record.birth_date) == "1949-06-11"  # DAYS_TO_BIRTH -22300
    assert (record.sex, record.conditions[0].location, record.conditions[0].grade) == ("male", "middle", "G2")
    assert [(s.t, s.n, s.m, s.stage_group) for s in record.staging] == [("T3", "N1", "M0", "IIIA")]
    assert record.outcome is not None
    assert (record.outcome.vital_status, str(record.outcome.last_follow_up)) == ("alive", "2012-04-01")


def test_a_death_without_days_to_death_is_dated_by_os_months_and_age_stands_in_for_birth():
    record = record_of(OS_STATUS="1:DECEASED", OS_MONTHS="14", LAST_CONTACT_DAYS_TO="", DAYS_TO_BIRTH="")

    assert record.outcome is not None
    assert str(record.outcome.death_date) == "2011-08-31"  # 14 months of 365.25/12 days
    assert str(record.birth_date) == "1949-07-01"  # AGE 61


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"INITIAL_PATHOLOGIC_DX_YEAR": ""}, "INITIAL_PATHOLOGIC_DX_YEAR"),
        ({"ICD_O_3_SITE": "C16.9"}, "ICD_O_3_SITE"),
        ({"ICD_O_3_SITE": "C15.9"}, "ICD_O_3_SITE"),
        ({"ICD_O_3_HISTOLOGY": "[Not Available]"}, "ICD_O_3_HISTOLOGY"),
        ({"DAYS_TO_BIRTH": "", "AGE": ""}, "AGE"),
        ({"OS_STATUS": "1:DECEASED", "OS_MONTHS": ""}, "DAYS_TO_DEATH"),
    ],
    ids=["no-year", "stomach", "location-nos", "no-histology", "no-age", "dead-undated"],
)
def test_what_cannot_be_mapped_is_a_reject_naming_the_attribute(changes, field):
    with pytest.raises(MappingFailed) as refused:
        record_of(**changes)

    assert refused.value.errors[0]["field"] == field
