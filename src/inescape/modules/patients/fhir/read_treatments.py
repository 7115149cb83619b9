"""FHIR -> record: Procedures and MedicationRequests/Administrations back into treatments."""

from __future__ import annotations

from typing import Any

from inescape.modules.patients import vocab
from inescape.modules.patients.fhir import codes as c
from inescape.modules.patients.fhir import terminology as terms
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
    coded = terms.lookup("procedures.csv", codings(res.get("code")))
    if any(p in found for p in RADIATION) or coded is not None:
        return coded.values["kind"] if coded is not None else "radiotherapy"
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
    if mapped is None:  # terms/intents.csv: "curative" has no single counterpart among ours
        known = terms.lookup("intents.csv", codings(intent))
        mapped = known.values["intent"] or None if known else None
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


OURS = (c.MEDICATION_REQUEST, c.MEDICATION_REQUEST.replace("request", "administration"))


def is_cancer_related(res: Json) -> bool:
    """One of our treatment's requests, or an mCODE cancer-related medication resource."""
    group = res.get("groupIdentifier") or {}
    return group.get("system") == c.TREATMENT_GROUP_SYSTEM or any(p in OURS for p in profiles(res))


def cancer_agent(res: Json) -> tuple[bool, str | None]:
    """Whether a MedicationRequest/Administration is systemic cancer therapy, and its agent.

    Only antineoplastic and immunotherapy agents count (``terms/medications.csv``: RxNorm
    ingredients, ATC L01/L02; ``terms/agent_names.csv`` in the text or display). A medication
    with another RxNorm or ATC code is an ordinary one (acetaminophen, inhalers): not therapy.
    One with no such code counts when it is one of ours or an mCODE cancer-related one (the
    agent is then its text); otherwise whether it is cancer therapy cannot be told."""
    medication = res.get("medicationCodeableConcept")
    if medication is None:
        raise Unmappable("medication[x]", "only medicationCodeableConcept can be mapped")
    found = codings(medication)
    agent = terms.cancer_agent(found)
    texts = [display_of(medication) or ""]
    texts += [str(x.get("display")) for x in medication.get("coding") or [] if isinstance(x, dict)]
    agent = agent or next((a for a in map(terms.agent_in_text, texts) if a), None)
    if agent is not None:
        return True, agent
    if any(system in (terms.RXNORM, terms.ATC) for system, _ in found):
        return False, None
    if code_in(medication, c.DATA_ABSENT_REASON) or is_cancer_related(res):
        return True, None
    raise Unmappable(
        "medicationCodeableConcept",
        f"no RxNorm or ATC code and no antineoplastic agent named ({describe(medication)}, "
        f"{display_of(medication)!r}): whether it is cancer therapy cannot be told",
    )


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
