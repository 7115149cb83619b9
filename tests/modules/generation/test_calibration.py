"""Calibration, as a profile's author uses it: name the free parameters and the targets, get the
values that bring the targets inside their tolerances, from the library and from the command
line; a path that names no number is refused naming it, and nothing is written."""

from __future__ import annotations

import json
import re
import tomllib
from importlib import resources

import pytest

from inescape.kernel.errors import Invalid
from inescape.modules.generation.api import GeneratorApi
from inescape.modules.generation.calibration import read_knob, set_knob
from inescape.modules.generation.library import Generator
from inescape.runtime import library
from tests.support.processes import run_cli

GEN: Generator = library(GeneratorApi)  # type: ignore[assignment]
PROFILE = resources.files("inescape.modules.generation").joinpath("profiles", "iran-golestan.toml")


def _detuned(tmp_path, shape: float):
    """The Golestan profile with its first-year hazard shape set to ``shape`` (1.0 today)."""
    text = PROFILE.read_text(encoding="utf-8")
    detuned = re.sub(r"time_shape = \[[0-9.]+,", f"time_shape = [{shape},", text, count=1)
    assert detuned != text
    path = tmp_path / "golestan-detuned.toml"
    path.write_text(detuned, encoding="utf-8")
    return path


def test_a_detuned_profile_is_brought_back_inside_its_tolerance(tmp_path):
    path = _detuned(tmp_path, 2.0)  # twice the first-year hazard: median survival far too short
    target = "survival.median_months.overall"

    found = GEN.calibrate(
        str(path), ["survival.time_shape[0]"], targets=[target], patients=10_000, seed=5, max_evaluations=15
    )

    (knob,) = found.knobs
    (judged,) = found.targets
    assert judged.name == target
    assert judged.use_before is not None
    assert judged.use_after is not None
    assert judged.use_before > 1  # outside before
    assert judged.use_after < 0.5  # well inside after
    assert knob.before == 2.0
    assert 0.5 < knob.after < 1.5  # back near the shipped value, not somewhere absurd
    assert found.objective_after < found.objective_before
    assert found.evaluations <= 15
    assert "time_shape = [2.0," in path.read_text(encoding="utf-8")  # nothing is written


def test_knob_paths_reach_numbers_in_tables_lists_and_figures_with_a_source():
    data = tomllib.loads(PROFILE.read_text(encoding="utf-8"))

    assert read_knob(data, "survival.time_shape[2]") == data["survival"]["time_shape"][2]
    assert read_knob(data, "survival.baseline.III") == data["survival"]["baseline"]["III"]["value"]
    set_knob(data, "survival.baseline.III", 0.5)
    assert data["survival"]["baseline"]["III"] == {
        "value": 0.5,
        "source": data["survival"]["baseline"]["III"]["source"],
    }


@pytest.mark.parametrize(
    "path", ["survival.nothing", "survival.time_shape[9]", "name", "survival..baseline", "survival.baseline"]
)
def test_a_path_that_names_no_positive_number_is_refused_naming_it(path):
    with pytest.raises(Invalid) as raised:
        GEN.calibrate("iran-golestan", [path], patients=1_000, max_evaluations=1)

    assert repr(path) in raised.value.detail


def test_the_command_line_prints_the_values_and_the_targets_before_and_after(tmp_path):
    path = _detuned(tmp_path, 2.0)

    result = run_cli(
        "calibrate-profile",
        str(path),
        "--knob",
        "survival.time_shape[0]",
        "--target",
        "survival.median_months.overall",
        "-n",
        "10000",
        "--seed",
        "5",
        "--max-evaluations",
        "12",
        "--json",
        env={"INESCAPE_DATA_DIR": str(tmp_path / "data")},
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["knobs"][0]["paths"] == ["survival.time_shape[0]"]
    assert found["targets"][0]["use_after"] < found["targets"][0]["use_before"]
    assert "calibrating" in result.stderr  # the progress bar, off stdout when printing JSON
    bad = run_cli(
        "calibrate-profile", "iran-golestan", "--knob", "survival.nothing", "-n", "1000", env={}, timeout=120
    )
    assert bad.returncode == 1
    assert "no number at 'survival.nothing'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_without_scipy_the_error_says_which_extra_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "scipy.optimize", None)  # as if the extra were not installed

    with pytest.raises(Invalid) as raised:
        GEN.calibrate("iran-golestan", ["survival.time_shape[0]"], patients=1_000, max_evaluations=1)

    assert "pip install 'inescape[calibration]'" in raised.value.detail
