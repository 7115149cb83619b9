"""Generator profiles as data: the packaged ``profiles/*.toml``, read, checked and cached.

profiles = Profiles(tables)                     # the stage tables the checks join on
profiles.all()                                  # the packaged profiles: global, iran-golestan, us-seer
profiles.get("iran-golestan")                   # one of them
profiles.parse(text, source="my.toml")          # a profile of your own; ProfileInvalid names each field
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from inescape.modules.generation.api import ProfileInvalid, ProfileNotFound
from inescape.modules.generation.engine.staging import StageTables
from inescape.modules.generation.profiles import checks as basic
from inescape.modules.generation.profiles import checks_care as care
from inescape.modules.generation.profiles.model import Profile

_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")


def _problems(profile: Profile, tables: StageTables) -> list[tuple[str, str]]:
    checks = (
        basic.walk_sources(profile, ""),
        basic.check_meta(profile),
        basic.check_tumour(profile, tables),
        basic.check_dates(profile),
        basic.check_targets(profile),
        care.check_risk(profile.risk_factors),
        care.check_biomarkers(profile),
        care.check_treatment(profile, tables),
        care.check_pathology(profile),
        care.check_survival(profile),
        care.check_recurrence(profile),
    )
    return [problem for check in checks for problem in check]


def _invalid(source: str, problems: list[tuple[str, str]]) -> ProfileInvalid:
    listed = "; ".join(f"{field}: {message}" for field, message in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return ProfileInvalid(
        f"profile {source} is invalid: {listed}{more}",
        errors=[{"field": field, "message": message} for field, message in problems],
    )


def _type_problem(error: msgspec.ValidationError) -> tuple[str, str]:
    """msgspec's "... - at `$.a.b[0]`" as a dotted field and a message."""
    text = str(error)
    message, _, path = text.rpartition(" - at `")
    field = path.rstrip("`").removeprefix("$").removeprefix(".") if message else ""
    named = _MISSING.search(text) or _UNKNOWN.search(text)
    if named:
        field = f"{field}.{named['field']}" if field else named["field"]
    return field or "<profile>", message or text


def _packaged() -> dict[str, Any]:
    folder = resources.files("inescape.modules.generation").joinpath("profiles")
    return {
        entry.name.removesuffix(".toml"): entry for entry in folder.iterdir() if entry.name.endswith(".toml")
    }


def names() -> list[str]:
    """The packaged profiles' names."""
    return sorted(_packaged())


class Profiles:
    """The packaged profiles (each parsed and checked once) and profiles of one's own."""

    def __init__(self, tables: StageTables) -> None:
        self.tables = tables
        self._parsed: dict[str, Profile] = {}

    def parse(self, text: str, *, source: str = "<text>") -> Profile:
        """Read and check a profile written in TOML; ``ProfileInvalid`` names every field to fix."""
        try:
            data: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise _invalid(source, [("<toml>", f"not valid TOML: {error}")]) from None
        return self.from_data(data, source=source)

    def from_data(self, data: dict[str, Any], *, source: str = "<data>") -> Profile:
        """A profile from its TOML document, already read (as ``tomllib`` gives it), checked."""
        try:
            profile = msgspec.convert(data, Profile)
        except msgspec.ValidationError as error:
            raise _invalid(source, [_type_problem(error)]) from None
        problems = _problems(profile, self.tables)
        if problems:
            raise _invalid(source, problems)
        return profile

    def text(self, name_or_path: str) -> str:
        """A packaged profile's TOML by name, or a profile file's by path."""
        if name_or_path.endswith(".toml") and Path(name_or_path).is_file():
            return Path(name_or_path).read_text(encoding="utf-8")
        entry = _packaged().get(name_or_path)
        if entry is None:
            raise ProfileNotFound(f"no generator profile {name_or_path!r} (available: {', '.join(names())})")
        return str(entry.read_text(encoding="utf-8"))

    def get(self, name: str) -> Profile:
        """A packaged profile by name."""
        if name not in self._parsed:
            entry = _packaged().get(name)
            if entry is None:
                raise ProfileNotFound(f"no generator profile {name!r} (available: {', '.join(names())})")
            profile = self.parse(entry.read_text(encoding="utf-8"), source=f"profiles/{entry.name}")
            if profile.name != name:
                raise _invalid(entry.name, [("name", f"must match the file name {name!r}")])
            self._parsed[name] = profile
        return self._parsed[name]

    def all(self) -> list[Profile]:
        """The packaged profiles, by name."""
        return [self.get(name) for name in names()]


__all__ = ["Profile", "ProfileInvalid", "ProfileNotFound", "Profiles", "names"]
