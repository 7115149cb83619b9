"""FHIR -> record: Procedures and MedicationRequests/Administrations back into treatments."""

from __future__ import annotations

from typing import Any

from inescape.modules.patients import vocab
from inescape.modules.patients.fhir import codes as c
from inescape.modules.patients.fhir.codes import Json
from inescape.modules.patients.fhir.reading import (
    Unmappable,
    code_in,
    codings,
    describe,
    display_of,
    ext_value,
    extensions,
    optional_date,
    profiles,
    read_date,
)

SURGICAL = (c.SURGICAL_PROCEDURE,)
RADIATION = (c.RADIOTHERAPY_COURSE_SUMMARY, c.RADIATION_PROCEDURE_STU1)


def procedure_kind(res: Json) -> str | None:
    """Our treatment kind, else one inferred from the mCODE profile or the SNOMED course code;
    ``None`` for procedures that are not cancer treatments (biopsies, imaging)."""
    kind = code_in(res.get("code"), c.TREATMENT_KIND_SYSTEM)
    if kind:
        return kind
    found = profiles(res)
    if any(p in found for p in RADIATION) or (c.SNOMED, c.RADIOTHERAPY_COURSE) in codings(res.get("code")):
        return "radiotherapy"
    return "surgery" if any(p in found for p in SURGICAL) else None


def read_procedure(res: Json, kind: str) -> Json:
    if kind not in vocab.TREATMENT_KINDS:
        raise Unmappable("code", f"{kind!r} is not a treatment kind of the record")
    start, end = _performed(res)
    out: Json = {"kind": kind, "start_date": start, "end_date": end}
    ours = code_in(res.get("code"), c.TREATMENT_KIND_SYSTEM) is not None
    # our own coding carries no procedure name: only the text is; elsewhere take the display
    procedure = (res.get("code") or {}).get("text") if ours else display_of(res.get("code"))
    if procedure:
        out["procedure"] = procedure
    out.update(common_fields(res))
    agents = [e.get("valueString") for e in extensions(res, c.AGENT_EXT)]
    if agents:
        out["agents"] = agents
    dose = extensions(res, c.DOSE_TO_VOLUME_EXT)
    if dose:  # the registry keeps one dose per course: the first volume's
        out.update(_dose(dose[0]))
    return out


def _performed(res: Json) -> tuple[Any, Any]:
    if "performedPeriod" in res:
        period = res["performedPeriod"]
        start = read_date(period.get("start"), "performedPeriod.start")
        return start, optional_date(period.get("end"), "performedPeriod.end")
    return read_date(res.get("performedDateTime"), "performed[x]"), None


def _dose(ext: Json) -> Json:
    out: Json = {}
    for part in ext.get("extension") or []:
        if part.get("url") == "totalDoseDelivered":
            qty = part.get("valueQuantity") or {}
            unit = qty.get("code") or qty.get("unit")
            if unit not in ("cGy", "Gy"):
                raise Unmappable("extension[doseDeliveredToVolume]", f"dose unit {unit!r} is not cGy or Gy")
            out["dose_gy"] = round(qty["value"] / 100, 6) if unit == "cGy" else qty["value"]
        elif part.get("url") == "fractionsDelivered":
            out["fractions"] = part.get("valueUnsignedInt")
    return out


def common_fields(res: Json) -> Json:
    out: Json = {}
    intent = ext_value(res, c.PROCEDURE_INTENT_EXT, "valueCodeableConcept")
    intent = intent or ext_value(res, c.TREATMENT_INTENT_EXT_STU1, "valueCodeableConcept")
    mapped = code_in(intent, c.INTENT_SYSTEM)
    if mapped is None and code_in(intent, c.SNOMED) == c.PALLIATIVE:
        mapped = "palliative"  # "curative" has no single counterpart among the record's intents
    if mapped:
        out["intent"] = mapped
    for key, url, kind in (
        ("line", c.LINE_EXT, "valueInteger"),
        ("regimen", c.REGIMEN_EXT, "valueString"),
        ("margin", c.MARGIN_EXT, "valueCode"),
        ("pathologic_complete_response", c.PCR_EXT, "valueBoolean"),
        ("tumour_regression_grade", c.TRG_EXT, "valueInteger"),
    ):
        value = ext_value(res, url, kind)
        if value is not None:
            out[key] = value
    return out


def medication_group(res: Json) -> str:
    """The treatment a request belongs to: our groupIdentifier, else the request on its own."""
    group = res.get("groupIdentifier") or {}
    if group.get("value"):
        return f"{group.get('system')}|{group['value']}"
    return f"{res.get('resourceType')}/{res.get('id')}/{id(res)}"


def read_medication(res: Json) -> tuple[Json, str | None]:
    """A systemic treatment (without agents) and the agent this request or administration names."""
    if res.get("resourceType") == "MedicationAdministration":
        period = res.get("effectivePeriod") or {"start": res.get("effectiveDateTime")}
        field = "effective[x]"
    else:
        dosage = (res.get("dosageInstruction") or [{}])[0]
        period = ((dosage.get("timing") or {}).get("repeat") or {}).get("boundsPeriod") or {}
        period = period if period.get("start") else {"start": res.get("authoredOn"), **period}
        field = "dosageInstruction.timing.repeat.boundsPeriod"
    out: Json = {"kind": "systemic", "start_date": read_date(period.get("start"), f"{field}.start")}
    out["end_date"] = optional_date(period.get("end"), f"{field}.end")
    out.update(common_fields(res))
    procedure = ext_value(res, c.PROCEDURE_EXT, "valueString")
    if procedure:
        out["procedure"] = procedure
    medication = res.get("medicationCodeableConcept")
    if medication is None:
        raise Unmappable("medication[x]", "only medicationCodeableConcept can be mapped")
    if code_in(medication, c.DATA_ABSENT_REASON):
        return out, None
    agent = display_of(medication)
    if agent is None:
        raise Unmappable("medicationCodeableConcept", f"needs a text or display ({describe(medication)})")
    return out, agent
