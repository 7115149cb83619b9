"""Ids, references and entries of one record's resources: stable across exports of a record."""

from __future__ import annotations

import re
import uuid

from inescape.kernel.errors import Invalid
from inescape.modules.patients.api import PatientRecord
from inescape.modules.patients.fhir.codes import LOCAL, Json

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, LOCAL)
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class Context:
    """What every resource of one record needs: its ids and how it refers to the others.

    ``base_url`` ``"urn:uuid:"`` gives ``urn:uuid:<id>`` fullUrls and references (a Bundle that
    stands alone); an http(s) base gives ``<base>/<Type>/<id>`` fullUrls and relative
    ``<Type>/<id>`` references; ``""`` gives relative references only (bulk-data NDJSON).
    """

    def __init__(self, record: PatientRecord, base_url: str) -> None:
        if base_url not in ("", "urn:uuid:") and not base_url.startswith(("http://", "https://")):
            raise Invalid(
                f"base_url must be 'urn:uuid:' or an http(s) URL, not {base_url!r}",
                errors=[{"field": "base_url", "message": "not a FHIR base"}],
            )
        self.record = record
        self.urn = base_url == "urn:uuid:"
        self.base = base_url.rstrip("/")
        usable = bool(_FHIR_ID.fullmatch(record.id)) and (_is_uuid(record.id) or not self.urn)
        self.patient_id = record.id if usable else self.id("patient")

    def id(self, path: str) -> str:
        """A UUID derived from the record id and the resource's place in the record."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.record.id}/{path}"))

    def ref(self, kind: str, id_: str) -> Json:
        return {"reference": f"urn:uuid:{id_}" if self.urn else f"{kind}/{id_}"}

    def subject(self) -> Json:
        return self.ref("Patient", self.patient_id)

    def condition(self) -> Json | None:
        """The primary condition other resources point at (the first one of the record)."""
        return self.ref("Condition", self.id("condition/0")) if self.record.conditions else None

    def entry(self, resource: Json) -> Json:
        rid = resource["id"]
        full = f"urn:uuid:{rid}" if self.urn else f"{self.base}/{resource['resourceType']}/{rid}"
        return {"fullUrl": full, "resource": resource}


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False
