"""The rules of DESIGN §2 hold, and breaking one breaks the lint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(tree / "src"), "PATH": "/usr/bin:/bin"},
        check=False,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_import_contracts_are_kept():
    result = lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_importing_another_modules_internals_breaks_the_lint(tree_copy):
    (tree_copy / "src/inescape/modules/generation/service.py").write_text(
        "from inescape.modules.cds import module\n"
    )

    result = lint_imports(tree_copy)

    assert result.returncode != 0
    assert "modules talk only through each other's api and events BROKEN" in result.stdout
    assert "inescape.modules.generation.service -> inescape.modules.cds.module" in result.stdout


def test_importing_another_modules_api_is_allowed(tree_copy):
    (tree_copy / "src/inescape/modules/generation/service.py").write_text(
        "from inescape.modules.cds import api\n"
    )

    result = lint_imports(tree_copy)

    assert result.returncode == 0, result.stdout


def test_infra_importing_a_module_breaks_the_lint(tree_copy):
    (tree_copy / "src/inescape/infra/leak.py").write_text("import inescape.modules.patients.api\n")

    result = lint_imports(tree_copy)

    assert result.returncode != 0
    assert "infra imports only kernel BROKEN" in result.stdout


def test_the_web_process_never_imports_torch_and_starts_without_matplotlib(tmp_path):
    code = (
        "import sys\n"
        "from litestar.testing import TestClient\n"
        "from inescape.app import create_app\n"
        "from inescape.settings import load_settings\n"
        f"app = create_app(load_settings({{'INESCAPE_DATA_DIR': {str(tmp_path)!r}}}))\n"
        "with TestClient(app) as c:\n"
        "    assert c.get('/health/detailed').status_code == 200\n"
        "print('torch' in sys.modules, 'pytorch_lightning' in sys.modules, 'matplotlib' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )

    assert result.returncode == 0, result.stderr[-2000:]
    # matplotlib is imported by the first picture, not at start-up
    assert result.stdout.strip().splitlines()[-1] == "False False False"


def test_a_module_importing_the_runtime_breaks_the_layers(tree_copy):
    (tree_copy / "src/inescape/modules/generation/leak.py").write_text("import inescape.runtime\n")

    result = lint_imports(tree_copy)

    assert result.returncode != 0
    assert "layers: cli > roots > runtime" in result.stdout
    assert "inescape.modules.generation.leak -> inescape.runtime" in result.stdout


def test_infra_importing_the_settings_breaks_the_layers(tree_copy):
    (tree_copy / "src/inescape/infra/leak.py").write_text("import inescape.settings\n")

    result = lint_imports(tree_copy)

    assert result.returncode != 0
    assert "inescape.infra.leak -> inescape.settings" in result.stdout


def test_a_face_importing_the_web_framework_breaks_the_lint(tree_copy):
    api = tree_copy / "src/inescape/modules/cds/api.py"
    api.write_text(api.read_text() + "\nimport litestar  # noqa\n")

    result = lint_imports(tree_copy)

    assert result.returncode != 0
    assert "faces (api, events) import no framework and no internals BROKEN" in result.stdout
    assert "inescape.modules.cds.api is not allowed to import litestar" in result.stdout


def test_a_face_importing_its_own_internals_breaks_the_lint(tree_copy):
    api = tree_copy / "src/inescape/modules/training/api.py"
    api.write_text(api.read_text() + "\nfrom inescape.modules.training import registry  # noqa\n")

    result = lint_imports(tree_copy)

    assert result.returncode != 0
    assert "faces (api, events) import no framework and no internals BROKEN" in result.stdout
    assert "inescape.modules.training.api -> inescape.modules.training.registry" in result.stdout
