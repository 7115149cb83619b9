"""The document store, cache and object store behave the same on both backends."""

from __future__ import annotations

import asyncio

import pytest

from inescape.kernel.errors import Conflict, Invalid, NotFound


async def test_documents_round_trip_and_query_the_same_way_on_both_backends(services):
    docs = services.documents
    for i, (histology, age) in enumerate([("scc", 61), ("adeno", 70), ("scc", 55), ("scc", 80)]):
        await docs.insert(
            "model_cards",
            {"id": f"m{i}", "histology": histology, "age": age, "meta": {"stage": "III" if i % 2 else "II"}},
        )

    scc = await docs.find("model_cards", {"histology": "scc"}, sort=[("age", -1)])
    older = await docs.find("model_cards", {"age": {"$gte": 61, "$lt": 80}}, sort=[("age", 1)])
    stage = await docs.find("model_cards", {"meta.stage": "III"}, sort=[("id", 1)])
    chosen = await docs.find("model_cards", {"id": {"$in": ["m0", "m3"]}}, sort=[("id", 1)])

    assert [d["age"] for d in scc] == [80, 61, 55]
    assert [d["id"] for d in older] == ["m0", "m1"]
    assert [d["id"] for d in stage] == ["m1", "m3"]
    assert [d["id"] for d in chosen] == ["m0", "m3"]
    assert await docs.count("model_cards", {"histology": {"$ne": "scc"}}) == 1
    assert await docs.find("model_cards", limit=2, skip=3, sort=[("id", 1)]) == [
        {"id": "m3", "histology": "scc", "age": 80, "meta": {"stage": "III"}}
    ]


async def test_a_document_can_be_read_replaced_and_deleted(services):
    docs = services.documents
    doc_id = await docs.insert("dataset_metadata", {"name": "golestan", "rows": 10})

    assert await docs.get("dataset_metadata", doc_id) == {"id": doc_id, "name": "golestan", "rows": 10}
    assert await docs.replace("dataset_metadata", doc_id, {"name": "golestan", "rows": 11})
    assert (await docs.get("dataset_metadata", doc_id))["rows"] == 11
    assert await docs.delete("dataset_metadata", doc_id)
    assert await docs.get("dataset_metadata", doc_id) is None
    assert not await docs.delete("dataset_metadata", doc_id)


async def test_a_duplicate_document_id_is_a_conflict(services):
    await services.documents.insert("c", {"id": "same"})

    with pytest.raises(Conflict):
        await services.documents.insert("c", {"id": "same", "x": 1})
    assert await services.documents.get("c", "same") == {"id": "same"}


async def test_a_batch_of_documents_is_inserted_in_order_and_stops_at_a_taken_id(services):
    docs = services.documents
    assert await docs.insert_many("batch", [{"id": f"a{i}", "n": i} for i in range(5)]) == 5
    await docs.insert("batch", {"id": "b2", "n": "taken"})

    inserted = await docs.insert_many("batch", [{"id": f"b{i}", "n": i} for i in range(5)])

    # a prefix is committed (MongoDB keeps what came before the conflict, SQL none of it)
    present = {d["id"] for d in await docs.find("batch", {"id": {"$in": [f"b{i}" for i in range(5)]}})}
    assert present == {f"b{i}" for i in range(inserted)} | {"b2"}
    assert inserted in (0, 2)
    assert (await docs.get("batch", "b2"))["n"] == "taken"
    first = await docs.find("batch", {"id": {"$lt": "b"}}, sort=[("id", 1)])
    assert [d["n"] for d in first] == [0, 1, 2, 3, 4]


async def test_an_unsupported_query_operator_is_refused(services):
    with pytest.raises(Invalid, match=r"\$where"):
        await services.documents.find("c", {"age": {"$where": "1"}})


async def test_cache_values_expire_after_their_ttl(services):
    cache = services.cache
    await cache.set("inescape:test:k", b"v", ttl=0.3)
    await cache.set("inescape:test:forever", b"w")

    assert await cache.get("inescape:test:k") == b"v"
    await asyncio.sleep(0.5)
    assert await cache.get("inescape:test:k") is None
    assert await cache.get("inescape:test:forever") == b"w"


async def test_cache_counters_increment_atomically_and_expire(services):
    cache = services.cache
    results = await asyncio.gather(*(cache.incr("inescape:test:n", ttl=0.5) for _ in range(20)))

    assert sorted(results) == list(range(1, 21))
    await asyncio.sleep(0.7)
    assert await cache.incr("inescape:test:n", ttl=0.5) == 1


async def test_objects_round_trip_in_every_bucket(services):
    store = services.storage
    for bucket in ("images", "models", "datasets"):
        await store.put(bucket, f"training/run/{bucket}/a.bin", bucket.encode())

    assert await store.get("models", "training/run/models/a.bin") == b"models"
    assert await store.exists("images", "training/run/images/a.bin")
    assert await store.list("datasets", "training/") == ["training/run/datasets/a.bin"]
    await store.delete("images", "training/run/images/a.bin")
    assert not await store.exists("images", "training/run/images/a.bin")
    with pytest.raises(NotFound):
        await store.get("images", "training/run/images/a.bin")


async def test_a_large_object_streams_in_and_out_in_bounded_chunks(services):
    part = bytes(range(256)) * 4096  # 1 MiB
    count = 12  # 12 MiB: more than one S3 multipart part

    async def chunks():
        for _ in range(count):
            yield part

    written = await services.storage.put_stream("datasets", "generation/cohort/x/data.bin", chunks())
    received = [
        c
        async for c in services.storage.stream("datasets", "generation/cohort/x/data.bin", chunk_size=1 << 20)
    ]

    assert written == count * len(part)
    assert sum(len(c) for c in received) == written
    assert max(len(c) for c in received) <= 1 << 20
    assert b"".join(received[:1])[:256] == bytes(range(256))


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", ""])
async def test_an_unsafe_object_key_is_refused(services, key):
    with pytest.raises(Invalid):
        await services.storage.put("datasets", key, b"x")


async def test_an_unknown_bucket_is_refused(services):
    with pytest.raises(Invalid, match="unknown bucket"):
        await services.storage.put("secrets", "a", b"x")
