"""Which exceptions of the backend clients mean "the backend is unreachable or overloaded":
the HTTP edge answers them with 503 and ``Retry-After``, never with a 500.

Stores translate the failures they expect into ``Unavailable`` themselves; this is the net
under every other call (a query in a guard, a lookup in a dependency, a driver error raised
where nobody expected one), so no backend outage reaches a client as a server error.
"""

from __future__ import annotations

import dramatiq.errors
import psycopg
import pymongo.errors
import redis.exceptions
import sqlalchemy.exc
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

from inescape.kernel.errors import Unavailable

RETRY_AFTER_S = 5

# (exception types, backend name, what the client is told)
_BACKENDS: tuple[tuple[tuple[type[BaseException], ...], str, str], ...] = (
    (
        (
            sqlalchemy.exc.OperationalError,
            sqlalchemy.exc.InterfaceError,
            sqlalchemy.exc.TimeoutError,  # no pooled connection came free in time
            sqlalchemy.exc.DisconnectionError,
            psycopg.OperationalError,
            psycopg.InterfaceError,
        ),
        "database",
        "The database is unreachable or busy; try again shortly.",
    ),
    (
        (
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
            dramatiq.errors.BrokerConnectionError,
        ),
        "redis",
        "Redis (cache, sessions, task queue) is unreachable; try again shortly.",
    ),
    (
        (
            pymongo.errors.ConnectionFailure,  # AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError
            pymongo.errors.ExecutionTimeout,
            pymongo.errors.WTimeoutError,
        ),
        "documents",
        "The document store is unreachable; try again shortly.",
    ),
    (
        (BotoConnectionError, HTTPClientError),  # EndpointConnectionError, ConnectTimeout, ReadTimeout
        "s3",
        "Object storage (S3) is unreachable; try again shortly.",
    ),
    (
        (ConnectionError, TimeoutError),  # a socket refused or silent, below any client library
        "backend",
        "A backend is unreachable; try again shortly.",
    ),
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 16:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def unavailable_from(exc: BaseException) -> Unavailable | None:
    """The ``Unavailable`` that ``exc`` (or an exception it was raised from) amounts to, or
    ``None`` when it is not a backend failure. A SQLAlchemy ``DBAPIError`` that invalidated its
    connection counts too, whatever its class."""
    for link in _chain(exc):
        if isinstance(link, Unavailable):
            return link
        if isinstance(link, sqlalchemy.exc.DBAPIError) and link.connection_invalidated:
            return Unavailable(_BACKENDS[0][2], backend="database", retry_after=RETRY_AFTER_S)
        for types, backend, detail in _BACKENDS:
            if isinstance(link, types):
                return Unavailable(detail, backend=backend, retry_after=RETRY_AFTER_S)
    return None
