"""The code mappings FHIR is read with, loaded from the CSV files in ``terms/``.

Each file holds one mapping, one code a row, with the code system, the code, its display, what
it means to the record and the source of the mapping:

- ``conditions.csv``: condition codes (SNOMED CT, ICD-10-CM, WHO ICD-10) -> ICD-O-3 topography
- ``body_sites.csv``: body structures (SNOMED CT, ICD-O-3 topography) -> topography and location
- ``location_qualifiers.csv``: mCODE body-location qualifiers (SNOMED CT) -> topography, location
- ``morphology.csv``: morphologies (SNOMED CT, ICD-O-3) -> ICD-O-3 morphology
- ``tnm.csv``: SNOMED CT TNM category codes and AJCC T/N/M/stage-group qualifier values
- ``medications.csv``: RxNorm ingredients and ATC prefixes of systemic cancer therapy
- ``agent_names.csv``: ingredient, synonym and brand names found in a medication's text
- ``procedures.csv``: SNOMED CT radiotherapy procedure codes
- ``intents.csv``: SNOMED CT procedure intents -> the record's treatment intent
- ``assessments.csv``: Observation codes of fitness for surgery, lymphovascular and airway or
  great-vessel invasion and mCODE comorbidities -> the record's fact; present/absent answers

Everything not listed is, for reading, not esophageal cancer (conditions), not a cancer
treatment (medications with an RxNorm or ATC code, procedures) or unmappable (the rest).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
# SNOMED CT displays of AJCC values follow one pattern ("American Joint Committee on Cancer
# cT1b", "... stage IIIA"): a code not in tnm.csv is read from its display when it has one.
_AJCC_DISPLAY = re.compile(
    r"(?:American Joint Committee on Cancer|AJCC)\s+(?:(?:c|p|yp|yc)?(?P<cat>[TNM](?:is|[0-4X][a-d]?))|"
    r"stage\s+(?:group\s+)?(?P<stage>0|IV|I{1,3})(?P<sub>[A-C]?))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Term:
    system: str
    code: str
    display: str
    values: dict[str, str]
    source: str


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files(__package__).joinpath("terms", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@cache
def table(name: str) -> dict[tuple[str, str], Term]:
    """``(system, code)`` -> its row of ``terms/<name>``."""
    out = {}
    for row in _rows(name):
        meta = {"system", "code", "display", "source"}
        values = {k: v for k, v in row.items() if k not in meta}
        out[(row["system"], row["code"])] = Term(
            row["system"], row["code"], row["display"], values, row["source"]
        )
    return out


def lookup(name: str, found: list[tuple[str, str]]) -> Term | None:
    """The first of ``found`` (system, code) codings that ``terms/<name>`` lists."""
    terms = table(name)
    return next((terms[pair] for pair in found if pair in terms), None)


@cache
def agent_names() -> dict[str, str]:
    return {row["name"]: row["agent"] for row in _rows("agent_names.csv")}


def agent_in_text(text: str) -> str | None:
    """The agent a medication's text names (``"Cisplatin 50 MG Injection"`` -> ``cisplatin``)."""
    lowered = text.lower()
    for name, agent in agent_names().items():
        if re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", lowered):
            return agent
    return None


def cancer_agent(found: list[tuple[str, str]]) -> str | None:
    """The agent an RxNorm ingredient or ATC code of systemic cancer therapy names, else None."""
    terms = table("medications.csv")
    for system, code in found:
        term = terms.get((system, code))
        if term is not None and system == RXNORM:
            return term.values["agent"]
        if system == ATC and any(code.startswith(prefix) for s, prefix in terms if s == ATC):
            return term.values["agent"] if term and term.values["agent"] else code
    return None


def ajcc_value(display: str | None) -> tuple[str, str] | None:
    """``("t", "T1b")`` or ``("stage", "IIIA")`` from an AJCC qualifier's display."""
    found = _AJCC_DISPLAY.search(display or "")
    if found is None:
        return None
    if found["cat"]:
        value = found["cat"]
        axis = value[0].lower()
        rest = value[1:]
        return axis, value[0].upper() + (rest if rest == "is" else rest.upper()[:1] + rest[1:].lower())
    return "stage", found["stage"].upper() + found["sub"].upper()
