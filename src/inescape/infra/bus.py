"""The in-process event bus: delivers committed events to subscribers, retrying each alone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from inescape.kernel.bus import RetryPolicy, Subscription
from inescape.kernel.events import Event, event_name

log = logging.getLogger("inescape.bus")

Observer = Callable[[str, str], None]  # (event name, outcome)


# Handler calls of one subscription running at once: a bulk load of thousands of records
# publishes thousands of events, and unbounded they would take every connection of the pools
# the handlers use (Redis's, the database's) from the requests being served meanwhile.
PER_SUBSCRIPTION = 16


class InProcessBus:
    """Each (event, subscriber) pair is delivered in its own task: a slow or failing
    subscriber never delays or breaks the others. Failures are retried by ``policy``;
    the last failure is logged and counted, never raised to the publisher. At most
    ``PER_SUBSCRIPTION`` calls of one subscriber's handler run at once (the rest wait their
    turn; a retry waits out its delay without holding a turn)."""

    def __init__(self, policy: RetryPolicy | None = None, observe: Observer | None = None) -> None:
        self.policy = policy or RetryPolicy()
        self._subscriptions: list[Subscription] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._observe = observe or (lambda _name, _outcome: None)
        self._turns: dict[int, asyncio.Semaphore] = {}

    def subscribe(self, subscription: Subscription) -> None:
        self._subscriptions.append(subscription)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subscriptions)

    async def deliver(self, events: Sequence[Event]) -> None:
        for event in events:
            self._observe(event_name(event), "published")
            for sub in self._subscriptions:
                if isinstance(event, sub.event_type):
                    task = asyncio.create_task(self._deliver_one(sub, event))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)

    async def _deliver_one(self, sub: Subscription, event: Event) -> None:
        name = event_name(event)
        turns = self._turns.setdefault(id(sub), asyncio.Semaphore(PER_SUBSCRIPTION))
        for attempt in range(1, self.policy.attempts + 1):
            try:
                async with turns:
                    await sub.handler(event)
            except Exception:  # a subscriber's bug must not reach the publisher
                final = attempt == self.policy.attempts
                log.warning(
                    "event subscriber failed",
                    exc_info=final,
                    extra={
                        "event": name,
                        "event_id": event.id,
                        "subscriber": sub.name,
                        "attempt": attempt,
                        "gave_up": final,
                    },
                )
                if final:
                    self._observe(name, "failed")
                    return
                self._observe(name, "retried")
                await asyncio.sleep(self.policy.delay(attempt))
            else:
                self._observe(name, "delivered")
                return

    async def drain(self) -> None:
        while self._inflight:
            await asyncio.gather(*tuple(self._inflight), return_exceptions=True)


class SplitBus(InProcessBus):
    """The bus when modules run in separate processes: an event that leaves the process
    reaches every subscriber (this process's too) through the outbox and Redis Streams, so
    it is handled once per subscription across processes; ``wake`` asks the outbox relay
    to send it now. The other events are delivered in process as before."""

    def __init__(
        self,
        wake: Callable[[], None],
        policy: RetryPolicy | None = None,
        observe: Observer | None = None,
    ) -> None:
        super().__init__(policy, observe)
        self._wake = wake

    async def deliver(self, events: Sequence[Event]) -> None:
        local = [e for e in events if not type(e).leaves_process]
        await super().deliver(local)
        if len(local) < len(events):
            self._wake()
