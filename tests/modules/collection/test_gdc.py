"""The GDC connector against a replay server on loopback that answers ``/cases`` in the real
GDC envelope: a project's cases paged by ``from``/``size`` until ``data.pagination.total``, a
resumed read starting at its checkpoint, the faults a public API gives (429 with Retry-After,
500, no answer in time, a body cut short, the docs' own malformed answer) retried, and each
case mapped as far as its fields allow (what cannot be is a reject naming the GDC field)."""

from __future__ import annotations

import time

import pytest

from inescape.infra.ratelimit.backends import MemoryRateLimiter
from inescape.kernel.errors import Invalid, Unavailable
from inescape.modules.collection.connectors.base import MappingFailed, Reach, parse_config
from inescape.modules.collection.connectors.gdc import EXPAND, GdcConfig, GdcConnector, item_of
from inescape.modules.patients.api import ClinicalCodecs
from inescape.runtime import library
from tests.support.gdc_server import BRCA_CASE, GdcServer, esca_case, real_brca_case, real_lusc_case
from tests.support.replay import replay_outbound

# this process's own pace (no Redis here); the replay server allowed explicitly
REACH = Reach(limiter=MemoryRateLimiter(), outbound=replay_outbound())
CODECS = library(ClinicalCodecs)

GDC = GdcConnector()


@pytest.fixture
def api():
    other = {**esca_case(99), "project": {"project_id": "TCGA-STAD"}}
    server = GdcServer([esca_case(i) for i in range(5)] + [other])
    yield server
    server.close()


def config_for(server: GdcServer, **extra) -> GdcConfig:
    return GdcConfig(base_url=server.base, page_size=2, backoff_s=0.01, **extra)


async def read_all(config: GdcConfig, cursor=None) -> list:
    return [page async for page in GDC.pages(REACH, config, cursor)]


async def test_the_projects_cases_are_paged_by_from_and_size_until_the_total(api):
    pages = await read_all(config_for(api))

    assert [[i.source_id for i in p.items] for p in pages] == [
        ["TCGA-ES-0000", "TCGA-ES-0001"],
        ["TCGA-ES-0002", "TCGA-ES-0003"],
        ["TCGA-ES-0004"],
    ]
    assert [p.cursor for p in pages] == [{"from": 2}, {"from": 4}, None]
    assert [p.fraction for p in pages] == [0.4, 0.8, 1.0]
    method, path, body = api.requests[0]
    assert (method, path) == ("POST", "/cases")
    assert body["filters"] == {"op": "in", "content": {"field": "project.project_id", "value": ["TCGA-ESCA"]}}
    assert set(body["expand"].split(",")) == set(EXPAND.split(",")) >= {"diagnoses.treatments", "follow_ups"}
    assert all(p.raw.startswith(b'{"data"') for p in pages)


async def test_a_resumed_read_starts_at_the_checkpointed_page(api):
    first = await read_all(config_for(api))

    resumed = await read_all(config_for(api), first[1].cursor)

    assert [i.source_id for p in resumed for i in p.items] == ["TCGA-ES-0004"]
    assert api.requests[-1][2]["from"] == 4


async def test_429_is_retried_after_the_time_the_server_asks_for(api):
    api.script = [{"status": 429, "headers": {"Retry-After": "1"}}]
    started = time.monotonic()

    pages = await read_all(config_for(api))

    assert time.monotonic() - started >= 1.0
    assert sum(len(p.items) for p in pages) == 5


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"truncate": True},
        {"stall_s": 1.0},
        {"body": BRCA_CASE.read_bytes()},  # the GDC docs' answer, as published: no opening brace
    ],
    ids=["500", "truncated", "stall", "docs-malformed-json"],
)
async def test_a_transient_fault_is_retried_and_every_case_is_read(api, fault):
    api.script = [{}, fault, fault]  # the second page fails twice

    pages = await read_all(config_for(api, timeout_s=0.3))

    assert sum(len(p.items) for p in pages) == 5
    assert [r[2]["from"] for r in api.requests] == [0, 2, 2, 2, 4]


async def test_an_api_that_keeps_failing_is_unavailable_so_the_job_retries_later(api):
    api.fail_status = 500

    with pytest.raises(Unavailable, match="the GDC API failed 3 times: HTTP 500"):
        await read_all(config_for(api, max_retries=2))


