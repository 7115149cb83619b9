"""Guideline recommendations: vignettes in, the guideline's first option and its evidence out;
unknown facts asked for, never guessed; the rule file checked at load."""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inescape.modules.cds.guidelines import (
    Facts,
    PriorTreatment,
    Recommendations,
    RuleSetInvalid,
    load_rules,
    loader,
    parse_rules,
    recommend,
)
from inescape.modules.cds.guidelines.facts import FACT_NAMES, VOCAB

SCC, ADENO = "squamous_cell_carcinoma", "adenocarcinoma"
# A fit, staged, MSS patient; each vignette adds what makes its situation.
BASE: dict[str, Any] = dict(
    kind="clinical", m="M0", ecog=1, fit_for_surgery=True, location="middle", msi="MSS"
)
METASTATIC: dict[str, Any] = dict(kind="clinical", t="T3", n="N1", m="M1", ecog=1, msi="MSS")
CROSS_R0 = [
    PriorTreatment("radiotherapy", "neoadjuvant"),
    PriorTreatment("systemic", "neoadjuvant"),
    PriorTreatment("surgery", None, "R0"),
]


def facts(base: dict[str, Any], **changes: Any) -> Facts:
    return Facts(**{**base, **changes})


def rule_ids(answer: Recommendations) -> list[str]:
    return [option.rule_id for option in answer.options]


def asked(answer: Recommendations) -> list[str]:
    return [missing.fact for missing in answer.more_data_needed]


