"""1-, 3- and 5-year survival from the model registry's production version for overall
survival (the version promoted for that purpose, whatever the model's name).

The model is read once and kept; a promotion (``training.model.promoted.v1``) marks it stale, and
so does time (``refresh_s``), so a process that missed the event (another process promoted it)
still reloads within that interval. Until a model is in production the answer says so, and gives
no number.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from inescape.kernel.events import Event
from inescape.modules.cds.api import Horizon, RiskAnswer
from inescape.modules.training.api import (
    FORMAT,
    OVERALL_SURVIVAL,
    CoxModel,
    ModelCard,
    RegistryApi,
    SurvivalModels,
)
from inescape.modules.training.events import ModelPromoted

HORIZONS_MONTHS = (12.0, 36.0, 60.0)
NO_MODEL = (
    "No survival model is in production for {purpose}, so no risk estimate is given. Train a "
    "survival model and promote it in the model registry (training module); answers use it "
    "from then on."
)
DECEASED = (
    "No risk estimate: the record says this patient died{when}. Survival from now is asked of "
    "living patients only."
)
INTERVAL_NOTE = (
    "95% interval from the model's coefficient covariance (delta method on the linear predictor); "
    "the baseline hazard is taken as known."
)


class RiskService:
    def __init__(
        self,
        *,
        registry: RegistryApi,
        models: SurvivalModels,
        purpose: str = OVERALL_SURVIVAL,
        refresh_s: float = 30.0,
    ) -> None:
        self._registry = registry
        self._models = models
        self.purpose = purpose
        self._refresh_s = refresh_s
        self._loaded: tuple[ModelCard, CoxModel | None] | None = None
        self._checked_at = -float("inf")
        self._lock = asyncio.Lock()

    def mark_stale(self) -> None:
        self._checked_at = -float("inf")

    async def on_promoted(self, event: Event) -> None:
        """``training.model.promoted.v1``: reload at the next answer (the promoted version may
        serve this purpose under any name)."""
        if isinstance(event, ModelPromoted):
            self.mark_stale()

    async def current(self) -> tuple[ModelCard, CoxModel | None] | None:
        if time.monotonic() - self._checked_at < self._refresh_s:
            return self._loaded
        async with self._lock:
            if time.monotonic() - self._checked_at >= self._refresh_s:
                self._loaded = await self._load()
                self._checked_at = time.monotonic()
        return self._loaded

    async def _load(self) -> tuple[ModelCard, CoxModel | None] | None:
        """The production card and its model when it is an ``inescape.cox.v1`` (None for a
        network, which needs torch), or None while there is no production version."""
        card = await self._registry.serving(self.purpose)
        if card is None:
            return None
        if card.format != FORMAT:
            return card, None
        return card, await self._registry.portable(card.name, card.version)

    def deceased(self, death_date: object | None) -> RiskAnswer:
        """The answer for a patient recorded as dead: no number, and why."""
        when = f" on {death_date}" if death_date is not None else ""
        return RiskAnswer(available=False, message=DECEASED.format(when=when), purpose=self.purpose)

    async def assess(self, *, facts: Mapping[str, Any]) -> RiskAnswer:
        loaded = await self.current()
        if loaded is None:
            return RiskAnswer(available=False, message=NO_MODEL.format(purpose=self.purpose))
        card, model = loaded
        if model is None:
            return RiskAnswer(
                available=False,
                message=(
                    f"The production version of {card.name} (v{card.version}) is a {card.kind} model in "
                    f"{card.format}, which decision support cannot evaluate; promote a linear Cox model "
                    f"(inescape.cox.v1) for {self.purpose}."
                ),
                model=card.name,
                version=card.version,
                purpose=card.purpose,
                metrics=card.metrics,
                trained_on=card.trained_on,
            )
        absent = self._models.missing_facts(model, facts)
        if absent:
            return RiskAnswer(
                available=False,
                message=f"The production model needs {', '.join(absent)} to give an estimate.",
                missing=absent,
                metrics=card.metrics,
                model=card.name,
                version=card.version,
                purpose=card.purpose,
                trained_on=card.trained_on,
            )
        points = self._models.predict(model, facts, months=HORIZONS_MONTHS)
        horizons = [
            Horizon(years=int(p.months // 12), survival=p.survival, lower=p.lower, upper=p.upper)
            for p in points
        ]
        return RiskAnswer(
            available=True,
            message=f"Estimated by {card.name} version {card.version}, in production for {card.purpose}.",
            horizons=horizons,
            metrics=card.metrics,
            interval=INTERVAL_NOTE,
            model=card.name,
            version=card.version,
            purpose=card.purpose,
            trained_on=card.trained_on,
        )
