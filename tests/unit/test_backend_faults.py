"""Which client errors mean "backend down": each maps to 503 with Retry-After, others to 500."""

from __future__ import annotations

import pymongo.errors
import pytest
import redis.exceptions
import sqlalchemy.exc
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from litestar import Litestar, get
from litestar.testing import TestClient

from inescape.infra.faults import unavailable_from
from inescape.infra.http import EXCEPTION_HANDLERS

DOWN = {
    "postgres refused": sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError()),
    "postgres gone": sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("connection closed")),
    "invalidated": sqlalchemy.exc.DBAPIError("SELECT 1", {}, Exception("x"), connection_invalidated=True),
    "pool exhausted": sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
    "redis refused": redis.exceptions.ConnectionError("Connection refused"),
    "redis silent": redis.exceptions.TimeoutError("Timeout reading from socket"),
    "mongo selection": pymongo.errors.ServerSelectionTimeoutError("no servers"),
    "mongo reconnect": pymongo.errors.AutoReconnect("connection reset"),
    "mongo timeout": pymongo.errors.NetworkTimeout("timed out"),
    "s3 endpoint": EndpointConnectionError(endpoint_url="http://s3"),
    "s3 connect": ConnectTimeoutError(endpoint_url="http://s3"),
    "s3 read": ReadTimeoutError(endpoint_url="http://s3"),
    "socket": ConnectionResetError(),
}


@pytest.mark.parametrize("name", list(DOWN))
def test_a_backend_client_error_is_an_unavailable_backend(name):
    down = unavailable_from(DOWN[name])
    assert down is not None
    assert down.retry_after


def test_a_wrapped_backend_error_is_found_through_its_cause():
    try:
        try:
            raise redis.exceptions.ConnectionError("refused")
        except redis.exceptions.ConnectionError as exc:
            raise RuntimeError("while reading the session") from exc
    except RuntimeError as wrapped:
        down = unavailable_from(wrapped)
    assert down is not None
    assert down.backend == "redis"


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        KeyError("x"),
        sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate")),
        sqlalchemy.exc.DBAPIError("SELECT 1", {}, Exception("x"), connection_invalidated=False),
        redis.exceptions.ResponseError("WRONGTYPE"),
        pymongo.errors.DuplicateKeyError("dup"),
    ],
)
def test_other_errors_are_not_a_backend_outage(error):
    assert unavailable_from(error) is None


@get("/down", sync_to_thread=False)
def down() -> None:
    raise sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))


@get("/bug", sync_to_thread=False)
def bug() -> None:
    raise ValueError("a bug")


def test_the_edge_answers_503_with_retry_after_for_an_outage_and_500_for_a_bug():
    app = Litestar([down, bug], exception_handlers=EXCEPTION_HANDLERS, logging_config=None)
    with TestClient(app) as client:
        outage = client.get("/down")
        failure = client.get("/bug")
    assert outage.status_code == 503
    assert outage.headers["retry-after"] == "5"
    assert outage.json()["status_code"] == 503
    assert outage.json()["backend"] == "database"
    assert "try again" in outage.json()["detail"]
    assert "refused" not in outage.text  # no driver message, no stack trace
    assert failure.status_code == 500
