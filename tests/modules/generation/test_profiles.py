"""Generator profiles as data: the shipped ones parse and cite every figure; a broken one is
refused with the dotted path of the field to fix."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inescape.kernel.errors import Invalid
from inescape.modules.generation.api import GeneratorApi, ProfileInvalid, ProfileNotFound
from inescape.modules.generation.library import Generator
from inescape.modules.generation.targets import parse_target
from inescape.runtime import library

SHIPPED = ("global", "iran-golestan", "us-seer", "us-seer-heterogeneous")


def standalone_generator() -> Generator:
    """Generation's backend-free library, as the root builds it for notebooks."""
    return library(GeneratorApi)  # type: ignore[return-value]


GEN = standalone_generator()


def shipped_text(name: str) -> str:
    folder = resources.files("inescape.modules.generation").joinpath("profiles")
    return folder.joinpath(f"{name}.toml").read_text(encoding="utf-8")


def golestan() -> str:
    return shipped_text("iran-golestan")


def fields_of(error: ProfileInvalid) -> list[str]:
    return [e["field"] for e in error.errors]


def refused(text: str) -> ProfileInvalid:
    with pytest.raises(ProfileInvalid) as caught:
        GEN.parse_profile(text, source="test.toml")
    return caught.value


def replaced(old: str, new: str) -> str:
    text = golestan()
    assert old in text, f"the test's anchor {old!r} is no longer in the profile"
    return text.replace(old, new, 1)


def numbers_without_source(node: Any, path: str, cited: bool) -> list[str]:
    """Paths of numbers with no ``source`` (or ``*_source``) in their own table or one above it."""
    if isinstance(node, dict):
        here = cited or any(
            k.endswith("source") and isinstance(v, str) and v.strip() for k, v in node.items()
        )
        return [p for k, v in node.items() for p in numbers_without_source(v, f"{path}.{k}", here)]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in numbers_without_source(v, f"{path}[{i}]", cited)]
    is_number = isinstance(node, int | float) and not isinstance(node, bool)
    return [path] if is_number and not cited else []


def test_the_shipped_profiles_are_listed_by_name():
    assert [p.name for p in GEN.profiles()] == list(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_profile_parses(name):
    profile = GEN.profile(name)

    assert profile.name == name
    assert profile.targets


@pytest.mark.parametrize("name", SHIPPED)
def test_every_figure_of_a_shipped_profile_has_a_source(name):
    raw = tomllib.loads(shipped_text(name))

    assert numbers_without_source(raw, "", cited=False) == []


@pytest.mark.parametrize("name", SHIPPED)
def test_every_target_names_a_measurement_and_cites_it(name):
    for target in GEN.profile(name).targets:
        parse_target(target.name)
        assert target.source.strip()
        assert target.tolerance > 0


def test_packaged_profiles_are_parsed_once():
    assert GEN.profile("us-seer") is GEN.profile("us-seer")


def test_an_unknown_profile_is_not_found():
    with pytest.raises(ProfileNotFound, match="iran-golestan"):
        GEN.profile("atlantis")


def test_shares_that_do_not_sum_to_one_name_the_field():
    text = replaced(
        "squamous_cell_carcinoma = 0.90, adenocarcinoma", "squamous_cell_carcinoma = 0.80, adenocarcinoma"
    )

    error = refused(text)

    assert "histology.shares" in fields_of(error)
    assert "sum to 1" in error.detail


def test_a_negative_rate_names_the_field():
    error = refused(replaced("adjuvant_nivolumab = { value = 0.10", "adjuvant_nivolumab = { value = -0.10"))

    assert fields_of(error) == ["treatment.adjuvant_nivolumab.value"]


def test_an_unknown_morphology_code_names_the_code():
    error = refused(replaced('"8071/3" = 0.06', '"9071/3" = 0.06'))

    assert "morphology.squamous_cell_carcinoma.shares.9071/3" in fields_of(error)


def test_an_unknown_location_names_the_field():
    error = refused(replaced("upper = 0.12, middle = 0.50", "upper = 0.12, midle = 0.50"))

    assert "location.squamous_cell_carcinoma.shares.midle" in fields_of(error)


def test_a_stage_group_outside_the_histologys_ctnm_table_is_refused():
    # IIIA exists only in pTNM / ypTNM: cTNM of squamous cell carcinoma has 0, I, II, III, IVA, IVB.
    error = refused(
        replaced(
            '"III" = 0.480, "IVA" = 0.100, "IVB" = 0.165 }\nt_weights',
            '"IIIA" = 0.480, "IVA" = 0.100, "IVB" = 0.165 }\nt_weights',
        )
    )

    assert "stage.squamous_cell_carcinoma.groups.IIIA" in fields_of(error)


def test_a_missing_source_names_the_field():
    error = refused(
        replaced('source = "Br J Cancer 2004;90:1402 (PMID 15054463): 223', 'note = "Br J Cancer')
    )

    assert fields_of(error)[0].startswith("histology.")


def test_a_blank_source_is_named():
    error = refused(
        replaced(
            '''[identity.ethnicity.other]
shares = { "Turkmen" = 0.50, "Persian" = 0.40, "Other" = 0.10 }
source = "engineer's choice"''',
            '''[identity.ethnicity.other]
shares = { "Turkmen" = 0.50, "Persian" = 0.40, "Other" = 0.10 }
source = ""''',
        )
    )

    assert fields_of(error) == ["identity.ethnicity.other.source"]


def test_an_unknown_target_name_is_refused():
    error = refused(replaced('name = "stage.III"', 'name = "stage.XIII"'))

    assert any(f.startswith("targets[") and f.endswith(".name") for f in fields_of(error))


def test_a_wrong_type_names_the_field():
    error = refused(replaced("sigma = 0.35", 'sigma = "wide"'))

    assert fields_of(error) == ["tumour_length.sigma"]


def test_correlations_that_are_not_a_valid_matrix_are_refused():
    text = replaced("rho = 0.40", "rho = 0.99").replace("rho = 0.30", "rho = -0.99", 1)

    assert "risk_factors.correlations" in fields_of(refused(text))


def test_a_profile_invalid_is_an_invalid_with_every_problem():
    text = replaced(
        "squamous_cell_carcinoma = 0.90, adenocarcinoma", "squamous_cell_carcinoma = 0.80, adenocarcinoma"
    )
    text = text.replace("adjuvant_nivolumab = { value = 0.10", "adjuvant_nivolumab = { value = -0.10")

    error = refused(text)

    assert isinstance(error, Invalid)
    assert {"histology.shares", "treatment.adjuvant_nivolumab.value"} <= set(fields_of(error))
    assert all(set(e) == {"field", "message"} for e in error.errors)


def test_text_that_is_not_toml_is_refused():
    assert fields_of(refused("name = [unclosed")) == ["<toml>"]


@settings(max_examples=40, deadline=None)
@given(share=st.floats(min_value=-2, max_value=2, allow_nan=False).filter(lambda v: abs(v - 0.90) > 1e-6))
def test_a_histology_share_that_breaks_the_sum_names_only_the_histology_field(share):
    old = "squamous_cell_carcinoma = 0.90, adenocarcinoma"
    text = replaced(old, f"squamous_cell_carcinoma = {share!r}, adenocarcinoma")

    with pytest.raises(ProfileInvalid) as caught:
        GEN.parse_profile(text)

    assert fields_of(caught.value)
    assert all(f.startswith("histology.") for f in fields_of(caught.value))
