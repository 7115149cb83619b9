"""The codes the generator writes and the profiles name.

The record's value sets are copied from ``inescape.modules.patients.vocab`` (generation may import
only the patients module's ``api``); the generated records are validated against the originals
in the tests, so a drift shows there. Sources: shared/reference/domain.md §1 (AJCC 8th ed., ch. 16).
"""

from __future__ import annotations

HISTOLOGIES = ("squamous_cell_carcinoma", "adenocarcinoma", "other")
SEXES = ("female", "male")
LOCATIONS = ("cervical", "upper", "middle", "lower", "egj")
GRADES = ("GX", "G1", "G2", "G3")
SIEWERT_TYPES = ("I", "II", "III")
ECOG_SCORES = ("0", "1", "2", "3", "4")
T_CATEGORIES = ("TX", "T0", "Tis", "T1", "T1a", "T1b", "T2", "T3", "T4", "T4a", "T4b")
N_CATEGORIES = ("NX", "N0", "N1", "N2", "N3")
M_CATEGORIES = ("M0", "M1")

# T and N the generator samples, in order of extent; shifts between cTNM and p/ypTNM move along
# these. T1 and T4 are always divided, so every pTNM combination is stageable (domain.md §1.9).
T_ORDER = ("T0", "Tis", "T1a", "T1b", "T2", "T3", "T4a", "T4b")
CLINICAL_T = ("Tis", "T1a", "T1b", "T2", "T3", "T4a", "T4b")
N_ORDER = ("N0", "N1", "N2", "N3")

# AJCC stages adenosquamous and undifferentiated carcinoma with the squamous scheme
# (domain.md §1.1); the generator's "other" is adenosquamous carcinoma (ICD-O-3 8560/3).
STAGING_SCHEME = {
    "squamous_cell_carcinoma": "squamous_cell_carcinoma",
    "adenocarcinoma": "adenocarcinoma",
    "other": "squamous_cell_carcinoma",
}
# ICD-O-3 morphology families (domain.md §1.1); "other" is not checked by the clinical core.
MORPHOLOGY_FAMILIES = {"squamous_cell_carcinoma": (8050, 8089), "adenocarcinoma": (8140, 8389)}
# ICD-O-3 topography of each location (domain.md §1.1).
TOPOGRAPHY = {"cervical": "C15.0", "upper": "C15.3", "middle": "C15.4", "lower": "C15.5", "egj": "C16.0"}

HER2_RESULTS = ("0", "1+", "2+ ISH-", "2+ ISH+", "3+")
HER2_POSITIVE = ("3+", "2+ ISH+")  # ToGA criteria: IHC 3+ or IHC 2+ with ISH amplification
MSI_RESULTS = ("MSI-H", "MSI-L", "MSS")
# PD-L1 score bands a profile gives shares for; the value is drawn uniformly inside the band.
PDL1_BANDS = {"0": (0, 0), "1-4": (1, 4), "5-9": (5, 9), "10-49": (10, 49), "50-100": (50, 100)}

ECOG_LOINC = "89247-1"
BMI_LOINC = "39156-5"

# Treatment pathways (domain.md §3.1), the values of a quota's "regimen".
PATHWAYS = (
    "endoscopic_resection",
    "esophagectomy",
    "CROSS",
    "FLOT",
    "definitive_CRT",
    "palliative_systemic",
    "best_supportive_care",
)
CURATIVE = ("endoscopic_resection", "esophagectomy", "CROSS", "FLOT", "definitive_CRT")
NEOADJUVANT = ("CROSS", "FLOT")

# Settings a profile dates (treatment.eras): the regimen of a setting is never given before its
# date; ``instead`` may name one of these regimens of the same setting (else the setting's
# established regimen: chemotherapy alone, or nothing for adjuvant nivolumab).
ERA_KEYS: dict[str, tuple[str, ...]] = {
    "CROSS": ("cisplatin/fluorouracil",),  # neoadjuvant chemoradiation before CROSS
    "FLOT": ("ECF",),  # perioperative chemotherapy before FLOT (MAGIC)
    "adjuvant nivolumab": (),
    "nivolumab + FOLFOX": (),
    "nivolumab + cisplatin/fluorouracil": ("pembrolizumab + cisplatin/fluorouracil",),
    "pembrolizumab + cisplatin/fluorouracil": (),
    "trastuzumab + cisplatin/capecitabine": (),
    "pembrolizumab": (),
    "second-line ramucirumab + paclitaxel": ("paclitaxel",),
    "second-line nivolumab": ("paclitaxel",),
}

# Risk factors a profile may record, with their levels in order (a latent normal above a level's
# threshold falls in a later level, so a positive correlation makes later levels co-occur).
RISK_LEVELS = {
    "tobacco": ("never", "former", "current"),
    "alcohol": ("0-39", "40-79", "80-119", "120+"),  # g/day, the Ille-et-Vilaine bands (§2.7)
    "opium": ("no", "yes"),
    "hot_beverages": ("no", "yes"),
    "gerd": ("no", "yes"),
    "barretts": ("no", "yes"),
    "family_history": ("no", "yes"),
    "bmi": ("under_25", "25_to_30", "30_plus"),
    "socioeconomic_status": ("high", "middle", "low"),
}
BMI_BANDS = {"under_25": (15.0, 25.0), "25_to_30": (25.0, 30.0), "30_plus": (30.0, 55.0)}
ALCOHOL_BANDS = {"0-39": (0.0, 40.0), "40-79": (40.0, 80.0), "80-119": (80.0, 120.0), "120+": (120.0, 250.0)}
AGE_BAND_EDGE = 75  # years; treatment modifiers may name the bands "<75" and "75+"
AGE_BANDS = ("<75", "75+")

STAGE_GROUPS = ("0", "I", "IA", "IB", "IC", "II", "IIA", "IIB", "III", "IIIA", "IIIB", "IVA", "IVB")

# Fields a quota may constrain, all drawn together from the joint table (engine.joint), with
# the codes each can take.
FIELD_CODES = {
    "histology": HISTOLOGIES,
    "sex": SEXES,
    "age_band": AGE_BANDS,
    "location": LOCATIONS,
    "stage_group": STAGE_GROUPS,
    "t": T_ORDER,
    "n": N_ORDER,
    "m": M_CATEGORIES,
    "ecog": ECOG_SCORES,
    "regimen": PATHWAYS,
}
QUOTA_FIELDS = tuple(FIELD_CODES)
