"""What the guideline rules read about a patient, and what they answer.

Every fact may be unknown (None). The engine never fills a gap with a default: a rule that
needs an unknown fact is undecided, and the answer names the fact instead of guessing.
"""

from __future__ import annotations

import msgspec

from inescape.modules.cds.api import Citation, MissingFact, Option, Recommendations

# Value sets copied from the clinical core (patients/vocab.py, domain.md §1) rather than
# imported: cds may only see another module's api, and the rule file is checked against these.
VOCAB: dict[str, tuple[str, ...]] = {
    "histology": ("squamous_cell_carcinoma", "adenocarcinoma", "other"),
    "location": ("cervical", "upper", "middle", "lower", "egj"),
    "kind": ("clinical", "pathological", "post_neoadjuvant"),
    "t": ("TX", "T0", "Tis", "T1", "T1a", "T1b", "T2", "T3", "T4", "T4a", "T4b"),
    "n": ("NX", "N0", "N1", "N2", "N3"),
    "m": ("M0", "M1"),
    "stage_group": ("0", "I", "IA", "IB", "IC", "II", "IIA", "IIB", "III", "IIIA", "IIIB", "IVA", "IVB"),
    "grade": ("GX", "G1", "G2", "G3"),
    "her2": ("0", "1+", "2+", "2+ ISH+", "2+ ISH-", "3+"),
    "msi": ("MSI-H", "MSI-L", "MSS"),
    "mmr": ("dMMR", "pMMR"),
}
TREATMENT_VOCAB: dict[str, tuple[str, ...]] = {
    "kind": ("surgery", "radiotherapy", "systemic", "endoscopic_resection"),
    "intent": ("neoadjuvant", "adjuvant", "perioperative", "definitive", "palliative"),
    "margin": ("R0", "R1", "R2"),
}
NUMBER_FACTS = frozenset({"tumour_length_cm", "ecog", "pdl1_cps", "pdl1_tps"})
BOOL_FACTS = frozenset(
    {
        "lymphovascular_invasion",
        "fit_for_surgery",
        "pathologic_complete_response",
        "invades_airway_or_great_vessels",
    }
)
LIST_FACTS = frozenset({"prior_treatments"})
INTENTS = ("curative", "palliative", "supportive", "diagnostic")
STRENGTHS = (
    "NCCN category 1, preferred",
    "NCCN preferred",
    "NCCN recommended",
    "other recommended",
    "consider",
)


class PriorTreatment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: str  # surgery | radiotherapy | systemic | endoscopic_resection
    intent: str | None = None  # neoadjuvant | adjuvant | perioperative | definitive | palliative
    margin: str | None = None  # R0 | R1 | R2 (surgery)


class Facts(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    histology: str | None = None
    location: str | None = None
    kind: str | None = None  # staging kind the T/N/M came from: clinical | pathological | post_neoadjuvant
    t: str | None = None
    n: str | None = None
    m: str | None = None
    stage_group: str | None = None
    grade: str | None = None
    tumour_length_cm: float | None = None
    lymphovascular_invasion: bool | None = None
    ecog: int | None = None
    fit_for_surgery: bool | None = None
    her2: str | None = None
    pdl1_cps: float | None = None
    pdl1_tps: float | None = None
    msi: str | None = None
    mmr: str | None = None
    prior_treatments: list[PriorTreatment] = []
    # After neoadjuvant therapy and resection; False = residual disease (not ypT0N0).
    pathologic_complete_response: bool | None = None
    invades_airway_or_great_vessels: bool | None = None  # cT4b: trachea, great vessels or heart


FACT_NAMES: tuple[str, ...] = Facts.__struct_fields__


def known_facts(facts: Facts) -> dict[str, object]:
    """The facts that were given (not None, prior treatments only when there are some)."""
    found = {name: getattr(facts, name) for name in FACT_NAMES}
    return {k: v for k, v in found.items() if v is not None and v != []}


__all__ = [
    "FACT_NAMES",
    "VOCAB",
    "Citation",
    "Facts",
    "MissingFact",
    "Option",
    "PriorTreatment",
    "Recommendations",
    "known_facts",
]
