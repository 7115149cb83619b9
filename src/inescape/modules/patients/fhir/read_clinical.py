"""FHIR -> record: the primary condition, staging and the Observations (inverse of ``export``)."""

from __future__ import annotations

import re
from collections.abc import Callable
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
    label,
    optional_date,
    profiles,
    read_date,
    required,
)

Resolve = Callable[[Any], Json | None]

# A tumour location follows from these topographies alone (domain.md §1.1); the others need ours.
LOCATION_OF = {"C15.0": "cervical", "C15.3": "upper", "C15.4": "middle", "C15.5": "lower", "C16.0": "egj"}
STAGE_KIND = {code: kind for kind, code in c.STAGE_GROUP_LOINC.items()} | c.STAGE_GROUP_SNOMED
CATEGORY_AXIS = {code: axis for (axis, _), code in c.CATEGORY_LOINC.items()}
_CATEGORY_VALUE = re.compile(r"(?:yp|c|p)?([TNM].*)")
BIOMARKER_OF_LOINC = {code: kind for kind, (code, _) in c.BIOMARKER_LOINC.items()}
RISK_BOOLEAN = ("opium", "hot_beverages", "gerd", "barretts", "family_history")
RISK_NUMBER = ("pack_years", "alcohol_g_per_day", "bmi")


def topography(resource: Json) -> str | None:
    """ICD-O-3 topography of an esophageal/EGJ cancer, else ``None``."""
    return site_of(resource)[0]


def site_of(resource: Json) -> tuple[str | None, str | None]:
    """Topography and tumour location from the body site (ICD-O-3 or SNOMED CT, with an mCODE
    location qualifier), else from the condition code (``terms/conditions.csv``)."""
    for site in resource.get("bodySite") or []:
        term = terms.lookup("body_sites.csv", codings(site))
        if term is None:
            continue
        topo, location = term.values["topography"], term.values["location"] or None
        qualifiers = [
            ext.get("valueCodeableConcept") for ext in site.get("extension") or [] if isinstance(ext, dict)
        ]
        qualifiers += [ext_value(resource, c.LOCATION_QUALIFIER_EXT, "valueCodeableConcept")]
        for qualifier in qualifiers:
            found = terms.lookup("location_qualifiers.csv", codings(qualifier))
            if found is not None and topo == "C15.9":
                topo, location = found.values["topography"], found.values["location"]
        return topo, location
    term = terms.lookup("conditions.csv", codings(resource.get("code")))
    if term is None:
        return None, None
    topo = term.values["topography"]
    return topo, LOCATION_OF.get(topo)


def read_condition(res: Json) -> Json | None:
    """A primary cancer condition of the esophagus or cardia; ``None`` for other conditions
    (comorbidities are read by ``read_comorbidity``). A primary cancer elsewhere cannot be mapped."""
    site, location = site_of(res)
    if site is None:
        if c.PRIMARY_CANCER_CONDITION in profiles(res):
            raise Unmappable("code", f"{describe(res.get('code'))} is not an esophageal or EGJ cancer")
        return None
    morphology_cc = ext_value(res, c.HISTOLOGY_MORPHOLOGY_EXT, "valueCodeableConcept")
    known = terms.lookup("morphology.csv", codings(morphology_cc))
    morphology = code_in(morphology_cc, c.ICDO3) or (known.values["icdo3"] if known else None)
    if morphology is None:
        found = describe(morphology_cc) if morphology_cc else "no histology-morphology-behavior extension"
        raise Unmappable(
            "extension[histology-morphology-behavior]",
            f"needs an ICD-O-3 morphology or a SNOMED CT morphology of terms/morphology.csv ({found})",
        )
    onset = res.get("onsetDateTime") or (res.get("onsetPeriod") or {}).get("start")
    out: Json = {
        "diagnosis_date": read_date(onset, "onsetDateTime"),
        "histology": code_in(morphology_cc, c.HISTOLOGY_SYSTEM) or _histology_of(morphology),
        "morphology_code": morphology,
        "topography_code": site,
        "location": ext_value(res, c.LOCATION_EXT, "valueCode") or location or LOCATION_OF.get(site),
    }
    if out["location"] is None:
        raise Unmappable(
            "bodySite", f"{site} does not say where the tumour lies (no upper/middle/lower qualifier)"
        )
    for key, url in (("siewert", c.SIEWERT_EXT), ("grade", c.GRADE_EXT)):
        value = ext_value(res, url, "valueCode")
        if value is not None:
            out[key] = value
    length = ext_value(res, c.LENGTH_EXT, "valueQuantity")
    if length is not None:
        out["tumour_length_cm"] = length.get("value") / (10 if length.get("code") == "mm" else 1)
    return out