VIGNETTES = [
    pytest.param(
        facts(BASE, histology=ADENO, t="T1a", n="N0"),
        "endoscopic-resection-tis-t1a",
        ["nccn-esoph-3", "nccn-esoph-13", "disiena-2021", "nci-pdq"],
        id="adeno-T1a-N0-endoscopic-resection",
    ),
    pytest.param(
        facts(BASE, histology=SCC, t="Tis", n="N0"),
        "endoscopic-resection-tis-t1a",
        ["nccn-esoph-3", "nccn-esoph-13", "disiena-2021", "nci-pdq"],
        id="scc-Tis-endoscopic-resection",
    ),
    pytest.param(
        facts(BASE, histology=SCC, t="T1b", n="N0"),
        "scc-t1b-endoscopic-resection",
        ["nccn-esoph-3", "disiena-2021"],
        id="scc-T1b-N0-endoscopic-resection",
    ),
    pytest.param(
        facts(BASE, histology=ADENO, t="T1b", n="N0", location="lower"),
        "adeno-t1b-esophagectomy",
        ["nccn-esoph-13", "disiena-2021"],
        id="adeno-T1b-N0-esophagectomy",
    ),
    pytest.param(
        facts(
            BASE,
            histology=SCC,
            t="T2",
            n="N0",
            tumour_length_cm=2.0,
            grade="G1",
            lymphovascular_invasion=False,
        ),
        "t2n0-low-risk-esophagectomy",
        ["nccn-esoph-4", "nccn-esoph-13"],
        id="cT2N0-low-risk-esophagectomy",
    ),
    pytest.param(
        facts(
            BASE,
            histology=SCC,
            t="T2",
            n="N0",
            tumour_length_cm=2.0,
            grade="G3",
            lymphovascular_invasion=False,
        ),
        "scc-locally-advanced-preoperative-chemoradiation",
        ["cross-2012", "cross-2015", "nccn-esoph-4"],
        id="scc-cT2N0-high-risk-G3-is-locally-advanced",
    ),
    pytest.param(
        facts(BASE, histology=ADENO, t="T2", n="N0", tumour_length_cm=4.5, location="lower"),
        "adeno-locally-advanced-perioperative-flot",
        ["esopec-2025", "flot4-2019", "nccn-esoph-13"],
        id="adeno-cT2N0-high-risk-4.5cm-is-locally-advanced",
    ),
    pytest.param(
        facts(BASE, histology=SCC, t="T3", n="N1"),
        "scc-locally-advanced-preoperative-chemoradiation",
        ["cross-2012", "cross-2015", "nccn-esoph-4"],
        id="scc-cT3N1-CROSS",
    ),
    pytest.param(
        facts(BASE, histology=SCC, t="T1b", n="N2"),
        "scc-locally-advanced-preoperative-chemoradiation",
        ["cross-2012", "cross-2015", "nccn-esoph-4"],
        id="scc-cT1bN2-CROSS",
    ),
    pytest.param(
        facts(BASE, histology=ADENO, t="T3", n="N1", location="egj"),
        "adeno-locally-advanced-perioperative-flot",
        ["esopec-2025", "flot4-2019", "nccn-esoph-13"],
        id="adeno-cT3N1-FLOT",
    ),
    pytest.param(
        facts(BASE, histology=ADENO, t="T3", n="N1", location="lower", msi=None, mmr="dMMR"),
        "adeno-msi-h-perioperative-immunotherapy",
        ["nccn-esoph-13"],
        id="adeno-dMMR-resectable-perioperative-ICI",
    ),
    pytest.param(
        facts(BASE, histology=SCC, t="T3", n="N0", location="cervical"),
        "cervical-definitive-chemoradiation",
        ["rtog8501-1992", "nccn-esoph-4"],
        id="cervical-definitive-CRT",
    ),
    pytest.param(
        facts(BASE, histology=SCC, t="T4b", n="N1", invades_airway_or_great_vessels=False),
        "t4b-definitive-chemoradiation",
        ["rtog8501-1992", "nccn-esoph-4", "nccn-esoph-13"],
        id="cT4b-definitive-CRT",
    ),
    pytest.param(
        facts(BASE, histology=ADENO, t="T4b", n="N0", invades_airway_or_great_vessels=True),
        "t4b-chemotherapy-alone",
        ["nccn-esoph-4", "nccn-esoph-13"],
        id="cT4b-invading-trachea-chemotherapy-alone",
    ),
    pytest.param(
        facts(BASE, histology=ADENO, t="T3", n="N2", location="lower", fit_for_surgery=False),
        "locally-advanced-unfit-definitive-chemoradiation",
        ["rtog8501-1992", "nccn-esoph-4", "nccn-esoph-13"],
        id="locally-advanced-unfit-definitive-CRT",
    ),
    pytest.param(
        facts(
            BASE,
            histology=ADENO,
            kind="post_neoadjuvant",
            t="T2",
            n="N1",
            prior_treatments=CROSS_R0,
            pathologic_complete_response=False,
        ),
        "adjuvant-nivolumab-residual-disease",
        ["checkmate577-2021", "nccn-2021-onclive"],
        id="CROSS-R0-residual-disease-adjuvant-nivolumab",
    ),
    pytest.param(
        facts(METASTATIC, histology=ADENO, her2="3+", pdl1_cps=5),
        "adeno-her2-positive-trastuzumab-pembrolizumab",
        ["keynote811-2021", "toga-2010", "fda-pd1-label-2025"],
        id="M1-adeno-HER2-3+-CPS-5-trastuzumab-pembrolizumab",
    ),
    pytest.param(
        facts(METASTATIC, histology=ADENO, her2="2+ ISH+", pdl1_cps=0),
        "adeno-her2-positive-trastuzumab",
        ["toga-2010", "nccn-esoph-10"],
        id="M1-adeno-HER2-2+ISH+-CPS-0-trastuzumab",
    ),
    pytest.param(
        facts(METASTATIC, histology=ADENO, her2="1+", pdl1_cps=12),
        "adeno-her2-negative-nivolumab",
        ["checkmate649-2021", "nccn-2021-onclive"],
        id="M1-adeno-HER2-negative-CPS-12-nivolumab",
    ),
    pytest.param(
        facts(METASTATIC, histology=ADENO, her2="0", pdl1_cps=3),
        "adeno-her2-negative-pd1-low-cps",
        ["checkmate649-2021", "fda-pd1-label-2025"],
        id="M1-adeno-HER2-negative-CPS-3-consider-PD1",
    ),
    pytest.param(
        facts(METASTATIC, histology=ADENO, her2="2+ ISH-", pdl1_cps=0.5),
        "adeno-her2-negative-chemotherapy",
        ["checkmate649-2021", "fda-pd1-label-2025", "nccn-esoph-10"],
        id="M1-adeno-HER2-negative-CPS-below-1-chemotherapy",
    ),
    pytest.param(
        facts(METASTATIC, histology=SCC, pdl1_tps=5, pdl1_cps=15),
        "escc-nivolumab-chemotherapy",
        ["checkmate648-2022"],
        id="M1-ESCC-TPS-5-nivolumab",
    ),
    pytest.param(
        facts(METASTATIC, histology=SCC, pdl1_tps=0, pdl1_cps=12),
        "escc-pembrolizumab-chemotherapy",
        ["keynote590-2021"],
        id="M1-ESCC-TPS-0-CPS-12-pembrolizumab",
    ),
    pytest.param(
        facts(METASTATIC, histology=SCC, pdl1_tps=0, pdl1_cps=0),
        "escc-chemotherapy",
        ["fda-pd1-label-2025", "keynote590-2021", "nccn-esoph-10"],
        id="M1-ESCC-PD-L1-negative-chemotherapy",
    ),
    pytest.param(
        facts(METASTATIC, histology="other", msi="MSI-H"),
        "msi-h-immunotherapy",
        ["nccn-esoph-13", "nci-pdq"],
        id="M1-MSI-H-any-histology-immunotherapy",
    ),
    pytest.param(
        facts(METASTATIC, histology=ADENO, t="T3", n="N1", ecog=3),
        "best-supportive-care-ecog-3-4",
        ["nccn-esoph-10", "nci-pdq"],
        id="ECOG-3-best-supportive-care",
    ),
]


