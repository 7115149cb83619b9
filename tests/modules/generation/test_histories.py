"""Histories a clinician would believe: regimens only from the day they entered practice, recurrence
only after a curative treatment left the patient without disease, progression and a second line
for the others, Siewert types only for EGJ adenocarcinoma, node-positivity and M1 by T as
published. Counted on a 20,000-patient cohort of each shipped profile."""

from __future__ import annotations

from datetime import date
from importlib import resources

import polars as pl
import pytest

from inescape.modules.generation.api import GeneratorApi, ProfileInvalid
from inescape.modules.generation.coherence import incoherences, nodes_and_metastases
from inescape.modules.generation.engine import Cohort, concat
from inescape.modules.generation.library import Generator
from inescape.runtime import library

SHIPPED = ("global", "iran-golestan", "us-seer")
N = 20_000


def standalone_generator() -> Generator:
    return library(GeneratorApi)  # type: ignore[return-value]


GEN = standalone_generator()


def eras_of(name: str) -> dict[str, date]:
    return {key: era.since for key, era in GEN.profile(name).treatment.eras.items()}


@pytest.fixture(scope="module", params=SHIPPED)
def generated(request: pytest.FixtureRequest) -> tuple[str, Cohort]:
    return request.param, concat(GEN.chunks(request.param, N, seed=11))


def test_no_incoherence_in_a_cohort_of_any_shipped_profile(generated):
    name, cohort = generated

    counts = incoherences(cohort.frames(), eras_of(name))

    assert counts == dict.fromkeys(counts, 0), name
    assert len(counts) == 11


def test_every_shipped_profile_dates_the_regimens_the_issue_names(generated):
    name, _ = generated

    eras = eras_of(name)

    assert eras["CROSS"].year == 2012
    assert eras["FLOT"].year == 2017
    assert eras["adjuvant nivolumab"] == date(2021, 5, 20)
    assert eras["nivolumab + FOLFOX"].year == 2021
    assert eras["trastuzumab + cisplatin/capecitabine"].year == 2010
    assert all(era.source.strip() for era in GEN.profile(name).treatment.eras.values())


def _treatments(cohort: Cohort) -> pl.DataFrame:
    diagnosed = cohort.conditions.select("patient_id", "diagnosis_date", "histology")
    return cohort.treatments.join(diagnosed, on="patient_id")


def test_patients_diagnosed_before_an_era_get_that_eras_standard_of_care(generated):
    name, cohort = generated
    treatments = _treatments(cohort)
    before = treatments.filter(pl.col("diagnosis_date") < date(2012, 1, 1))
    after = treatments.filter(pl.col("diagnosis_date") >= date(2013, 1, 1))

    neoadjuvant = before.filter(pl.col("intent") == "neoadjuvant")
    assert set(neoadjuvant["regimen"]) == {"cisplatin/fluorouracil", "neoadjuvant CRT"}, name
    assert set(neoadjuvant.filter(pl.col("kind") == "radiotherapy")["dose_gy"]) == {50.4}
    assert "FLOT" not in set(treatments.filter(pl.col("diagnosis_date") < date(2017, 1, 1))["regimen"])
    first_line = before.filter((pl.col("intent") == "palliative") & (pl.col("line") == 1))
    assert not first_line["regimen"].str.contains("nivolumab|pembrolizumab + ").any()
    assert before.filter(pl.col("intent") == "adjuvant").height == 0
    assert after.filter(pl.col("regimen") == "CROSS").height > 0


def test_first_line_immunotherapy_appears_once_its_era_begins():
    treatments = _treatments(concat(GEN.chunks("us-seer", N, seed=11)))
    palliative = treatments.filter((pl.col("intent") == "palliative") & (pl.col("line") == 1))
    with_pd1 = palliative.filter(pl.col("regimen").str.starts_with("nivolumab + "))

    assert with_pd1.height > 0
    assert with_pd1["start_date"].min() >= date(2021, 4, 16)


def test_recurrence_only_after_a_disease_free_state_and_second_lines_follow_progression(generated):
    name, cohort = generated
    patients, treatments = cohort.patients, cohort.treatments
    recurred = patients.filter(pl.col("recurrence_date").is_not_null())["id"]
    palliative = treatments.filter(pl.col("intent") == "palliative")["patient_id"].unique()
    second = treatments.filter(pl.col("line") == 2)

    assert recurred.len() > 0
    assert not recurred.is_in(palliative.implode()).any(), name
    assert second.height > 0
    first = treatments.filter(pl.col("line") == 1).select("patient_id", first_end="end_date")
    joined = second.join(first, on="patient_id")
    assert joined.height == second.height
    assert (joined["start_date"] > joined["first_end"]).all()


