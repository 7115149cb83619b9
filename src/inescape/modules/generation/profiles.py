"""Generator profiles as data: the packaged ``profiles/*.toml``, read, checked and cached.

list_profiles()                       # the packaged profiles: global, iran-golestan, us-seer
get_profile("iran-golestan")          # one of them
parse_profile(text, source="my.toml")  # a profile of your own; ProfileInvalid names each field
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources
from typing import Any

import msgspec

from inescape.kernel.errors import Invalid, NotFound
from inescape.modules.generation import profile_checks as basic
from inescape.modules.generation import profile_checks_care as care
from inescape.modules.generation.profile_model import Profile

_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")


class ProfileInvalid(Invalid):
    """The profile breaks a rule; ``errors`` holds one ``{"field", "message"}`` per problem."""


class ProfileNotFound(NotFound):
    """No packaged profile has this name."""


def _problems(profile: Profile) -> list[tuple[str, str]]:
    checks = (
        basic.walk_sources(profile, ""),
        basic.check_meta(profile),
        basic.check_tumour(profile),
        basic.check_dates(profile),
        basic.check_targets(profile),
        care.check_risk(profile.risk_factors),
        care.check_biomarkers(profile),
        care.check_treatment(profile),
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


def parse_profile(text: str, *, source: str = "<text>") -> Profile:
    """Read and check a profile written in TOML; ``ProfileInvalid`` names every field to fix."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _invalid(source, [("<toml>", f"not valid TOML: {error}")]) from None
    try:
        profile = msgspec.convert(data, Profile)
    except msgspec.ValidationError as error:
        raise _invalid(source, [_type_problem(error)]) from None
    problems = _problems(profile)
    if problems:
        raise _invalid(source, problems)
    return profile


def _packaged() -> dict[str, Any]:
    folder = resources.files("inescape.modules.generation").joinpath("profiles")
    return {
        entry.name.removesuffix(".toml"): entry for entry in folder.iterdir() if entry.name.endswith(".toml")
    }


def _names() -> list[str]:
    return sorted(_packaged())


@cache
def get_profile(name: str) -> Profile:
    """A packaged profile by name, parsed and checked once per process."""
    entry = _packaged().get(name)
    if entry is None:
        raise ProfileNotFound(f"no generator profile {name!r} (available: {', '.join(_names())})")
    profile = parse_profile(entry.read_text(encoding="utf-8"), source=f"profiles/{entry.name}")
    if profile.name != name:
        raise _invalid(entry.name, [("name", f"must match the file name {name!r}")])
    return profile


def list_profiles() -> list[Profile]:
    """The packaged profiles, by name."""
    return [get_profile(name) for name in _names()]


__all__ = ["Profile", "ProfileInvalid", "ProfileNotFound", "get_profile", "list_profiles", "parse_profile"]
