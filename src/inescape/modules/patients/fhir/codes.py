"""Every code system, profile and extension URL of the FHIR mapping, with where each comes from.

Sources: mCODE STU3/STU4 FSH (github.com/HL7/fhir-mCODE-ig, ``input/fsh``: ``SD_*.fsh`` for
profile and extension ids, ``VS_*.fsh`` and ``CM_TG263.fsh`` for codes), the STU1 JSON examples
in ``shared/realworld/mcode`` and ``shared/reference/domain.md`` §5.4.

What mCODE has no code for is coded in our own namespace ``https://inescape.example/fhir``:
code systems under ``/CodeSystem/<name>``, extensions under ``/StructureDefinition/<name>``,
identifier systems under ``/identifier/<name>``. Their codes are the values of the record's own
vocabulary (``vocab.py``), so the mapping back is the identity.
"""

from __future__ import annotations

import re
from typing import Any

Json = dict[str, Any]

# --- external code systems (canonical URLs as in mCODE AL_CodeSystems.fsh) ---
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"  # WHO ICD-10: has C15.0-C15.2, which ICD-10-CM lacks
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
AJCC = "http://cancerstaging.org"  # mCODE STU1/STU2 stage and category codes ("3C", "cT3")
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # identifier types MR, NI
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"

# --- our namespace ---
LOCAL = "https://inescape.example/fhir"


def local_system(name: str) -> str:
    return f"{LOCAL}/CodeSystem/{name}"


def local_extension(name: str) -> str:
    return f"{LOCAL}/StructureDefinition/{name}"


def local_identifier(name: str) -> str:
    return f"{LOCAL}/identifier/{name}"


MRN_SYSTEM = local_identifier("mrn")
NATIONAL_ID_SYSTEM = local_identifier("national-id")
SOURCE_RECORD_SYSTEM = local_identifier("source-record")
RESEARCH_ID_SYSTEM = local_identifier("research-id")  # de-identified Patients (the FHIR API)
TREATMENT_GROUP_SYSTEM = local_identifier("treatment")  # MedicationRequest.groupIdentifier

HISTOLOGY_SYSTEM = local_system("histology")  # squamous_cell_carcinoma | adenocarcinoma | other
TREATMENT_KIND_SYSTEM = local_system("treatment-kind")  # surgery | endoscopic_resection | ...
INTENT_SYSTEM = local_system("treatment-intent")  # neoadjuvant | adjuvant | ... (finer than mCODE)
BIOMARKER_SYSTEM = local_system("biomarker")  # her2 | pdl1_cps | pdl1_tps | msi | mmr
RISK_FACTOR_SYSTEM = local_system("risk-factor")  # the RiskFactors field names
RISK_VALUE_SYSTEM = local_system("risk-factor-value")  # tobacco and socioeconomic answers
OUTCOME_SYSTEM = local_system("outcome")  # vital-status answers, recurrence, cause-of-death
ORIGIN_SYSTEM = local_system("record-origin")  # real | synthetic (Patient.meta.tag)
# Assessments that neither LOINC nor SNOMED CT (as far as the cited sources show) codes the way
# the record holds them: fit-for-surgery, airway-or-great-vessel-invasion, and
# lymphovascular-invasion beside its LOINC code (terms/assessments.csv).
ASSESSMENT_SYSTEM = local_system("assessment")
CHARLSON_SYSTEM = local_system("charlson-category")  # a comorbidity's Charlson index category

# US Core race/ethnicity use the OMB categories, which do not describe Iranian, Chinese or
# European cohorts: the record's free-text ethnicity travels in an extension of ours instead.
ETHNICITY_EXT = local_extension("ethnicity")
SOURCE_EXT = local_extension("record-source")
SYNTHETIC_RISK_EXT = local_extension("synthetic-risk")
LOCATION_EXT = local_extension("tumour-location")  # cervical | upper | middle | lower | egj
SIEWERT_EXT = local_extension("siewert-type")
GRADE_EXT = local_extension("histologic-grade")  # GX | G1 | G2 | G3 (AJCC 8th)
LENGTH_EXT = local_extension("tumour-length")  # valueQuantity in cm
LINE_EXT = local_extension("line-of-therapy")
REGIMEN_EXT = local_extension("regimen")
PROCEDURE_EXT = local_extension("procedure")  # the procedure text of a non-Procedure resource
AGENT_EXT = local_extension("agent")  # agents recorded on a surgery or radiotherapy row
MARGIN_EXT = local_extension("resection-margin")  # R0 | R1 | R2
PCR_EXT = local_extension("pathologic-complete-response")
TRG_EXT = local_extension("tumour-regression-grade")  # Mandard 1-5