@pytest.mark.parametrize(("vignette", "first_rule", "evidence"), VIGNETTES)
def test_a_vignette_gets_the_guideline_option_first_with_its_evidence(vignette, first_rule, evidence):
    answer = recommend(vignette)

    assert answer.options, answer.more_data_needed
    assert answer.options[0].rule_id == first_rule
    assert [c.id for c in answer.options[0].evidence] == evidence
    assert answer.options[0].evidence_summary
    assert answer.rule_set == f"esophagus-{load_rules().version}"


def test_superficial_scc_t1b_offers_resection_then_esophagectomy():
    answer = recommend(facts(BASE, histology=SCC, t="T1b", n="N0"))

    assert rule_ids(answer) == ["scc-t1b-endoscopic-resection", "scc-t1b-esophagectomy"]


def test_locally_advanced_scc_offers_cross_before_definitive_chemoradiation():
    answer = recommend(facts(BASE, histology=SCC, t="T3", n="N1"))

    assert rule_ids(answer) == [
        "scc-locally-advanced-preoperative-chemoradiation",
        "scc-locally-advanced-definitive-chemoradiation",
    ]
    assert answer.more_data_needed == []


def test_locally_advanced_adenocarcinoma_offers_flot_then_cross():
    answer = recommend(facts(BASE, histology=ADENO, t="T3", n="N1", location="lower"))

    assert rule_ids(answer) == [
        "adeno-locally-advanced-perioperative-flot",
        "adeno-locally-advanced-preoperative-chemoradiation",
    ]
    assert answer.options[0].strength == "NCCN category 1, preferred"


def test_an_option_says_which_facts_made_it_fire():
    answer = recommend(facts(BASE, histology=ADENO, t="T3", n="N1", location="lower"))

    because = answer.options[0].because
    assert "histology = adenocarcinoma" in because
    assert "cT3" in because
    assert "ECOG 1 ≤ 2" in because
    assert "fit for surgery" in because


def test_stage_ivb_without_m_is_metastatic():
    answer = recommend(Facts(histology=SCC, stage_group="IVB", ecog=0, msi="MSS", pdl1_tps=3, pdl1_cps=3))

    assert rule_ids(answer)[0] == "escc-nivolumab-chemotherapy"
    assert "stage IVB" in answer.options[0].because


def test_ecog_3_gives_best_supportive_care_and_no_curative_option():
    answer = recommend(facts(BASE, histology=SCC, t="T3", n="N1", ecog=3))

    assert rule_ids(answer) == ["best-supportive-care-ecog-3-4"]
    assert all(option.intent != "curative" for option in answer.options)
    assert answer.more_data_needed == []


def test_her2_unknown_in_metastatic_adenocarcinoma_asks_for_her2_and_recommends_no_her2_regimen():
    answer = recommend(facts(METASTATIC, histology=ADENO, pdl1_cps=7))

    assert asked(answer) == ["her2"]
    assert not [r for r in rule_ids(answer) if r.startswith("adeno-her2")]
    assert "adeno-her2-negative-nivolumab" in answer.more_data_needed[0].rules


def test_her2_ihc_2_plus_without_ish_is_asked_for_not_guessed():
    answer = recommend(facts(METASTATIC, histology=ADENO, her2="2+", pdl1_cps=7))

    assert asked(answer) == ["her2"]
    assert "2+ ISH+ or 2+ ISH-" in answer.more_data_needed[0].why


