"""Without the ml extra, fitting in a notebook and a worker taking training jobs say what to
install (the CPU build of torch included), rather than a bare ModuleNotFoundError."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from inescape.modules.training import availability
from inescape.notebook import fit, load_model
from inescape.worker import _warn_without_ml


@pytest.fixture
def without_ml(monkeypatch):
    """This install as one without the ml extra: the probe looks for a module that is absent."""
    monkeypatch.setattr(availability, "ML_MODULES", ("inescape_absent_ml_module",))


def test_fitting_in_a_notebook_without_the_ml_extra_says_what_to_install(without_ml):
    with pytest.raises(ModuleNotFoundError) as refused:
        fit(pl.DataFrame({"id": ["a"]}), model="cox")

    message = str(refused.value)
    assert "ml extra" in message
    assert "pip install 'inescape[ml]' --extra-index-url https://download.pytorch.org/whl/cpu" in message
    assert refused.value.name == "inescape_absent_ml_module"


def test_loading_a_model_without_the_ml_extra_says_what_to_install(without_ml, tmp_path):
    with pytest.raises(ModuleNotFoundError, match=r"pip install -c constraints.txt -e '\.\[ml\]'"):
        load_model(tmp_path / "model")


def test_a_worker_taking_training_jobs_without_the_ml_extra_warns_at_start(without_ml, caplog):
    training = SimpleNamespace(specs=[SimpleNamespace(name="collection"), SimpleNamespace(name="training")])
    others = SimpleNamespace(specs=[SimpleNamespace(name="collection")])

    with caplog.at_level(logging.WARNING, logger="inescape.worker"):
        _warn_without_ml(others)
        assert caplog.records == []
        _warn_without_ml(training)

    [warned] = caplog.records
    assert "training needs the ml extra" in warned.getMessage()
    assert "download.pytorch.org/whl/cpu" in warned.getMessage()


def test_the_readme_gives_the_cpu_install_beside_the_pinned_one():
    root = Path(__file__).resolve().parents[3]
    readme = (root / "README.md").read_text()

    cpu = (
        "pip install -c constraints.txt -e '.[dev,ml]' --extra-index-url https://download.pytorch.org/whl/cpu"
    )
    assert cpu in readme
    assert "torch==2.13.0\n" in (root / "constraints.txt").read_text()  # 2.13.0+cpu satisfies it
