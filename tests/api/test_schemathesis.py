"""Schemathesis over the whole OpenAPI, in process, as an administrator and as a clinician:
whatever the generated requests hold (valid or not), no answer is a server error (5xx),
every error is in the ``{"detail", "status_code"}`` shape (an OperationOutcome under /fhir),
and every answer is one the document promises: its status code, its content type and its
body's schema (Schemathesis' conformance checks).

The examples per operation are bounded (``INESCAPE_TEST_SCHEMATHESIS_EXAMPLES``, 5 by default)
so the run fits in CI time; raise the number to search longer."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from inescape import migrate
from inescape.app import create_app
from inescape.modules_loader import load_specs
from tests.support.auth import PASSWORD, gateway_of

EXAMPLES = int(os.environ.get("INESCAPE_TEST_SCHEMATHESIS_EXAMPLES", "5"))
ROLES = {"st.admin": ["admin"], "st.clinician": ["clinician"]}
# what a run may not change under it: its own accounts (a generated call could otherwise
# deactivate or demote the caller, and the rest of the run would be a run of 401s)
KEEP_USERS = tuple(ROLES)
LOGOUT = ("POST", "/api/v1/auth/logout")
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
HOSTILE_BODIES = (
    b"[" * 1000 + b"]" * 1000,  # nested deeper than any parser's stack
    b'{"a":' * 1000 + b"1" + b"}" * 1000,
    b'{"name": "\xff\xfe", "password": "\xc3\x28"}',  # not UTF-8
    b'{"name": "a\\u0000b"}',  # a NUL, which PostgreSQL text refuses
)


@pytest.fixture
def api(settings) -> Iterator[tuple[Any, Any, dict[str, dict[str, str]]]]:
    """The app with its lifespan (on Schemathesis's own loop thread), its schema and a bearer
    header per role."""
    if settings.database.url:
        migrate.upgrade(settings.database_url)
    settings = msgspec.structs.replace(settings, rate_limits="")  # thousands of calls a minute
    app = create_app(settings, load_specs(settings.modules), worker=False)
    try:
        schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)  # starts the lifespan
        headers = {user: _bearer(app, user, roles) for user, roles in ROLES.items()}
        yield app, schema, headers
    finally:
        shutdown_lifespans()


def _bearer(app: Any, username: str, roles: list[str]) -> dict[str, str]:
    gateway = gateway_of(app)

    async def create() -> None:
        await gateway.accounts.create(
            username=username, display_name=username.title(), roles=roles, password=PASSWORD
        )

    asyncio.run_coroutine_threadsafe(create(), app.state.runtime.loop).result(timeout=30)
    with asgi.get_client(app) as client:
        response = client.post(
            "http://localhost/api/v1/auth/token", json={"username": username, "password": PASSWORD}
        )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _problem(case: Any, response: Any) -> str | None:
    label = f"{case.method} {case.formatted_path}"
    if response.status_code >= 500:
        return f"{label}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            return f"{label}: {response.status_code} without a JSON body: {response.text[:200]}"
        fhir = isinstance(body, dict) and body.get("resourceType") == "OperationOutcome"
        if not fhir and not (isinstance(body, dict) and {"detail", "status_code"} <= body.keys()):
            return f"{label}: {response.status_code} not in the error shape: {response.text[:200]}"
    return None


def _nonconforming(case: Any, response: Any) -> str | None:
    """What the conformance checks find in an answer (an undocumented status, a content
    type or a body the document does not describe)."""
    try:
        case.validate_response(response, checks=CONFORMANCE)
    except FailureGroup as failed:  # each failed check, with its message
        label = f"{case.operation.method.upper()} {case.operation.path}"
        return f"{label}: {response.status_code}: " + " | ".join(
            f"{f.title}: {str(f.message)[:200]}" for f in failed.exceptions
        )
    return None


def _touches_own_account(case: Any) -> bool:
    """A call on one of the run's own users (by name in the body or path)."""
    text = f"{case.formatted_path} {case.body!r}"
    return any(user in text for user in KEEP_USERS)


class Run:
    """Every problem found (each once), and how many answers of each status."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.problems: list[str] = []
        self.statuses: Counter[int] = Counter()
        self.hostile_sent: set[tuple[str, str]] = set()

    def check(self, case: Any, response: Any, *, generated: bool = True) -> None:
        """``generated``: the case is the request sent, so the answer must conform to the
        document (a hostile body is not: its answer is only checked for its shape)."""
        self.statuses[response.status_code] += 1
        problem = _problem(case, response)
        if problem is None and generated:
            problem = _nonconforming(case, response)
        if problem is not None and problem not in self.problems:
            self.problems.append(problem)

    def explore(self, operation: Any, mode: GenerationMode, auth: dict[str, str]) -> None:
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: every finding is kept
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            if _touches_own_account(case):
                return
            self.check(case, case.call(headers=auth))
            self.hostile(case, auth)

        try:
            run()
        except Unsatisfiable:  # negative mode, for an operation with nothing to get wrong
            assert mode is GenerationMode.NEGATIVE

    def hostile(self, case: Any, auth: dict[str, str]) -> None:
        """Once per operation that takes a JSON body and role: bodies no generator makes."""
        key = (f"{case.method} {case.operation.path}", auth["Authorization"])
        if key in self.hostile_sent or not _takes_json(case.operation):
            return
        self.hostile_sent.add(key)
        url = f"http://localhost{case.formatted_path}"
        with asgi.get_client(self.app) as client:
            for body in HOSTILE_BODIES:
                headers = {**auth, "Content-Type": "application/json"}
                response = client.request(case.method, url, data=body, headers=headers)
                self.check(case, response, generated=False)


def _takes_json(operation: Any) -> bool:
    body = operation.definition.raw.get("requestBody") or {}
    return any("json" in media_type for media_type in body.get("content", {}))


@pytest.mark.slow
def test_generated_requests_get_no_server_error_and_only_documented_answers(api):
    app, schema, headers = api
    run = Run(app)
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        if (operation.method.upper(), operation.path) == LOGOUT:
            continue  # it would end the run's sessions; it is called last, below
        for auth in headers.values():
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                run.explore(operation, mode, auth)
    for auth in headers.values():
        logout = schema[LOGOUT[1]][LOGOUT[0]].Case(headers=auth)
        run.check(logout, logout.call())

    assert run.problems == [], "\n".join(run.problems)
    assert operations > 50
    assert len(run.hostile_sent) > 20
    assert run.statuses[200] > 30  # the tokens held: the run reached the handlers
