"""Uploads as ``multipart/form-data`` forms: a CSV or Parquet file sent as the form's ``file``
part is stored and collected like a raw upload (good rows load, bad ones are reported with
their row and reason); a large form goes to storage a chunk at a time, never whole in memory;
a bad form is a 4xx and nothing is stored."""

from __future__ import annotations

import asyncio
import hashlib
import io
import tracemalloc
from datetime import date, datetime
from typing import Any

import polars as pl
import pytest

from inescape.infra.storage import PART_SIZE
from inescape.modules.collection.connectors.upload import UPLOADS
from inescape.modules.generation.api import BUCKET
from tests.modules.collection.test_collection_api import (
    BAD_CODE,
    BAD_DATE,
    GOOD_1,
    GOOD_2,
    HEADER,
    MAPPING,
    stored,
)
from tests.support.auth import bearer, gateway_of, on_app_loop
from tests.support.jobs import finished

BOUNDARY = "inescape-test-boundary"
FORM = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture
async def steward(client):
    return await bearer(client, client.app, "steward.form", ["data_steward"])


async def send_form(client, headers, body: bytes, *, filename="cohort.csv", fmt: str | None = "csv"):
    return await client.post(
        "/api/v1/collection/uploads",
        files={"file": (filename, body, "text/csv")},
        data={"format": fmt} if fmt else {},
        headers=headers,
    )


async def collect(client, headers, upload_id: str, fmt: str) -> dict:
    config = {"upload_id": upload_id, "format": fmt, "mapping": MAPPING, "page_size": 2}
    submitted = await client.post(
        "/api/v1/collection/jobs",
        json={"connector": "upload", "source": "hospital-f", "config": config},
        headers=headers,
    )
    assert submitted.status_code == 202, submitted.text
    return await finished(client, f"/api/v1/collection/jobs/{submitted.json()['id']}", headers, poll=0.1)


async def rejected(client, headers, job_id: str) -> list[str]:
    report = await client.get(f"/api/v1/collection/jobs/{job_id}/rejects", headers=headers)
    assert report.status_code == 200, report.text
    return report.text.splitlines()[1:]


async def nothing_stored(client) -> None:
    services = client.app.state.services
    objects = await on_app_loop(client.app, services.storage.list(BUCKET, "collection/upload/"))
    docs = await on_app_loop(client.app, services.documents.find(UPLOADS, {}, limit=10))
    assert objects == []
    assert docs == []


def framed(*parts: tuple[str, str | None, bytes]) -> bytes:
    """A multipart body of (name, filename, value) parts."""
    out = b""
    for name, filename, value in parts:
        named = f'; filename="{filename}"' if filename else ""
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"{named}\r\n\r\n'.encode()
        out += value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def parquet_of(rows: list[dict[str, Any]]) -> bytes:
    out = io.BytesIO()
    pl.DataFrame(rows).write_parquet(out, row_group_size=2)
    return out.getvalue()


def row(pid: str | None, dob: str, histology: str, morphology: str) -> dict[str, Any]:
    return {
        "PatientID": pid,
        "MRN": f"MRN-{pid}",
        "FirstName": "Amir",
        "DOB": dob,
        "Sex": "male",
        "Histology": histology,
        "Morphology": morphology,
        "Site": "C15.4",
        "Location": "middle",
        "DxDate": datetime(2022, 5, 1),  # a midnight timestamp, as pandas writes dates
        "Vital": "alive",
        "LastSeen": date(2024, 1, 1),
    }


async def test_a_csv_form_upload_is_collected_and_each_bad_row_reported_with_its_row(client, steward):
    body = (HEADER + GOOD_1 + BAD_DATE + GOOD_2 + BAD_CODE).encode()

    made = await send_form(client, steward, body)
    job = await collect(client, steward, made.json()["id"], "csv")

    assert made.status_code == 201, made.text
    assert made.json()["filename"] == "cohort.csv"
    assert made.json()["format"] == "csv"
    assert made.json()["bytes"] == len(body)
    assert made.json()["sha256"] == hashlib.sha256(body).hexdigest()
    assert job["status"] == "succeeded", job
    assert (job["counts"]["accepted"], job["counts"]["rejected"]) == (2, 2)
    assert [r["source_record_id"] for r in await stored(client, "hospital-f")] == ["p1", "p2"]
    lines = await rejected(client, steward, job["id"])
    assert any(line.startswith("row 3,p3,birth_date,") for line in lines), lines
    assert any(line.startswith("row 5,p4,conditions[0].morphology_code,") for line in lines), lines


async def test_a_parquet_upload_loads_good_rows_and_reports_bad_ones_by_row(client, steward):
    body = parquet_of(
        [
            row("p1", "1955-02-01", "squamous_cell_carcinoma", "8070/3"),
            row("p2", "1950-13-40", "squamous_cell_carcinoma", "8070/3"),
            row("p3", "1960-07-09", "adenocarcinoma", "8140/3"),
            row(None, "1961-01-01", "adenocarcinoma", "8140/3"),
            row("p5", "1962-03-04", "adenocarcinoma", "8070/3"),
        ]
    )

    made = await send_form(client, steward, body, filename="cohort.parquet", fmt="parquet")
    job = await collect(client, steward, made.json()["id"], "parquet")

    assert made.status_code == 201, made.text
    assert job["status"] == "succeeded", job
    assert {k: job["counts"][k] for k in ("read", "accepted", "rejected")} == {
        "read": 5,
        "accepted": 2,
        "rejected": 3,
    }
    assert [r["source_record_id"] for r in await stored(client, "hospital-f")] == ["p1", "p3"]
    lines = await rejected(client, steward, job["id"])
    assert any(line.startswith("row 2,p2,birth_date,") for line in lines), lines
    assert any(line.startswith("row 4,,source_record_id,missing") for line in lines), lines
    assert any(line.startswith("row 5,p5,conditions[0].morphology_code,") for line in lines), lines


