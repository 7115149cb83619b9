"""The README stays true: every setting is documented, and its two commands are there."""

from __future__ import annotations

from pathlib import Path

from inescape.settings import describe_settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_readme_table():
    missing = [name for name, _t, _d in describe_settings() if f"`{name}`" not in README]

    assert missing == []


def test_the_readme_shows_the_install_serve_and_test_commands():
    assert "pip install -c constraints.txt -e . && .venv/bin/inescape serve" in README
    assert "pip install -c constraints.txt -e '.[dev,ml]' && .venv/bin/nox -s tests" in README


def test_the_readme_shows_the_permission_table_as_the_code_has_it():
    from inescape.modules.auth.rbac import matrix_markdown

    assert matrix_markdown() in README


def test_every_import_the_readme_shows_works():
    import importlib
    import re

    shown = re.findall(r"^from (inescape[\w.]*) import ([\w, ]+)$", README, flags=re.M)
    shown += [(m, names) for m, names in re.findall(r"`from (inescape[\w.]*) import ([\w, ]+)`", README)]

    assert shown
    for module, names in shown:
        imported = importlib.import_module(module)
        missing = [n.strip() for n in names.split(",") if not hasattr(imported, n.strip())]
        assert missing == [], f"{module}: {missing}"
