"""The model registry: versions, one production model per name, artifacts in the models bucket,
and a promotion event for whoever keeps the production model in memory. Both backends."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from inescape.kernel.bus import Subscription
from inescape.modules.training.api import ModelNotFound, ModelPromoted, ModelRegistry, load_portable
from tests.unit.test_survival_model_format import MODEL


async def test_versions_count_up_and_each_keeps_its_artifact(services):
    registry = ModelRegistry(services)

    first = await registry.register("os", MODEL, metrics={"c_index": 0.71}, trained_on={"rows": 900})
    second = await registry.register("os", MODEL, metrics={"c_index": 0.73})

    assert (first.version, second.version) == (1, 2)
    assert {c.stage for c in await registry.cards("os")} == {"candidate"}
    assert await services.storage.exists("models", second.artifact)
    assert (await registry.card("os", 1)).trained_on == {"rows": 900}


async def test_there_is_no_production_model_until_one_is_promoted(services):
    registry = ModelRegistry(services)
    await registry.register("os", MODEL)

    assert await registry.production("os") is None


async def test_promoting_a_version_archives_the_previous_one_and_announces_it(services):
    registry = ModelRegistry(services)
    heard: list[ModelPromoted] = []

    async def listen(event: ModelPromoted) -> None:
        heard.append(event)

    services.bus.subscribe(Subscription(ModelPromoted, listen, "test.promoted"))
    for _ in range(2):
        await registry.register("os", MODEL)

    await registry.promote("os", 1)
    await registry.promote("os", 2)
    await asyncio.sleep(0.05)

    card, model = await registry.production("os")
    assert card.version == 2
    assert model == MODEL
    assert {c.version: c.stage for c in await registry.cards("os")} == {1: "archived", 2: "production"}
    assert [(e.name, e.version) for e in heard] == [("os", 1), ("os", 2)]


async def test_concurrent_registrations_take_distinct_versions_each_with_its_own_model(services):
    registry = ModelRegistry(services)
    models = [msgspec.structs.replace(MODEL, coefficients=[0.01 * i, -0.2]) for i in range(4)]

    cards = await asyncio.gather(*(registry.register("os", m) for m in models))

    assert sorted(c.version for c in cards) == [1, 2, 3, 4]
    for card, model in zip(cards, models, strict=True):
        assert load_portable(await services.storage.get("models", card.artifact)) == model


async def test_promoting_an_unknown_version_is_not_found(services):
    with pytest.raises(ModelNotFound):
        await ModelRegistry(services).promote("os", 7)
