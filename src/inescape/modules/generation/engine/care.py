"""What happens after diagnosis, per pathway: the days of each step of care (from the diagnosis),
resection margins, pathologic response, p/ypTNM and the palliative regimen.

Days here are planned: ``outcome`` later drops or truncates the steps that fall after death or
the end of follow-up. Pathways and their steps follow domain.md §3 (CROSS, FLOT4/ESOPEC,
CheckMate 577, CheckMate 648/649, ToGA).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inescape.modules.generation import codes
from inescape.modules.generation.engine.eras import resolve
from inescape.modules.generation.engine.streams import Cat, Draws, Row, choose
from inescape.modules.generation.profiles.model import Profile

# T orders along which pathology shifts: ypTNM has T0 but no Tis; pTNM after upfront surgery
# keeps the T1/T4 subcategories (undivided T1/T4 would not stage, domain.md §1.9).
YP_T = ("T0", "T1a", "T1b", "T2", "T3", "T4a", "T4b")
P_T = ("T1a", "T1b", "T2", "T3", "T4a", "T4b")

REGIMEN_AGENTS = {
    "CROSS": ["carboplatin", "paclitaxel"],
    "FLOT": ["docetaxel", "oxaliplatin", "leucovorin", "fluorouracil"],
    "nivolumab": ["nivolumab"],
    "cisplatin/fluorouracil": ["cisplatin", "fluorouracil"],  # RTOG 85-01 / INT 0123 (domain.md §3.1)
    "pembrolizumab": ["pembrolizumab"],  # MSI-H / dMMR, tumour-agnostic
    "trastuzumab + cisplatin/capecitabine": ["trastuzumab", "cisplatin", "capecitabine"],  # ToGA
    "nivolumab + FOLFOX": ["nivolumab", "oxaliplatin", "leucovorin", "fluorouracil"],  # CheckMate 649
    "nivolumab + cisplatin/fluorouracil": ["nivolumab", "cisplatin", "fluorouracil"],  # CheckMate 648
    "FOLFOX": ["oxaliplatin", "leucovorin", "fluorouracil"],
    "ECF": ["epirubicin", "cisplatin", "fluorouracil"],  # MAGIC (Cunningham, NEJM 2006)
    "pembrolizumab + cisplatin/fluorouracil": ["pembrolizumab", "cisplatin", "fluorouracil"],  # KEYNOTE-590
    "paclitaxel": ["paclitaxel"],
    "ramucirumab + paclitaxel": ["ramucirumab", "paclitaxel"],  # RAINBOW
}


# Positions of codes.T_ORDER (T0, Tis, T1a, ..., T4b) in P_T and YP_T (-1: not there).
_P_OF_T = np.array([-1, -1, 0, 1, 2, 3, 4, 5])
_YP_OF_T = np.array([0, -1, 1, 2, 3, 4, 5, 6])
_T_OF_P = np.array([codes.T_ORDER.index(t) for t in P_T])
_T_OF_YP = np.array([codes.T_ORDER.index(t) for t in YP_T])


def _steps(cat: Cat) -> np.ndarray:
    """Codes that are signed whole numbers ("-1", "+2", "3") as integers."""
    return np.asarray(np.array([int(name) for name in cat.names])[cat.codes])


def timeline(profile: Profile, row: Row, draws: Draws) -> dict[str, np.ndarray]:
    """Planned days after diagnosis of every step; a step that a pathway lacks is ignored."""
    d = {name: (span.low, span.high) for name, span in profile.treatment.delays.items()}
    staging = draws.days(*d["staging"])
    first = staging + draws.days(*d["first_treatment"])
    cross = row["regimen"].is_("CROSS")
    neo_end = first + np.where(cross, draws.days(*d["crt"]), draws.days(*d["flot_cycles"]))
    to_surgery = np.where(cross, draws.days(*d["crt_to_surgery"]), draws.days(*d["flot_to_surgery"]))
    surgery = np.where(row["regimen"].is_("esophagectomy"), first, neo_end + to_surgery)
    flot2_start = surgery + draws.days(*d["surgery_to_flot"])
    adjuvant_start = surgery + draws.days(*d["surgery_to_adjuvant"])
    return {
        "staging_day": staging,
        "biomarker_day": staging + draws.days(*d["biomarker"]),
        "first_day": first,
        "neo_end_day": neo_end,
        "surgery_day": surgery,
        "pathology_day": surgery + draws.days(*d["surgery_to_pathology"]),
        "flot2_start_day": flot2_start,
        "flot2_end_day": flot2_start + draws.days(*d["flot_cycles"]),
        "adjuvant_start_day": adjuvant_start,
        "adjuvant_end_day": adjuvant_start + draws.days(*d["adjuvant"]),
        "dcrt_end_day": first + draws.days(*d["dcrt"]),
        "palliative_end_day": first + draws.days(*d["palliative"]),
    }


def surgery(profile: Profile, row: Row, draws: Draws) -> dict[str, Any]:
    """Who is resected, with which margin and pathologic response (CROSS pCR by histology)."""
    t, regimen = profile.treatment, row["regimen"]
    neoadjuvant = regimen.isin(codes.NEOADJUVANT)
    reach = regimen.lookup({k: f.value for k, f in t.surgery_after_neoadjuvant.items()}, default=0.0)
    operated = regimen.is_("esophagectomy") | (neoadjuvant & (draws.uniform() < reach))
    r0 = draws.uniform() < regimen.lookup({k: f.value for k, f in t.r0.items()}, default=0.0)
    r1 = draws.uniform() < t.r1_of_positive.value
    margin = Cat(("R0", "R1", "R2"), np.where(r0, 0, np.where(r1, 1, 2))).where(operated)
    pcr_rate = np.zeros(len(regimen.codes))
    for pathway, by_histology in t.pcr.items():
        for h, figure in by_histology.items():
            pcr_rate[regimen.is_(pathway) & row["histology"].is_(h)] = figure.value
    pcr = operated & neoadjuvant & (draws.uniform() < pcr_rate)
    trg = np.where(pcr, 1, _steps(choose(draws.uniform(), profile.pathology.residual_trg.shares)))
    return {
        "operated": operated,
        "margin": margin,
        "pcr": pcr,
        "trg": np.where(operated & neoadjuvant, trg, -1),
        "adjuvant": regimen.is_("CROSS")
        & operated
        & r0
        & ~pcr
        & (draws.uniform() < t.adjuvant_nivolumab.value),
    }


def _node_positive(profile: Profile, row: Row, p_t: np.ndarray) -> np.ndarray:
    """The profile's node-positive share of each patient's histology and T (codes.T_ORDER)."""
    table = np.full((len(codes.HISTOLOGIES), len(codes.T_ORDER)), np.nan)
    for i, h in enumerate(codes.HISTOLOGIES):
        if h in profile.stage:
            for t, figure in profile.stage[h].node_positive.items():
                table[i, codes.T_ORDER.index(t)] = figure.value
    return np.asarray(table[row["histology"].codes, p_t])


def pathology(profile: Profile, row: Row, pcr: np.ndarray, draws: Draws) -> dict[str, Cat]:
    """pTNM after upfront surgery and ypTNM after neoadjuvant therapy, shifted from cTNM.

    pCR is ypT0 N0; residual disease is anything else (a ypT0 N0 draw becomes ypT1a N0).
    Superficial tumours (pT1a, pT1b) are node-positive as often as the profile's
    ``stage.*.node_positive`` says for their pT (then with their cN, at least N1)."""
    p = profile.pathology
    t, n = row["t"].codes, row["n"].codes  # T in codes.T_ORDER, N in codes.N_ORDER
    pt_shift, pn_shift = (
        _steps(choose(draws.uniform(), p.pt_shift.shares)),
        _steps(choose(draws.uniform(), p.pn_shift.shares)),
    )
    yt_down, yn_down = (
        _steps(choose(draws.uniform(), p.ypt_down.shares)),
        _steps(choose(draws.uniform(), p.ypn_down.shares)),
    )
    tis = row["t"].is_("Tis")
    p_t = np.where(tis, codes.T_ORDER.index("Tis"), _T_OF_P[np.clip(_P_OF_T[t] + pt_shift, 0, len(P_T) - 1)])
    p_n = np.where(tis, 0, np.clip(n + pn_shift, 0, 3))
    share = _node_positive(profile, row, p_t)
    superficial = (p_t <= codes.T_ORDER.index("T1b")) & ~np.isnan(share)
    positive = draws.uniform() < np.nan_to_num(share)
    p_n = np.where(superficial, np.where(positive, np.maximum(n, 1), 0), p_n)
    yp_t = np.maximum(_YP_OF_T[t] - yt_down, 0)
    yp_n = np.maximum(n - yn_down, 0)
    yp_t = np.where((yp_t == 0) & (yp_n == 0), 1, yp_t)
    return {
        "p_t": Cat(codes.T_ORDER, p_t),
        "p_n": Cat(codes.N_ORDER, p_n),
        "yp_t": Cat(codes.T_ORDER, np.where(pcr, 0, _T_OF_YP[yp_t])),
        "yp_n": Cat(codes.N_ORDER, np.where(pcr, 0, yp_n)),
    }


_PALLIATIVE = (
    "FOLFOX",
    "cisplatin/fluorouracil",
    "nivolumab + FOLFOX",
    "nivolumab + cisplatin/fluorouracil",
    "trastuzumab + cisplatin/capecitabine",
    "pembrolizumab",
    "pembrolizumab + cisplatin/fluorouracil",
)
_IMMUNOTHERAPY = np.array([False, False, True, True, False, True, True])
_SECOND_LINE = ("paclitaxel", "ramucirumab + paclitaxel", "nivolumab")
_NEOADJUVANT = ("CROSS", "FLOT", "cisplatin/fluorouracil", "ECF")


def palliative(
    profile: Profile, row: Row, markers: dict[str, Any], day: np.ndarray, draws: Draws
) -> dict[str, np.ndarray | Cat]:
    """First-line regimen by histology and biomarkers (domain.md §3.1): pembrolizumab for MSI-H,
    trastuzumab for HER2-positive adenocarcinoma (ToGA), a PD-1 inhibitor with chemotherapy for
    CPS >= 5 adenocarcinoma (CheckMate 649) or TPS >= 1 % squamous (CheckMate 648), else chemo;
    each only from the day (``day``, absolute) its era began, chemotherapy alone before."""
    t = profile.treatment
    adeno = row["histology"].is_("adenocarcinoma")
    msi_high, her2 = markers["msi"].is_("MSI-H"), markers["her2"].isin(codes.HER2_POSITIVE)
    qualifies = (
        msi_high | (adeno & ~her2 & (markers["pdl1_cps"] >= 5)) | (~adeno & (markers["pdl1_tps"] >= 1))
    )
    ici = qualifies & (draws.uniform() < t.immunotherapy.value)
    trastuzumab = adeno & her2 & ~(ici & msi_high) & (draws.uniform() < t.trastuzumab.value)
    ici = ici & ~trastuzumab
    wanted = np.where(
        ici & msi_high,
        5,
        np.where(trastuzumab, 4, np.where(ici, np.where(adeno, 2, 3), np.where(adeno, 0, 1))),
    )
    name = resolve(profile, _PALLIATIVE, _PALLIATIVE, wanted, day, np.where(adeno, 0, 1))
    return {
        "palliative_regimen": Cat(_PALLIATIVE, name),
        "ici": _IMMUNOTHERAPY[name],
        "trastuzumab": name == 4,
        "palliative_wanted": wanted,
    }


def first_line_on(profile: Profile, wanted: np.ndarray, row: Row, day: np.ndarray) -> Cat:
    """The first palliative line ``palliative`` would choose (its ``palliative_wanted``), started
    on ``day`` (absolute): the regimen of that day's era."""
    chemo = np.where(row["histology"].is_("adenocarcinoma"), 0, 1)
    return Cat(_PALLIATIVE, resolve(profile, _PALLIATIVE, _PALLIATIVE, wanted, day, chemo))


