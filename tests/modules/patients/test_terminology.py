"""The terminology files FHIR is read with, code by code: every row is read as its row says,
and every row names its source."""

from __future__ import annotations

import pytest

from inescape.modules.patients.fhir import read_clinical, read_treatments, terminology
from inescape.modules.patients.fhir.reading import Unmappable

FILES = [
    "conditions.csv",
    "body_sites.csv",
    "location_qualifiers.csv",
    "morphology.csv",
    "tnm.csv",
    "medications.csv",
    "procedures.csv",
    "intents.csv",
    "assessments.csv",
]
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
SNOMED = "http://snomed.info/sct"


def rows(name: str) -> list[terminology.Term]:
    return list(terminology.table(name).values())


def concept(term: terminology.Term) -> dict:
    return {"coding": [{"system": term.system, "code": term.code, "display": term.display}]}


def condition(**changes) -> dict:
    base = {
        "resourceType": "Condition",
        "id": "c",
        "code": {"coding": [{"system": SNOMED, "code": "363402007"}]},
        "bodySite": [{"coding": [{"system": SNOMED, "code": "32849002"}]}],
        "extension": [
            {
                "url": MCODE + "mcode-histology-morphology-behavior",
                "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "35917007"}]},
            }
        ],
        "onsetDateTime": "2020-01-02",
    }
    return {**base, **changes}


@pytest.mark.parametrize("name", FILES)
def test_every_mapping_names_its_code_system_display_and_source(name):
    assert rows(name)
    for term in rows(name):
        assert term.system.startswith("http"), term
        assert term.code, term
        assert term.display, term
        assert term.source, term


@pytest.mark.parametrize("term", rows("conditions.csv"), ids=lambda t: f"{t.system}|{t.code}")
def test_each_condition_code_gives_its_topography(term):
    assert read_clinical.site_of({"code": concept(term)})[0] == term.values["topography"]


@pytest.mark.parametrize("term", rows("body_sites.csv"), ids=lambda t: f"{t.system}|{t.code}")
def test_each_body_site_gives_its_topography_and_location(term):
    found = read_clinical.site_of({"bodySite": [concept(term)]})

    assert found == (term.values["topography"], term.values["location"] or None)


@pytest.mark.parametrize("term", rows("location_qualifiers.csv"), ids=lambda t: t.code)
def test_each_location_qualifier_places_the_esophagus(term):
    site = {
        "coding": [{"system": SNOMED, "code": "32849002"}],
        "extension": [
            {"url": MCODE + "mcode-body-location-qualifier", "valueCodeableConcept": concept(term)}
        ],
    }

    read = read_clinical.read_condition(condition(bodySite=[site]))

    assert (read["topography_code"], read["location"]) == (term.values["topography"], term.values["location"])


@pytest.mark.parametrize("term", rows("morphology.csv"), ids=lambda t: f"{t.system}|{t.code}")
def test_each_morphology_gives_its_icd_o_3_code_and_histology(term):
    ext = [{"url": MCODE + "mcode-histology-morphology-behavior", "valueCodeableConcept": concept(term)}]
    site = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/icd-o-3", "code": "C15.5"}]}]

    read = read_clinical.read_condition(condition(extension=ext, bodySite=site))

    assert read["morphology_code"] == term.values["icdo3"]
    expected = "squamous_cell_carcinoma" if term.values["icdo3"].startswith("80") else "adenocarcinoma"
    assert read["histology"] == expected


def test_an_esophageal_cancer_with_no_location_is_named_not_guessed():
    with pytest.raises(Unmappable) as caught:
        read_clinical.read_condition(condition())

    assert caught.value.element == "bodySite"
    assert "C15.9" in caught.value.message


def test_a_condition_of_another_organ_is_not_an_esophageal_cancer():
    other = condition(
        code={"coding": [{"system": SNOMED, "code": "254637007"}]},
        bodySite=[{"coding": [{"system": SNOMED, "code": "39607008"}]}],
    )
    assert read_clinical.read_condition(other) is None


@pytest.mark.parametrize(
    "term",
    [t for t in rows("tnm.csv") if not t.values["axis"].endswith("-code")],
    ids=lambda t: t.code,
)
def test_each_ajcc_value_is_read_from_its_code_and_from_its_display(term):
    axis, value = term.values["axis"], term.values["value"]
    by_code = {"coding": [{"system": term.system, "code": term.code}]}
    by_display = {"coding": [{"system": term.system, "code": "0", "display": term.display}]}

    assert read_clinical.ajcc_value(by_code, axis) == value
    assert read_clinical.ajcc_value(by_display, axis) == value


