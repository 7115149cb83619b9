"""Identifying data is unreadable at rest: in the raw database row and in the embedded object
files; S3 objects are stored with server-side encryption."""

from __future__ import annotations

import tracemalloc

import boto3
import pytest
import sqlalchemy as sa

from inescape.infra.crypto.cipher import FieldCipher
from inescape.infra.crypto.column import EncryptedString, set_field_cipher
from inescape.infra.crypto.keyring import KeyRing
from inescape.infra.crypto.rotation import rotate
from inescape.infra.encrypted_storage import CHUNK_SIZE, EncryptedObjectStore, new_header
from inescape.infra.storage import LocalObjectStore, S3ObjectStore
from inescape.kernel.errors import Invalid, NotFound

RING = KeyRing({"k2025": b"\x01" * 32}, active_id="k2025", hmac_key=b"\x09" * 32)
ROTATED = RING.with_new_key("k2026a")
NAME, MRN = "Ali Rezaei علی رضایی", "MRN-0042917"
MRN_CONTEXT = "test_encrypted_people.mrn"
HEADER = len(new_header("k2025"))

people = sa.Table(
    "test_encrypted_people",
    sa.MetaData(),
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("name", EncryptedString("test_encrypted_people.name")),
    sa.Column("mrn", EncryptedString(MRN_CONTEXT)),
    sa.Column("mrn_index", sa.String(64), index=True),
)


@pytest.fixture
def cipher():
    installed = FieldCipher(RING)
    previous = set_field_cipher(installed)
    yield installed
    set_field_cipher(previous)


@pytest.fixture
async def table(services, cipher):
    async with services.db.engine.begin() as conn:
        await conn.run_sync(people.metadata.create_all)
    yield people
    async with services.db.engine.begin() as conn:
        await conn.run_sync(people.metadata.drop_all)


async def add_people(services, cipher, rows: list[tuple[str, str, str | None]]) -> None:
    values = [
        {"id": i, "name": name, "mrn": mrn, "mrn_index": mrn and cipher.blind_index(mrn, context=MRN_CONTEXT)}
        for i, name, mrn in rows
    ]
    async with services.db.sessions() as session, session.begin():
        await session.execute(sa.insert(people), values)


async def raw_rows(services) -> list[tuple]:
    async with services.db.engine.connect() as conn:
        result = await conn.execute(sa.text("SELECT id, name, mrn, mrn_index FROM test_encrypted_people"))
        return [tuple(row) for row in result]


async def test_the_raw_row_holds_no_plaintext_identifier_and_the_blind_index_finds_it(
    services, cipher, table
):
    await add_people(services, cipher, [("p1", NAME, MRN), ("p2", "Sara Ahmadi", "MRN-1")])

    raw = await raw_rows(services)
    async with services.db.sessions() as session:
        lookup = cipher.blind_index(" mrn-0042917 ", context=MRN_CONTEXT)
        found = (await session.execute(sa.select(people).where(people.c.mrn_index == lookup))).all()

    dump = repr(raw)
    for plaintext in (NAME, "Rezaei", "رضایی", MRN, "0042917"):
        assert plaintext not in dump
    assert all(name.startswith("v1:k2025:") and mrn.startswith("v1:k2025:") for _, name, mrn, _ in raw)
    assert [(row.id, row.name, row.mrn) for row in found] == [("p1", NAME, MRN)]


async def test_a_row_copied_into_another_column_fails_to_read(services, cipher, table):
    await add_people(services, cipher, [("p1", NAME, MRN)])
    async with services.db.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE test_encrypted_people SET name = mrn"))

    async with services.db.sessions() as session:
        with pytest.raises(Invalid, match="failed authentication"):
            (await session.execute(sa.select(people.c.name))).all()


