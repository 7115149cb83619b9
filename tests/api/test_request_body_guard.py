"""One guard before every JSON body is parsed: a body nested 1,000 deep, one that is not UTF-8
or one over the size limit is a 4xx in the error shape on every JSON endpoint (anonymous ones
included), and nothing is written; uploads, which stream, are not buffered by it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from inescape.infra.body_guard import json_depth
from tests.support.auth import bearer, on_app_loop
from tests.support.records import RECORD

DEEP = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000
NOT_UTF8 = b'{"username": "clin\xff\xfe", "password": "x", "refresh_token": "r\xc3\x28"}'
JSON = {"content-type": "application/json"}

ENDPOINTS = [
    "/api/v1/auth/token",
    "/api/v1/auth/refresh",
    "/api/v1/patients",
    "/cds-services/inescape-esophageal-cancer",
]


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "dr.guard", ["clinician"])


async def count_rows(client, table: str) -> int:
    async def count() -> int:
        async with client.app.state.services.db.sessions() as s:
            return int(await s.scalar(text(f"SELECT count(*) FROM {table}")))

    return await on_app_loop(client.app, count())


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (DEEP, "The request body nests deeper than 64 levels."),
        (DEEP_OBJECT, "The request body nests deeper than 64 levels."),
        (NOT_UTF8, "The request body is not valid UTF-8 (byte 18)."),
    ],
    ids=["deep-array", "deep-object", "not-utf8"],
)
async def test_a_hostile_json_body_is_a_400_in_the_error_shape_and_nothing_is_written(
    client, clinician, path, body, detail
):
    patients = await count_rows(client, "patients")

    response = await client.post(path, content=body, headers={**JSON, **clinician})

    assert response.status_code == 400, response.text
    assert response.json()["detail"] == detail
    assert response.json()["status_code"] == 400
    assert await count_rows(client, "patients") == patients


async def test_anonymous_login_with_a_deep_body_is_refused_before_anything_else(client):
    response = await client.post("/api/v1/auth/token", content=DEEP, headers={"content-type": "text/plain"})

    assert response.status_code == 400
    assert response.json() == {
        "detail": "The request body nests deeper than 64 levels.",
        "status_code": 400,
        "request_id": response.headers["x-request-id"],
    }


async def test_a_nul_character_in_a_json_string_is_refused(client, clinician):
    body = {**RECORD, "given_name": "Re\u0000za"}

    response = await client.post("/api/v1/patients", json=body, headers=clinician)

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    assert await count_rows(client, "patients") == 0


async def test_a_json_body_over_the_limit_is_a_413(client):
    huge = b'{"username": "' + b"a" * (10 * 1024 * 1024 + 1) + b'", "password": "x"}'

    response = await client.post("/api/v1/auth/token", content=huge, headers=JSON)

    assert response.status_code == 413
    assert response.json()["status_code"] == 413


async def test_an_ordinary_record_still_passes_the_guard(client, clinician):
    response = await client.post("/api/v1/patients", json=RECORD, headers=clinician)

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"{}", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'{"text": "[[[[{{{{", "b": "\\"]]]"}', 1),
        (b'"just a string with [ brackets"', 0),
        (b"[" * 100, 100),
    ],
)
def test_depth_counts_structure_not_brackets_inside_strings(body, depth):
    assert json_depth(body) == depth