def test_ecog_unknown_asks_for_ecog_and_recommends_nothing():
    answer = recommend(facts(BASE, histology=ADENO, t="T3", n="N1", location="lower", ecog=None))

    assert answer.options == []
    assert asked(answer) == ["ecog"]
    assert "best supportive care" in answer.more_data_needed[0].why


def test_pathologic_response_unknown_after_cross_and_r0_is_asked_for():
    vignette = facts(BASE, histology=SCC, kind="post_neoadjuvant", t="T2", n="N0", prior_treatments=CROSS_R0)

    answer = recommend(vignette)

    assert answer.options == []
    assert asked(answer) == ["pathologic_complete_response"]
    assert answer.more_data_needed[0].rules == [
        "adjuvant-nivolumab-residual-disease",
        "surveillance-after-complete-response",
    ]


def test_a_complete_response_after_cross_gives_no_adjuvant_nivolumab():
    vignette = facts(
        BASE,
        histology=SCC,
        kind="post_neoadjuvant",
        t="T0",
        n="N0",
        prior_treatments=CROSS_R0,
        pathologic_complete_response=True,
    )

    answer = recommend(vignette)

    assert "adjuvant-nivolumab-residual-disease" not in rule_ids(answer)
    assert answer.more_data_needed == []


def test_a_t4b_tumour_asks_whether_it_invades_the_airway_or_great_vessels():
    answer = recommend(facts(BASE, histology=SCC, t="T4b", n="N1"))

    assert rule_ids(answer) == ["t4b-definitive-chemoradiation"]
    assert asked(answer) == ["invades_airway_or_great_vessels"]


def test_an_unsplit_t1_is_asked_to_be_specified():
    answer = recommend(facts(BASE, histology=ADENO, t="T1", n="N0", location="lower"))

    assert answer.options == []
    assert asked(answer) == ["t"]
    assert "T1a or T1b" in answer.more_data_needed[0].why


def test_one_negative_msi_or_mmr_result_settles_msi_status():
    answer = recommend(facts(BASE, histology=ADENO, t="T3", n="N1", location="lower", msi=None, mmr="pMMR"))

    assert "msi" not in asked(answer)
    assert rule_ids(answer)[0] == "adeno-locally-advanced-perioperative-flot"


def test_no_facts_gives_no_options_and_asks_for_histology_and_stage_first():
    answer = recommend(Facts())

    assert answer.options == []
    assert asked(answer)[:5] == ["histology", "kind", "t", "n", "m"]
    assert answer.facts_used == {}


def test_facts_used_are_the_facts_given():
    vignette = facts(BASE, histology=SCC, t="T3", n="N1")

    answer = recommend(vignette)

    assert answer.facts_used == {**BASE, "histology": SCC, "t": "T3", "n": "N1"}


# --- the rule file -------------------------------------------------------------------------


def packaged_toml() -> dict[str, Any]:
    package = "inescape.modules.cds.guidelines"
    return tomllib.loads(resources.files(package).joinpath("rules.toml").read_text(encoding="utf-8"))


def facts_in(condition: Any) -> set[str]:
    if isinstance(condition, dict):
        found = {condition["fact"]} if "fact" in condition else set()
        return found.union(*(facts_in(v) for k, v in condition.items() if k != "fact"))
    if isinstance(condition, list):
        return set().union(*(facts_in(c) for c in condition))
    return set()


def test_every_fact_the_rule_file_uses_is_a_facts_field():
    data = packaged_toml()

    used = facts_in([rule["when"] for rule in data["rule"]]) | facts_in(list(data["define"].values()))

    assert used <= set(FACT_NAMES)
    assert set(data["facts"]) <= set(FACT_NAMES)


def test_every_citation_the_rule_file_references_exists():
    data = packaged_toml()

    cited = {cid for rule in data["rule"] for cid in rule["evidence"]}

    assert cited <= set(data["citations"])
    assert {"cross-2012", "esopec-2025", "checkmate577-2021", "keynote590-2021"} <= cited


def test_the_packaged_rules_load_once_and_have_unique_ids():
    rules = load_rules()

    assert load_rules() is rules
    assert len({r.id for r in rules.rules}) == len(rules.rules)
    assert rules.name.startswith("esophagus-")
    assert rules.fact_names() <= set(FACT_NAMES)


