"""CDS Hooks 2.0 (https://cds-hooks.hl7.org/2.0/): discovery, the ``patient-view`` service and
feedback.

The EHR sends FHIR resources as ``prefetch``; what is missing is fetched from its ``fhirServer``
with the access token it gave (only from servers this deployment lists: the URL comes from the
caller). The resources are read as the clinical core reads a Bundle, skipping what it has no
place for, then staged, matched against the guideline rules and scored by the production model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import httpx
import msgspec
from msgspec import Meta

from inescape.kernel.errors import Invalid, PreconditionFailed

SERVICE_ID = "inescape-esophageal-cancer"
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
    "medications": "MedicationRequest?patient={{context.patientId}}",
}
SERVICE = {
    "hook": "patient-view",
    "id": SERVICE_ID,
    "title": "Esophageal cancer decision support",
    "description": (
        "AJCC 8th edition stage, guideline-based treatment options with their evidence, and "
        "1-, 3- and 5-year survival from the production model, for patients with esophageal "
        "or esophagogastric junction cancer."
    ),
    "prefetch": PREFETCH,
    "usageRequirements": (
        "Give prefetch, or a fhirServer this deployment lists (INESCAPE_CDS_FHIR_SERVERS) with a "
        "token that can read Patient, Condition, Observation, Procedure and MedicationRequest."
    ),
}
MAX_PAGES = 10


class FhirAuthorization(msgspec.Struct, frozen=True, kw_only=True):
    access_token: Annotated[
        str,
        Meta(description="The OAuth 2.0 access token this service sends to fhirServer to read the patient."),
    ]
    token_type: Annotated[
        str, Meta(description="The token's scheme in the Authorization header; Bearer when left out.")
    ] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: Annotated[
        int | None, Meta(description="The token's lifetime in seconds; null when not given.")
    ] = None
    scope: Annotated[
        str | None,
        Meta(
            description="The SMART scopes granted, space-separated (patient/Patient.read); null: not given."
        ),
    ] = None
    subject: Annotated[
        str | None,
        Meta(description="The OAuth 2.0 client id of this service at the EHR; null when not given."),
    ] = None


class HookContext(msgspec.Struct, frozen=True, kw_only=True):
    userId: Annotated[
        str, Meta(description="The FHIR reference of the EHR's user (Practitioner/123); required, not read.")
    ]
    patientId: Annotated[
        str, Meta(description="The FHIR Patient id (on fhirServer) the clinician is viewing.")
    ]
    encounterId: Annotated[
        str | None, Meta(description="The FHIR Encounter id, when the chart is opened within one; not used.")
    ] = None


class HookRequest(msgspec.Struct, frozen=True, kw_only=True):
    hook: Annotated[
        str, Meta(description="The hook being called: must be patient-view (anything else is a 422).")
    ]
    hookInstance: Annotated[
        str, Meta(description="The EHR's id (a UUID) for this one call; the cards issued are kept under it.")
    ]
    context: Annotated[HookContext, Meta(description="Who is looking at which patient.")]
    fhirServer: Annotated[
        str | None,
        Meta(
            description=(
                "The EHR's FHIR R4 base URL, to fetch what prefetch lacks; only servers listed in "
                "INESCAPE_CDS_FHIR_SERVERS are read. Null: everything must come in prefetch."
            )
        ),
    ] = None
    fhirAuthorization: Annotated[
        FhirAuthorization | None,
        Meta(description="The token for fhirServer; null: fhirServer is read without one."),
    ] = None
    prefetch: Annotated[
        dict[str, Any] | None,
        Meta(
            description=(
                "The FHIR R4 resources asked for in discovery, by key: patient (a Patient), and "
                "conditions, observations, procedures, medications (searchset Bundles). A key left "
                "out or null is fetched from fhirServer."
            )
        ),
    ] = None


class OverrideReason(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[
        dict[str, Any] | None,
        Meta(
            description=(
                "A FHIR Coding from the card's overrideReasons (system "
                "https://inescape.org/fhir/CodeSystem/cds-override-reasons; code patient-declined, "
                "contraindicated, facts-wrong or tumour-board); null when none was picked."
            )
        ),
    ] = None
    userComment: Annotated[
        str | None, Meta(description="The clinician's own words on why; null when none.")
    ] = None


class AcceptedSuggestion(msgspec.Struct, frozen=True):
    id: Annotated[str, Meta(description="The uuid of the card's suggestion that was accepted.")]


class FeedbackItem(msgspec.Struct, frozen=True, kw_only=True):
    card: Annotated[str, Meta(description="The uuid of the card, as this service issued it.")]
    outcome: Annotated[
        Literal["accepted", "overridden"],
        Meta(description="accepted (a suggestion was taken) or overridden (the card was dismissed)."),
    ]
    outcomeTimestamp: Annotated[
        str, Meta(description="When the clinician acted, as an ISO 8601 date-time with its offset.")
    ]
    acceptedSuggestions: Annotated[
        list[AcceptedSuggestion], Meta(description="The suggestions taken, when accepted; empty otherwise.")
    ] = []
    overrideReason: Annotated[
        OverrideReason | None,
        Meta(description="Why the card was overridden; null when accepted or not said."),
    ] = None


class Feedback(msgspec.Struct, frozen=True, kw_only=True):
    feedback: Annotated[
        list[FeedbackItem],
        Meta(description="One outcome per card acted on; each is stored with its card's rule."),
    ]


def query_for(template: str, context: HookContext) -> str:
    return template.replace("{{context.patientId}}", context.patientId)


async def gather(request: HookRequest, *, allowed: list[str], timeout_s: float) -> dict[str, Any]:
    """A ``collection`` Bundle of the patient and their resources, from prefetch or the FHIR server."""
    given = request.prefetch or {}
    missing = [key for key in PREFETCH if given.get(key) is None]
    fetched: dict[str, Any] = {}
    if missing:
        fetched = await _fetch(request, missing, allowed=allowed, timeout_s=timeout_s)
    found = {**{k: v for k, v in given.items() if k in PREFETCH}, **fetched}
    patient = found.get("patient")
    if not isinstance(patient, Mapping) or patient.get("resourceType") != "Patient":
        raise PreconditionFailed("prefetch 'patient' is not a FHIR Patient resource")
    entries: list[dict[str, Any]] = [{"resource": patient}]
    for key in PREFETCH:
        if key != "patient":
            entries += _entries(found.get(key))
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _entries(found: Any) -> list[dict[str, Any]]:
    """The entries of a searchset Bundle (or a single resource), their ``fullUrl`` kept so
    references between resources resolve; OperationOutcomes (search warnings) dropped."""
    if not isinstance(found, Mapping):
        return []
    if found.get("resourceType") != "Bundle":
        return [{"resource": dict(found)}]
    kept = []
    for entry in found.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if isinstance(resource, Mapping) and resource.get("resourceType") != "OperationOutcome":
            kept.append(
                {**({"fullUrl": entry["fullUrl"]} if entry.get("fullUrl") else {}), "resource": resource}
            )
    return kept


async def _fetch(
    request: HookRequest, keys: list[str], *, allowed: list[str], timeout_s: float
) -> dict[str, Any]:
    server = (request.fhirServer or "").rstrip("/")
    if not server:
        raise PreconditionFailed(f"prefetch {', '.join(keys)} missing and no fhirServer to fetch it from")
    if not any(server == a.rstrip("/") or server.startswith(a.rstrip("/") + "/") for a in allowed):
        raise PreconditionFailed(
            f"prefetch {', '.join(keys)} missing, and {server} is not a FHIR server this deployment "
            "fetches from (INESCAPE_CDS_FHIR_SERVERS); send prefetch or list the server"
        )
    headers = {"Accept": "application/fhir+json"}
    if request.fhirAuthorization is not None:
        auth = request.fhirAuthorization
        headers["Authorization"] = f"{auth.token_type or 'Bearer'} {auth.access_token}"
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=timeout_s, headers=headers, follow_redirects=False) as client:
        for key in keys:
            out[key] = await _read_all(
                client, f"{server}/{query_for(PREFETCH[key], request.context)}", server
            )
    return out


async def _read_all(client: httpx.AsyncClient, url: str, server: str) -> Any:
    """One resource, or a searchset with every page (up to ``MAX_PAGES``) merged."""
    first: Any = None
    for _ in range(MAX_PAGES):
        try:
            response = await client.get(url)
        except httpx.HTTPError as exc:
            raise PreconditionFailed(
                f"the FHIR server {server} could not be read ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise PreconditionFailed(f"the FHIR server answered {response.status_code} for {url}")
        try:
            page = response.json()
        except ValueError:
            raise PreconditionFailed(f"the FHIR server sent something that is not JSON for {url}") from None
        if first is None:
            first = page
        elif isinstance(page, Mapping):
            first.setdefault("entry", []).extend(page.get("entry") or [])
        following = _next_link(page, server)
        if not following:
            break
        url = following
    return first


def _next_link(page: Any, server: str) -> str | None:
    links = page.get("link") if isinstance(page, Mapping) else None
    for link in links if isinstance(links, list) else []:
        if isinstance(link, Mapping) and link.get("relation") == "next":
            target = str(link.get("url") or "")
            return target if target.startswith(server + "/") else None  # never follow it elsewhere
    return None


def check_request(body: HookRequest) -> None:
    if body.hook != "patient-view":
        raise Invalid(
            f"this service answers the patient-view hook, not {body.hook!r}",
            errors=[{"field": "hook", "message": "must be patient-view"}],
        )
