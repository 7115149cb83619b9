"""The FHIR Bulk Data connector against a replay server on loopback: the kick-off, polling with
Retry-After and X-Progress, the manifest and NDJSON files, a resumed read that neither kicks
off again nor repeats a Patient, the faults a real server gives, SMART Backend Services
sign-in, and the outbound pace per source host."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from joserfc.jwk import ECKey, RSAKey

from inescape.infra.cache import RedisCache
from inescape.infra.ratelimit.backends import MemoryRateLimiter
from inescape.kernel.errors import Invalid
from inescape.modules.collection.connectors.base import Reach, parse_config, public_config
from inescape.modules.collection.connectors.fhir_bulk import FhirBulkConfig, FhirBulkConnector
from inescape.modules.collection.connectors.http import limiter_of, wait_turn
from inescape.modules.patients.api import ClinicalCodecs
from inescape.runtime import library
from tests.support.fhir_bulk_server import FhirBulkServer, resources_of
from tests.support.replay import replay_outbound

# this process's own pace (no Redis here); the replay server allowed explicitly
REACH = Reach(limiter=MemoryRateLimiter(), outbound=replay_outbound())
CODECS = library(ClinicalCodecs)

CONNECTOR = FhirBulkConnector()
FAST = {"backoff_s": 0.01, "poll_s": 0.01, "requests_per_s": 1000.0, "page_size": 2}


@pytest.fixture
def ehr():
    server = FhirBulkServer(resources_of(5), polls=0, file_lines=2)
    yield server
    server.close()


def config_for(server: FhirBulkServer, **extra) -> FhirBulkConfig:
    return FhirBulkConfig(**({"base_url": server.base, "token": server.token} | FAST | extra))


async def read_all(config: FhirBulkConfig, cursor=None) -> list:
    return [page async for page in CONNECTOR.pages(REACH, config, cursor)]


async def read_until(config: FhirBulkConfig, stop, cursor=None) -> list:
    """The pages up to the first that ``stop`` picks, the read then broken off (a killed worker)."""
    pages = []
    reader = CONNECTOR.pages(REACH, config, cursor)
    async for page in reader:
        pages.append(page)
        if stop(page):
            break
    await reader.aclose()
    return pages


def patients(pages: list) -> list[str]:
    return [i.source_id for p in pages for i in p.items if i.source_id]


async def test_an_export_is_kicked_off_and_every_patient_read_with_its_related_resources(ehr):
    pages = await read_all(config_for(ehr))

    assert sorted(patients(pages)) == sorted(r["id"] for r in ehr.resources if r["resourceType"] == "Patient")
    assert pages[-1].cursor is None
    item = next(i for p in pages for i in p.items if i.source_id)
    assert {"Patient", "Condition"} <= {r["resourceType"] for r in item.data}
    assert (
        CONNECTOR.to_record(item, config_for(ehr), codecs=CODECS).conditions[0].histology
        == "squamous_cell_carcinoma"
    )
    _, kickoff, _ = ehr.requests[0]
    assert "/fhir/Patient/$export?_type=Patient,Condition" in kickoff
    assert ehr.requests[-1][0] == "DELETE"  # the export is let go once every page is read
    assert ehr.kickoffs() == 1


async def test_polling_waits_as_retry_after_says_and_reports_the_servers_progress(ehr):
    ehr.polls = 2

    started = time.monotonic()
    pages = await read_all(config_for(ehr))

    assert time.monotonic() - started >= 2.0  # two 202s with Retry-After: 1
    progress = [p.fraction for p in pages if not p.items and p.cursor and "manifest" not in p.cursor]
    assert progress == sorted(progress)
    assert progress[-1] > 0


async def test_a_resumed_read_neither_kicks_off_again_nor_repeats_a_patient(ehr):
    first = await read_until(config_for(ehr), lambda p: p.items and p.cursor and p.cursor["file"] > 1)

    resumed = await read_all(config_for(ehr), first[-1].cursor)

    assert len(patients(first)) == 4
    assert sorted(patients(first) + patients(resumed)) == sorted(set(patients(first) + patients(resumed)))
    assert len(patients(first) + patients(resumed)) == 5
    assert ehr.kickoffs() == 1


async def test_a_read_resumed_while_the_server_exports_polls_the_same_export(ehr):
    ehr.polls = 1
    first = await read_until(config_for(ehr), lambda p: True)

    resumed = await read_all(config_for(ehr), first[0].cursor)

    assert first[0].cursor == {"status_url": f"{ehr.base}/$export-status/1"}
    assert ehr.kickoffs() == 1
    assert len(set(patients(resumed))) == 5


async def test_429_and_5xx_on_the_status_url_and_the_files_are_retried(ehr):
    ehr.polls = 1
    ehr.script = {
        "$export-status": [{"status": 429, "headers": {"Retry-After": "1"}}, {"status": 500}],
        "Patient-1.ndjson": [{"status": 503}, {"cut": True}],
    }

    pages = await read_all(config_for(ehr))

    assert len(set(patients(pages))) == 5
    assert all(not i.problem for p in pages for i in p.items)


async def test_a_failed_export_fails_the_job_with_the_servers_reason(ehr):
    ehr.export_error = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "fatal", "code": "exception", "diagnostics": "the export ran out of disk"}],
    }

    with pytest.raises(Invalid, match="bulk export failed: the export ran out of disk"):
        await read_all(config_for(ehr))


async def test_an_export_that_is_gone_says_so(ehr):
    with pytest.raises(Invalid, match="is gone"):
        await read_all(config_for(ehr), {"status_url": f"{ehr.base}/$export-status/99"})


async def test_a_kick_off_the_server_refuses_fails_saying_what_to_check(ehr):
    ehr.script = {"$export?": [{"status": 400}]}

    with pytest.raises(Invalid, match="refused the bulk export"):
        await read_all(config_for(ehr))


async def test_a_line_cut_short_is_a_reject_and_every_other_patient_is_read(ehr):
    ehr.cut_files = {"Patient-2.ndjson", "Condition-1.ndjson"}

    pages = await read_all(config_for(ehr))

    problems = [i.location for p in pages for i in p.items if i.problem]
    assert problems == ["Condition file 4 line 2", "Patient file 2 line 2"]
    assert len(set(patients(pages))) == 4


async def test_the_manifests_error_files_are_rejects_with_the_servers_reason(ehr):
    ehr.error_file = [
        {
            "resourceType": "OperationOutcome",
            "issue": [{"code": "processing", "diagnostics": "Observation/9 bad"}],
        }
    ]

    pages = await read_all(config_for(ehr))

    assert [i.problem for p in pages for i in p.items if i.problem] == [
        "the server could not export: Observation/9 bad"
    ]


async def test_a_file_needing_the_token_off_the_servers_origin_is_refused(ehr):
    ehr.resources = resources_of(1)
    config = config_for(ehr, base_url=ehr.base.replace("127.0.0.1", "localhost"))

    with pytest.raises(Invalid, match="refusing to send the token"):
        await read_all(config)


# --- SMART Backend Services ----------------------------------------------------------------


@pytest.fixture(params=["RS384", "ES384"])
def smart(request):
    key = RSAKey.generate_key(2048) if request.param == "RS384" else ECKey.generate_key("P-384")
    server = FhirBulkServer(resources_of(3), token=None, public_key=key, polls=0, file_lines=2)
    server.alg, server.private_pem = request.param, key.as_pem(private=True).decode()
    yield server
    server.close()


def smart_config(server: FhirBulkServer, **extra) -> FhirBulkConfig:
    fields = {
        "token_url": server.token_url,
        "client_id": server.client_id,
        "private_key": server.private_pem,
        "kid": server.kid,
        "alg": server.alg,
        "scope": f"system/Patient.read system/Condition.read {time.monotonic_ns()}",  # a fresh cache key
    }
    return FhirBulkConfig(base_url=server.base, **(FAST | fields | extra))


async def test_smart_backend_services_sign_in_with_a_signed_assertion_and_reuse_the_token(smart):
    pages = await read_all(smart_config(smart))

    assert len(set(patients(pages))) == 3
    assert len(smart.assertions) == 1
    assert {auth for _, path, auth in smart.requests if path != "/auth/token"} == {"Bearer access-1"}


async def test_a_token_refused_with_401_is_fetched_again_once(smart):
    config = smart_config(smart)
    await read_all(config)
    smart.revoke()

    pages = await read_all(config)

    assert len(set(patients(pages))) == 3
    assert len(smart.assertions) == 2


async def test_an_assertion_the_server_cannot_verify_fails_saying_what_to_check(smart):
    other = RSAKey.generate_key(2048) if smart.alg == "RS384" else ECKey.generate_key("P-384")

    with pytest.raises(Invalid, match=r"refused the client assertion .*invalid_client"):
        await read_all(smart_config(smart, private_key=other.as_pem(private=True).decode()))


def test_the_private_key_is_checked_and_never_kept_in_provenance(smart):
    raw = {"base_url": smart.base, "token_url": smart.token_url, "client_id": "c", "kid": "k"}

    with pytest.raises(Invalid) as missing:
        parse_config(CONNECTOR, raw)
    with pytest.raises(Invalid) as unreadable:
        parse_config(CONNECTOR, raw | {"private_key": "not a key"})
    config = parse_config(CONNECTOR, raw | {"private_key": smart.private_pem, "alg": smart.alg})

    assert missing.value.errors[0]["field"] == "config.private_key"
    assert unreadable.value.errors[0]["field"] == "config.private_key"
    assert public_config(CONNECTOR, config)["private_key"] == "<removed>"


# --- the outbound pace ---------------------------------------------------------------------


async def test_jobs_reading_one_host_share_its_pace(ehr):
    config = config_for(ehr, requests_per_s=20.0)

    started = time.monotonic()
    await asyncio.gather(read_all(config), read_all(config))
    elapsed = time.monotonic() - started

    n = len(ehr.requests)
    assert elapsed >= (n - 1) / 20.0  # unpaced, both reads take well under a second
    spans = [b - a for a, b in zip(ehr.times, ehr.times[10:], strict=False)]
    # arrivals jitter (a request may be delayed after its turn); ten in a row keep the pace
    assert min(spans) >= 0.6 * 10 / 20.0


async def test_the_pace_holds_across_processes_through_redis(servers):
    if servers is None:
        pytest.skip("needs Redis (.ci/run starts it)")
    caches = [RedisCache(servers.redis), RedisCache(servers.redis)]  # two workers' own connections
    limiters = [limiter_of(c) for c in caches]
    url = httpx.URL(f"http://pace-{time.monotonic_ns()}.example:8080/x")

    started = time.monotonic()
    await asyncio.gather(*(wait_turn(limiters[i % 2], url, 10.0) for i in range(8)))
    elapsed = time.monotonic() - started

    assert {limiter.backend for limiter in limiters} == {"redis"}
    assert elapsed >= 0.7 - 0.05
    for cache in caches:
        await cache.close()
