"""Every document collection and bucket prefix has one owning module, and only it touches them."""

from __future__ import annotations

import pytest

from inescape.infra.owned import NotOwned, OwnedDocuments, OwnedObjects, owners
from inescape.kernel.errors import ConfigurationError
from inescape.kernel.modules import MODULE_NAMES, ModuleSpec
from inescape.modules_loader import load_specs
from inescape.runtime import Runtime
from inescape.settings import load_settings


class Recording:
    """A store that only records what reaches it."""

    backend = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    async def find(self, collection: str, *args: object, **kwargs: object) -> list[object]:
        self.calls.append(("find", collection))
        return []

    async def get(self, bucket: str, key: str) -> bytes:
        self.calls.append(("get", bucket, key))
        return b""


def test_each_built_in_collection_and_prefix_has_exactly_one_owner():
    specs = load_specs(MODULE_NAMES)

    table = owners({spec.name: spec.owns for spec in specs})

    claimed = [name for spec in specs for name in spec.owns]
    assert len(claimed) == len(set(claimed))
    assert set(table) == set(claimed)
    assert table["audit_logs"] == "auth"
    assert table["dataset_metadata"] == "generation"


def test_two_modules_claiming_one_collection_stop_the_start(tmp_path):
    settings = load_settings({"INESCAPE_DATA_DIR": str(tmp_path)})
    thief = ModuleSpec(name="thief", title="Claims the audit trail", port=8098, owns=("audit_logs",))

    with pytest.raises(ConfigurationError) as refused:
        Runtime(settings, [*load_specs(["auth"]), thief])

    assert "'audit_logs' is claimed by modules 'auth' and 'thief'" in str(refused.value)


def test_a_prefix_inside_another_modules_prefix_is_refused():
    with pytest.raises(ConfigurationError, match="claimed by modules 'a' and 'b'"):
        owners({"a": ("datasets/",), "b": ("datasets/b/",)})


async def test_a_module_reading_a_collection_it_does_not_own_fails_before_the_store():
    store = Recording()
    seen = OwnedDocuments(store, module="training", collections=["training_runs"])  # type: ignore[arg-type]

    with pytest.raises(NotOwned, match="'training' used document collection 'audit_logs'"):
        await seen.find("audit_logs", {})

    await seen.find("training_runs", {})
    assert store.calls == [("find", "training_runs")]


async def test_a_module_reading_another_modules_objects_fails_before_the_store():
    store = Recording()
    seen = OwnedObjects(store, module="cds", prefixes=["models/cds/"])  # type: ignore[arg-type]

    with pytest.raises(NotOwned, match="'cds' used object 'models/training/x'"):
        await seen.get("models", "training/x")

    assert store.calls == []
