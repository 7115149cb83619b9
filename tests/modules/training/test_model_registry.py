"""The model registry: versions, one production model per name, artifacts in the models bucket,
and a promotion event for whoever keeps the production model in memory. Both backends."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from inescape.kernel.bus import Subscription
from inescape.modules.training.api import ModelNotFound, ModelNotPortable
from inescape.modules.training.events import ModelPromoted
from inescape.modules.training.registry import ModelRegistry
from tests.modules.training.test_survival_model_format import MODEL, load_portable


def registry_on(services) -> ModelRegistry:
    return ModelRegistry(
        documents=services.documents, storage=services.storage, clock=services.clock, uow=services.uow
    )


async def test_versions_count_up_and_each_keeps_its_artifact(services):
    registry = registry_on(services)

    first = await registry.register("os", MODEL, metrics={"c_index": 0.71}, trained_on={"rows": 900})
    second = await registry.register("os", MODEL, metrics={"c_index": 0.73})

    assert (first.version, second.version) == (1, 2)
    assert {c.stage for c in await registry.cards("os")} == {"candidate"}
    assert await services.storage.exists("models", second.artifact)
    assert (await registry.card("os", 1)).trained_on == {"rows": 900}


async def test_there_is_no_production_model_until_one_is_promoted(services):
    registry = registry_on(services)
    await registry.register("os", MODEL)

    assert await registry.production("os") is None


async def test_promoting_a_version_archives_the_previous_one_and_announces_it(services):
    registry = registry_on(services)
    heard: list[ModelPromoted] = []

    async def listen(event: ModelPromoted) -> None:
        heard.append(event)

    services.bus.subscribe(Subscription(ModelPromoted, listen, "test.promoted"))
    for _ in range(2):
        await registry.register("os", MODEL)

    await registry.promote("os", 1)
    await registry.promote("os", 2)
    await asyncio.sleep(0.05)

    card = await registry.production("os")
    assert card.version == 2
    assert await registry.portable("os", card.version) == MODEL
    assert {c.version: c.stage for c in await registry.cards("os")} == {1: "archived", 2: "production"}
    assert [(e.name, e.version) for e in heard] == [("os", 1), ("os", 2)]


async def test_concurrent_registrations_take_distinct_versions_each_with_its_own_model(services):
    registry = registry_on(services)
    models = [msgspec.structs.replace(MODEL, coefficients=[0.01 * i, -0.2]) for i in range(4)]

    cards = await asyncio.gather(*(registry.register("os", m) for m in models))

    assert sorted(c.version for c in cards) == [1, 2, 3, 4]
    for card, model in zip(cards, models, strict=True):
        assert load_portable(await services.storage.get("models", card.artifact)) == model


async def test_promoting_an_unknown_version_is_not_found(services):
    with pytest.raises(ModelNotFound):
        await registry_on(services).promote("os", 7)


async def test_a_network_has_no_portable_model(services):
    registry = registry_on(services)
    await registry.register_files(
        "os",
        {"spec.json": b"{}"},
        main="spec.json",
        format="inescape.torch.v1",
        task="survival",
        kind="deepsurv",
    )

    with pytest.raises(ModelNotPortable):
        await registry.portable("os", 1)
    with pytest.raises(ModelNotFound):
        await registry.portable("os", 2)


async def test_the_version_serving_a_purpose_is_found_whatever_its_name(services):
    registry = registry_on(services)
    first = await registry.register("my-first-model", MODEL)
    response = await registry.register_files(
        "pcr", {"spec.json": b"{}"}, main="spec.json", format="inescape.torch.v1", task="classification"
    )
    assert (first.purpose, response.purpose) == ("overall-survival", "pathologic-response")
    assert await registry.serving("overall-survival") is None

    await registry.promote("my-first-model", 1)
    await registry.promote("pcr", 1)

    serving = await registry.serving("overall-survival")
    assert (serving.name, serving.version, serving.purpose) == ("my-first-model", 1, "overall-survival")
    assert (await registry.serving("pathologic-response")).name == "pcr"


async def test_a_card_stored_before_purposes_reads_as_its_kind_of_model(services):
    registry = registry_on(services)
    card = await registry.register("os", MODEL)
    doc = await services.documents.get("training_models", card.id)
    doc.pop("purpose")
    await services.documents.replace("training_models", card.id, doc)

    assert (await registry.card("os", 1)).purpose == "overall-survival"
