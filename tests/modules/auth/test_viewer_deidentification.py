"""Researchers only ever see de-identified records; other roles see them whole."""

from __future__ import annotations

from inescape.modules.auth.api import Principal
from inescape.modules.auth.deid import Deidentifier, for_viewer

RECORD = {
    "name": "Maryam Rahimi",
    "mrn": "MRN-558812",
    "birth_date": "1961-04-02",
    "province": "Golestan",
    "histology": "squamous cell carcinoma",
    "conditions": [{"diagnosis_date": "2024-02-11", "stage_group": "IIIA"}],
}


def viewer(*roles: str) -> Principal:
    return Principal(id="u", username="u", roles=list(roles))


def test_a_researcher_gets_a_de_identified_record():
    seen = for_viewer(viewer("researcher"), Deidentifier(b"k" * 32), RECORD, patient_id="p1")

    text = repr(seen)
    assert "Maryam" not in text
    assert "MRN-558812" not in text
    assert "1961-04-02" not in text
    assert seen["research_id"].startswith("R-")
    assert seen["histology"] == "squamous cell carcinoma"


def test_a_clinician_who_is_also_a_researcher_sees_the_record_whole():
    seen = for_viewer(viewer("clinician", "researcher"), Deidentifier(b"k" * 32), RECORD, patient_id="p1")

    assert seen == RECORD


def test_an_unknown_viewer_gets_the_de_identified_record():
    seen = for_viewer(None, Deidentifier(b"k" * 32), RECORD, patient_id="p1")

    assert "name" not in seen
