"""The CDS Hooks use cases: cards for the patient in an EHR's context (remembered, so feedback
can be traced to the rule that made each card), and the feedback on them."""

from __future__ import annotations

from typing import Any

import msgspec

from inescape.kernel.clock import Clock
from inescape.kernel.errors import NotFound
from inescape.kernel.ids import new_id
from inescape.kernel.ports import DocumentStore
from inescape.modules.cds import hooks
from inescape.modules.cds.cards import cards_for, skipped_card
from inescape.modules.cds.facts import facts_of
from inescape.modules.cds.service import DecisionService
from inescape.modules.cds.settings import CdsSettings
from inescape.modules.patients.api import ClinicalCodecs

CARDS = "cds_cards"
FEEDBACK = "cds_feedback"


def known(service_id: str) -> None:
    if service_id != hooks.SERVICE_ID:
        raise NotFound(f"no CDS service {service_id!r}; GET /cds-services lists them")


class HookService:
    def __init__(
        self,
        *,
        decisions: DecisionService,
        codecs: ClinicalCodecs,
        documents: DocumentStore,
        clock: Clock,
        settings: CdsSettings,
    ) -> None:
        self._decisions = decisions
        self._codecs = codecs
        self._documents = documents
        self._clock = clock
        self._settings = settings

    async def cards(self, *, service_id: str, request: hooks.HookRequest) -> tuple[list[dict[str, Any]], int]:
        """The cards for the patient in context, and how many FHIR resources were skipped."""
        known(service_id)
        hooks.check_request(request)
        settings = self._settings
        bundle = await hooks.gather(request, allowed=settings.fhir_servers, timeout_s=settings.fhir_timeout_s)
        record, skipped = self._codecs.read_bundle(bundle)
        made: list[tuple[dict[str, Any], str | None]] = []
        if record.conditions:
            decision = await self._decisions.decide(
                facts=facts_of(record),
                patient_id=None,
                strict=False,
                outcome=getattr(record, "outcome", None),
            )
            made = cards_for(decision, skipped)
        elif any(s["field"].startswith("Condition/") for s in skipped):
            # an esophageal cancer condition that could not be read: say so, never an empty list
            made = [(card, None) for card in [skipped_card(skipped)] if card is not None]
        # no esophageal cancer on record at all: nothing to say, say nothing
        if made:
            await self._remember(request, made)
        return [card for card, _ in made], len(skipped)

    async def _remember(
        self, request: hooks.HookRequest, made: list[tuple[dict[str, Any], str | None]]
    ) -> None:
        """The cards issued, so feedback can be traced to the rule that made each."""
        now = self._clock.now().isoformat()
        docs = [
            {
                "id": card["uuid"],
                "hook_instance": request.hookInstance,
                "fhir_patient": request.context.patientId,
                "summary": card["summary"],
                "rule_id": rule_id,
                "issued_at": now,
            }
            for card, rule_id in made
        ]
        await self._documents.insert_many(CARDS, docs)

    async def feedback(self, *, service_id: str, feedback: hooks.Feedback, user: str | None) -> None:
        """Each card's outcome, stored against the rule that made the card (when it is known)."""
        known(service_id)
        now = self._clock.now().isoformat()
        docs = []
        for item in feedback.feedback:
            issued = await self._documents.get(CARDS, item.card)
            docs.append(
                {
                    "id": new_id(),
                    "service": service_id,
                    **msgspec.to_builtins(item),
                    "rule_id": issued.get("rule_id") if issued else None,
                    "known_card": issued is not None,
                    "user": user,
                    "received_at": now,
                }
            )
        await self._documents.insert_many(FEEDBACK, docs)


__all__ = ["CARDS", "FEEDBACK", "HookService", "known"]