async def test_rotation_moves_every_row_to_the_active_key_in_batches(services, cipher, table):
    await add_people(services, cipher, [(f"p{i:02}", f"{NAME} {i}", f"MRN-{i}") for i in range(23)])
    await add_people(services, cipher, [("p99", NAME, None)])
    moved = FieldCipher(ROTATED)
    batches = []

    report = await rotate(services.db.engine, moved, people, batch_size=10, progress=batches.append)
    again = await rotate(services.db.engine, moved, people, batch_size=10)
    set_field_cipher(moved)
    async with services.db.sessions() as session:
        rows = (await session.execute(sa.select(people).order_by(people.c.id))).all()

    assert (report.rotated, report.failed, report.batches) == (24, 0, 3)
    assert [b.rotated for b in batches] == [10, 20, 24]
    assert (again.rotated, again.batches) == (0, 0)
    assert all(name.startswith("v1:k2026a:") for _, name, _, _ in await raw_rows(services))
    assert [(r.name, r.mrn) for r in rows][:2] == [(f"{NAME} 0", "MRN-0"), (f"{NAME} 1", "MRN-1")]
    assert rows[-1].mrn is None
    assert rows[3].mrn_index == moved.blind_index("MRN-3", context=MRN_CONTEXT)


async def test_rotation_skips_and_counts_a_row_it_cannot_decrypt(services, cipher, table):
    await add_people(services, cipher, [("p1", NAME, MRN), ("p2", "Sara", "MRN-2")])
    async with services.db.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE test_encrypted_people SET name = mrn WHERE id = 'p1'"))

    report = await rotate(services.db.engine, FieldCipher(ROTATED), people, batch_size=1)

    assert (report.rotated, report.failed) == (1, 1)
    assert [name[:10] for i, name, _, _ in sorted(await raw_rows(services)) if i == "p2"] == ["v1:k2026a:"]


# --- embedded object store -------------------------------------------------------------------
@pytest.fixture
async def objects(tmp_path):
    store = EncryptedObjectStore(LocalObjectStore(tmp_path / "objects"), RING)
    await store.ensure_buckets()
    return store


def raw_file(store: EncryptedObjectStore, bucket: str, key: str):
    return store.inner.root / bucket / key


