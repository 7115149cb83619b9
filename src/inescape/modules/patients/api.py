"""The clinical core's public face: the record's DTOs (mCODE-aligned), its errors, and the
facades other modules and notebooks call (``PatientsApi``, bound to the database and cache;
``ClinicalCodecs``, FHIR and survival functions that need no backend).

Nothing here imports the module's internals or a framework: the implementations are bound by
the composition root (``module.py``'s ``bind`` and ``library``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

import msgspec

from inescape.kernel.errors import Invalid, NotFound

if TYPE_CHECKING:
    import polars as pl

MODULE = "patients"
# what a cohort read (the notebook's ``load_cohort``) selects by; any other name is refused
COHORT_FILTERS = (
    "sex",
    "histology",
    "location",
    "stage_group",
    "vital_status",
    "origin",
    "source",
    "treatment",
    "biomarker",
    "scheme",
    "min_age",
    "max_age",
    "diagnosed_from",
    "diagnosed_to",
    "mrn",
)


def unknown_filters(filters: Iterable[str]) -> None:
    """Refuse, naming them, filters a cohort read does not know (a typo would otherwise
    select the whole cohort)."""
    unknown = sorted(set(filters) - set(COHORT_FILTERS))
    if unknown:
        raise Invalid(
            f"Unknown cohort filter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
            f"(the filters are {', '.join(COHORT_FILTERS)})",
            errors=[{"field": name, "message": "unknown filter"} for name in unknown],
        )


Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Fraction = Annotated[float, msgspec.Meta(ge=0, le=100)]

Sex = Literal["female", "male", "other", "unknown"]
Origin = Literal["real", "synthetic"]
HistologyT = Literal["squamous_cell_carcinoma", "adenocarcinoma", "other"]
LocationT = Literal["cervical", "upper", "middle", "lower", "egj"]
StagingKind = Literal["clinical", "pathological", "post_neoadjuvant"]
TreatmentKind = Literal["surgery", "radiotherapy", "systemic", "endoscopic_resection"]
Intent = Literal["neoadjuvant", "adjuvant", "perioperative", "definitive", "palliative"]


class Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class RiskFactors(Strict, frozen=True):
    tobacco: Annotated[
        Literal["never", "former", "current", "unknown"],
        msgspec.Meta(description="Tobacco smoking: never, former, current or unknown."),
    ] = "unknown"
    pack_years: (
        Annotated[
            float,
            msgspec.Meta(
                ge=0, le=300, description="Packs a day times years smoked, 0 to 300; null: unknown."
            ),
        ]
        | None
    ) = None
    alcohol_g_per_day: (
        Annotated[
            float,
            msgspec.Meta(
                ge=0, le=500, description="Alcohol intake in grams of ethanol a day, 0 to 500; null: unknown."
            ),
        ]
        | None
    ) = None
    opium: Annotated[
        bool | None, msgspec.Meta(description="Whether the patient uses or used opium; null: unknown.")
    ] = None
    hot_beverages: Annotated[
        bool | None,
        msgspec.Meta(
            description=(
                "Whether the patient habitually drinks very hot tea or other hot drinks; null: unknown."
            )
        ),
    ] = None
    gerd: Annotated[
        bool | None, msgspec.Meta(description="Gastro-esophageal reflux disease; null: unknown.")
    ] = None
    barretts: Annotated[bool | None, msgspec.Meta(description="Barrett's esophagus; null: unknown.")] = None
    bmi: (
        Annotated[
            float,
            msgspec.Meta(ge=10, le=80, description="Body mass index in kg/m2, 10 to 80; null: unknown."),
        ]
        | None
    ) = None
    family_history: Annotated[
        bool | None, msgspec.Meta(description="Esophageal cancer in the patient's family; null: unknown.")
    ] = None
    socioeconomic_status: Annotated[
        Literal["low", "middle", "high", "unknown"], msgspec.Meta(description="low, middle, high or unknown.")
    ] = "unknown"


class Condition(Strict, frozen=True):
    """The primary cancer condition (mCODE PrimaryCancerCondition)."""

    diagnosis_date: Annotated[
        date,
        msgspec.Meta(
            description=(
                "The date of diagnosis (YYYY-MM-DD), on or after birth; not in the future. Researchers see "
                "it shifted by the patient's date offset."
            )
        ),
    ]
    histology: Annotated[
        HistologyT,
        msgspec.Meta(
            description=(
                "squamous_cell_carcinoma, adenocarcinoma or other; morphology_code must be of its "
                "ICD-O-3 family."
            )
        ),
    ]
    morphology_code: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^\d{4}/\d\Z",
            description=(
                "ICD-O-3 morphology with behaviour (8070/3); squamous cell carcinoma 8050-8089, "
                "adenocarcinoma 8140-8389."
            ),
        ),
    ]
    topography_code: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^C1[56]\.\d\Z",
            description=(
                "ICD-O-3 topography: C15.0 to C15.5, C15.8, C15.9 (esophagus) or C16.0 (cardia, EGJ)."
            ),
        ),
    ]
    location: Annotated[
        LocationT,
        msgspec.Meta(
            description=(
                "The tumour's epicentre: cervical, upper, middle or lower (thoracic) esophagus, or egj "
                "(esophagogastric junction)."
            )
        ),
    ]
    siewert: Annotated[
        Literal["I", "II", "III"] | None,
        msgspec.Meta(
            description=(
                "Siewert type I, II or III, for a tumour of the esophagogastric junction only (location "
                "egj); null: not typed."
            )
        ),
    ] = None
    grade: Annotated[
        Literal["GX", "G1", "G2", "G3"],
        msgspec.Meta(
            description=(
                "Histologic grade (AJCC 8th): G1 well, G2 moderately, G3 poorly differentiated; GX not "
                "assessable."
            )
        ),
    ] = "GX"
    tumour_length_cm: (
        Annotated[
            float,
            msgspec.Meta(
                gt=0,
                le=30,
                description="The tumour's length in centimetres (above 0, at most 30); null: not measured.",
            ),
        ]
        | None
    ) = None
    # Tumour facts decision support asks for (None: not known). Lymphovascular invasion is
    # read on the pathology or biopsy; invasion of the trachea or bronchi, the aorta or other
    # great vessels, or the heart makes a tumour cT4b (unresectable, AJCC 8th chapter 16).
    lymphovascular_invasion: Annotated[
        bool | None,
        msgspec.Meta(
            description="Whether pathology or biopsy found lymphovascular invasion; null: not known."
        ),
    ] = None
    invades_airway_or_great_vessels: Annotated[
        bool | None,
        msgspec.Meta(
            description=(
                "Whether the tumour invades the trachea or bronchi, the aorta or another great vessel, or "
                "the heart (cT4b, unresectable); null: not known."
            )
        ),
    ] = None


class SurgicalFitness(Strict, frozen=True):
    """Whether the patient is fit for surgery (esophagectomy), who judged it and when."""

    fit: Annotated[bool, msgspec.Meta(description="Whether the patient is fit for esophagectomy.")]
    assessed_by: Annotated[
        Text,
        msgspec.Meta(
            description=(
                "The clinician or tumour board who judged it (a staff identifier); removed for researchers."
            )
        ),
    ]
    assessed_on: Annotated[
        date, msgspec.Meta(description="When it was judged (YYYY-MM-DD); shifted for researchers.")
    ]
    note: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=1000,
                description="Free text on the judgement; removed for researchers. Null: none.",
            ),
        ]
        | None
    ) = None


# Charlson comorbidity index categories (Charlson 1987; ICD-10 coding by Quan et al. 2005).
CharlsonCategory = Literal[
    "myocardial_infarction",
    "congestive_heart_failure",
    "peripheral_vascular_disease",
    "cerebrovascular_disease",
    "dementia",
    "chronic_pulmonary_disease",
    "rheumatic_disease",
    "peptic_ulcer_disease",
    "mild_liver_disease",
    "diabetes_without_complications",
    "diabetes_with_complications",
    "hemiplegia_or_paraplegia",
    "renal_disease",
    "other_malignancy",
    "moderate_or_severe_liver_disease",
    "metastatic_solid_tumour",
    "hiv_aids",
]
ComorbiditySystem = Literal[
    "http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm"
]


class Comorbidity(Strict, frozen=True):
    """A condition beside the cancer (mCODE Comorbidities: a comorbid condition present)."""

    system: Annotated[
        ComorbiditySystem,
        msgspec.Meta(
            description=(
                "The code system: SNOMED CT (http://snomed.info/sct), ICD-10 or ICD-10-CM (their FHIR URIs)."
            )
        ),
    ]
    code: Annotated[
        Code,
        msgspec.Meta(
            description=(
                "The condition's code in system (SNOMED CT concept id 22298006, ICD-10 I21.9); each system "
                "and code once."
            )
        ),
    ]
    display: Annotated[Text, msgspec.Meta(description="The condition in words (Myocardial infarction).")]
    category: Annotated[
        CharlsonCategory | None,
        msgspec.Meta(
            description=(
                "Its Charlson comorbidity index category (Charlson 1987, ICD-10 coding by Quan 2005); null: "
                "none of them."
            )
        ),
    ] = None
    recorded_on: Annotated[
        date | None, msgspec.Meta(description="When it was recorded (YYYY-MM-DD); null: not known.")
    ] = None


class Staging(Strict, frozen=True):
    kind: Annotated[
        StagingKind,
        msgspec.Meta(description="clinical (cTNM), pathological (pTNM) or post_neoadjuvant (ypTNM)."),
    ]
    t: Annotated[
        Code,
        msgspec.Meta(
            description=(
                "AJCC 8th edition T category: TX, T0, Tis, T1, T1a, T1b, T2, T3, T4, T4a or T4b (no c/p/yp "
                "prefix)."
            )
        ),
    ]
    n: Annotated[Code, msgspec.Meta(description="AJCC 8th edition N category: NX, N0, N1, N2 or N3.")]
    m: Annotated[Code, msgspec.Meta(description="AJCC 8th edition M category: M0 or M1.")]
    stage_group: Annotated[
        Code,
        msgspec.Meta(
            description=(
                "AJCC 8th edition stage group: 0, I, IA, IB, IC, II, IIA, IIB, III, IIIA, IIIB, IVA or IVB."
            )
        ),
    ]
    assessed_on: Annotated[
        date, msgspec.Meta(description="When it was staged (YYYY-MM-DD); shifted for researchers.")
    ]
    grade: Annotated[
        Literal["GX", "G1", "G2", "G3"] | None,
        msgspec.Meta(description="The grade the staging used (G1, G2, G3, GX); null: not recorded."),
    ] = None
    location: Annotated[
        LocationT | None,
        msgspec.Meta(description="The tumour location the staging used; null: not recorded."),
    ] = None
    method: Annotated[Text, msgspec.Meta(description="The staging system.")] = "AJCC 8th edition"


class Biomarker(Strict, frozen=True):
    kind: Annotated[
        Literal["her2", "pdl1_cps", "pdl1_tps", "msi", "mmr"],
        msgspec.Meta(
            description=(
                "her2, pdl1_cps (PD-L1 combined positive score), pdl1_tps (PD-L1 tumour proportion score), "
                "msi or mmr."
            )
        ),
    ]
    value: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=16,
            description=(
                "The result, as text: her2 0, 1+, 2+, 2+ ISH+, 2+ ISH- or 3+; pdl1_cps and pdl1_tps a number"
                " from 0 to 100; msi MSI-H, MSI-L or MSS; mmr dMMR or pMMR."
            ),
        ),
    ]
    measured_on: Annotated[
        date, msgspec.Meta(description="When the specimen was tested (YYYY-MM-DD); shifted for researchers.")
    ]


class Treatment(Strict, frozen=True):
    kind: Annotated[
        TreatmentKind,
        msgspec.Meta(description="surgery, radiotherapy, systemic (drug) therapy or endoscopic_resection."),
    ]
    start_date: Annotated[
        date,
        msgspec.Meta(
            description="When it started (YYYY-MM-DD), not before the diagnosis; shifted for researchers."
        ),
    ]
    end_date: Annotated[
        date | None,
        msgspec.Meta(description="When it ended, not before start_date; null: ongoing or not recorded."),
    ] = None
    intent: Annotated[
        Intent | None,
        msgspec.Meta(
            description="neoadjuvant, adjuvant, perioperative, definitive or palliative; null: not recorded."
        ),
    ] = None
    procedure: (
        Annotated[
            Text,
            msgspec.Meta(
                description="The operation or procedure, in words (Ivor Lewis esophagectomy); null: none."
            ),
        ]
        | None
    ) = None
    regimen: (
        Annotated[Text, msgspec.Meta(description="The named regimen (CROSS, FLOT); null: none.")] | None
    ) = None
    agents: Annotated[
        list[Text],
        msgspec.Meta(
            description="The drugs given, by generic name (carboplatin, paclitaxel); empty: none recorded."
        ),
    ] = msgspec.field(default_factory=list)
    line: (
        Annotated[
            int,
            msgspec.Meta(
                ge=1,
                le=10,
                description=(
                    "For systemic therapy, the line of therapy (1: first line, up to 10); null: not recorded."
                ),
            ),
        ]
        | None
    ) = None
    margin: Annotated[
        Literal["R0", "R1", "R2"] | None,
        msgspec.Meta(
            description=(
                "For surgery only, the resection margin: R0 clear, R1 microscopic, R2 macroscopic residual "
                "tumour; null: not recorded."
            )
        ),
    ] = None
    dose_gy: (
        Annotated[
            float,
            msgspec.Meta(
                gt=0,
                le=100,
                description=(
                    "For radiotherapy only, the total dose in Gy (above 0, at most 100); null: not recorded."
                ),
            ),
        ]
        | None
    ) = None
    fractions: (
        Annotated[
            int,
            msgspec.Meta(
                ge=1,
                le=60,
                description="For radiotherapy only, the number of fractions (1 to 60); null: not recorded.",
            ),
        ]
        | None
    ) = None
    pathologic_complete_response: Annotated[
        bool | None,
        msgspec.Meta(
            description=(
                "For surgery after neoadjuvant therapy, whether no tumour remained (ypT0N0); null: not "
                "assessed."
            )
        ),
    ] = None
    tumour_regression_grade: (
        Annotated[
            int,
            msgspec.Meta(
                ge=1,
                le=5,
                description=(
                    "For surgery after neoadjuvant therapy, the Mandard tumour regression grade: 1 (complete"
                    " response) to 5 (no regression); null: not assessed."
                ),
            ),
        ]
        | None
    ) = None


class Observation(Strict, frozen=True):
    code: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^\d{1,7}-\d\Z",
            description=(
                "LOINC code, one of: 89247-1 ECOG performance status, 29463-7 weight, 39156-5 BMI, 718-7 "
                "haemoglobin, 1751-7 albumin, 2039-6 CEA, 26464-8 leukocytes, 777-3 platelets."
            ),
        ),
    ]
    value: Annotated[
        float, msgspec.Meta(description="The measurement, in unit (ECOG: a whole number from 0 to 5).")
    ]
    observed_on: Annotated[
        date, msgspec.Meta(description="When it was measured (YYYY-MM-DD); shifted for researchers.")
    ]
    unit: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=32,
                description="UCUM unit ({score}, kg, kg/m2, g/dL, ng/mL, 10*3/uL); null: not given.",
            ),
        ]
        | None
    ) = None


class Outcome(Strict, frozen=True):
    vital_status: Annotated[
        Literal["alive", "dead", "unknown"],
        msgspec.Meta(description="alive, dead (then death_date is required) or unknown."),
    ]
    last_follow_up: Annotated[
        date,
        msgspec.Meta(
            description=(
                "The last date the patient was known alive or seen (YYYY-MM-DD), not before the diagnosis; "
                "shifted for researchers."
            )
        ),
    ]
    death_date: Annotated[
        date | None,
        msgspec.Meta(
            description=(
                "The date of death, on or after every other date of the record; only with vital_status dead. "
                "Shifted for researchers."
            )
        ),
    ] = None
    cause_of_death: (
        Annotated[
            Text,
            msgspec.Meta(
                description="The cause, in words (esophageal cancer, other causes); null: unknown or alive."
            ),
        ]
        | None
    ) = None
    recurrence_date: Annotated[
        date | None,
        msgspec.Meta(
            description="When the cancer recurred, not before the diagnosis; null: no recurrence known."
        ),
    ] = None
    recurrence_site: (
        Annotated[
            Text,
            msgspec.Meta(
                description="Where it recurred, in words (locoregional, liver); null: no recurrence known."
            ),
        ]
        | None
    ) = None
    progression_date: Annotated[
        date | None,
        msgspec.Meta(
            description=(
                "When the disease first progressed in a patient never made free of it (no curative "
                "treatment, or one that left disease), not before the diagnosis; FHIR: a Cancer Disease "
                "Status Observation (LOINC 97509-4) valued 'worsened' (SNOMED CT 271299001). With "
                "recurrence_date it dates progression-free survival; null: no progression known."
            )
        ),
    ] = None


class PatientCreate(Strict, frozen=True):
    """A whole record, written in one transaction."""

    sex: Annotated[Sex, msgspec.Meta(description="female, male, other or unknown.")]
    birth_date: Annotated[
        date,
        msgspec.Meta(
            description=(
                "The date of birth (YYYY-MM-DD), not in the future. Researchers get birth_year instead, or "
                "age_group 90+ for a patient over 89."
            )
        ),
    ]
    given_name: (
        Annotated[
            Text,
            msgspec.Meta(
                description="Given name(s), stored encrypted; removed for researchers. Null: not given."
            ),
        ]
        | None
    ) = None
    family_name: (
        Annotated[
            Text,
            msgspec.Meta(
                description="Family name, stored encrypted; removed for researchers. Null: not given."
            ),
        ]
        | None
    ) = None
    mrn: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=64,
                description=(
                    "The hospital's medical record number, stored encrypted and searchable by exact value "
                    "(GET /api/v1/patients?mrn=); removed for researchers. Null: none."
                ),
            ),
        ]
        | None
    ) = None
    national_id: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=64,
                description=(
                    "The national identity number, stored encrypted; removed for researchers. Null: none."
                ),
            ),
        ]
        | None
    ) = None
    ethnicity: (
        Annotated[
            Text,
            msgspec.Meta(
                description="Ethnicity as the source records it (kept for researchers); null: not recorded."
            ),
        ]
        | None
    ) = None
    country: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=r"^[A-Z]{2}\Z",
                description="Country of residence, ISO 3166-1 alpha-2 (IR, US); null: not recorded.",
            ),
        ]
        | None
    ) = None
    province: (
        Annotated[
            Text,
            msgspec.Meta(
                description=(
                    "Province or state of residence (kept for researchers: no smaller unit is); null: not "
                    "recorded."
                )
            ),
        ]
        | None
    ) = None
    address: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=500,
                description="Postal address, stored encrypted; removed for researchers. Null: not given.",
            ),
        ]
        | None
    ) = None
    phone: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=40,
                description="Telephone number, stored encrypted; removed for researchers. Null: not given.",
            ),
        ]
        | None
    ) = None
    email: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=200,
                description="E-mail address, stored encrypted; removed for researchers. Null: not given.",
            ),
        ]
        | None
    ) = None
    origin: Annotated[
        Origin,
        msgspec.Meta(
            description=(
                "real (a patient) or synthetic (made by the generator); training and promotion tell them "
                "apart."
            )
        ),
    ] = "real"
    source: (
        Annotated[
            Text,
            msgspec.Meta(
                description=(
                    "The system the record came from (hospital-a-ehr); with source_record_id it keys "
                    "upserts. Null: entered here."
                )
            ),
        ]
        | None
    ) = None
    source_record_id: (
        Annotated[
            Text, msgspec.Meta(description="The record's id in source; removed for researchers. Null: none.")
        ]
        | None
    ) = None
    synthetic_risk: Annotated[
        float | None,
        msgspec.Meta(
            description=(
                "For synthetic patients, the generator's true risk (log cumulative hazard at 5 years), for "
                "oracle metrics only; null for real patients."
            )
        ),
    ] = None
    risk_factors: Annotated[
        RiskFactors,
        msgspec.Meta(
            description=(
                "Exposures and conditions that raise esophageal cancer risk; every one unknown when left out."
            )
        ),
    ] = msgspec.field(default_factory=RiskFactors)
    conditions: Annotated[
        list[Condition],
        msgspec.Meta(
            description="The cancer diagnoses; the earliest is the primary condition. Empty: none recorded."
        ),
    ] = msgspec.field(default_factory=list)
    staging: Annotated[
        list[Staging],
        msgspec.Meta(
            description=(
                "Each staging (clinical, pathological, post-neoadjuvant) with its date; empty: none recorded."
            )
        ),
    ] = msgspec.field(default_factory=list)
    biomarkers: Annotated[
        list[Biomarker],
        msgspec.Meta(description="HER2, PD-L1, MSI and MMR results with their dates; empty: none recorded."),
    ] = msgspec.field(default_factory=list)
    treatments: Annotated[
        list[Treatment],
        msgspec.Meta(
            description=(
                "Surgery, radiotherapy, systemic therapy and endoscopic resection, each with its dates; "
                "empty: none recorded."
            )
        ),
    ] = msgspec.field(default_factory=list)
    observations: Annotated[
        list[Observation],
        msgspec.Meta(
            description="Measurements coded in LOINC (ECOG, weight, laboratory values); empty: none recorded."
        ),
    ] = msgspec.field(default_factory=list)
    outcome: Annotated[
        Outcome | None,
        msgspec.Meta(
            description="Vital status, follow-up, death and recurrence; null: no follow-up recorded."
        ),
    ] = None
    fitness_for_surgery: Annotated[
        SurgicalFitness | None,
        msgspec.Meta(description="The current judgement of fitness for esophagectomy; null: not assessed."),
    ] = None
    comorbidities: Annotated[
        list[Comorbidity],
        msgspec.Meta(
            description="Conditions beside the cancer (SNOMED CT or ICD-10 coded); empty: none recorded."
        ),
    ] = msgspec.field(default_factory=list)


class PatientUpdate(Strict, frozen=True):
    """Demographics, risk factors, outcome and the assessments decision support asks for;
    clinical events have their own sub-resources. A field left out (or null) is unchanged,
    except the three assessments (fitness for surgery and the primary condition's invasion
    facts), where an explicit null makes a recorded one unknown again; ``comorbidities``
    replaces the whole list. ``version``: the version the change was made
    against; a stored record at another version refuses it (optimistic concurrency)."""

    version: (
        Annotated[
            int,
            msgspec.Meta(
                ge=1,
                description=(
                    "The record version the change was made against (from the read); another stored version "
                    "refuses it with a 409. Null: no check."
                ),
            ),
        ]
        | None
    ) = None

    sex: Annotated[
        Sex | None, msgspec.Meta(description="female, male, other or unknown; null or left out: unchanged.")
    ] = None
    given_name: (
        Annotated[Text, msgspec.Meta(description="Given name(s); null or left out: unchanged.")] | None
    ) = None
    family_name: (
        Annotated[Text, msgspec.Meta(description="Family name; null or left out: unchanged.")] | None
    ) = None
    ethnicity: Annotated[Text, msgspec.Meta(description="Ethnicity; null or left out: unchanged.")] | None = (
        None
    )
    country: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=r"^[A-Z]{2}\Z",
                description="Country, ISO 3166-1 alpha-2; null or left out: unchanged.",
            ),
        ]
        | None
    ) = None
    province: (
        Annotated[Text, msgspec.Meta(description="Province or state; null or left out: unchanged.")] | None
    ) = None
    address: (
        Annotated[
            str, msgspec.Meta(max_length=500, description="Postal address; null or left out: unchanged.")
        ]
        | None
    ) = None
    phone: (
        Annotated[
            str, msgspec.Meta(max_length=40, description="Telephone number; null or left out: unchanged.")
        ]
        | None
    ) = None
    email: (
        Annotated[
            str, msgspec.Meta(max_length=200, description="E-mail address; null or left out: unchanged.")
        ]
        | None
    ) = None
    risk_factors: Annotated[
        RiskFactors | None,
        msgspec.Meta(
            description=(
                "The risk factors, replacing the recorded ones as a whole; null or left out: unchanged."
            )
        ),
    ] = None
    outcome: Annotated[
        Outcome | None,
        msgspec.Meta(
            description="The outcome, replacing the recorded one as a whole; null or left out: unchanged."
        ),
    ] = None
    fitness_for_surgery: Annotated[
        SurgicalFitness | msgspec.UnsetType | None,
        msgspec.Meta(
            description=(
                "A new judgement of fitness for surgery; null: not known any more; left out: unchanged."
            )
        ),
    ] = msgspec.UNSET
    comorbidities: Annotated[
        list[Comorbidity] | None,
        msgspec.Meta(
            description=(
                "The whole list of comorbidities, replacing the recorded one ([] clears it); null or left "
                "out: unchanged."
            )
        ),
    ] = None
    # Of the primary (earliest) condition: a record without one refuses them.
    lymphovascular_invasion: Annotated[
        bool | msgspec.UnsetType | None,
        msgspec.Meta(
            description=(
                "Of the primary condition (a 422 without one); null: not known any more; left out: unchanged."
            )
        ),
    ] = msgspec.UNSET
    invades_airway_or_great_vessels: Annotated[
        bool | msgspec.UnsetType | None,
        msgspec.Meta(
            description=(
                "Of the primary condition (a 422 without one): invasion of the airway, a great vessel or the"
                " heart (cT4b); null: not known any more; left out: unchanged."
            )
        ),
    ] = msgspec.UNSET


class PatientRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A whole record as read back (ids added; identifiers decrypted)."""

    id: str
    version: int
    created_at: datetime
    updated_at: datetime
    sex: str
    birth_date: date
    given_name: str | None
    family_name: str | None
    mrn: str | None
    national_id: str | None
    ethnicity: str | None
    country: str | None
    province: str | None
    address: str | None
    phone: str | None
    email: str | None
    origin: str
    source: str | None
    source_record_id: str | None
    synthetic_risk: float | None
    risk_factors: RiskFactors
    conditions: list[Condition]
    staging: list[Staging]
    biomarkers: list[Biomarker]
    treatments: list[Treatment]
    observations: list[Observation]
    outcome: Outcome | None
    fitness_for_surgery: SurgicalFitness | None = None
    comorbidities: list[Comorbidity] = msgspec.field(default_factory=list)


class PatientSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the patient list. The name and MRN are for those who may see a whole
    record; a researcher's row is de-identified (``PatientViews``) and never carries them."""

    id: str
    sex: str
    birth_year: int
    origin: str
    source: str | None
    histology: str | None
    location: str | None
    stage_group: str | None
    diagnosis_date: date | None
    vital_status: str | None
    created_at: datetime
    given_name: str | None = None
    family_name: str | None = None
    mrn: str | None = None


class Upserted(msgspec.Struct, frozen=True):
    """What an upsert did with one record."""

    patient_id: str
    outcome: str  # "created", "updated" or "unchanged"


class GroupTally(msgspec.Struct, frozen=True):
    """One group's observed events and those expected were survival the same everywhere."""

    group: str
    n: int
    observed: int
    expected: float


class LogRankResult(msgspec.Struct, frozen=True):
    """The k-group log-rank chi-square; ``df`` is the rank of its covariance (k - 1 as a rule)."""

    statistic: float
    df: int
    p_value: float
    groups: tuple[GroupTally, ...]
    # log10 of the p-value, finite where the p-value itself is too small for a float (0.0)
    p_value_log10: float | None = None

    def table(self) -> pl.DataFrame:
        """The per-group tallies as a frame, for a notebook or a report."""
        import polars as pl  # only when asked: the DTO itself does not need polars

        return pl.DataFrame([msgspec.structs.asdict(g) for g in self.groups])


