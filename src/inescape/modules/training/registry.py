"""The model registry: versioned model cards in the document store, artifacts in the ``models``
bucket, one production version per model name.

A card is written after its artifact, so a card never points at nothing. Promotion archives the
previous production version and publishes ``training.model.promoted.v1`` (through the outbox),
so every process that caches the production model reloads it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from inescape.kernel.errors import Conflict, NotFound
from inescape.kernel.ids import new_id
from inescape.modules.training.events import ModelPromoted, ModelRegistered
from inescape.modules.training.portable import CoxModel, dump_model, load_model

COLLECTION = "training_models"
BUCKET = "models"
Stage = Literal["candidate", "production", "archived"]


class ModelNotFound(NotFound):
    pass


class ModelCard(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: int
    task: str  # "survival"
    format: str  # "inescape.cox.v1"
    stage: Stage
    artifact: str  # key in the models bucket
    created_at: datetime
    promoted_at: datetime | None = None
    metrics: dict[str, float] = {}
    trained_on: dict[str, Any] = {}  # dataset, rows, filters: where the numbers come from
    description: str = ""

    @property
    def id(self) -> str:
        return card_id(self.name, self.version)


def card_id(name: str, version: int) -> str:
    return f"{name}:{version:06d}"


class ModelRegistry:
    def __init__(self, services: Any) -> None:
        self._services = services

    async def register(
        self,
        name: str,
        model: CoxModel,
        *,
        task: str = "survival",
        metrics: dict[str, float] | None = None,
        trained_on: dict[str, Any] | None = None,
        description: str = "",
    ) -> ModelCard:
        """A new version of ``name`` (one more than the last), as a candidate."""
        services = self._services
        # the artifact's key is its own (not the version, which a concurrent register may take)
        key = f"training/model/{name}/{new_id()}/model.json"
        await services.storage.put(BUCKET, key, dump_model(model), content_type="application/json")
        for _ in range(20):  # a concurrent register of the same name takes the version: try the next
            version = await self._last_version(name) + 1
            card = ModelCard(
                name=name,
                version=version,
                task=task,
                format=model.format,
                stage="candidate",
                artifact=key,
                created_at=services.clock.now(),
                metrics=dict(metrics or {}),
                trained_on=dict(trained_on or {}),
                description=description,
            )
            try:
                await services.documents.insert(COLLECTION, {"id": card.id, **msgspec.to_builtins(card)})
            except Conflict:
                continue
            await self._publish(ModelRegistered(name=name, version=version))
            return card
        raise Conflict(f"could not take a new version of {name!r}; try again")

    async def promote(self, name: str, version: int) -> ModelCard:
        """Make ``version`` the production model of ``name``; the one before is archived."""
        card = await self.card(name, version)
        now = self._services.clock.now()
        for current in await self.cards(name, stage="production"):
            if current.version != version:
                await self._save(msgspec.structs.replace(current, stage="archived"))
        promoted = msgspec.structs.replace(card, stage="production", promoted_at=now)
        await self._save(promoted)
        await self._publish(ModelPromoted(name=name, version=version))
        return promoted

    async def card(self, name: str, version: int) -> ModelCard:
        doc = await self._services.documents.get(COLLECTION, card_id(name, version))
        if doc is None:
            raise ModelNotFound(f"no model {name!r} version {version}")
        return _card(doc)

    async def cards(self, name: str | None = None, *, stage: Stage | None = None) -> list[ModelCard]:
        filters = {k: v for k, v in (("name", name), ("stage", stage)) if v is not None}
        docs = await self._services.documents.find(COLLECTION, filters, sort=[("id", 1)], limit=1000)
        return [_card(d) for d in docs]

    async def production(self, name: str) -> tuple[ModelCard, CoxModel] | None:
        """The production card of ``name`` and its model, or None while there is none."""
        found = await self.cards(name, stage="production")
        if not found:
            return None
        card = max(found, key=lambda c: c.promoted_at or c.created_at)
        return card, load_model(await self._services.storage.get(BUCKET, card.artifact))

    async def _last_version(self, name: str) -> int:
        docs = await self._services.documents.find(COLLECTION, {"name": name}, sort=[("id", -1)], limit=1)
        return int(docs[0]["version"]) if docs else 0

    async def _save(self, card: ModelCard) -> None:
        await self._services.documents.replace(COLLECTION, card.id, msgspec.to_builtins(card))

    async def _publish(self, event: Any) -> None:
        async with self._services.uow() as uow:  # the outbox carries it to other processes
            uow.publish(event)


def _card(doc: dict[str, Any]) -> ModelCard:
    return msgspec.convert({k: v for k, v in doc.items() if k != "id"}, ModelCard, strict=False)
