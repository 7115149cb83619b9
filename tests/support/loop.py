from __future__ import annotations

import asyncio
import inspect
from typing import Any


class OnLoop:
    """Calls ``obj``'s coroutine methods on ``loop`` (the app's, which the test client runs in
    another thread), so async clients bound to that loop (Redis, psycopg) stay valid."""

    def __init__(self, obj: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._obj = obj
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._obj, name)
        if inspect.iscoroutinefunction(value):

            async def call(*args: Any, **kwargs: Any) -> Any:
                future = asyncio.run_coroutine_threadsafe(value(*args, **kwargs), self._loop)
                return await asyncio.wrap_future(future)

            return call
        if callable(value) or isinstance(value, str | int | float | bool | type(None) | bytes):
            return value
        return OnLoop(value, self._loop)
