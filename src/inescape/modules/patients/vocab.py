"""Value sets of the esophageal cancer record, with their sources (shared/reference/domain.md).

Codes are validated on input against these sets; FHIR export maps them to code systems.
"""

from __future__ import annotations

from typing import Literal

# AJCC 8th edition, chapter 16 (Amin et al. 2017; Rice et al. 2017), domain.md §1.2-1.5.
T_CATEGORIES = ("TX", "T0", "Tis", "T1", "T1a", "T1b", "T2", "T3", "T4", "T4a", "T4b")
N_CATEGORIES = ("NX", "N0", "N1", "N2", "N3")
M_CATEGORIES = ("M0", "M1")
GRADES = ("GX", "G1", "G2", "G3")  # the 8th edition removed G4 (Rice 2017 primer)
STAGE_GROUPS = ("0", "I", "IA", "IB", "IC", "II", "IIA", "IIB", "III", "IIIA", "IIIB", "IVA", "IVB")
STAGING_KINDS = ("clinical", "pathological", "post_neoadjuvant")  # cTNM, pTNM, ypTNM

Histology = Literal["squamous_cell_carcinoma", "adenocarcinoma", "other"]
HISTOLOGIES = ("squamous_cell_carcinoma", "adenocarcinoma", "other")
# ICD-O-3 morphology families (domain.md §1.1): SCC 8050-8089, adenocarcinoma 8140-8389.
MORPHOLOGY_FAMILIES = {"squamous_cell_carcinoma": (8050, 8089), "adenocarcinoma": (8140, 8389)}

# Tumour location (epicentre); "egj" = esophagogastric junction, Siewert I-III.
LOCATIONS = ("cervical", "upper", "middle", "lower", "egj")
SIEWERT_TYPES = ("I", "II", "III")
# ICD-O-3 topography (domain.md §1.1).
TOPOGRAPHIES = {
    "C15.0": "cervical",
    "C15.1": "thoracic",
    "C15.2": "abdominal",
    "C15.3": "upper",
    "C15.4": "middle",
    "C15.5": "lower",
    "C15.8": "overlapping",
    "C15.9": "esophagus NOS",
    "C16.0": "cardia / EGJ",
}

SEXES = ("female", "male", "other", "unknown")
ORIGINS = ("real", "synthetic")
TOBACCO = ("never", "former", "current", "unknown")
SES_LEVELS = ("low", "middle", "high", "unknown")

BIOMARKERS = ("her2", "pdl1_cps", "pdl1_tps", "msi", "mmr")
HER2_RESULTS = ("0", "1+", "2+", "2+ ISH+", "2+ ISH-", "3+")  # IHC score (ToGA criteria)
MSI_RESULTS = ("MSI-H", "MSI-L", "MSS")
MMR_RESULTS = ("dMMR", "pMMR")

TREATMENT_KINDS = ("surgery", "radiotherapy", "systemic", "endoscopic_resection")
INTENTS = ("neoadjuvant", "adjuvant", "perioperative", "definitive", "palliative")
MARGINS = ("R0", "R1", "R2")
# Mandard tumour regression grade 1 (complete response) to 5.
TRG = (1, 2, 3, 4, 5)

# LOINC codes of observations we accept (mCODE: ECOG 89247-1).
OBSERVATION_CODES = {
    "89247-1": ("ecog", "{score}"),
    "29463-7": ("weight", "kg"),
    "39156-5": ("bmi", "kg/m2"),
    "718-7": ("haemoglobin", "g/dL"),
    "1751-7": ("albumin", "g/dL"),
    "2039-6": ("cea", "ng/mL"),
    "26464-8": ("leukocytes", "10*3/uL"),
    "777-3": ("platelets", "10*3/uL"),
}

VITAL_STATUSES = ("alive", "dead", "unknown")
