"""The event bus protocol and the retry policy its transports share."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from inescape.kernel.events import Event

Handler = Callable[[Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscription:
    """``handler`` receives every committed ``event_type`` (and its subclasses)."""

    event_type: type[Event]
    handler: Handler
    name: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th failure (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security


class EventPublisher(Protocol):
    """What a unit of work offers: publish now, deliver only after commit."""

    def publish(self, event: Event) -> None: ...


class EventBus(Protocol):
    def subscribe(self, subscription: Subscription) -> None: ...

    async def deliver(self, events: Sequence[Event]) -> None:
        """Hand committed events to every subscriber; never raises for a subscriber."""
        ...

    async def drain(self) -> None:
        """Wait until every delivery in flight (retries included) has finished."""
        ...