async def test_a_refused_request_fails_at_once_saying_what_to_check(api):
    wrong = GdcConfig(base_url=f"{api.base}/v0", backoff_s=0.01)

    with pytest.raises(Invalid, match=r"HTTP 404 .* check base_url"):
        await read_all(wrong)
    assert len(api.requests) == 1


async def test_a_single_case_answer_is_not_taken_for_a_list(api):
    api.script = [{"body": b'{"data": {"case_id": "x"}, "warnings": {}}'}]

    with pytest.raises(Invalid, match=r"without data\.hits"):
        await read_all(config_for(api))


def test_a_bad_project_id_is_refused_naming_the_field():
    with pytest.raises(Invalid) as refused:
        parse_config(GDC, {"project_id": "tcga esca; drop"})

    assert refused.value.errors[0]["field"] == "config.project_id"


def test_an_esca_case_maps_with_its_dates_derived_from_the_index_date():
    record = GDC.to_record(item_of(esca_case(1), 0), GdcConfig(), codecs=CODECS)

    [condition] = record.conditions
    assert str(condition.diagnosis_date) == "2011-07-01"  # 1 July of year_of_diagnosis
    assert str(record.birth_date) == "1951-07-16"  # less age_at_diagnosis (21900 days)
    assert (condition.histology, condition.topography_code, condition.location, condition.grade) == (
        "squamous_cell_carcinoma",
        "C15.4",
        "middle",
        "G2",
    )
    [staging] = record.staging
    assert (staging.kind, staging.t, staging.n, staging.m, staging.stage_group) == (
        "pathological",
        "T3",
        "N1",
        "M0",
        "IIIA",
    )
    assert staging.method == "AJCC 7th edition (GDC)"
    assert record.outcome is not None
    assert (record.outcome.vital_status, str(record.outcome.last_follow_up)) == (
        "alive",
        "2013-09-20",
    )  # + 812 days
    [radiotherapy] = record.treatments
    assert (radiotherapy.kind, str(radiotherapy.start_date), radiotherapy.intent) == (
        "radiotherapy",
        "2011-07-31",
        "adjuvant",
    )
    assert (record.risk_factors.tobacco, record.risk_factors.pack_years) == ("former", 60.0)
    assert (record.sex, record.ethnicity, record.mrn) == ("male", "asian", None)


def test_a_death_is_dated_from_days_to_death():
    case = esca_case(2)
    case["demographic"] |= {"vital_status": "Dead", "days_to_death": 900}

    record = GDC.to_record(item_of(case, 0), GdcConfig(), codecs=CODECS)

    assert record.outcome is not None
    assert (str(record.outcome.death_date), str(record.outcome.last_follow_up)) == (
        "2013-12-17",
        "2013-12-17",
    )


def test_a_7th_edition_stage_outside_the_8th_value_set_is_left_out_not_rejected():
    record = GDC.to_record(
        item_of(esca_case(3, ajcc_pathologic_stage="Stage IV", ajcc_pathologic_m="M1"), 0),
        GdcConfig(),
        codecs=CODECS,
    )

    assert record.staging == []
    assert record.conditions


@pytest.mark.parametrize(
    ("case", "field", "says"),
    [
        (esca_case(4, year_of_diagnosis=None), "diagnoses.year_of_diagnosis", "cannot be derived"),
        (
            esca_case(5, tissue_or_organ_of_origin="Esophagus, NOS", icd_10_code="C15.9"),
            "diagnoses.tissue_or_organ_of_origin",
            "location is not reported",
        ),
        (esca_case(6, morphology="Not Reported"), "diagnoses.morphology", "not an ICD-O-3"),
        (real_lusc_case(), "diagnoses.tissue_or_organ_of_origin", "C34.1 is not esophagus"),
        (real_brca_case(), "diagnoses.tissue_or_organ_of_origin", "C50.9 is not esophagus"),
    ],
    ids=["no-year", "location-nos", "no-morphology", "real-lusc-case", "real-brca-case"],
)
def test_what_cannot_be_mapped_is_a_reject_naming_the_gdc_field(case, field, says):
    with pytest.raises(MappingFailed) as refused:
        GDC.to_record(item_of(case, 0), GdcConfig(), codecs=CODECS)

    assert refused.value.errors[0]["field"] == field
    assert says in refused.value.detail


def test_a_dead_patient_without_days_to_death_is_a_reject():
    case = esca_case(7)
    case["demographic"] |= {"vital_status": "Dead"}

    with pytest.raises(MappingFailed, match="days to death"):
        GDC.to_record(item_of(case, 0), GdcConfig(), codecs=CODECS)
