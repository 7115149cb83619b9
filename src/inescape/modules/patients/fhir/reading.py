"""Small readers of FHIR JSON shared by the import: codings, extensions, dates, and the error
that names the element a resource cannot be mapped from."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from inescape.modules.patients.fhir.codes import Json

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T.*)?")


class Unmappable(Exception):
    """``element`` of the resource being read (e.g. ``code``, ``onsetDateTime``) cannot be mapped."""

    def __init__(self, element: str, message: str) -> None:
        super().__init__(f"{element}: {message}")
        self.element = element
        self.message = message


def label(resource: Json) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id', '?')}"


def codings(concept: Any) -> list[tuple[str, str]]:
    if not isinstance(concept, dict):
        return []
    found = concept.get("coding")
    if not isinstance(found, list):
        return []
    return [(str(x.get("system", "")), str(x.get("code", ""))) for x in found if isinstance(x, dict)]


def code_in(concept: Any, system: str) -> str | None:
    return next((code for s, code in codings(concept) if s == system), None)


def display_of(concept: Any) -> str | None:
    """The text of a concept, or the display of its first coding that has one."""
    if not isinstance(concept, dict):
        return None
    if concept.get("text"):
        return str(concept["text"])
    return next((str(x["display"]) for x in concept.get("coding") or [] if x.get("display")), None)


def describe(concept: Any) -> str:
    found = codings(concept)
    return ", ".join(f"{s or '(no system)'}|{code}" for s, code in found) if found else "no coding"


def extensions(resource: Any, url: str) -> list[Json]:
    if not isinstance(resource, dict):
        return []
    return [e for e in resource.get("extension") or [] if isinstance(e, dict) and e.get("url") == url]


def ext_value(resource: Any, url: str, key: str) -> Any:
    found = extensions(resource, url)
    return found[0].get(key) if found else None


def profiles(resource: Json) -> list[str]:
    meta = resource.get("meta")
    found = meta.get("profile") if isinstance(meta, dict) else None
    return [p for p in found if isinstance(p, str)] if isinstance(found, list) else []


def read_date(value: Any, element: str) -> date:
    """A full date (``YYYY-MM-DD``, or the date part of a dateTime): the record has no partial dates."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise Unmappable(element, f"{value!r} is not a full date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise Unmappable(element, f"{value!r} is not a valid date") from exc


def optional_date(value: Any, element: str) -> date | None:
    return None if value is None else read_date(value, element)


def required(resource: Json, element: str) -> Any:
    value = resource.get(element)
    if value is None:
        raise Unmappable(element, "is required and missing")
    return value
