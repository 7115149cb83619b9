"""The CDS Hooks 2.0 response shapes (https://cds-hooks.hl7.org/2.0/#cds-service-response),
checked field by field: what an EHR would refuse to render."""

from __future__ import annotations

from typing import Any

INDICATORS = {"info", "warning", "critical"}
LINK_TYPES = {"absolute", "smart"}
ACTION_TYPES = {"create", "update", "delete"}


def problems_of_response(body: Any) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("cards"), list):
        return ["a response is an object with a 'cards' array"]
    found: list[str] = []
    for i, card in enumerate(body["cards"]):
        found += [f"cards[{i}]: {p}" for p in problems_of_card(card)]
    return found


def problems_of_card(card: dict[str, Any]) -> list[str]:
    found = []
    if not isinstance(card.get("summary"), str) or not 0 < len(card["summary"]) < 140:
        found.append("summary must be a string under 140 characters")
    if card.get("indicator") not in INDICATORS:
        found.append(f"indicator must be one of {sorted(INDICATORS)}")
    source = card.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("label"), str) or not source["label"]:
        found.append("source must be an object with a label")
    elif "url" in source and not str(source["url"]).startswith(("http://", "https://")):
        found.append("source.url must be an absolute URL")
    if "detail" in card and not isinstance(card["detail"], str):
        found.append("detail must be a (markdown) string")
    for j, suggestion in enumerate(card.get("suggestions", [])):
        if not isinstance(suggestion.get("label"), str):
            found.append(f"suggestions[{j}] needs a label")
        for action in suggestion.get("actions", []):
            if action.get("type") not in ACTION_TYPES or not isinstance(action.get("description"), str):
                found.append(f"suggestions[{j}] has an action without a valid type and description")
    if card.get("suggestions") and card.get("selectionBehavior") not in ("at-most-one", "any"):
        found.append("a card with suggestions needs selectionBehavior at-most-one or any")
    for j, link in enumerate(card.get("links", [])):
        if not (isinstance(link.get("label"), str) and isinstance(link.get("url"), str)):
            found.append(f"links[{j}] needs a label and url")
        if link.get("type") not in LINK_TYPES:
            found.append(f"links[{j}].type must be absolute or smart")
    for j, reason in enumerate(card.get("overrideReasons", [])):
        if not isinstance(reason.get("code"), str) or not isinstance(reason.get("display"), str):
            found.append(f"overrideReasons[{j}] needs a code and display")
    if "uuid" in card and not isinstance(card["uuid"], str):
        found.append("uuid must be a string")
    return found


def problems_of_discovery(body: Any) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("services"), list):
        return ["discovery is an object with a 'services' array"]
    found = []
    for i, service in enumerate(body["services"]):
        for field in ("hook", "description", "id"):
            if not isinstance(service.get(field), str):
                found.append(f"services[{i}].{field} is required")
        prefetch = service.get("prefetch", {})
        if not isinstance(prefetch, dict) or not all(isinstance(v, str) for v in prefetch.values()):
            found.append(f"services[{i}].prefetch maps keys to query strings")
    return found
