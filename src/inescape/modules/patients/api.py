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
    tobacco: Literal["never", "former", "current", "unknown"] = "unknown"
    pack_years: Annotated[float, msgspec.Meta(ge=0, le=300)] | None = None
    alcohol_g_per_day: Annotated[float, msgspec.Meta(ge=0, le=500)] | None = None
    opium: bool | None = None
    hot_beverages: bool | None = None
    gerd: bool | None = None
    barretts: bool | None = None
    bmi: Annotated[float, msgspec.Meta(ge=10, le=80)] | None = None
    family_history: bool | None = None
    socioeconomic_status: Literal["low", "middle", "high", "unknown"] = "unknown"


class Condition(Strict, frozen=True):
    """The primary cancer condition (mCODE PrimaryCancerCondition)."""

    diagnosis_date: date
    histology: HistologyT
    morphology_code: Annotated[str, msgspec.Meta(pattern=r"^\d{4}/\d\Z")]  # ICD-O-3, e.g. 8070/3
    topography_code: Annotated[str, msgspec.Meta(pattern=r"^C1[56]\.\d\Z")]  # ICD-O-3, e.g. C15.4
    location: LocationT
    siewert: Literal["I", "II", "III"] | None = None
    grade: Literal["GX", "G1", "G2", "G3"] = "GX"
    tumour_length_cm: Annotated[float, msgspec.Meta(gt=0, le=30)] | None = None
    # Tumour facts decision support asks for (None: not known). Lymphovascular invasion is
    # read on the pathology or biopsy; invasion of the trachea or bronchi, the aorta or other
    # great vessels, or the heart makes a tumour cT4b (unresectable, AJCC 8th chapter 16).
    lymphovascular_invasion: bool | None = None
    invades_airway_or_great_vessels: bool | None = None


class SurgicalFitness(Strict, frozen=True):
    """Whether the patient is fit for surgery (esophagectomy), who judged it and when."""

    fit: bool
    assessed_by: Text  # the clinician or board (a staff identifier: never shown to researchers)
    assessed_on: date
    note: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


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

    system: ComorbiditySystem
    code: Code
    display: Text
    category: CharlsonCategory | None = None
    recorded_on: date | None = None


class Staging(Strict, frozen=True):
    kind: StagingKind
    t: Code
    n: Code
    m: Code
    stage_group: Code
    assessed_on: date
    grade: Literal["GX", "G1", "G2", "G3"] | None = None
    location: LocationT | None = None
    method: Text = "AJCC 8th edition"


class Biomarker(Strict, frozen=True):
    kind: Literal["her2", "pdl1_cps", "pdl1_tps", "msi", "mmr"]
    value: Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
    measured_on: date


class Treatment(Strict, frozen=True):
    kind: TreatmentKind
    start_date: date
    end_date: date | None = None
    intent: Intent | None = None
    procedure: Text | None = None
    regimen: Text | None = None
    agents: list[Text] = msgspec.field(default_factory=list)
    line: Annotated[int, msgspec.Meta(ge=1, le=10)] | None = None
    margin: Literal["R0", "R1", "R2"] | None = None
    dose_gy: Annotated[float, msgspec.Meta(gt=0, le=100)] | None = None
    fractions: Annotated[int, msgspec.Meta(ge=1, le=60)] | None = None
    pathologic_complete_response: bool | None = None
    tumour_regression_grade: Annotated[int, msgspec.Meta(ge=1, le=5)] | None = None


class Observation(Strict, frozen=True):
    code: Annotated[str, msgspec.Meta(pattern=r"^\d{1,7}-\d\Z")]  # LOINC
    value: float
    observed_on: date
    unit: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class Outcome(Strict, frozen=True):
    vital_status: Literal["alive", "dead", "unknown"]
    last_follow_up: date
    death_date: date | None = None
    cause_of_death: Text | None = None
    recurrence_date: date | None = None
    recurrence_site: Text | None = None


class PatientCreate(Strict, frozen=True):
    """A whole record, written in one transaction."""

    sex: Sex
    birth_date: date
    given_name: Text | None = None
    family_name: Text | None = None
    mrn: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    national_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    ethnicity: Text | None = None
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}\Z")] | None = None  # ISO 3166-1
    province: Text | None = None
    address: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    email: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    origin: Origin = "real"
    source: Text | None = None
    source_record_id: Text | None = None
    synthetic_risk: float | None = None  # the generator's true hazard (oracle C-index)
    risk_factors: RiskFactors = msgspec.field(default_factory=RiskFactors)
    conditions: list[Condition] = msgspec.field(default_factory=list)
    staging: list[Staging] = msgspec.field(default_factory=list)
    biomarkers: list[Biomarker] = msgspec.field(default_factory=list)
    treatments: list[Treatment] = msgspec.field(default_factory=list)
    observations: list[Observation] = msgspec.field(default_factory=list)
    outcome: Outcome | None = None
    fitness_for_surgery: SurgicalFitness | None = None
    comorbidities: list[Comorbidity] = msgspec.field(default_factory=list)


class PatientUpdate(Strict, frozen=True):
    """Demographics, risk factors, outcome and the assessments decision support asks for;
    clinical events have their own sub-resources. A field left out (or null) is unchanged,
    except the three assessments (fitness for surgery and the primary condition's invasion
    facts), where an explicit null makes a recorded one unknown again; ``comorbidities``
    replaces the whole list. ``version``: the version the change was made
    against; a stored record at another version refuses it (optimistic concurrency)."""

    version: Annotated[int, msgspec.Meta(ge=1)] | None = None

    sex: Sex | None = None
    given_name: Text | None = None
    family_name: Text | None = None
    ethnicity: Text | None = None
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}\Z")] | None = None
    province: Text | None = None
    address: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    email: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    risk_factors: RiskFactors | None = None
    outcome: Outcome | None = None
    fitness_for_surgery: SurgicalFitness | msgspec.UnsetType | None = msgspec.UNSET
    comorbidities: list[Comorbidity] | None = None
    # Of the primary (earliest) condition: a record without one refuses them.
    lymphovascular_invasion: bool | msgspec.UnsetType | None = msgspec.UNSET
    invades_airway_or_great_vessels: bool | msgspec.UnsetType | None = msgspec.UNSET


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