def _histology_of(morphology: str) -> str:
    number = int(morphology.split("/")[0]) if morphology[:4].isdigit() else -1
    families = vocab.MORPHOLOGY_FAMILIES.items()
    return next((name for name, (low, high) in families if low <= number <= high), "other")


def read_stage_group(res: Json, resolve: Resolve) -> Json:
    kind = next((STAGE_KIND[code] for _, code in codings(res.get("code")) if code in STAGE_KIND), None)
    group = ajcc_value(res.get("valueCodeableConcept"), "stage")
    if group is None:
        found = describe(res.get("valueCodeableConcept"))
        raise Unmappable(
            "valueCodeableConcept",
            f"needs a http://cancerstaging.org or SNOMED CT AJCC stage group ({found})",
        )
    out: Json = {"kind": kind, "stage_group": group}
    out["assessed_on"] = read_date(res.get("effectiveDateTime"), "effectiveDateTime")
    for i, member in enumerate(res.get("hasMember") or []):
        category = resolve(member)
        if category is None:
            raise Unmappable(f"hasMember[{i}]", f"{member.get('reference')!r} is not in the bundle")
        axis, value = read_category(category)
        out[axis] = value
    missing = [axis.upper() for axis in ("t", "n", "m") if axis not in out]
    if missing:
        raise Unmappable("hasMember", f"no {'/'.join(missing)} category Observation")
    method = read_method(res.get("method"))
    if method:
        out["method"] = method
    for key, url in (("grade", c.GRADE_EXT), ("location", c.LOCATION_EXT)):
        value = ext_value(res, url, "valueCode")
        if value is not None:
            out[key] = value
    return out


def category_axis(res: Json) -> str | None:
    """``t``, ``n`` or ``m``: from a LOINC or a SNOMED CT (``terms/tnm.csv``) category code."""
    found = codings(res.get("code"))
    loinc = [code for s, code in found if s == c.LOINC and code in CATEGORY_AXIS]
    if loinc:
        return CATEGORY_AXIS[loinc[0]]
    term = terms.lookup("tnm.csv", found)
    return term.values["axis"][0] if term and term.values["axis"].endswith("-code") else None


def ajcc_value(concept: Any, axis: str) -> str | None:
    """A T/N/M category (``T3``) or stage group (``IIIA``) from http://cancerstaging.org, a
    SNOMED CT AJCC qualifier value of ``terms/tnm.csv``, or the display of another one."""
    code = code_in(concept, c.AJCC)
    if code is not None:
        if axis == "stage":
            return c.stage_group_from_code(code)
        found = _CATEGORY_VALUE.fullmatch(code)
        return found[1] if found and found[1][0].lower() == axis else None
    term = terms.lookup("tnm.csv", codings(concept))
    if term is not None and term.values["axis"] == axis:
        return term.values["value"]
    displays = [x.get("display") for x in (concept or {}).get("coding") or [] if isinstance(x, dict)]
    for display in [*displays, (concept or {}).get("text")]:
        read = terms.ajcc_value(display if isinstance(display, str) else None)
        if read is not None and read[0] == axis:
            return read[1]
    return None


def read_category(res: Json) -> tuple[str, str]:
    axis = category_axis(res)
    value = ajcc_value(res.get("valueCodeableConcept"), axis) if axis else None
    if axis is None or value is None:
        what = f"code {describe(res.get('code'))}, value {describe(res.get('valueCodeableConcept'))}"
        raise Unmappable(
            f"hasMember {label(res)}",
            "not a LOINC or SNOMED CT TNM category with a cancerstaging.org or SNOMED CT AJCC "
            f"value ({what})",
        )
    return axis, value


def read_method(method: Any) -> str | None:
    """The staging system as the record names it: text, a known SNOMED method, else the coding."""
    if not method:
        return None
    known = code_in(method, c.SNOMED)
    if method.get("text"):
        return str(method["text"])
    if known in c.STAGING_METHODS:
        return c.STAGING_METHODS[known]
    return display_of(method) or describe(method)


