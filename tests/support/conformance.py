"""An answer checked against what the OpenAPI document promises for it: its status, its
content type and (for JSON) its body's schema, as Schemathesis' conformance checks do, for
answers a generated request would rarely reach (a trained model, a generated dataset)."""

from __future__ import annotations

from typing import Any

import jsonschema_rs


class Contract:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.checked: set[tuple[str, str]] = set()

    def problems(self, method: str, path: str, response: Any) -> list[str]:
        """What in ``response`` the document does not promise for ``method path`` (the path
        as the document writes it, with its {parameters})."""
        label = f"{method.upper()} {path} {response.status_code}"
        answers = self.document["paths"][path][method.lower()]["responses"]
        answer = answers.get(str(response.status_code))
        if answer is None:
            return [f"{label}: undocumented status"]
        content = answer.get("content") or {}
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if not content:
            return [] if not response.content else [f"{label}: a body where none is documented"]
        documented = {m.split(";")[0].strip(): body for m, body in content.items()}
        if media_type not in documented:
            return [f"{label}: content type {media_type} not in {sorted(documented)}"]
        self.checked.add((method.lower(), path))
        if not (media_type == "application/json" or media_type.endswith("+json")):
            return []
        schema = {**documented[media_type].get("schema", {}), "components": self.document["components"]}
        validator = jsonschema_rs.validator_for(schema)
        return [
            f"{label}: {e.instance_path}: {e.message}"[:300] for e in validator.iter_errors(response.json())
        ]
