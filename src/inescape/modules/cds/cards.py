"""Decisions as CDS Hooks cards: the stage, each treatment option, what data is missing, and
the survival estimate. Each card says what it concluded, from which facts, on which source."""

from __future__ import annotations

from typing import Any

from inescape.kernel.ids import new_id

SUMMARY_MAX = 140  # CDS Hooks: "<140 characters"
AJCC_URL = "https://www.facs.org/quality-programs/cancer-programs/american-joint-committee-on-cancer/"
OVERRIDE_REASONS = [
    {"code": "patient-declined", "display": "Patient declined"},
    {"code": "contraindicated", "display": "Contraindicated for this patient"},
    {"code": "facts-wrong", "display": "The facts used are wrong or out of date"},
    {"code": "tumour-board", "display": "Tumour board decided otherwise"},
]
OVERRIDE_SYSTEM = "https://inescape.org/fhir/CodeSystem/cds-override-reasons"


def _summary(text: str) -> str:
    return text if len(text) < SUMMARY_MAX else text[: SUMMARY_MAX - 2].rstrip() + "…"


def _source(label: str, url: str | None) -> dict[str, Any]:
    return {"label": label, **({"url": url} if url else {})}


def stage_card(stage: Any, problem: str | None) -> dict[str, Any] | None:
    if stage is None and problem is None:
        return None
    if stage is None:
        return {
            "uuid": new_id(),
            "summary": _summary("Stage cannot be computed from the recorded TNM"),
            "indicator": "warning",
            "detail": str(problem),
            "source": _source("AJCC Cancer Staging Manual, 8th edition, chapter 16", AJCC_URL),
        }
    lines = [
        f"**{stage.table}**, row {stage.row}: {stage.rule}",
        "",
        "Used: " + ", ".join(f"{k} = {v}" for k, v in stage.used.items()),
        *(f"- {note}" for note in stage.notes),
        "",
        f"Source: {stage.source}",
    ]
    return {
        "uuid": new_id(),
        "summary": _summary(f"AJCC 8th stage {stage.stage_group} ({_kind(stage.kind)})"),
        "indicator": "info",
        "detail": "\n".join(lines),
        "source": _source("AJCC Cancer Staging Manual, 8th edition, chapter 16", AJCC_URL),
    }


def stage_conflict_card(stage: Any, problem: str | None) -> dict[str, Any] | None:
    """A recorded stage group that contradicts the one computed from its TNM: both are named."""
    if stage is None or problem is None:
        return None
    return {
        "uuid": new_id(),
        "summary": _summary(f"Recorded stage contradicts the computed AJCC 8th stage {stage.stage_group}"),
        "indicator": "warning",
        "detail": f"{problem}\n\nCheck the recorded stage group against the T, N and M it was given with.",
        "source": _source("AJCC Cancer Staging Manual, 8th edition, chapter 16", AJCC_URL),
    }


def no_rule_card(reason: str | None, rule_set: str) -> dict[str, Any] | None:
    if reason is None:
        return None
    return {
        "uuid": new_id(),
        "summary": _summary(f"No guideline rule applies ({rule_set})"),
        "indicator": "warning",
        "detail": reason,
        "source": _source(f"INEsCape esophageal cancer guideline rules ({rule_set})", None),
    }


def skipped_card(skipped: list[dict[str, str]]) -> dict[str, Any] | None:
    """Each FHIR resource that could not be read, and why: decision support did not see it."""
    if not skipped:
        return None
    lines = [f"- `{s['field']}`: {s['message']}" for s in skipped]
    return {
        "uuid": new_id(),
        "summary": _summary(f"{len(skipped)} FHIR resource(s) could not be read and were not used"),
        "indicator": "warning" if any(s["field"].startswith(DECIDING) for s in skipped) else "info",
        "detail": "Not used by decision support:\n" + "\n".join(lines),
        "source": _source("INEsCape FHIR reader (patients module terminology files)", None),
    }


DECIDING = ("Condition/", "Procedure/", "MedicationRequest/", "MedicationAdministration/")