async def test_the_upload_is_audited_and_needs_the_manage_permission(client, steward):
    researcher = await bearer(client, client.app, "researcher.form", ["researcher"])

    refused = await send_form(client, researcher, (HEADER + GOOD_1).encode())
    made = await send_form(client, steward, (HEADER + GOOD_1).encode())

    assert refused.status_code == 403, refused.text
    assert made.status_code == 201, made.text
    audit = gateway_of(client.app).trail
    events = await on_app_loop(
        client.app, audit.query(filters={"action": "collection.uploaded"}, before_seq=None, limit=10)
    )
    assert [(e.user, e.resource_id) for e in events if e.outcome == "success"] == [
        ("steward.form", made.json()["id"])
    ]
    assert [(e.user, e.outcome) for e in events if e.outcome != "success"] == [("researcher.form", "denied")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (framed(("format", None, b"csv")), "file"),
        (framed(("file", "a.csv", b"")), "file"),
        (framed(("file", "a.csv", HEADER.encode()), ("format", None, b"xlsx")), "format"),
        (framed(("file", "a.csv", HEADER.encode()), ("file", "b.csv", HEADER.encode())), "file"),
        (framed(("file", "a.csv", HEADER.encode()))[:-30], "body"),
        (b"no boundary anywhere in this body at all, just text", "body"),
    ],
    ids=["no-file-part", "empty-file", "unknown-format", "two-files", "cut-short", "not-multipart"],
)
async def test_a_bad_form_is_refused_naming_the_problem_and_nothing_is_stored(client, steward, body, field):
    response = await client.post(
        "/api/v1/collection/uploads", content=body, headers={**steward, "Content-Type": FORM}
    )

    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()) >= {"detail", "status_code"}
    assert response.json()["errors"][0]["field"] == field
    await nothing_stored(client)


async def test_a_form_without_a_boundary_is_refused(client, steward):
    response = await client.post(
        "/api/v1/collection/uploads",
        content=framed(("file", "a.csv", b"x")),
        headers={**steward, "Content-Type": "multipart/form-data"},
    )

    assert response.status_code == 422, response.text
    await nothing_stored(client)


async def test_an_unknown_format_after_a_large_file_stores_nothing(client, steward):
    big = (HEADER + GOOD_1 * 200_000).encode()  # ~20 MB: several S3 parts before the refusal

    response = await client.post(
        "/api/v1/collection/uploads",
        content=framed(("file", "a.csv", big), ("format", None, b"xlsx")),
        headers={**steward, "Content-Type": FORM},
    )

    assert response.status_code == 422, response.text
    await nothing_stored(client)


# A large form, sent as a server would pass it on: 64 KiB at a time, made as it is sent.
CHUNK = 64 * 1024
CHUNKS = 640  # 40 MiB
BLOCK = (GOOD_1 * (CHUNK // len(GOOD_1) + 1)).encode()[:CHUNK]


def large_form() -> tuple[list[bytes], bytes, str]:
    """The form's framing around the file, the file's first chunk, and the file's digest."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="format"\r\n\r\ncsv\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    digest = hashlib.sha256(HEADER.encode())
    for _ in range(CHUNKS):
        digest.update(BLOCK)
    return [head, tail], HEADER.encode(), digest.hexdigest()


async def asgi_post(app, path: str, headers: dict[str, str], chunks) -> tuple[int, bytes]:
    """POST through the app itself with a body that is produced while it is read."""
    done = asyncio.Event()
    reply: dict[str, Any] = {"body": b""}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def receive() -> dict[str, Any]:
        chunk = next(chunks, None)
        if chunk is not None:
            return {"type": "http.request", "body": chunk, "more_body": True}
        if not done.is_set():
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            reply["status"] = message["status"]
        elif message["type"] == "http.response.body":
            reply["body"] += message.get("body", b"")
            if not message.get("more_body"):
                done.set()

    await app(scope, receive, send)
    return reply["status"], reply["body"]


async def test_a_large_form_is_streamed_to_storage_in_chunks_never_whole_in_memory(
    client, steward, monkeypatch
):
    (head, tail), first, digest = large_form()

    def body():
        yield from (head, first)
        for _ in range(CHUNKS):
            yield BLOCK
        yield tail

    storage = client.app.state.services.storage
    largest: list[int] = []
    put_stream = storage.put_stream

    async def watched(bucket, key, chunks, **kwargs):
        async def each():
            async for chunk in chunks:
                largest.append(len(chunk))
                yield chunk

        return await put_stream(bucket, key, each(), **kwargs)

    monkeypatch.setattr(storage, "put_stream", watched)
    headers = {**steward, "Content-Type": FORM, "Host": "testserver"}

    tracemalloc.start()
    try:
        status, reply = await on_app_loop(
            client.app, asgi_post(client.app, "/api/v1/collection/uploads", headers, body())
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    size = len(first) + CHUNKS * CHUNK
    assert status == 201, reply
    assert b'"bytes":%d' % size in reply
    assert digest.encode() in reply
    assert len(largest) > CHUNKS
    assert max(largest) <= CHUNK
    # S3 holds one part (and its copy) of PART_SIZE; the whole body is 40 MiB
    allowed = 4 * 2**20 + (3 * PART_SIZE if storage.backend == "s3" else 0)
    assert peak < allowed, f"peak {peak / 2**20:.1f} MiB"