def neoadjuvant(profile: Profile, row: Row, day: np.ndarray) -> Cat:
    """The regimen of a neoadjuvant (CROSS) or perioperative (FLOT) pathway started on ``day``:
    before CROSS, cisplatin/fluorouracil chemoradiation; before FLOT, ECF (MAGIC)."""
    wanted = np.where(row["regimen"].is_("FLOT"), 1, 0)
    given = resolve(profile, _NEOADJUVANT, _NEOADJUVANT, wanted, day, wanted)
    return Cat(_NEOADJUVANT, given).where(row["regimen"].isin(codes.NEOADJUVANT))


def second_line(profile: Profile, row: Row, ici: np.ndarray, day: np.ndarray) -> Cat:
    """Second line at progression (domain.md §3.1): ramucirumab + paclitaxel for adenocarcinoma
    (RAINBOW), nivolumab for squamous disease not given a PD-1 inhibitor first (ATTRACTION-3),
    else paclitaxel; each from its era."""
    adeno = row["histology"].is_("adenocarcinoma")
    wanted = np.where(adeno, 1, np.where(ici, 0, 2))
    keys = tuple(f"second-line {name}" for name in _SECOND_LINE)
    return Cat(_SECOND_LINE, resolve(profile, _SECOND_LINE, keys, wanted, day, np.zeros_like(wanted)))
