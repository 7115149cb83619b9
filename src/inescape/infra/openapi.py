"""The OpenAPI document as a contract, made in one place for every module's routes.

- operation ids are ``<tag>.<handlerName>`` (``patients.readPatient``, ``users.listUsers``):
  stable as long as a route's tag and function name are;
- a bearer ``securitySchemes`` entry, and ``security`` on every operation that needs a token
  (none on a ``public`` one);
- the errors an operation can answer, each in the real ``{"detail", "status_code"}`` shape
  (an OperationOutcome under ``/fhir``): 401 and 403 where a token is checked, 404 where the
  path names something, 422 for invalid input (every operation refuses an unknown query
  parameter), 429 and 503 everywhere; a route declares its own others (409, 412) with
  ``responses=errors(409)``;
- every JSON answer has a schema naming its fields (a handler that encodes its own JSON
  declares the Struct it holds); a file, picture or stream is documented in its own media
  types (``opt=media({...})``);
- the documentation pages are served from the platform itself (Swagger UI's files are
  vendored), so they work without the internet.

The unknown query parameter check (``unknown_query_guard``) is here too: a query parameter
an operation does not declare is a 422 naming it, rather than silently ignored."""

from __future__ import annotations

import copy
import json
import re
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import HttpMethod, MediaType, OpenAPIMediaType
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.routes import HTTPRoute

from inescape.kernel.errors import Invalid

BEARER = "bearer"
ERROR = "Error"
OUTCOME = "OperationOutcome"
ASSETS = "/schema/assets"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# an opt key: the query parameters a handler reads itself (a tuple of names), or "any"
QUERY = "query"
# an opt key: what a handler answers besides (or instead of) JSON, {media type: what it is};
# documented as its 2xx body in each of those media types
MEDIA = "media"

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The request cannot be read: a body that is not JSON, nested too deep, or a path "
    "with a '.' or '..' segment.",
    401: "No valid access token: log in (POST /api/v1/auth/token) and send 'Authorization: Bearer <token>'.",
    403: "The token's roles do not allow this operation.",
    404: "Nothing with this id (or no such route).",
    409: "The request conflicts with the current state (a duplicate, or a state that does not allow it).",
    412: "A precondition of the request does not hold.",
    413: "The request body is larger than this operation accepts.",
    422: "The request is invalid: a field, parameter or body that fails validation, or a "
    "query parameter this operation does not take; the detail names each.",
    429: "Too many requests; Retry-After says when to try again.",
    503: "A backend this operation needs is unavailable; Retry-After says when to try again.",
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error the platform answers (outside /fhir).",
    "required": ["detail", "status_code"],
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, in words a user can act on."},
        "status_code": {"type": "integer", "description": "The HTTP status, repeated in the body."},
        "request_id": {
            "type": "string",
            "description": "The request's id (its X-Request-ID header), as the server log has it.",
        },
        "errors": {
            "type": "array",
            "description": "For invalid input: each field or parameter that is wrong, and why.",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "description": "The field or parameter."},
                    "message": {"type": "string", "description": "What is wrong with it."},
                    "source": {"type": "string", "description": "Where it was: body, query, path."},
                },
                "additionalProperties": True,
            },
        },
        "backend": {"type": "string", "description": "For a 503: the backend that is unavailable."},
    },
    "additionalProperties": True,
}

OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A FHIR OperationOutcome: how /fhir answers an error.",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {
            "type": "string",
            "enum": ["OperationOutcome"],
            "description": "Always OperationOutcome.",
        },
        "id": {"type": "string", "description": "The request's id."},
        "issue": {
            "type": "array",
            "description": "What went wrong.",
            "items": {
                "type": "object",
                "properties": {
                    "severity": {"type": "string", "description": "fatal or error."},
                    "code": {"type": "string", "description": "The FHIR issue type."},
                    "diagnostics": {"type": "string", "description": "What went wrong, in words."},
                },
            },
        },
    },
}