class PatientNotFound(NotFound):
    pass


class PatientsApi(Protocol):
    """The clinical core for other modules' use cases (bound: database and cache). Access
    control and audit are the caller's: this is the in-process facade, not an endpoint."""

    async def load_records(self, session: Any, records: Sequence[PatientCreate]) -> list[str]:
        """The bulk path for other modules' jobs (generation): validate every record and write
        them in the caller's transaction (binary COPY on PostgreSQL), all or nothing; their ids.
        No event per record: the caller announces the load and calls ``records_changed`` once
        it has committed."""
        ...

    def check_record(self, record: PatientCreate) -> None:
        """Validate one record as every write does: ``Invalid`` with ``errors=[{"field",
        "message"}]`` naming each problem; nothing is written."""
        ...

    async def upsert_records(
        self, session: Any, records: Sequence[PatientCreate], *, checked: bool = False
    ) -> list[Upserted]:
        """The collection path: real records keyed by (source, source_record_id), written in the
        caller's transaction; a record already stored identically changes nothing, a changed one
        replaces ours (same id, next version). ``checked``: the caller passed each record through
        ``check_record`` already. Call ``records_changed`` with the updated ids once committed."""
        ...

    async def records_changed(self, patient_ids: Sequence[str] = ()) -> None:
        """Cohort answers cached before a bulk load are stale now, and so are the cached records
        of ``patient_ids`` (ones a collection updated)."""
        ...

    async def read_record(self, patient_id: str) -> PatientRecord:
        """One stored record, through the same read-through cache as ``GET
        /api/v1/patients/{id}``; ``PatientNotFound`` if absent."""
        ...

    async def cohort_tables(self, filters: dict[str, Any]) -> dict[str, Any]:
        """The stored cohort ``filters`` selects (the list endpoint's filters), one polars
        DataFrame per table, without identifying columns."""
        ...

    async def saved_cohort(self, cohort_id: str, *, viewer: Any = None) -> dict[str, Any]:
        """The filters of the saved cohort ``cohort_id`` (``/api/v1/cohorts``), for
        ``cohort_tables``: ``NotFound`` for an unknown id; with a ``viewer`` (the caller's
        principal), ``Forbidden`` when the viewer sees de-identified data only and the cohort
        selects on a field that view hides."""
        ...