# --- mCODE profiles and extensions (ids from SD_*.fsh) ---
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
CANCER_PATIENT = MCODE + "mcode-cancer-patient"
PRIMARY_CANCER_CONDITION = MCODE + "mcode-primary-cancer-condition"
TNM_STAGE_GROUP = MCODE + "mcode-tnm-stage-group"
TNM_CATEGORY = {
    "t": MCODE + "mcode-tnm-primary-tumor-category",
    "n": MCODE + "mcode-tnm-regional-nodes-category",
    "m": MCODE + "mcode-tnm-distant-metastases-category",
}
TUMOR_MARKER_TEST = MCODE + "mcode-tumor-marker-test"
TUMOR_MARKER_STU1 = MCODE + "mcode-tumor-marker"  # read only
ECOG_PERFORMANCE_STATUS = MCODE + "mcode-ecog-performance-status"
COMORBIDITIES = MCODE + "mcode-comorbidities"  # SD_ComorbidCondition.fsh: an Observation
RELATED_CONDITION_EXT = MCODE + "mcode-related-condition"  # comorbidConditionPresent
RELATED_CONDITION_ABSENT_EXT = MCODE + "mcode-related-condition-absent"  # comorbidConditionAbsent
SURGICAL_PROCEDURE = MCODE + "mcode-cancer-related-surgical-procedure"
RADIOTHERAPY_COURSE_SUMMARY = MCODE + "mcode-radiotherapy-course-summary"
RADIATION_PROCEDURE_STU1 = MCODE + "mcode-cancer-related-radiation-procedure"
RADIOTHERAPY_VOLUME = MCODE + "mcode-radiotherapy-volume"
MEDICATION_REQUEST = MCODE + "mcode-cancer-related-medication-request"
HISTOLOGY_MORPHOLOGY_EXT = MCODE + "mcode-histology-morphology-behavior"
LOCATION_QUALIFIER_EXT = MCODE + "mcode-body-location-qualifier"
PROCEDURE_INTENT_EXT = MCODE + "mcode-procedure-intent"
TREATMENT_INTENT_EXT_STU1 = MCODE + "mcode-treatment-intent"  # read only
DOSE_TO_VOLUME_EXT = MCODE + "mcode-radiotherapy-dose-delivered-to-volume"

# --- SNOMED CT (each cited in the mCODE FSH named next to it) ---
AJCC_8TH = "897275008"  # TNMStagingMethodVS; domain.md §5.4
STAGING_METHODS = {  # TNMStagingMethodVS
    "897275008": "AJCC 8th edition",
    "443830009": "AJCC 7th edition",
    "444256004": "AJCC 6th edition",
    "1269566009": "AJCC 9th version",
}
RADIOTHERAPY_COURSE = "1217123003"  # "Radiotherapy course of treatment", SD_Radiotherapy.fsh
RADIOTHERAPY_CATEGORY = "108290001"  # "Radiation oncology AND/OR radiotherapy", same file
CURATIVE = "373808002"  # ProcedureIntentVS
PALLIATIVE = "363676003"  # ProcedureIntentVS
ESOPHAGUS = "32849002"  # "Esophageal structure", CM_TG263.fsh (Esophagus)
CERVICAL_ESOPHAGUS = "60075002"  # "Cervical esophagus structure", CM_TG263.fsh (Esophagus_S)
QUALIFIERS = {  # BodyLocationQualifierVS codes as used in CM_TG263.fsh
    "C15.3": ("261183002", "Upper"),
    "C15.4": ("260528009", "Middle"),
    "C15.5": ("261122009", "Lower"),
}
# No SNOMED body structure for the cardia is cited in the sources: C16.0 carries ICD-O-3 only,
# which CancerBodyLocationVS accepts ("Only SNOMED CT and ICD-O-3 are considered conformant").