async def parts(size: int, piece: int = 1_000_003):
    pattern = (b"patient Ali Rezaei MRN-0042917 " * (piece // 31 + 1))[:piece]
    sent = 0
    while sent < size:
        chunk = pattern[: min(piece, size - sent)]
        sent += len(chunk)
        yield chunk


async def test_an_embedded_object_file_holds_no_plaintext(objects):
    document = f"name={NAME}; mrn={MRN}".encode()

    await objects.put("datasets", "collection/upload/u1/data.csv", document)
    on_disk = raw_file(objects, "datasets", "collection/upload/u1/data.csv").read_bytes()

    assert MRN.encode() not in on_disk
    assert "رضایی".encode() not in on_disk
    assert await objects.get("datasets", "collection/upload/u1/data.csv") == document


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 12 * 1024 * 1024 + 7])
async def test_objects_of_any_size_stream_back_identical(objects, size):
    expected = b"".join([c async for c in parts(size)])

    written = await objects.put_stream("models", "training/run/r1/model.bin", parts(size))
    received = [c async for c in objects.stream("models", "training/run/r1/model.bin", chunk_size=1 << 20)]
    on_disk = raw_file(objects, "models", "training/run/r1/model.bin").read_bytes()

    assert written == size
    assert b"".join(received) == expected
    assert all(len(c) <= 1 << 20 for c in received)
    assert b"Ali Rezaei" not in on_disk
    assert len(on_disk) == HEADER + size + 16 * max(1, -(-size // CHUNK_SIZE))


async def test_a_large_object_is_written_and_read_in_bounded_memory(objects):
    size = 48 * 1024 * 1024
    tracemalloc.start()
    try:
        await objects.put_stream("datasets", "generation/cohort/c1/big.bin", parts(size, 1 << 20))
        total = 0
        async for chunk in objects.stream("datasets", "generation/cohort/c1/big.bin"):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert total == size
    assert peak < 8 * 1024 * 1024


def corruptions(data: bytes) -> dict[str, bytes]:
    header = HEADER
    segment = CHUNK_SIZE + 16
    return {
        "cut at a chunk boundary": data[: header + 2 * segment],
        "cut mid chunk": data[:-5],
        "header only": data[:header],
        "one byte flipped": data[: header + 70_000]
        + bytes([data[header + 70_000] ^ 1])
        + data[header + 70_001 :],
        "header flipped": data[:10] + bytes([data[10] ^ 1]) + data[11:],
        "chunks swapped": data[:header]
        + data[header + segment : header + 2 * segment]
        + data[header : header + segment]
        + data[header + 2 * segment :],
        "bytes appended": data + b"\x00" * 16,
    }


@pytest.mark.parametrize("damage", list(corruptions(b"\x00" * 400_000)))
async def test_a_truncated_or_tampered_object_raises_instead_of_returning_data(objects, damage):
    key = "training/run/r2/weights.bin"
    await objects.put_stream("models", key, parts(5 * CHUNK_SIZE + 123))
    path = raw_file(objects, "models", key)
    path.write_bytes(corruptions(path.read_bytes())[damage])

    with pytest.raises(Invalid):
        await objects.get("models", key)


async def test_an_object_file_moved_to_another_key_does_not_decrypt(objects):
    await objects.put("images", "patients/p1/scan.png", b"scan of patient p1")
    source = raw_file(objects, "images", "patients/p1/scan.png")
    target = raw_file(objects, "images", "patients/p2/scan.png")
    target.parent.mkdir(parents=True)
    target.write_bytes(source.read_bytes())

    with pytest.raises(Invalid, match="patients/p2"):
        await objects.get("images", "patients/p2/scan.png")


async def test_objects_are_rewritten_under_a_new_key_and_the_old_key_can_then_go(objects):
    await objects.put("images", "patients/p1/a.png", b"a")
    await objects.put_stream("images", "patients/p1/b.png", parts(3 * CHUNK_SIZE))
    rotated = EncryptedObjectStore(objects.inner, ROTATED)

    assert await rotated.rotate() == 2
    assert await rotated.rotate() == 0
    only_new = EncryptedObjectStore(objects.inner, ROTATED.without_key("k2025"))
    assert await only_new.key_id_of("images", "patients/p1/a.png") == "k2026a"
    assert await only_new.get("images", "patients/p1/a.png") == b"a"
    assert await only_new.get("images", "patients/p1/b.png") == b"".join(
        [c async for c in parts(3 * CHUNK_SIZE)]
    )


async def test_a_missing_encrypted_object_is_not_found(objects):
    with pytest.raises(NotFound):
        await objects.get("images", "patients/none.png")
    assert not await objects.exists("images", "patients/none.png")


# --- S3 --------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["real"], indirect=True)
async def test_s3_objects_are_stored_with_server_side_encryption(services, settings):
    store = services.storage
    client = boto3.client("s3", endpoint_url=settings.s3.endpoint_url, region_name=settings.s3.region)

    async def body():
        yield b"x" * 1024

    await store.put("datasets", "collection/upload/u1/small.csv", b"a,b\n")
    await store.put_stream("datasets", "collection/upload/u1/large.csv", body())
    heads = [
        client.head_object(Bucket=store.bucket_name("datasets"), Key=f"collection/upload/u1/{name}")
        for name in ("small.csv", "large.csv")
    ]
    client.close()

    assert [h.get("ServerSideEncryption") for h in heads] == ["AES256", "AES256"]


@pytest.mark.parametrize("backend", ["real"], indirect=True)
async def test_s3_can_ask_for_kms_encryption_with_a_key_id(settings):
    client = boto3.client("s3", endpoint_url=settings.s3.endpoint_url, region_name=settings.s3.region)
    store = S3ObjectStore(
        endpoint_url=settings.s3.endpoint_url,
        region=settings.s3.region,
        bucket_prefix=settings.s3.bucket_prefix,
        server_side_encryption="aws:kms",
        kms_key_id="alias/inescape-test",
    )
    await store.ensure_buckets()
    await store.put("models", "training/run/r1/model.bin", b"weights")
    head = client.head_object(Bucket=store.bucket_name("models"), Key="training/run/r1/model.bin")
    await store.close()
    client.close()

    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", "alias/inescape-test")