SECURITY_SCHEME: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "An access token from POST /api/v1/auth/token (or a CDS client's token), "
    "sent as 'Authorization: Bearer <token>'.",
}

_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}


# What a parameter means wherever it appears: the API uses each name in one sense (ids,
# paging, the patient list's filters), so it is described once here; a route that describes
# a parameter itself keeps its own. An entry keyed ``(path prefix, name)`` is for a name
# that means something else under that path.
PARAMETERS: dict[str | tuple[str, str], str] = {
    "limit": "At most this many items on the page.",
    "cursor": "The next_cursor of the previous page, to read the next one; leave it out for the first page.",
    "job_id": "The job's id, as its submission answered it.",
    "status": "Only jobs in this state.",
    "kind": "Only jobs of this kind.",
    "patient_id": "The patient's id.",
    "dataset_id": "The dataset's id (its generation job's result names it).",
    "run_id": "The training run's id.",
    "user_id": "The account's id.",
    "schedule_id": "The schedule's id.",
    "service_id": "The CDS Hooks service's id, as discovery (GET /cds-services) lists it.",
    "version": "The model version's number.",
    "name": "The model's name.",
    "sex": "Only patients of this sex.",
    "histology": "Only patients with this histology.",
    "location": "Only patients with the tumour at this location.",
    "stage_group": "Only patients in this AJCC stage group.",
    "vital_status": "Only patients with this vital status.",
    "origin": "Only records of this origin (real or synthetic).",
    "source": "Only records from this source (the collection or generation that made them).",
    "min_age": "Only patients at least this old (years, at diagnosis).",
    "max_age": "Only patients at most this old (years, at diagnosis).",
    "diagnosed_from": "Only patients diagnosed on or after this date.",
    "diagnosed_to": "Only patients diagnosed on or before this date.",
    "sort": "The order: id ascending (id) or descending (-id).",
    "format": "json for the numbers, svg for the picture.",
    "by": "The columns to count by, comma-separated.",
    "group": "The column whose groups get a curve each; none for one curve.",
    "confidence": "The confidence level of the intervals (between 0.5 and 1).",
    "user": "Only events of this user.",
    "action": "Only events of this action.",
    "outcome": "Only events with this outcome.",
    "resource_type": "Only events on this type of resource.",
    "filename": "The uploaded file's name, when the body is the file itself.",
    "group_id": "The cohort's Group id: 'all', or the list's filters as name-value parts.",
    "resource_id": "The resource's id.",
    ("/api/v1/audit/", "patient_id"): "Only events about this patient.",
    ("/fhir/", "kind"): "The FHIR resource type (as the CapabilityStatement lists).",
    ("/fhir/", "name"): "The file's name, as the export's manifest lists it.",
    (
        "/api/v1/patients/{patient_id}/",
        "kind",
    ): "What to add to the record (a sub-resource: conditions, treatments...).",
    ("/api/v1/generation/profiles/", "name"): "The profile's name.",
    ("/api/v1/datasets/", "name"): "The file's name, as the dataset lists it.",
}