class ClinicalCodecs(Protocol):
    """FHIR codecs, record digests and survival analytics: pure functions, no backend."""

    def from_bundle(self, bundle: dict[str, Any]) -> PatientCreate:
        """A FHIR R4 (mCODE) Bundle as a record; ``Invalid`` naming what it cannot map."""
        ...

    def read_bundle(self, bundle: dict[str, Any]) -> tuple[PatientCreate, list[dict[str, str]]]:
        """The same, skipping what it cannot map; the skipped entries with the reason."""
        ...

    def to_bundle(self, record: PatientRecord, *, base_url: str = "urn:uuid:") -> dict[str, Any]: ...

    def to_ndjson(self, records: Iterable[PatientRecord]) -> Iterator[str]: ...

    def record_digest(self, record: PatientCreate) -> str:
        """The SHA-256 of a record's canonical JSON (what an upsert compares)."""
        ...

    def kaplan_meier(self, frame: Any, **options: Any) -> Any: ...

    def median_survival(self, frame: Any, **options: Any) -> Any: ...

    def km_svg(self, km_frame: Any, **options: Any) -> str: ...

    # For notebooks (``inescape.notebook``): the rest of the cohort analytics.
    def log_rank(self, frame: Any, **options: Any) -> LogRankResult: ...

    def number_at_risk(self, frame: Any, **options: Any) -> Any: ...

    def counts(self, frame: Any, by: str | Sequence[str]) -> Any: ...

    def age_distribution(self, frame: Any, **options: Any) -> Any: ...

    def age_summary(self, frame: Any, **options: Any) -> Any: ...

    def histogram_svg(self, distribution: Any, **options: Any) -> str: ...

    def survival_frame(self, patients_frame: Any, *, today: date) -> Any:
        """One row per diagnosed patient: ``time`` in months to death or last follow-up,
        ``event``, ``age`` and the grouping columns (``kaplan_meier``'s input)."""
        ...

    def read_cohort(
        self,
        connection: Any,
        *,
        today: date,
        wide: bool = False,
        identifiers: bool = False,
        filters: dict[str, Any] | None = None,
    ) -> Any:
        """The cohort ``filters`` selects, read on the caller's open synchronous SQLAlchemy
        ``connection``: one DataFrame per table, or with ``wide`` the survival frame. Without
        ``identifiers`` no identifying column is read; with it the field cipher must be set."""
        ...

    def read_tallies(
        self,
        connection: Any,
        *,
        today: date,
        kind: str,
        filters: dict[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """An aggregate of the cohort computed by the database (what the cohort endpoints
        read): ``kind="survival"`` one row per group, ``time``, ``event`` with ``n`` patients
        (``group``, ``endpoint``, ``scheme``; for ``kaplan_meier(..., weight="n")``),
        ``"counts"`` patients per value of ``by``, ``"ages"`` patients per age."""
        ...

    def hazard_ratios(self, frame: Any, **options: Any) -> Any: ...

    def summarise_curve(self, km_frame: Any, **options: Any) -> Any: ...


__all__ = [
    "COHORT_FILTERS",
    "MODULE",
    "Biomarker",
    "CharlsonCategory",
    "ClinicalCodecs",
    "Comorbidity",
    "ComorbiditySystem",
    "Condition",
    "GroupTally",
    "LogRankResult",
    "Observation",
    "Outcome",
    "PatientCreate",
    "PatientNotFound",
    "PatientRecord",
    "PatientSummary",
    "PatientUpdate",
    "PatientsApi",
    "RiskFactors",
    "Staging",
    "SurgicalFitness",
    "Treatment",
    "Upserted",
    "unknown_filters",
]
