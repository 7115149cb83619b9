"""The model registry: versioned model cards in the document store, artifacts in the ``models``
bucket, one production version per model name.

Each version declares its purpose (``overall-survival``...): a reader asks for the production
version that serves a purpose (``serving``), not for a name.

A card is written after its artifact, so a card never points at nothing. Promotion archives the
previous production version and publishes ``training.model.promoted.v1`` (through the outbox),
so every process that caches the production model reloads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from inescape.infra.uow import UnitOfWork
from inescape.kernel.clock import Clock
from inescape.kernel.errors import Conflict
from inescape.kernel.events import Event
from inescape.kernel.ids import new_id
from inescape.kernel.ports import DocumentStore, ObjectStore
from inescape.modules.training.api import (
    FORMAT,
    CoxModel,
    ModelCard,
    ModelNotFound,
    ModelNotPortable,
    Stage,
    card_id,
    purpose_of_kind,
)
from inescape.modules.training.events import ModelPromoted, ModelRegistered
from inescape.modules.training.portable import dump_model, load_model

COLLECTION = "training_models"
BUCKET = "models"
PREFIX = "training/model"


class ModelRegistry:
    """``RegistryApi``, and what training itself does with the registry."""

    def __init__(
        self,
        *,
        documents: DocumentStore,
        storage: ObjectStore,
        clock: Clock,
        uow: Callable[[], UnitOfWork],
    ) -> None:
        self._documents = documents
        self._storage = storage
        self._clock = clock
        self._uow = uow

    async def register(
        self,
        name: str,
        model: CoxModel,
        *,
        task: str = "survival",
        purpose: str | None = None,
        metrics: dict[str, float] | None = None,
        trained_on: dict[str, Any] | None = None,
        description: str = "",
    ) -> ModelCard:
        """A new version of ``name`` (one more than the last), as a candidate."""
        return await self.register_files(
            name,
            {"model.json": dump_model(model)},
            main="model.json",
            format=model.format,
            task=task,
            purpose=purpose or purpose_of_kind("pcr" if task == "classification" else "cox"),
            metrics=dict(metrics or {}),
            trained_on=dict(trained_on or {}),
            description=description,
        )

    async def register_files(
        self,
        name: str,
        files: dict[str, bytes],
        *,
        main: str,
        format: str,
        **card: Any,
    ) -> ModelCard:
        """A new candidate version made of ``files`` (name -> bytes, ``main`` the one a reader
        loads), stored under one prefix of the models bucket before the card is written. With no
        ``purpose``, the version serves what its kind of model answers."""
        if not card.get("purpose"):
            classification = card.get("task") == "classification"
            card["purpose"] = purpose_of_kind("pcr" if classification else str(card.get("kind", "cox")))
        # the files' prefix is their own (not the version, which a concurrent register may take)
        prefix = f"{PREFIX}/{name}/{new_id()}"
        keys = {}
        for file, data in files.items():
            keys[file] = f"{prefix}/{file}"
            await self._storage.put(BUCKET, keys[file], data, content_type=_content_type(file))
        return await self._insert_card(name, artifact=keys[main], format=format, artifacts=keys, **card)

    async def _insert_card(self, name: str, **fields: Any) -> ModelCard:
        for _ in range(20):  # a concurrent register of the same name takes the version: try the next
            version = await self._last_version(name) + 1
            card = ModelCard(
                name=name, version=version, stage="candidate", created_at=self._clock.now(), **fields
            )
            try:
                await self._documents.insert(COLLECTION, {"id": card.id, **msgspec.to_builtins(card)})
            except Conflict:
                continue
            await self._publish(ModelRegistered(name=name, version=version))
            return card
        raise Conflict(f"could not take a new version of {name!r}; try again")

    async def file(self, card: ModelCard, file: str) -> bytes:
        key = card.artifacts.get(file)
        if key is None:
            raise ModelNotFound(f"{card.name} version {card.version} has no file {file!r}")
        data: bytes = await self._storage.get(BUCKET, key)
        return data

    async def promote(self, name: str, version: int, *, promotion: dict[str, Any] | None = None) -> ModelCard:
        """Make ``version`` the production model of ``name``; the one before is archived.
        No gate is checked here (``gates.promote_checked`` does, for the endpoint)."""
        card = await self.card(name, version)
        now = self._clock.now()
        for current in await self.cards(name, stage="production"):
            if current.version != version:
                await self._save(msgspec.structs.replace(current, stage="archived"))
        promoted = msgspec.structs.replace(card, stage="production", promoted_at=now, promotion=promotion)
        await self._save(promoted)
        await self._publish(ModelPromoted(name=name, version=version))
        return promoted

    async def card(self, name: str, version: int) -> ModelCard:
        doc = await self._documents.get(COLLECTION, card_id(name, version))
        if doc is None:
            raise ModelNotFound(f"no model {name!r} version {version}")
        return _card(doc)

    async def cards(self, name: str | None = None, *, stage: Stage | None = None) -> list[ModelCard]:
        filters = {k: v for k, v in (("name", name), ("stage", stage)) if v is not None}
        docs = await self._documents.find(COLLECTION, filters, sort=[("id", 1)], limit=1000)
        return [_card(d) for d in docs]

    async def cards_of_run(self, run_id: str) -> list[ModelCard]:
        """The version a training run registered (none yet, or one)."""
        docs = await self._documents.find(COLLECTION, {"run_id": run_id}, limit=1)
        return [_card(d) for d in docs]

    async def production(self, name: str) -> ModelCard | None:
        """The card of the version of ``name`` in production, or None while there is none."""
        found = await self.cards(name, stage="production")
        if not found:
            return None
        return max(found, key=lambda c: c.promoted_at or c.created_at)

    async def serving(self, purpose: str) -> ModelCard | None:
        """The production version serving ``purpose``, whatever its name (the most recently
        promoted when several names serve it), or None while none does."""
        found = [c for c in await self.cards(stage="production") if c.purpose == purpose]
        if not found:
            return None
        return max(found, key=lambda c: c.promoted_at or c.created_at)

    async def portable(self, name: str, version: int) -> CoxModel:
        """The ``inescape.cox.v1`` model of a version (a network needs torch: ``ModelNotPortable``)."""
        card = await self.card(name, version)
        if card.format != FORMAT:
            raise ModelNotPortable(
                f"{name} version {version} is a {card.kind} model in {card.format}, not {FORMAT}"
            )
        return load_model(await self._storage.get(BUCKET, card.artifact))

    async def _last_version(self, name: str) -> int:
        docs = await self._documents.find(COLLECTION, {"name": name}, sort=[("id", -1)], limit=1)
        return int(docs[0]["version"]) if docs else 0

    async def _save(self, card: ModelCard) -> None:
        await self._documents.replace(COLLECTION, card.id, msgspec.to_builtins(card))

    async def _publish(self, event: Event) -> None:
        async with self._uow() as uow:  # the outbox carries it to other processes
            uow.publish(event)


def _content_type(file: str) -> str:
    if file.endswith(".json"):
        return "application/json"
    if file.endswith(".md"):
        return "text/markdown; charset=utf-8"
    if file.endswith(".svg"):
        return "image/svg+xml"
    return "application/octet-stream"


def _card(doc: dict[str, Any]) -> ModelCard:
    card = msgspec.convert({k: v for k, v in doc.items() if k != "id"}, ModelCard, strict=False)
    if not card.purpose:  # stored before versions declared one: what its kind of model serves
        card = msgspec.structs.replace(
            card, purpose=purpose_of_kind("pcr" if card.task == "classification" else card.kind)
        )
    return card