def option_card(option: Any, rule_set: str) -> dict[str, Any]:
    evidence = [f"- {c.title}. {c.reference}" for c in option.evidence]
    detail = "\n".join(
        [
            option.recommendation,
            "",
            f"**Strength:** {option.strength}. **Intent:** {option.intent}.",
            "",
            "**Because:** " + "; ".join(option.because),
            "",
            f"**Evidence:** {option.evidence_summary}",
            *evidence,
            "",
            f"Rule `{option.rule_id}` of {rule_set}"
            + (f", guideline page {option.guideline_page}" if option.guideline_page else "")
            + ".",
        ]
    )
    first_url = next((c.url for c in option.evidence if c.url), None)
    plan = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "proposal",
        "title": option.title,
        "description": option.recommendation,
    }
    return {
        "uuid": new_id(),
        "summary": _summary(option.title),
        "indicator": "warning" if option.intent == "supportive" else "info",
        "detail": detail,
        "source": _source(f"INEsCape esophageal cancer guideline rules ({rule_set})", first_url),
        "suggestions": [
            {
                "label": _summary(f"Propose: {option.title}"),
                "uuid": new_id(),
                "actions": [{"type": "create", "description": "Draft care plan", "resource": plan}],
            }
        ],
        "selectionBehavior": "any",
        "overrideReasons": [{"system": OVERRIDE_SYSTEM, **reason} for reason in OVERRIDE_REASONS],
        "links": [
            {"label": _summary(c.title), "url": c.url, "type": "absolute"} for c in option.evidence if c.url
        ],
    }


def missing_card(missing: list[Any], rule_set: str) -> dict[str, Any] | None:
    if not missing:
        return None
    names = ", ".join(m.fact.replace("_", " ") for m in missing)
    return {
        "uuid": new_id(),
        "summary": _summary(f"More data needed: {names}"),
        "indicator": "warning",
        "detail": "\n".join(f"- **{m.fact}**: {m.why}" for m in missing),
        "source": _source(f"INEsCape esophageal cancer guideline rules ({rule_set})", None),
    }


def risk_card(risk: Any) -> dict[str, Any]:
    if not risk.available:
        return {
            "uuid": new_id(),
            "summary": _summary("No survival estimate"),
            "indicator": "info",
            "detail": risk.message,
            "source": _source("INEsCape model registry", None),
        }
    parts = [
        f"{h.years}-year {h.survival:.0%} ({h.lower:.0%}–{h.upper:.0%})"
        for h in risk.horizons
        if h.survival is not None and h.lower is not None and h.upper is not None
    ]
    return {
        "uuid": new_id(),
        "summary": _summary("Survival: " + ", ".join(parts)),
        "indicator": "info",
        "detail": f"{risk.message} {risk.interval or ''}".strip(),
        "source": _source(f"INEsCape model registry: {risk.model} v{risk.version}", None),
    }


def cards_for(
    decision: Any, skipped: list[dict[str, str]] | None = None
) -> list[tuple[dict[str, Any], str | None]]:
    """The cards, each with the id of the guideline rule that made it (None for the others).

    Never silent: options, the facts that would decide them, or why no rule applies."""
    recommendations = decision.recommendations
    made: list[tuple[dict[str, Any] | None, str | None]] = [
        (stage_card(decision.stage, decision.stage_problem), None),
        (stage_conflict_card(decision.stage, decision.stage_problem), None),
    ]
    made += [(option_card(o, recommendations.rule_set), o.rule_id) for o in recommendations.options[:3]]
    made.append((missing_card(recommendations.more_data_needed, recommendations.rule_set), None))
    made.append((no_rule_card(recommendations.no_rule_applies, recommendations.rule_set), None))
    made.append((risk_card(decision.risk), None))
    made.append((skipped_card(skipped or []), None))
    return [(card, rule) for card, rule in made if card is not None]


def _kind(kind: str) -> str:
    return {"clinical": "cTNM", "pathological": "pTNM", "post_neoadjuvant": "ypTNM"}.get(kind, kind)