COMORBID_CONDITIONS = "398192003"  # "Co-morbid conditions (finding)", SD_ComorbidCondition.fsh
PRESENT = "52101004"  # "Present (qualifier value)"; terms/assessments.csv
ABSENT = "2667000"  # "Absent (qualifier value)"; terms/assessments.csv

# --- LOINC ---
# "Lymphatic.small vessel.invasion [Identifier] in Specimen by CAP cancer protocols";
# terms/assessments.csv
LYMPHOVASCULAR_INVASION = "33739-4"
STAGE_GROUP_LOINC = {"clinical": "21908-9", "pathological": "21902-2", "post_neoadjuvant": "21914-7"}
# ypTNM is a pathological classification: its categories take the pathological codes and the
# "yp" prefix of the value tells them apart.
CATEGORY_LOINC = {
    ("t", "clinical"): "21905-5",
    ("t", "pathological"): "21899-0",
    ("n", "clinical"): "21906-3",
    ("n", "pathological"): "21900-6",
    ("m", "clinical"): "21907-1",
    ("m", "pathological"): "21901-4",
}
STAGE_GROUP_SNOMED = {"399537006": "clinical", "399588009": "pathological"}  # STU3 examples, read only
AJCC_PREFIX = {"clinical": "c", "pathological": "p", "post_neoadjuvant": "yp"}
ECOG = "89247-1"
VITAL_STATUS = "75186-7"
# mCODE CancerDiseaseStatus (STU3: LOINC 97509-4 "Cancer Disease Progression"; STU1 read as
# well: 88040-1 "Response to cancer treatment"), valued from ConditionStatusTrendVS
CANCER_DISEASE_STATUS = MCODE + "mcode-cancer-disease-status"
DISEASE_STATUS = "97509-4"
DISEASE_STATUS_STU1 = "88040-1"
WORSENED = "271299001"  # SNOMED CT: Patient's condition worsened (finding): progression
TOBACCO_STATUS = "72166-2"  # "Tobacco smoking status", mCODE STU3 extended example
BMI = "39156-5"
PACK_YEARS_SNOMED = "401201003"  # "Cigarette pack-years", mCODE STU3 extended example
# TumorMarkerTestVS has LOINC codes for HER2 and MSI; PD-L1 codes there are clone-specific
# reports and none names MMR immunohistochemistry, so those three stay local-only.
BIOMARKER_LOINC = {"her2": ("48676-1", "HER2 [Interpretation] in Tissue")}
BIOMARKER_LOINC["msi"] = ("81695-9", "Microsatellite instability [Interpretation] in Cancer specimen")

_ROMAN = {"0": "0", "I": "1", "II": "2", "III": "3", "IV": "4"}
_ARABIC = {v: k for k, v in _ROMAN.items()}


def ajcc_stage_code(group: str) -> str:
    """``IIB`` -> ``2B``: the code form of http://cancerstaging.org (mCODE STU1/STU2)."""
    found = re.fullmatch(r"(0|IV|I{1,3})([A-C]?)", group)
    return _ROMAN[found[1]] + found[2] if found else group


def stage_group_from_code(code: str) -> str:
    found = re.fullmatch(r"([0-4])([A-C]?)", code)
    return _ARABIC[found[1]] + found[2] if found else code


def topography_codes(topography: str) -> list[Json]:
    """Condition.code: WHO ICD-10 always, ICD-10-CM where it has the code (not C15.0-C15.2)."""
    codes = [coding(ICD10, topography)]
    if topography not in ("C15.0", "C15.1", "C15.2"):
        codes.insert(0, coding(ICD10CM, topography))
    return codes


def coding(system: str, code: str, display: str | None = None) -> Json:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(*codings: Json, text: str | None = None) -> Json:
    out: Json = {"coding": list(codings)} if codings else {}
    if text:
        out["text"] = text
    return out


def extension(url: str, **value: Any) -> Json:
    return {"url": url, **value}


def quantity(value: float, unit: str | None) -> Json:
    out: Json = {"value": value}
    if unit:
        out.update(unit=unit, system=UCUM, code=unit)
    return out


def category(code: str) -> list[Json]:
    return [concept(coding(OBSERVATION_CATEGORY, code))]
