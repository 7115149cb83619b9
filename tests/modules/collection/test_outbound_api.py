"""A collection job or schedule whose source the outbound allow-list refuses is a 422 at
submission naming the field and the setting to change, and nothing is stored."""

from __future__ import annotations

import pytest

from inescape.modules.collection.connectors.outbound import SETTING

JOBS = "/api/v1/collection/jobs"
SCHEDULES = "/api/v1/collection/schedules"


@pytest.mark.parametrize(
    ("connector", "config", "field", "why"),
    [
        ("fhir", {"base_url": "https://127.0.0.1:8443/fhir", "token": "t"}, "base_url", "loopback"),
        ("fhir", {"base_url": "https://localhost/fhir", "token": "t"}, "base_url", "loopback"),
        ("gdc", {"base_url": "https://169.254.169.254/latest"}, "base_url", "link-local"),
        ("cbioportal", {"base_url": "https://10.0.0.7/api"}, "base_url", "private"),
        ("fhir", {"base_url": "http://93.184.215.14/fhir", "token": "t"}, "base_url", "plain http"),
    ],
)
async def test_a_source_the_allow_list_refuses_is_a_422_and_no_job_or_schedule_is_stored(
    client, connector, config, field, why
):
    body = {"connector": connector, "source": "somewhere", "config": config}

    job = await client.post(JOBS, json=body)
    schedule = await client.post(SCHEDULES, json=body | {"cron": "0 3 * * *"})

    for response in (job, schedule):
        assert response.status_code == 422, response.text
        payload = response.json()
        assert payload["status_code"] == 422
        assert SETTING in payload["detail"]
        assert why in payload["detail"]
        assert [e["field"] for e in payload["errors"]] == [f"config.{field}"]
    assert (await client.get(JOBS)).json()["items"] == []
    assert (await client.get(SCHEDULES)).json()["items"] == []


@pytest.fixture
def lan_allowed(monkeypatch):
    """An administrator's allow-list: a private network, plain http allowed there."""
    monkeypatch.setenv(SETTING, "http://10.0.0.0/8")


async def test_an_administrator_allows_a_network_and_plain_http_in_the_setting(lan_allowed, client):
    body = {"connector": "gdc", "source": "lan", "config": {"base_url": "http://10.0.0.7/gdc"}}
    elsewhere = {"connector": "gdc", "source": "lan", "config": {"base_url": "http://192.168.1.7/gdc"}}

    allowed = await client.post(JOBS, json=body)
    refused = await client.post(JOBS, json=elsewhere)

    assert allowed.status_code == 202, allowed.text
    assert refused.status_code == 422, refused.text
