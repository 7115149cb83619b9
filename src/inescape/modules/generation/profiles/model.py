"""The shape of a generator profile (``profiles/*.toml``): every parameter the engine uses.

Every group of figures carries the ``source`` it comes from: the publication (authors,
journal, year and a DOI, PMID or PMCID where known), or "engineer's choice" where no source
gives the number.
``profiles.checks`` holds the rules beyond the types (shares sum to 1, codes exist...).
"""

from __future__ import annotations

from datetime import date

import msgspec


class Base(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class Figure(Base, frozen=True, kw_only=True):
    value: float
    source: str


class Shares(Base, frozen=True, kw_only=True):
    """A categorical distribution: code → share, the shares summing to 1."""

    shares: dict[str, float]
    source: str


class Span(Base, frozen=True, kw_only=True):
    """A range of days or fractions, drawn uniformly."""

    low: float
    high: float
    source: str


class Identity(Base, frozen=True, kw_only=True):
    regions: Shares | None = None  # provinces / states, drawn independently of the tumour
    countries: Shares | None = None  # ISO 3166-1 codes, for a multi-country profile
    ethnicity: dict[str, Shares]  # by histology
    email: Figure  # share of patients with an e-mail address on file
    phone: Figure
    mrn_prefix: str


class AgeModel(Base, frozen=True, kw_only=True):
    """Age at diagnosis: a skew-normal with this mean and SD, cut to [min, max] years."""

    mean: float
    sd: float
    skew: float = 0.0  # shape alpha; negative = a longer tail towards younger ages
    min: int = 20
    max: int = 95
    source: str


class Weights(Base, frozen=True, kw_only=True):
    """Relative weights by code (need not sum to 1)."""

    weights: dict[str, float]
    source: str


class StageMix(Base, frozen=True, kw_only=True):
    """cTNM stage group shares; inside a group, T and N combinations weighted t × n.

    With ``node_positive`` (cT → share of node-positive tumours) the N weight becomes P(N | T):
    1 - share for N0, the share spread over N1-N3 by ``n_weights``. With ``m1_t_weights`` the
    T of M1 (stage IVB) tumours is weighted by them instead of ``t_weights``."""

    groups: dict[str, float]
    t_weights: dict[str, float]
    n_weights: dict[str, float]
    source: str
    node_positive: dict[str, Figure] = msgspec.field(default_factory=dict)
    m1_t_weights: Weights | None = None


class TumourLength(Base, frozen=True, kw_only=True):
    median_cm: dict[str, float]  # by cT
    sigma: float  # of the log
    source: str


class RiskFactor(Base, frozen=True, kw_only=True):
    """Level shares in the population the cases come from, tilted by each level's odds ratio
    (versus the first level) to give the shares among cases: p_case ∝ p × OR."""

    population: dict[str, float]
    odds_ratios: dict[str, dict[str, float]] = msgspec.field(default_factory=dict)  # histology → level
    missing: float = 0.0  # share recorded as unknown
    source: str


class Correlation(Base, frozen=True, kw_only=True):
    """Correlation of two factors' latent normals (a Gaussian copula)."""

    between: list[str]
    rho: float
    source: str


class LogNormal(Base, frozen=True, kw_only=True):
    median: float
    sigma: float
    source: str


class Normal(Base, frozen=True, kw_only=True):
    mean: float
    sd: float
    source: str


class RiskModel(Base, frozen=True, kw_only=True):
    factors: dict[str, RiskFactor]
    correlations: list[Correlation] = msgspec.field(default_factory=list)
    pack_years: LogNormal  # among former and current smokers
    bmi: Normal  # population BMI, read inside the sampled BMI band
    alcohol_abstainers: Figure  # share of the 0-39 g/day band drinking none


class Biomarkers(Base, frozen=True, kw_only=True):
    tested: dict[str, Figure]  # "advanced" (palliative, supportive care) and "early" (curative)
    her2: Shares  # IHC / ISH result among adenocarcinomas tested
    pdl1_cps: Shares  # CPS band among adenocarcinomas tested
    pdl1_tps: Shares  # tumour-cell PD-L1 band among squamous (and other) tested
    msi: dict[str, Shares]  # by histology


class Modifier(Base, frozen=True, kw_only=True):
    """Multiply pathway weights where every ``when`` column is one of its values."""

    when: dict[str, list[str]]
    factors: dict[str, float]
    source: str


class Era(Base, frozen=True, kw_only=True):
    """When a regimen entered practice in its setting (approval or guideline), and what was
    given in that setting before it (``instead``; none: nothing in its place)."""

    since: date
    instead: str | None = None
    source: str


class Treatment(Base, frozen=True, kw_only=True):
    allocation: dict[str, dict[str, Shares]]  # histology → cTNM stage group → pathway shares
    modifiers: list[Modifier] = msgspec.field(default_factory=list)
    surgery_after_neoadjuvant: dict[str, Figure]  # pathway → share reaching resection
    r0: dict[str, Figure]  # pathway → R0 share among resections
    r1_of_positive: Figure  # R1 share among R1 + R2
    pcr: dict[str, dict[str, Figure]]  # pathway → histology → pCR share among resections
    adjuvant_nivolumab: Figure  # uptake after CROSS + R0 with residual disease
    immunotherapy: Figure  # uptake of a first-line PD-1 inhibitor when PD-L1 qualifies
    trastuzumab: Figure  # uptake for HER2-positive adenocarcinoma
    endoscopic_procedure: Shares  # ESD / EMR
    delays: dict[str, Span]  # days between steps of care
    # Setting (codes.ERA_KEYS) → the day it entered practice; no entry: always available.
    eras: dict[str, Era] = msgspec.field(default_factory=dict)
    # histology → clinical complete response after definitive chemoradiation: only these
    # patients are free of disease (and can recur); the others progress.
    dcrt_complete_response: dict[str, Figure] = msgspec.field(default_factory=dict)
    second_line: Figure | None = None  # share of first-line patients given a second line at progression


class Pathology(Base, frozen=True, kw_only=True):
    """How pTNM / ypTNM follows cTNM: shifts along the T and N orders, in steps."""

    pt_shift: Shares  # upfront surgery: "-1", "0", "+1"
    pn_shift: Shares  # "-1", "0", "+1", "+2"
    ypt_down: Shares  # residual disease after neoadjuvant therapy: steps down, "0".."3"
    ypn_down: Shares  # "0".."3"
    residual_trg: Shares  # Mandard TRG of residual disease, "2".."5"


class Background(Base, frozen=True, kw_only=True):
    """Other-cause mortality: a packaged national life table (``engine.mortality.TABLES``)."""

    life_table: str
    source: str


class Survival(Base, frozen=True, kw_only=True):
    """Cancer hazard baseline(stage) × shape(t) × exp(lp), and background mortality.

    ``time_shape`` is the shape's mean over each period (before the first break ... after the
    last): the cumulative hazard passes through the piecewise values at every break, so survival
    at the breaks is what the periods give, and the hazard between them is smooth (monotone
    cubic interpolation of the cumulative hazard, ``outcome.UnitHazard``)."""

    breaks_years: list[float]
    time_shape: list[float]  # one mean multiplier per period: before the first break ... after the last
    time_shape_source: str
    background: Background | None = None  # None: every death is a cancer death
    baseline: dict[str, Figure]  # cTNM stage group → annual hazard in year 1, reference pathway
    pathway_hr: dict[str, dict[str, Figure]]  # histology → pathway → HR vs esophagectomy alone
    age_hr_per_decade: Figure  # per 10 years from 65
    ecog_hr: dict[str, Figure]
    pcr_hr: Figure  # pCR vs residual disease, within a neoadjuvant pathway
    margin_hr: dict[str, Figure]  # R1, R2 vs R0
    immunotherapy_hr: dict[str, Figure]  # histology → PD-1 + chemotherapy vs chemotherapy
    trastuzumab_hr: Figure
    adjuvant_nivolumab_hr: Figure
    effects: list[Effect] = msgspec.field(default_factory=list)  # declared heterogeneity
    # clinical complete response to definitive chemoradiation vs none (its pathway's average kept)
    complete_response_hr: Figure | None = None


class Effect(Base, frozen=True, kw_only=True):
    """A declared heterogeneity of the hazard: multiply it by ``hr`` for the patients matching
    every ``when`` condition (``engine.effects`` lists the columns and their codes). With
    ``treatment`` (``ici``, ``trastuzumab``, ``adjuvant``) the term applies only to patients given
    that treatment: it modifies the treatment's effect, and so each patient's true individual
    treatment effect. With ``per_year_over`` (an age in years) the log hazard ratio grows by
    log(hr) per year of age above it instead: a non-linear age effect."""

    name: str
    when: dict[str, list[str]] = msgspec.field(default_factory=dict)
    treatment: str | None = None
    per_year_over: float | None = None
    hr: float
    source: str


class Trial(Base, frozen=True, kw_only=True):
    """A trial arm: the patients of a generated cohort who would have been eligible for it
    (defined as the trial defined them) and were given its treatment, and its endpoint, for
    the targets ``trial.<name>.<median_months|1y|3y|5y>``. An empty list admits every value.
    Time starts at the arm's treatment (randomisation came days before it): the first treatment
    of the pathway, or the adjuvant treatment with ``adjuvant``."""

    title: str
    pathway: list[str]  # fidelity pathway (codes.PATHWAYS)
    regimen: list[str] = msgspec.field(default_factory=list)  # first systemic regimen
    adjuvant: bool = False  # given adjuvant nivolumab; time from its start
    histology: list[str] = msgspec.field(default_factory=list)
    t: list[str] = msgspec.field(default_factory=list)  # clinical T
    n: list[str] = msgspec.field(default_factory=list)
    m: list[str] = msgspec.field(default_factory=list)
    ecog_max: int = 4
    age_min: float = 18.0
    age_max: float = 120.0
    her2_positive: bool | None = None
    pdl1_cps_min: int | None = None
    pdl1_tps_min: int | None = None
    endpoint: str = "overall"  # "overall" or "disease_free" (recurrence or death)
    source: str


class Recurrence(Base, frozen=True, kw_only=True):
    recorded: Figure  # share of cancer deaths after curative treatment with a recorded recurrence
    timing: Span  # recurrence at this fraction of the way from end of treatment to death
    sites: Shares
    # the same after neoadjuvant therapy left residual disease at surgery (ypT+ or ypN+): it
    # recurs earlier in its course, and lives longer after it, than the pathway's average
    timing_residual: Span | None = None


class FollowUp(Base, frozen=True, kw_only=True):
    diagnosed_from: date
    diagnosed_to: date
    censoring_date: date  # administrative: no follow-up after it
    loss_per_year: Figure  # loss to follow-up hazard
    source: str


class Target(Base, frozen=True, kw_only=True):
    """A figure the fidelity report checks: the achieved value's confidence interval against
    value ± tolerance at the cohort's size (``generation.fidelity``); ``source`` cites the
    publication the figure comes from."""

    name: str
    value: float
    tolerance: float
    source: str


class Profile(Base, frozen=True, kw_only=True):
    name: str
    title: str
    version: str
    description: str
    locale: str  # Faker locale of names and addresses
    country: str  # ISO 3166-1 alpha-2; "ZZ" (unspecified) when identity.countries draws it
    identity: Identity
    histology: Shares
    morphology: dict[str, Shares]  # histology → ICD-O-3 morphology code
    sex: dict[str, Figure]  # histology → share male
    age: dict[str, dict[str, AgeModel]]  # histology → sex
    location: dict[str, Shares]  # histology → tumour epicentre
    siewert: Shares  # among EGJ tumours
    grade: dict[str, Shares]
    tumour_length: TumourLength
    stage: dict[str, StageMix]  # histology → cTNM
    ecog: dict[str, Shares]  # M0 / M1 → ECOG score
    risk_factors: RiskModel
    biomarkers: Biomarkers
    treatment: Treatment
    pathology: Pathology
    survival: Survival
    recurrence: Recurrence
    follow_up: FollowUp
    targets: list[Target]
    trials: dict[str, Trial] = msgspec.field(default_factory=dict)  # arms for trial.* targets

    @property
    def histologies(self) -> tuple[str, ...]:
        """The histologies this profile generates (share > 0)."""
        return tuple(h for h, share in self.histology.shares.items() if share > 0)
