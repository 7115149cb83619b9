"""Treatments -> Procedure (surgery, endoscopic resection, radiotherapy course summary) and one
MedicationRequest per systemic agent, grouped by ``groupIdentifier``."""

from __future__ import annotations

from collections.abc import Iterator

from inescape.modules.patients.api import Treatment
from inescape.modules.patients.fhir import codes as c
from inescape.modules.patients.fhir.codes import Json, coding, concept, extension
from inescape.modules.patients.fhir.context import Context

KIND_NAMES = {
    "surgery": "Cancer surgery",
    "endoscopic_resection": "Endoscopic resection",
    "radiotherapy": "Radiotherapy",
    "systemic": "Systemic therapy",
}


def treatment_resources(ctx: Context, t: int, treatment: Treatment) -> Iterator[Json]:
    if treatment.kind == "systemic":
        yield from medication_requests(ctx, t, treatment)
    elif treatment.kind == "radiotherapy":
        yield from radiotherapy(ctx, t, treatment)
    else:
        yield procedure(ctx, t, treatment)


def common_extensions(tr: Treatment) -> list[Json]:
    """What every kind of treatment may carry: intent, line, regimen and pathology response."""
    out = []
    if tr.intent:
        # mCODE's ProcedureIntentVS (required) only knows curative / palliative: the finer
        # intent rides along as a second coding of ours.
        palliative = tr.intent == "palliative"
        snomed = coding(c.SNOMED, *((c.PALLIATIVE, "Palliative") if palliative else (c.CURATIVE, "Curative")))
        both = concept(snomed, coding(c.INTENT_SYSTEM, tr.intent))
        out.append(extension(c.PROCEDURE_INTENT_EXT, valueCodeableConcept=both))
    for url, key, value in (
        (c.LINE_EXT, "valueInteger", tr.line),
        (c.REGIMEN_EXT, "valueString", tr.regimen),
        (c.MARGIN_EXT, "valueCode", tr.margin),
        (c.PCR_EXT, "valueBoolean", tr.pathologic_complete_response),
        (c.TRG_EXT, "valueInteger", tr.tumour_regression_grade),
    ):
        if value is not None:
            out.append({"url": url, key: value})
    return out


def period(tr: Treatment) -> Json:
    out = {"start": tr.start_date.isoformat()}
    if tr.end_date:
        out["end"] = tr.end_date.isoformat()
    return out


def _procedure_base(ctx: Context, t: int, tr: Treatment, profile: str) -> Json:
    res: Json = {"resourceType": "Procedure", "id": ctx.id(f"treatment/{t}"), "meta": {"profile": [profile]}}
    extensions = common_extensions(tr) + [extension(c.AGENT_EXT, valueString=a) for a in tr.agents]
    if extensions:
        res["extension"] = extensions
    return res


def _close(ctx: Context, res: Json, tr: Treatment) -> Json:
    res["subject"] = ctx.subject()
    res["performedPeriod"] = period(tr)
    reason = ctx.condition()
    if reason:
        res["reasonReference"] = [reason]
    return res


def procedure(ctx: Context, t: int, tr: Treatment) -> Json:
    res = _procedure_base(ctx, t, tr, c.SURGICAL_PROCEDURE)
    res["status"] = "completed"
    res["code"] = concept(coding(c.TREATMENT_KIND_SYSTEM, tr.kind, KIND_NAMES[tr.kind]), text=tr.procedure)
    return _close(ctx, res, tr)


def radiotherapy(ctx: Context, t: int, tr: Treatment) -> Iterator[Json]:
    """mCODE RadiotherapyCourseSummary; dose (cGy) and fractions in doseDeliveredToVolume, whose
    required volume is a RadiotherapyVolume BodyStructure (the registry does not itemise volumes)."""
    res = _procedure_base(ctx, t, tr, c.RADIOTHERAPY_COURSE_SUMMARY)
    if tr.dose_gy is not None or tr.fractions is not None:
        volume_id = ctx.id(f"treatment/{t}/volume")
        parts: list[Json] = [{"url": "volume", "valueReference": ctx.ref("BodyStructure", volume_id)}]
        if tr.dose_gy is not None:
            dose = {"value": round(tr.dose_gy * 100, 4), "unit": "cGy", "system": c.UCUM, "code": "cGy"}
            parts.append({"url": "totalDoseDelivered", "valueQuantity": dose})
        if tr.fractions is not None:
            parts.append({"url": "fractionsDelivered", "valueUnsignedInt": tr.fractions})
        res.setdefault("extension", []).append({"url": c.DOSE_TO_VOLUME_EXT, "extension": parts})
        yield _volume(ctx, volume_id)
    res["status"] = "completed" if tr.end_date else "in-progress"
    res["category"] = concept(
        coding(c.SNOMED, c.RADIOTHERAPY_CATEGORY, "Radiation oncology AND/OR radiotherapy")
    )
    res["code"] = concept(
        coding(c.SNOMED, c.RADIOTHERAPY_COURSE, "Radiotherapy course of treatment"),
        coding(c.TREATMENT_KIND_SYSTEM, "radiotherapy", KIND_NAMES["radiotherapy"]),
        text=tr.procedure,
    )
    yield _close(ctx, res, tr)


def _volume(ctx: Context, volume_id: str) -> Json:
    res: Json = {
        "resourceType": "BodyStructure",
        "id": volume_id,
        "meta": {"profile": [c.RADIOTHERAPY_VOLUME]},
    }
    res["description"] = "Radiotherapy treatment volume (not itemised in the registry)"
    conditions = ctx.record.conditions
    if conditions and conditions[0].topography_code.startswith("C15"):
        res["location"] = concept(coding(c.SNOMED, c.ESOPHAGUS, "Esophageal structure"))
    res["patient"] = ctx.subject()
    return res


def medication_requests(ctx: Context, t: int, tr: Treatment) -> Iterator[Json]:
    """One CancerRelatedMedicationRequest per agent; with no agent recorded, one request whose
    medication is data-absent, so that the treatment itself is not lost."""
    extensions = common_extensions(tr)
    if tr.procedure:
        extensions.append(extension(c.PROCEDURE_EXT, valueString=tr.procedure))
    unknown = concept(coding(c.DATA_ABSENT_REASON, "unknown", "Unknown"), text="Agent not recorded")
    for k, agent in enumerate(tr.agents or [None]):
        res: Json = {"resourceType": "MedicationRequest", "id": ctx.id(f"treatment/{t}/agent/{k}")}
        res["meta"] = {"profile": [c.MEDICATION_REQUEST]}
        if extensions:
            res["extension"] = [*extensions]
        res["status"] = "completed" if tr.end_date else "active"
        res["intent"] = "order"
        res["groupIdentifier"] = {
            "system": c.TREATMENT_GROUP_SYSTEM,
            "value": f"{ctx.patient_id}/treatment/{t}",
        }
        # Agents are free text in the registry; RxNorm coding is left to a terminology service.
        res["medicationCodeableConcept"] = concept(text=agent) if agent else unknown
        res["subject"] = ctx.subject()
        res["authoredOn"] = tr.start_date.isoformat()
        reason = ctx.condition()
        if reason:
            res["reasonReference"] = [reason]
        res["dosageInstruction"] = [{"timing": {"repeat": {"boundsPeriod": period(tr)}}}]
        yield res
