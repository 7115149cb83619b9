"""Where a dataset made from a fitted profile came from, as its FHIR export carries it: every
resource of the NDJSON file gets a ``meta.tag`` (derived from real patients) and a
``meta.extension`` naming the source the profile was fitted to, the fitted profile, the ε the
fit spent (absent: no differential privacy) and the dataset. The Patient's own origin tag
(``record-origin``: synthetic) is the clinical core's and stays as it is."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import msgspec

LOCAL = "https://inescape.example/fhir"  # the platform's namespace (as the clinical core's codes)
DERIVATION_SYSTEM = f"{LOCAL}/CodeSystem/synthetic-derivation"
DERIVATION_EXTENSION = f"{LOCAL}/StructureDefinition/synthetic-derivation"
DERIVED_FROM_REAL = "derived-from-real"


def fhir_meta(derived: Mapping[str, Any], dataset_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (tag, extension) a resource of the dataset carries in its ``meta``."""
    tag = {
        "system": DERIVATION_SYSTEM,
        "code": DERIVED_FROM_REAL,
        "display": "Synthetic, generated from a profile fitted to real patients",
    }
    parts: list[dict[str, Any]] = [
        {"url": "source", "valueString": str(derived.get("source"))},
        {"url": "profile", "valueString": str(derived.get("profile"))},
        {"url": "dataset", "valueString": dataset_id},
    ]
    if derived.get("epsilon") is not None:
        parts.append({"url": "epsilon", "valueDecimal": float(derived["epsilon"])})
    if derived.get("fitted_at"):
        parts.append({"url": "fittedAt", "valueDateTime": str(derived["fitted_at"])})
    return tag, {"url": DERIVATION_EXTENSION, "extension": parts}


def stamp(lines: Iterable[str], derived: Mapping[str, Any] | None, dataset_id: str) -> Iterator[str]:
    """NDJSON lines (one resource each) with the derivation in each resource's ``meta``;
    unchanged without ``derived``."""
    if not derived:
        yield from lines
        return
    tag, extension = fhir_meta(derived, dataset_id)
    decode, encode = msgspec.json.Decoder().decode, msgspec.json.Encoder().encode
    for line in lines:
        resource = decode(line)
        meta = resource.setdefault("meta", {})
        meta["tag"] = [*meta.get("tag", []), tag]
        meta["extension"] = [*meta.get("extension", []), extension]
        yield encode(resource).decode() + "\n"


def epsilon_of(derived: Mapping[str, Any] | None) -> float | None:
    """The ε a dataset's origin records (None: not derived from real data, or no DP)."""
    value = (derived or {}).get("epsilon")
    return None if value is None else float(value)