@pytest.mark.parametrize(
    "term", [t for t in rows("tnm.csv") if t.values["axis"].endswith("-code")], ids=lambda t: t.code
)
def test_each_snomed_category_code_names_its_axis(term):
    assert read_clinical.category_axis({"code": concept(term)}) == term.values["axis"][0]


def medication(concept_: dict, **extra) -> dict:
    return {"resourceType": "MedicationRequest", "id": "m", "medicationCodeableConcept": concept_, **extra}


@pytest.mark.parametrize(
    "term",
    [t for t in rows("medications.csv") if t.system == terminology.RXNORM],
    ids=lambda t: t.display,
)
def test_each_rxnorm_ingredient_is_cancer_therapy(term):
    assert read_treatments.cancer_agent(
        medication({"coding": [{"system": term.system, "code": term.code}]})
    ) == (
        True,
        term.values["agent"],
    )


@pytest.mark.parametrize("code", ["L01XA01", "L01FF01", "L02BB04"])
def test_atc_antineoplastic_and_endocrine_therapy_codes_count(code):
    therapy, _ = read_treatments.cancer_agent(
        medication({"coding": [{"system": terminology.ATC, "code": code}]})
    )

    assert therapy is True


@pytest.mark.parametrize(
    ("code", "display"),
    [
        ("313782", "Acetaminophen 325 MG Oral Tablet"),
        ("243670", "Aspirin 81 MG Oral Tablet"),
        ("895994", "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler"),
    ],
)
def test_ordinary_medications_from_synthea_are_not_cancer_therapy(code, display):
    coded = {"coding": [{"system": terminology.RXNORM, "code": code, "display": display}], "text": display}

    assert read_treatments.cancer_agent(medication(coded)) == (False, None)


def test_an_atc_code_outside_l01_l02_is_not_cancer_therapy():
    paracetamol = {"coding": [{"system": terminology.ATC, "code": "N02BE01"}]}

    assert read_treatments.cancer_agent(medication(paracetamol)) == (False, None)


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("Cisplatin 50 MG Injection", "cisplatin"),
        ("5-FU infusion", "fluorouracil"),
        ("Keytruda", "pembrolizumab"),
    ],
)
def test_a_product_or_brand_name_names_its_agent(text, agent):
    product = {"coding": [{"system": terminology.RXNORM, "code": "999999", "display": text}]}

    assert read_treatments.cancer_agent(medication(product)) == (True, agent)


def test_an_uncoded_unknown_medication_is_named_not_guessed():
    with pytest.raises(Unmappable) as caught:
        read_treatments.cancer_agent(medication({"text": "Compound X"}))

    assert caught.value.element == "medicationCodeableConcept"
    assert "Compound X" in caught.value.message


def test_an_uncoded_mcode_cancer_related_request_counts_with_its_text():
    request = medication(
        {"text": "study drug"}, meta={"profile": [MCODE + "mcode-cancer-related-medication-request"]}
    )

    assert read_treatments.cancer_agent(request) == (True, None)


@pytest.mark.parametrize("term", rows("procedures.csv"), ids=lambda t: t.code)
def test_each_procedure_code_gives_its_treatment_kind(term):
    assert read_treatments.procedure_kind({"code": concept(term)}) == term.values["kind"]


@pytest.mark.parametrize("term", rows("intents.csv"), ids=lambda t: t.code)
def test_each_procedure_intent_gives_the_records_intent(term):
    ext = [{"url": MCODE + "mcode-procedure-intent", "valueCodeableConcept": concept(term)}]

    assert read_treatments.common_fields({"extension": ext}).get("intent") == (term.values["intent"] or None)


@pytest.mark.parametrize(
    "term",
    [t for t in rows("assessments.csv") if t.values["fact"] != "answer"],
    ids=lambda t: f"{t.system}|{t.code}",
)
def test_each_assessment_code_names_the_fact_it_records(term):
    assert read_clinical.observation_kind({"code": concept(term)}) == term.values["fact"]


@pytest.mark.parametrize(
    "term", [t for t in rows("assessments.csv") if t.values["fact"] == "answer"], ids=lambda t: t.code
)
def test_each_present_or_absent_answer_reads_as_its_value(term):
    assert read_clinical.read_presence({"valueCodeableConcept": concept(term)}) is (
        term.values["value"] == "true"
    )
