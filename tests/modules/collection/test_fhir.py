"""The FHIR R4 server connector against a replay server on loopback: Patients paged by their
``next`` links with each one's related resources, and the faults a real EHR gives (429 with
Retry-After, 500, no answer in time, a body cut short) retried until the page is read."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import msgspec
import pytest

from inescape.infra.ratelimit.backends import MemoryRateLimiter
from inescape.kernel.errors import Invalid, Unavailable
from inescape.modules.collection.connectors.base import Reach
from inescape.modules.collection.connectors.fhir_server import FhirConfig, FhirServerConnector
from inescape.modules.patients.api import ClinicalCodecs, PatientCreate, PatientRecord
from inescape.runtime import library
from tests.support.fhir_server import FhirServer
from tests.support.records import RECORD
from tests.support.replay import replay_outbound

# this process's own pace (no Redis here); the replay server allowed explicitly
REACH = Reach(limiter=MemoryRateLimiter(), outbound=replay_outbound())
CODECS = library(ClinicalCodecs)


def resources_of(n: int) -> list[dict]:
    stamp = datetime(2024, 1, 1, tzinfo=UTC)
    fields = msgspec.structs.asdict(msgspec.convert(RECORD, PatientCreate))
    records = [
        PatientRecord(
            **fields, id=f"00000000-0000-4000-8000-{i:012d}", version=1, created_at=stamp, updated_at=stamp
        )
        for i in range(n)
    ]
    return [json.loads(line) for line in CODECS.to_ndjson(records)]


@pytest.fixture
def ehr():
    server = FhirServer(resources_of(3), page_size=2)
    yield server
    server.close()


def config_for(server: FhirServer, **extra) -> FhirConfig:
    return FhirConfig(
        base_url=server.base, token=server.token, page_size=2, backoff_s=0.01, requests_per_s=1000, **extra
    )


async def read_all(config: FhirConfig, cursor=None) -> list:
    return [page async for page in FhirServerConnector().pages(REACH, config, cursor)]


async def test_patients_are_paged_by_next_links_with_their_related_resources(ehr):
    pages = await read_all(config_for(ehr))

    assert [len(p.items) for p in pages] == [2, 1]
    assert pages[0].cursor
    assert pages[-1].cursor is None
    kinds = {r["resourceType"] for r in pages[0].items[0].data}
    assert {"Patient", "Condition"} <= kinds
    record = FhirServerConnector().to_record(pages[0].items[0], config_for(ehr), codecs=CODECS)
    assert record.conditions[0].histology == "squamous_cell_carcinoma"
    assert all(auth == f"Bearer {ehr.token}" for _, auth in ehr.requests)


async def test_a_resumed_read_starts_at_the_checkpointed_page(ehr):
    first = await read_all(config_for(ehr))

    resumed = await read_all(config_for(ehr), first[0].cursor)

    assert [i.source_id for p in resumed for i in p.items] == [first[1].items[0].source_id]


async def test_429_is_retried_after_the_time_the_server_asks_for(ehr):
    ehr.script = [{"status": 429, "headers": {"Retry-After": "1"}}]
    started = time.monotonic()

    pages = await read_all(config_for(ehr))

    assert time.monotonic() - started >= 1.0
    assert sum(len(p.items) for p in pages) == 3


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 503}, {"truncate": True}, {"stall_s": 1.0}])
async def test_a_transient_fault_is_retried_and_every_patient_is_read(ehr, fault):
    ehr.script = [fault, fault]

    pages = await read_all(config_for(ehr, timeout_s=0.3))

    assert sum(len(p.items) for p in pages) == 3


async def test_a_source_that_keeps_failing_is_unavailable_so_the_job_retries_later(ehr):
    ehr.fail["Patient"] = 500

    with pytest.raises(Unavailable, match="failed 3 times"):
        await read_all(config_for(ehr, max_retries=2))


async def test_a_bad_token_fails_at_once_saying_what_to_check(ehr):
    config = FhirConfig(base_url=ehr.base, token="wrong", backoff_s=0.01)

    with pytest.raises(Invalid, match="check the base URL and the token"):
        await read_all(config)
    assert len(ehr.requests) == 1