def test_patients_a_curative_treatment_did_not_clear_progress_instead_of_recurring(generated):
    name, cohort = generated
    treatments = cohort.treatments
    operated = treatments.filter(pl.col("kind") == "surgery")["patient_id"]
    not_cleared = pl.concat(
        [
            treatments.filter(pl.col("margin").is_in(["R1", "R2"]))["patient_id"],
            treatments.filter(
                pl.col("intent").is_in(["neoadjuvant", "perioperative"])
                & ~pl.col("patient_id").is_in(operated.implode())
            )["patient_id"],
        ]
    ).unique()
    later = treatments.filter((pl.col("intent") == "palliative") & (pl.col("line") == 1))["patient_id"]

    recurred = cohort.patients.filter(pl.col("recurrence_date").is_not_null())["id"]
    assert not_cleared.len() > 0
    assert not not_cleared.is_in(recurred.implode()).any(), name
    assert not_cleared.is_in(later.implode()).sum() > 0, name  # a palliative line at progression


def test_node_positivity_and_m1_follow_the_t_category(generated):
    name, cohort = generated

    shares = nodes_and_metastases(cohort.frames())

    assert shares["node_positive.pT1a"] <= 0.10, name  # published 0 to about 10 %
    assert 0.15 <= shares["node_positive.pT1b"] <= 0.35, name  # about 20-25 %
    assert shares["node_positive.pT3"] > shares["node_positive.pT1b"]
    # cN follows cT, but the profile's stage-group shares also place some cT1a in N2-N3 groups.
    assert shares["node_positive.cT1a"] <= 0.15, name
    assert shares["m1_share.cT1a"] < 0.01, name  # cT1a M1 very rare
    assert shares["m1_share.cT3"] > 0.3


def test_the_counts_see_each_incoherence_they_name():
    cohort = concat(GEN.chunks("us-seer", 3_000, seed=3))
    frames = cohort.frames()
    treatments = frames["treatments"]
    palliative = treatments.filter(pl.col("intent") == "palliative")["patient_id"][0]
    squamous = frames["conditions"].filter(pl.col("histology") != "adenocarcinoma")["patient_id"][0]
    broken = {
        **frames,
        "patients": frames["patients"].with_columns(
            recurrence_date=pl.when(pl.col("id") == palliative)
            .then(pl.date(2030, 1, 1))
            .otherwise("recurrence_date")
        ),
        "conditions": frames["conditions"].with_columns(
            siewert=pl.when(pl.col("patient_id") == squamous).then(pl.lit("II")).otherwise("siewert")
        ),
    }
    eras = {**eras_of("us-seer"), "FOLFOX": date(2099, 1, 1)}

    counts = incoherences(broken, eras)

    assert counts["recurrence_without_disease_free_state"] == 1
    assert counts["siewert_outside_egj_adenocarcinoma"] == 1
    assert counts["regimen_before_its_era"] == treatments.filter(pl.col("regimen") == "FOLFOX").height > 0


def _golestan() -> str:
    folder = resources.files("inescape.modules.generation").joinpath("profiles")
    return folder.joinpath("iran-golestan.toml").read_text(encoding="utf-8")


def test_an_era_of_an_unknown_setting_or_regimen_is_refused():
    text = _golestan().replace(
        '"FLOT" = { since = 2017-06-01, instead = "ECF"', '"FLOT" = { since = 2017-06-01, instead = "CROSS"'
    )
    text = text.replace('"pembrolizumab" = { since', '"tislelizumab" = { since')

    with pytest.raises(ProfileInvalid) as caught:
        GEN.parse_profile(text)

    fields = {e["field"] for e in caught.value.errors}
    assert fields == {"treatment.eras.FLOT.instead", "treatment.eras.tislelizumab"}


def test_a_regimen_dated_after_every_diagnosis_is_never_given():
    text = _golestan().replace('"CROSS" = { since = 2012-05-31', '"CROSS" = { since = 2030-01-01')
    profile = GEN.parse_profile(text)

    treatments = concat(GEN.chunks(profile, 5_000, seed=2)).treatments

    assert "CROSS" not in set(treatments["regimen"].drop_nulls())
    assert treatments.filter(pl.col("intent") == "neoadjuvant").height > 0