def test_recommend_reads_no_file_once_the_rules_are_loaded(monkeypatch: pytest.MonkeyPatch):
    load_rules()

    def no_io(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("recommend() read a file")

    monkeypatch.setattr(loader.resources, "files", no_io)
    monkeypatch.setattr(Path, "read_text", no_io)
    answer = recommend(facts(BASE, histology=SCC, t="T3", n="N1"))

    assert answer.options


BROKEN = """
version = "0.0.1"
published = "2026-01-01"
[citations.a]
title = "A"
reference = "B"
[facts.ecog]
label = "ECOG"
why = "decides"
[[rule]]
id = "r"
rank = 1
title = "t"
recommendation = "r"
intent = "curative"
strength = "consider"
evidence = ["nobody-2099"]
evidence_summary = "s"
when = [
  { fact = "ecgo", lte = 2 },
  { fact = "ecog", eq = 1 },
  { fact = "ecog", in = ["x"] },
  { use = "nope" },
]
"""


def test_a_broken_rule_file_fails_at_load_naming_every_problem(tmp_path: Path):
    path = tmp_path / "rules.toml"
    path.write_text(BROKEN, encoding="utf-8")

    with pytest.raises(RuleSetInvalid) as caught:
        load_rules(path)

    message = str(caught.value)
    assert str(path) in message
    assert "unknown citation 'nobody-2099'" in message
    assert "unknown fact 'ecgo'" in message
    assert "exactly one operator" in message
    assert "got ['eq']" in message
    assert "'in' needs a coded fact" in message
    assert "unknown definition 'nope'" in message
    assert len(caught.value.errors) == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("version = ", "Invalid", id="not-toml"),
        pytest.param(BROKEN.replace("rank = 1", 'rank = "one"'), "rank", id="wrong-type"),
        pytest.param(
            BROKEN.replace('{ use = "nope" }', '{ maybe = "x" }'), "unknown operator 'maybe'", id="operator"
        ),
        pytest.param(BROKEN.replace('"2026-01-01"', '"01/01/2026"'), "YYYY-MM-DD", id="date"),
    ],
)
def test_a_malformed_rule_file_gives_a_clear_error(text, expected):
    with pytest.raises(RuleSetInvalid, match=re.escape(expected)):
        parse_rules(text, source="test.toml")


SMALL = """
version = "t1"
published = "2026-01-01"
[citations.c]
title = "C"
reference = "R"
[facts.ecog]
label = "ECOG"
why = "ECOG decides"
[facts.histology]
label = "histology"
why = "histology decides"
[[rule]]
id = "good"
rank = 1
title = "t"
recommendation = "r"
intent = "curative"
strength = "consider"
evidence = ["c"]
evidence_summary = "s"
when = [{ fact = "ecog", lte = 2 }, { fact = "histology", in = ["adenocarcinoma"] }]
[[rule]]
id = "fallback"
rank = 2
title = "t"
recommendation = "r"
intent = "supportive"
strength = "consider"
evidence = ["c"]
evidence_summary = "s"
when = [{ fact = "ecog", lte = 2 }]
[[rule]]
id = "lower"
rank = 3
title = "t"
recommendation = "r"
intent = "supportive"
strength = "consider"
evidence = ["c"]
evidence_summary = "s"
when = [{ fact = "histology", in = ["other"] }]
"""


def test_only_undecided_rules_that_outrank_the_last_option_are_asked_about():
    rules = parse_rules(SMALL, source="small.toml")

    answer = recommend(Facts(ecog=1), rules=rules)

    assert rule_ids(answer) == ["fallback"]
    assert [(m.fact, m.rules) for m in answer.more_data_needed] == [("histology", ["good"])]
    assert answer.rule_set == "esophagus-t1"


# --- any facts at all ------------------------------------------------------------------------

# How each fact shows in a reason; a reason may only mention facts that were given.
MENTIONS = {
    "histology": r"histology",
    "location": r"location",
    "kind": r"staging|\b(?:c|p|yp)(?:T(?:is|X|\d)|N[X0-3]|M[01])",
    "t": r"\b(?:c|p|yp)?T(?:is|X|\d)",
    "n": r"\b(?:c|p|yp)?N[X0-3]",
    "m": r"\b(?:c|p|yp)?M[01]\b",
    "stage_group": r"\bstage\b",
    "grade": r"grade",
    "tumour_length_cm": r"tumour length",
    "lymphovascular_invasion": r"lymphovascular",
    "ecog": r"ECOG",
    "fit_for_surgery": r"fit for surgery",
    "her2": r"HER2",
    "pdl1_cps": r"CPS",
    "pdl1_tps": r"TPS",
    "msi": r"MSI",
    "mmr": r"\bMMR\b",
    "pathologic_complete_response": r"pathologic complete response|residual disease",
    "invades_airway_or_great_vessels": r"trachea",
}


def maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | values


def coded(fact: str) -> st.SearchStrategy[Any]:
    return maybe(st.sampled_from([*VOCAB[fact], "junk"]))


treatments = st.builds(
    PriorTreatment,
    kind=st.sampled_from(["surgery", "radiotherapy", "systemic", "endoscopic_resection"]),
    intent=maybe(st.sampled_from(["neoadjuvant", "adjuvant", "perioperative", "definitive", "palliative"])),
    margin=maybe(st.sampled_from(["R0", "R1", "R2"])),
)
any_facts = st.builds(
    Facts,
    **{fact: coded(fact) for fact in VOCAB},
    tumour_length_cm=maybe(st.floats(min_value=0, max_value=30)),
    lymphovascular_invasion=maybe(st.booleans()),
    ecog=maybe(st.integers(min_value=0, max_value=5)),
    fit_for_surgery=maybe(st.booleans()),
    pdl1_cps=maybe(st.floats(min_value=0, max_value=100)),
    pdl1_tps=maybe(st.floats(min_value=0, max_value=100)),
    prior_treatments=st.lists(treatments, max_size=4),
    pathologic_complete_response=maybe(st.booleans()),
    invades_airway_or_great_vessels=maybe(st.booleans()),
)


@settings(max_examples=300, deadline=None)
@given(any_facts)
def test_any_facts_give_ranked_options_whose_reasons_mention_only_given_facts(given_facts):
    answer = recommend(given_facts)

    unknown = [fact for fact in MENTIONS if getattr(given_facts, fact) is None]
    for option in answer.options:
        for reason in option.because:
            # a reason may say that a fact is not recorded ("location not recorded": a rule that
            # holds unless the tumour is cervical), never claim a value for it
            claims = [f for f in unknown if re.search(MENTIONS[f], reason) and "not recorded" not in reason]
            assert not claims, (option.rule_id, reason)
    assert [o.rank for o in answer.options] == sorted(o.rank for o in answer.options)
    assert set(answer.facts_used) == {f for f in FACT_NAMES if getattr(given_facts, f) not in (None, [])}
    if given_facts.ecog is not None and given_facts.ecog >= 3:
        follow_up = [r for r in rule_ids(answer) if r.startswith("surveillance-")]
        assert rule_ids(answer) == ["best-supportive-care-ecog-3-4", *follow_up]


@pytest.mark.parametrize(
    "given",
    [
        [PriorTreatment("radiotherapy", "neoadjuvant"), PriorTreatment("systemic", "neoadjuvant")],  # CROSS
        [PriorTreatment("systemic", "perioperative")],  # the four preoperative FLOT cycles
    ],
)
def test_after_neoadjuvant_therapy_and_before_surgery_the_next_step_is_restaging_then_surgery(given):
    vignette = facts(BASE, histology=ADENO, kind="post_neoadjuvant", t="T2", n="N1", prior_treatments=given)

    answer = recommend(vignette)

    # the one next step: not a first treatment again, and not what follows a resection
    assert rule_ids(answer) == ["surgery-after-neoadjuvant-therapy"]
    assert "cross-2012" in [c.id for c in answer.options[0].evidence]


def test_after_neoadjuvant_therapy_a_patient_unfit_for_surgery_or_metastatic_is_not_sent_to_surgery():
    cross = [PriorTreatment("radiotherapy", "neoadjuvant"), PriorTreatment("systemic", "neoadjuvant")]
    unfit = facts(
        BASE,
        histology=SCC,
        kind="post_neoadjuvant",
        t="T3",
        n="N1",
        prior_treatments=cross,
        fit_for_surgery=False,
    )
    spread = facts(METASTATIC, histology=SCC, prior_treatments=cross)

    assert "surgery-after-neoadjuvant-therapy" not in rule_ids(recommend(unfit))
    assert "surgery-after-neoadjuvant-therapy" not in rule_ids(recommend(spread))
