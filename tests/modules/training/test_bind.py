"""What training's ``bind`` wires (fakes at the ports), and its library facades: the registry
as ``RegistryApi``, the routes' services by name, the ``training.fit`` job; fitting offered
without importing torch until a model is fitted."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

from inescape.modules.training.api import FittingApi, RegistryApi, SurvivalModels
from inescape.modules.training.module import spec
from inescape.modules.training.registry import ModelRegistry
from inescape.modules.training.service import ModelService, RunService
from inescape.runtime import library
from tests.modules.training.test_survival_model_format import MODEL


class Facades:
    def __init__(self, **by_name: object) -> None:
        self.by_name = by_name

    def get(self, face: type) -> object:
        return self.by_name[face.__name__]


def test_bind_provides_the_registry_and_gives_the_routes_their_services():
    platform = SimpleNamespace(
        documents=object(), storage=object(), clock=object(), uow=object, jobs=object()
    )
    ctx = SimpleNamespace(
        platform=platform,
        settings=None,
        jobs=object(),
        facades=Facades(PatientsApi=object(), DatasetsApi=object(), GatewayApi=object()),
    )

    bound = spec.bind(ctx)

    assert isinstance(bound.facades[RegistryApi], ModelRegistry)
    assert isinstance(bound.dependencies["runs"], RunService)
    assert isinstance(bound.dependencies["models"], ModelService)
    assert set(bound.dependencies) == {"runs", "models"}  # audit is the gateway's
    assert set(bound.job_kinds) == {"training.fit"}
    assert spec.provides == (RegistryApi,)
    assert {face.__name__ for face in spec.requires} == {"PatientsApi", "DatasetsApi", "GatewayApi"}
    assert spec.owns == ("training_runs", "training_models", "models/training/model/")


def test_the_survival_library_round_trips_the_portable_format():
    survival: SurvivalModels = library(SurvivalModels)

    assert survival.load_portable(survival.dump_portable(MODEL)) == MODEL
    assert survival.missing_facts(MODEL, {"age": 60}) == ["histology"]


def test_the_fitting_library_does_not_import_torch_until_it_fits():
    script = (
        "import sys\n"
        "from inescape.modules.training.api import FittingApi\n"
        "from inescape.runtime import library\n"
        "library(FittingApi)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"
    assert FittingApi in spec.library
