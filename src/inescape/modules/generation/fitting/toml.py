"""A ``Profile`` written as TOML text (every table inline): the form profiles are stored in, so
a fitted profile is read back by ``Profiles.parse`` as any other."""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

import msgspec

from inescape.modules.generation.profiles.model import Profile


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a profile figure must be finite, not {value}")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ "
            + ", ".join(f"{json.dumps(str(k))} = {_value(v)}" for k, v in value.items() if v is not None)
            + " }"
        )
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def to_toml(profile: Profile) -> str:
    """The profile as TOML: one top-level key per field, nested tables inline; a field that
    is ``None`` is left out (its default)."""
    data: dict[str, Any] = msgspec.to_builtins(profile, builtin_types=(date,))
    return "".join(
        f"{json.dumps(key)} = {_value(value)}\n" for key, value in data.items() if value is not None
    )
