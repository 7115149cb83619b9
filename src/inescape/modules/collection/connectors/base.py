"""The connector interface and registry.

A connector declares a config Struct (validated before a job is accepted: a bad config is a
422 naming the field), pages its source from a resumable cursor (a page is the unit of work:
its records and the cursor after it commit together), and maps one source item to a
``PatientCreate`` (``MappingFailed`` naming the field rejects that item only).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import msgspec

from inescape.infra.ratelimit import RateLimiter
from inescape.kernel.errors import Invalid, NotFound
from inescape.modules.collection.connectors.outbound import Outbound
from inescape.modules.generation.api import DatasetsApi
from inescape.modules.patients.api import ClinicalCodecs, PatientCreate

if TYPE_CHECKING:
    from inescape.modules.collection.connectors.upload import UploadRecords


class Item(msgspec.Struct, frozen=True, kw_only=True):
    """One source record before mapping; ``location`` says where it was (``row 12``,
    ``Patient/abc``) for the reject report."""

    location: str
    source_id: str | None
    data: Any
    problem: str | None = None  # unreadable before mapping (a short CSV row, a bad JSON line)


class Page(msgspec.Struct, frozen=True, kw_only=True):
    """A page of items, the raw bytes it was read from (kept and checksummed; empty when the
    raw payload is stored already, as an upload is) and the cursor after it (None: the end)."""

    items: list[Item]
    cursor: dict[str, Any] | None
    raw: bytes = b""
    fraction: float = 0.0  # of the source read so far, where the connector knows it


class MappingFailed(Invalid):
    """A source item that cannot become a record; ``errors`` name the fields."""


class ConnectorNotFound(NotFound):
    pass


@dataclass(frozen=True, kw_only=True)
class Reach:
    """What a connector may reach besides its source: the outbound pace (``limiter``, shared
    by every worker when the platform's cache is Redis), where it may connect at all
    (``outbound``: public hosts over https unless the allow-list says more) and, for files
    uploaded to the platform, the stored bytes (``datasets``) and the uploads' records
    (``uploads``)."""

    limiter: RateLimiter
    outbound: Outbound = field(default_factory=Outbound)
    datasets: DatasetsApi | None = None
    uploads: UploadRecords | None = None


class Connector(Protocol):
    name: ClassVar[str]
    title: ClassVar[str]
    config_type: ClassVar[type[msgspec.Struct]]
    secrets: ClassVar[tuple[str, ...]]  # config fields left out of provenance

    def check(self, config: Any) -> None:
        """Rules across fields the Struct cannot say; ``Invalid`` naming ``config.<field>``."""
        ...

    async def payloads(self, reach: Reach, config: Any) -> list[dict[str, Any]]:
        """Raw payloads stored before the job ran (an upload): ``key``, ``sha256``, ``bytes``."""
        ...

    def pages(self, reach: Reach, config: Any, cursor: Mapping[str, Any] | None) -> AsyncIterator[Page]:
        """Pages from ``cursor`` (None: the start) to the end of the source."""
        ...

    def to_record(self, item: Item, config: Any, *, codecs: ClinicalCodecs) -> PatientCreate:
        """The record ``item`` describes (source and origin are set by the job); FHIR through
        the clinical core's ``codecs``."""
        ...


_REGISTRY: dict[str, Connector] = {}


def register(connector: Connector) -> Connector:
    _REGISTRY[connector.name] = connector
    return connector


def connectors() -> list[Connector]:
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get_connector(name: str) -> Connector:
    found = _REGISTRY.get(name)
    if found is None:
        known = ", ".join(sorted(_REGISTRY))
        raise ConnectorNotFound(f"no connector {name!r}; GET /api/v1/collection/sources lists them ({known})")
    return found


_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


def field_of(exc: msgspec.ValidationError, prefix: str = "") -> tuple[str, str]:
    """(field path, message) of a msgspec validation error: ``Expected ... - at `$.a[0].b```."""
    text = str(exc)
    found = _AT.search(text)
    path = found.group("path") if found else ""
    message = text[: found.start()] if found else text
    return (f"{prefix}.{path}" if prefix and path else prefix or path or "record"), message


def parse_config(connector: Connector, raw: Mapping[str, Any]) -> Any:
    """The connector's config from JSON-shaped ``raw``; ``Invalid`` naming ``config.<field>``."""
    try:
        config = msgspec.convert(dict(raw), connector.config_type)
    except msgspec.ValidationError as exc:
        field, message = field_of(exc, "config")
        raise Invalid(
            f"the {connector.name} config is invalid: {field}: {message}",
            errors=[{"field": field, "message": message}],
        ) from None
    connector.check(config)
    return config


def public_config(connector: Connector, config: Any) -> dict[str, Any]:
    """The config as provenance keeps it: secrets removed."""
    plain: dict[str, Any] = msgspec.to_builtins(config)
    return {k: ("<removed>" if k in connector.secrets and v else v) for k, v in plain.items()}


def schema_of(connector: Connector) -> dict[str, Any]:
    """The JSON Schema of the connector's config (for ``GET /api/v1/collection/sources``)."""
    schema: dict[str, Any] = msgspec.json.schema(connector.config_type)
    return schema
