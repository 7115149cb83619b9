"""A connector's secrets (a FHIR server's bearer token) never sit in a job's params in clear:
the params are shown by ``GET /api/v1/collection/jobs/{id}``. They are sealed with the
install's field cipher when the job is submitted and opened inside the job."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inescape.infra.crypto import field_cipher

SEALED = "sealed:"
CONTEXT = "collection.secret"


def seal_secrets(connector: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: SEALED + field_cipher().encrypt(v, context=CONTEXT)
        if k in connector.secrets and isinstance(v, str) and not v.startswith(SEALED)
        else v
        for k, v in config.items()
    }


def open_secrets(connector: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: field_cipher().decrypt(v.removeprefix(SEALED), context=CONTEXT)
        if k in connector.secrets and isinstance(v, str) and v.startswith(SEALED)
        else v
        for k, v in config.items()
    }