def _describe(path: str, operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("description"):
            continue
        name = parameter["name"]
        specific = [
            d
            for key, d in PARAMETERS.items()
            if isinstance(key, tuple) and key[1] == name and path.startswith(key[0])
        ]
        found = specific[0] if specific else PARAMETERS.get(name)
        if found is not None:
            parameter["description"] = found


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """A route's own error answers, for its decorator: ``responses=errors(409)``; each is
    documented in the error shape with its usual description."""
    return {s: ResponseSpec(data_container=None, description=ERROR_DESCRIPTIONS[s]) for s in statuses}


def _camel(text: str) -> str:
    head, *rest = [p for p in re.split(r"[^A-Za-z0-9]+", text) if p]
    return head[:1].lower() + head[1:] + "".join(p[:1].upper() + p[1:] for p in rest)


def operation_id(handler: HTTPRouteHandler, method: HttpMethod | str, _components: Any = None) -> str:
    """``<tag>.<handlerName>``; a handler answering several methods adds the method."""
    tags = handler.resolve_tags()
    prefix = _camel(tags[0]) if tags else "platform"
    name = f"{prefix}.{_camel(handler.handler_name)}"
    methods = handler.http_methods - {"OPTIONS", "HEAD"}
    if len(methods) > 1 or (str(method) == "HEAD" and len(handler.http_methods) > 1):
        name += str(method).title()
    return name


def _public(handler: BaseRouteHandler) -> bool:
    return handler.opt.get("permission") == "public"


def _handlers(routes: Iterable[Any]) -> dict[tuple[str, str], HTTPRouteHandler]:
    found: dict[tuple[str, str], HTTPRouteHandler] = {}
    for route in routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in handler.http_methods:
                    found[(route.path_format or "/", method.lower())] = handler
    return found


def contract(document: Mapping[str, Any], routes: Iterable[Any]) -> dict[str, Any]:
    """The generated document with the security, operation errors and schemas above."""
    doc: dict[str, Any] = copy.deepcopy(dict(document))
    components = doc.setdefault("components", {})
    components.setdefault("securitySchemes", {})[BEARER] = SECURITY_SCHEME
    schemas = components.setdefault("schemas", {})
    schemas[ERROR] = ERROR_SCHEMA
    schemas[OUTCOME] = OUTCOME_SCHEMA
    handlers = _handlers(routes)
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            handler = handlers.get((path, method))
            if operation is None or handler is None:
                continue
            _secure(operation, handler)
            _describe(path, operation)
            _json_bytes(operation)
            _media(operation, handler)
            _errors(path, operation, handler)
    return doc


def _secure(operation: dict[str, Any], handler: HTTPRouteHandler) -> None:
    if _public(handler):
        operation.pop("security", None)
    else:
        operation["security"] = [{BEARER: []}]


def _json_bytes(operation: dict[str, Any]) -> None:
    """A handler that answers JSON it encoded itself (``Response[bytes]``, a cached answer)
    is generated as a string; until it declares its answer's Struct
    (``responses={200: ResponseSpec(Struct, generate_examples=False)}``) its body is only
    said to be JSON, which the contract test refuses."""
    for status, answer in operation.get("responses", {}).items():
        media = (answer.get("content") or {}).get("application/json")
        if status.startswith("2") and media is not None and media.get("schema") == {"type": "string"}:
            media["schema"] = {"description": "A JSON document, as the operation describes."}


def media(types: Mapping[str, str], *, json: bool = False) -> dict[str, Any]:
    """A route's ``opt`` entry for an answer that is not JSON (a file, a picture, a stream):
    each media type it may have, and what it is. ``json``: the JSON answer stays documented
    beside them (an answer that is JSON or a picture, as a parameter chooses)."""
    return {MEDIA: (dict(types), json)}


def _media(operation: dict[str, Any], handler: HTTPRouteHandler) -> None:
    declared = handler.opt.get(MEDIA)
    if not declared:
        return
    types, keep_json = declared
    for status, answer in operation.get("responses", {}).items():
        if not status.startswith("2") or "content" not in answer:
            continue
        kept = {m: v for m, v in answer["content"].items() if keep_json and m == "application/json"}
        answer["content"] = kept | {
            m: {"schema": {"type": "string", "description": what}} for m, what in types.items()
        }


def _errors(path: str, operation: dict[str, Any], handler: HTTPRouteHandler) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    declared = {str(s) for s in (handler.responses or {})}
    if "400" not in declared:
        responses.pop("400", None)  # Litestar's own: validation is a 422 here
    statuses = {422, 429, 503}
    if not handler.opt.get("no_auth"):
        statuses.add(401)  # a token that does not verify is refused on any route
    if not _public(handler):
        statuses.add(403)
    if "{" in path:
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {400, 413}
    statuses |= {int(s) for s in declared if int(s) >= 400}
    fhir = path == "/fhir" or path.startswith("/fhir/")
    media, ref = ("application/fhir+json", OUTCOME) if fhir else ("application/json", ERROR)
    for status in sorted(statuses):
        existing = responses.get(str(status))
        if existing is not None and str(status) in declared and existing.get("content"):
            continue  # the route documents its own body for this status
        answer: dict[str, Any] = {
            "description": (existing or {}).get("description") or ERROR_DESCRIPTIONS[status],
            "content": {media: {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }
        if status in _HEADERS:
            answer["headers"] = _HEADERS[status]
        responses[str(status)] = answer


class _Contract:
    """A rendered page's document: the contract, made once per app."""

    def __init__(self) -> None:
        self._made: tuple[int, dict[str, Any]] | None = None

    def document(self, request: Request[Any, Any, Any], generated: dict[str, Any]) -> dict[str, Any]:
        if self._made is None or self._made[0] != id(generated):
            self._made = (id(generated), contract(generated, request.app.routes))
        return self._made[1]


class ContractJson(OpenAPIRenderPlugin):
    """``/schema/openapi.json``: the contract."""

    def __init__(self) -> None:
        super().__init__(path="/openapi.json", media_type=OpenAPIMediaType.OPENAPI_JSON)
        self._contract = _Contract()
        self._body: tuple[int, bytes] | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._body is None or self._body[0] != id(openapi_schema):
            document = self._contract.document(request, openapi_schema)
            self._body = (id(openapi_schema), json.dumps(document).encode())
        return self._body[1]


class SwaggerPage(OpenAPIRenderPlugin):
    """Swagger UI at ``/schema`` (and ``/schema/swagger``), from files this platform serves
    under ``/schema/assets``: no script, style or font from elsewhere."""

    def __init__(self, paths: tuple[str, ...] = ("/", "/swagger"), title: str = "INEsCape API") -> None:
        super().__init__(path=list(paths), media_type=MediaType.HTML)
        self.title = title

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{self.title}</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-url="/schema/openapi.json"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{ASSETS}/swagger-init.js"></script>
</body>
</html>
""".encode()


def _declared_query(handler: HTTPRouteHandler, path_params: Iterable[str]) -> frozenset[str] | None:
    extra = handler.opt.get(QUERY, ())
    if extra == "any":
        return None
    model = handler.create_kwargs_model(path_parameters=dict.fromkeys(path_params))  # type: ignore[arg-type]
    if "query" in model.expected_reserved_kwargs:
        return None  # the handler reads the whole query itself
    return frozenset({p.field_alias for p in model.expected_query_params} | set(extra))


# per handler, what its query may hold (weak: an app's handlers go with the app)
_DECLARED: weakref.WeakKeyDictionary[HTTPRouteHandler, frozenset[str] | None] = weakref.WeakKeyDictionary()
_ANY = frozenset({"*"})


async def unknown_query_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """A query parameter the operation does not take is a 422 naming it (a typo such as
    ``?histolgy=`` would otherwise return everything). Pages outside the API document
    (the dashboard, the docs, a module served by another process) are left alone. A
    coroutine: Litestar runs a plain function guard on its thread pool."""
    if not connection.scope.get("query_string") or not isinstance(handler, HTTPRouteHandler):
        return
    if not handler.include_in_schema or "upstream" in handler.opt:
        return
    allowed = _DECLARED.get(handler)
    if allowed is None:
        declared = _declared_query(handler, connection.scope.get("path_params", {}))
        allowed = _DECLARED[handler] = _ANY if declared is None else declared
    if allowed is _ANY:
        return
    unknown = sorted(k for k in connection.query_params if k not in allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) or "no query parameters"
        raise Invalid(
            f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
            f"(this operation takes {takes})",
            errors=[{"field": k, "message": "unknown query parameter", "source": "query"} for k in unknown],
        )