def observation_kind(res: Json) -> str:
    found = codings(res.get("code"))
    assessment = terms.lookup("assessments.csv", found)
    if assessment is not None and assessment.values["fact"] != "answer":
        return assessment.values["fact"]  # fit_for_surgery, lymphovascular_invasion, ...
    systems = {s for s, _ in found}
    loinc = {code for s, code in found if s == c.LOINC}
    snomed = {code for s, code in found if s == c.SNOMED}
    marker = bool({c.TUMOR_MARKER_TEST, c.TUMOR_MARKER_STU1} & set(profiles(res)))
    checks = (
        ("stage", bool(loinc & set(c.STAGE_GROUP_LOINC.values()) or snomed & set(c.STAGE_GROUP_SNOMED))),
        ("risk", c.RISK_FACTOR_SYSTEM in systems or c.TOBACCO_STATUS in loinc),
        ("biomarker", c.BIOMARKER_SYSTEM in systems or bool(loinc & set(BIOMARKER_OF_LOINC)) or marker),
        ("vital", c.VITAL_STATUS in loinc),
        ("disease_status", bool(loinc & {c.DISEASE_STATUS, c.DISEASE_STATUS_STU1})),
        ("recurrence", (c.OUTCOME_SYSTEM, "recurrence") in found),
        ("category", category_axis(res) is not None),
        ("measurement", bool(loinc)),
    )
    return next((kind for kind, hit in checks if hit), "unknown")


def read_marker(res: Json) -> Json:
    code = res.get("code")
    kind = code_in(code, c.BIOMARKER_SYSTEM) or BIOMARKER_OF_LOINC.get(code_in(code, c.LOINC) or "")
    if kind not in vocab.BIOMARKERS:
        raise Unmappable(
            "code", f"{describe(code)} is not a tumour marker of the record (HER2, PD-L1, MSI, MMR)"
        )
    value = res.get("valueString")
    if value is None and res.get("valueQuantity"):
        value = f"{res['valueQuantity'].get('value'):g}"
    if value is None:
        value = display_of(res.get("valueCodeableConcept"))
    if value is None:
        raise Unmappable("value[x]", "a tumour marker needs a string, number or text value")
    return {
        "kind": kind,
        "value": value,
        "measured_on": read_date(res.get("effectiveDateTime"), "effectiveDateTime"),
    }


_LOINC_CODE = re.compile(r"\d{1,7}-\d")


def read_measurement(res: Json) -> Json:
    out: Json = {"code": code_in(res.get("code"), c.LOINC)}
    if not _LOINC_CODE.fullmatch(out["code"] or ""):
        raise Unmappable("code", f"{out['code']!r} is not a LOINC code (NNNNN-N), though its system says so")
    qty = res.get("valueQuantity")
    if "valueInteger" in res:
        out["value"] = float(res["valueInteger"])
    elif qty and qty.get("value") is not None:
        out["value"] = float(qty["value"])
        if qty.get("unit") or qty.get("code"):
            out["unit"] = qty.get("unit") or qty.get("code")
    else:
        raise Unmappable(
            "value[x]", f"LOINC {out['code']} needs a numeric value (valueQuantity or valueInteger)"
        )
    out["observed_on"] = read_date(res.get("effectiveDateTime"), "effectiveDateTime")
    return out


def read_risk(res: Json) -> tuple[str, Any]:
    field = code_in(res.get("code"), c.RISK_FACTOR_SYSTEM) or "tobacco"
    if field in RISK_BOOLEAN:
        return field, required(res, "valueBoolean")
    if field in RISK_NUMBER:
        return field, float(required(res, "valueQuantity").get("value"))
    if field in ("tobacco", "socioeconomic_status"):
        value = code_in(res.get("valueCodeableConcept"), c.RISK_VALUE_SYSTEM)
        if value is None:
            found = describe(res.get("valueCodeableConcept"))
            raise Unmappable("valueCodeableConcept", f"{field} answer cannot be mapped ({found})")
        return field, value
    raise Unmappable("code", f"{field!r} is not a risk factor of the record")


