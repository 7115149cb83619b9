"""A realistic esophageal cancer record (Golestan, squamous cell carcinoma after CROSS)."""

from __future__ import annotations

import copy
from typing import Any

RECORD: dict[str, Any] = {
    "sex": "male",
    "birth_date": "1958-03-14",
    "given_name": "Reza",
    "family_name": "Karimi",
    "mrn": "GOL-0045812",
    "national_id": "2750398814",
    "ethnicity": "Turkmen",
    "country": "IR",
    "province": "Golestan",
    "address": "12 Shahid Beheshti St, Gonbad-e Kavus",
    "phone": "+98 17 3322 1144",
    "origin": "real",
    "source": "golestan-registry",
    "risk_factors": {
        "tobacco": "current",
        "pack_years": 35,
        "opium": True,
        "hot_beverages": True,
        "socioeconomic_status": "low",
    },
    "conditions": [
        {
            "diagnosis_date": "2023-01-10",
            "histology": "squamous_cell_carcinoma",
            "morphology_code": "8070/3",
            "topography_code": "C15.4",
            "location": "middle",
            "grade": "G2",
            "tumour_length_cm": 5.5,
        }
    ],
    "staging": [
        {
            "kind": "clinical",
            "t": "T3",
            "n": "N1",
            "m": "M0",
            "stage_group": "III",
            "assessed_on": "2023-01-20",
        }
    ],
    "biomarkers": [{"kind": "pdl1_tps", "value": "5", "measured_on": "2023-01-25"}],
    "treatments": [
        {
            "kind": "systemic",
            "start_date": "2023-02-01",
            "end_date": "2023-03-08",
            "intent": "neoadjuvant",
            "regimen": "CROSS",
            "agents": ["carboplatin", "paclitaxel"],
        },
        {
            "kind": "radiotherapy",
            "start_date": "2023-02-01",
            "end_date": "2023-03-08",
            "intent": "neoadjuvant",
            "dose_gy": 41.4,
            "fractions": 23,
        },
        {
            "kind": "surgery",
            "start_date": "2023-04-20",
            "procedure": "Ivor Lewis esophagectomy",
            "margin": "R0",
            "pathologic_complete_response": False,
            "tumour_regression_grade": 2,
        },
    ],
    "observations": [
        {"code": "89247-1", "value": 1, "observed_on": "2023-01-20"},
        {"code": "1751-7", "value": 3.6, "unit": "g/dL", "observed_on": "2023-01-20"},
    ],
    "outcome": {"vital_status": "alive", "last_follow_up": "2025-06-01"},
}


def record(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(RECORD)
    data.update(changes)
    return data


# An adenocarcinoma of the gastro-oesophageal junction, in place of RECORD's SCC condition.
ADENO: dict[str, Any] = {
    **RECORD["conditions"][0],
    "histology": "adenocarcinoma",
    "morphology_code": "8140/3",
    "topography_code": "C16.0",
    "location": "egj",
}


def died(months_after_2023_01_10: int) -> dict[str, Any]:
    """An outcome: dead this many months after RECORD's diagnosis (the 15th of that month)."""
    year, month = divmod(months_after_2023_01_10, 12)
    day = f"{2023 + year}-{month + 1:02d}-15"
    return {"vital_status": "dead", "last_follow_up": day, "death_date": day}