def read_vital(res: Json) -> Json:
    status = code_in(res.get("valueCodeableConcept"), c.OUTCOME_SYSTEM)
    if status not in vocab.VITAL_STATUSES:
        found = describe(res.get("valueCodeableConcept"))
        raise Unmappable("valueCodeableConcept", f"vital status cannot be mapped ({found})")
    out: Json = {"vital_status": status}
    out["last_follow_up"] = read_date(res.get("effectiveDateTime"), "effectiveDateTime")
    for part in res.get("component") or []:
        if (c.OUTCOME_SYSTEM, "cause-of-death") in codings(part.get("code")):
            out["cause_of_death"] = part.get("valueString")
    return out


def read_progression(res: Json) -> Json:
    """A CancerDiseaseStatus Observation: its date when the condition worsened (a progression).
    The record has no place for the other statuses (improved, stable, undetermined)."""
    if (c.SNOMED, c.WORSENED) not in codings(res.get("valueCodeableConcept")):
        found = describe(res.get("valueCodeableConcept"))
        raise Unmappable(
            "value[x]",
            f"a disease status of {found}: the record keeps only a progression "
            f"({c.SNOMED}|{c.WORSENED}, condition worsened)",
        )
    return {"progression_date": read_date(res.get("effectiveDateTime"), "effectiveDateTime")}


def read_recurrence(res: Json) -> Json:
    out: Json = {"recurrence_date": optional_date(res.get("effectiveDateTime"), "effectiveDateTime")}
    site = display_of(res.get("bodySite"))
    if site:
        out["recurrence_site"] = site
    return out


COMORBIDITY_SYSTEMS = (c.SNOMED, c.ICD10, c.ICD10CM)


def is_comorbidity(res: Json) -> bool:
    """A Condition that says it is a comorbidity (a Charlson category of ours)."""
    return any(code_in(cat, c.CHARLSON_SYSTEM) for cat in res.get("category") or [])


def read_comorbidity(res: Json) -> Json:
    """A comorbid Condition (or the CodeableConcept an mCODE Comorbidities Observation names)."""
    concept = (res.get("code") if res.get("resourceType") == "Condition" else res) or {}
    coded = next(((s, code) for s, code in codings(concept) if s in COMORBIDITY_SYSTEMS), None)
    if coded is None:
        raise Unmappable(
            "code", f"a comorbidity needs a SNOMED CT, ICD-10 or ICD-10-CM code ({describe(concept)})"
        )
    display = next(
        (
            str(x["display"])
            for x in concept.get("coding") or []
            if x.get("system") == coded[0] and x.get("display")
        ),
        None,
    )
    out: Json = {"system": coded[0], "code": coded[1], "display": display or display_of(concept) or coded[1]}
    for category in res.get("category") or []:
        found = code_in(category, c.CHARLSON_SYSTEM)
        if found:
            out["category"] = found
    recorded = optional_date(res.get("recordedDate"), "recordedDate")
    if recorded is not None:
        out["recorded_on"] = recorded
    return out


def read_presence(res: Json) -> bool:
    """A present/absent finding: ``valueBoolean`` or a SNOMED CT present/absent answer."""
    if isinstance(res.get("valueBoolean"), bool):
        return bool(res["valueBoolean"])
    answer = terms.lookup("assessments.csv", codings(res.get("valueCodeableConcept")))
    if answer is None or answer.values["fact"] != "answer":
        found = describe(res.get("valueCodeableConcept"))
        raise Unmappable(
            "value[x]", f"needs valueBoolean or a SNOMED CT Present/Absent answer ({found}); left unknown"
        )
    return answer.values["value"] == "true"


def read_fitness(res: Json) -> Json:
    """Fitness for surgery: the value, who assessed it (``performer``) and when."""
    performers = res.get("performer") or []
    who = next(
        (
            p.get("display") or p.get("reference")
            for p in performers
            if p.get("display") or p.get("reference")
        ),
        None,
    )
    if not who:
        raise Unmappable("performer", "fitness for surgery needs who assessed it")
    out: Json = {
        "fit": read_presence(res),
        "assessed_by": str(who),
        "assessed_on": read_date(res.get("effectiveDateTime"), "effectiveDateTime"),
    }
    notes = [str(n["text"]) for n in res.get("note") or [] if isinstance(n, dict) and n.get("text")]
    if notes:
        out["note"] = "\n".join(notes)
    return out
