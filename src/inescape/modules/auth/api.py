"""Public surface of the gateway: who is calling, the audit trail, and de-identification.

Other modules read the caller with ``principal_of(request)``, declare on every route its
permission and, for an audited one, its audit event (``opt={"permission": ..., "audit":
Audit(...)}``; a handler adds what only it knows with ``audit_note``), and reach the rest
through the ``GatewayApi`` facade their ``bind`` asks for (``ctx.facades.get(GatewayApi)``):
an audit event outside a request, the viewer policy, the install's one de-identifier.
Framework-free: the gateway's implementation (and the middleware that writes a route's
declared event) lives inside the module.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Final, Literal, Protocol

import msgspec

from inescape.kernel.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized

MODULE = "auth"
ROLES = ("admin", "clinician", "researcher", "data_steward", "auditor")


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller."""

    id: str
    username: str
    roles: list[str]
    # "local" (our tokens), "oidc" (the hospital's provider) or "cds-client" (an EHR's own
    # token, accepted on the CDS Hooks routes only)
    source: str = "local"
    session: str | None = None
    # the account's password is one-time: until it is changed, only the change is allowed
    must_change_password: bool = False
    # the account's credentials version the token was issued under (a password change raises it)
    credentials_version: int = 0

    @property
    def is_researcher_only(self) -> bool:
        """Sees de-identified data only."""
        return "researcher" in self.roles and not {"admin", "clinician", "data_steward"} & set(self.roles)


class User(msgspec.Struct, frozen=True, kw_only=True):
    """A user account as an administrator sees it (never its password hash)."""

    id: Annotated[str, msgspec.Meta(description="The account's id.")]
    username: Annotated[str, msgspec.Meta(description="Its username.")]
    display_name: Annotated[str, msgspec.Meta(description="The name shown.")]
    roles: Annotated[list[str], msgspec.Meta(description="Its roles.")]
    active: Annotated[bool, msgspec.Meta(description="false when deactivated: it cannot log in.")]
    created_at: Annotated[datetime, msgspec.Meta(description="When it was created.")]
    updated_at: Annotated[datetime, msgspec.Meta(description="When it last changed.")]
    last_login_at: Annotated[datetime | None, msgspec.Meta(description="When it last logged in.")]
    must_change_password: Annotated[
        bool, msgspec.Meta(description="true while its password is one-time: it must be changed first.")
    ] = False


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True):
    """The audit chain walked end to end: ``problems`` name the first breaks found."""

    ok: bool
    checked: int
    head_hash: str
    problems: list[str]


# --- errors --------------------------------------------------------------------------------


class UserNotFound(NotFound):
    pass


class UsernameTaken(Conflict):
    pass


class WeakPassword(Invalid):
    pass


class BadCredentials(Unauthorized):
    pass


class WrongCurrentPassword(Forbidden):
    """A password change named a current password that is not the account's (403, not 401:
    the caller's token is good, and a client must not take it for an ended session)."""


class NotAllowed(Forbidden):
    pass


class DeidentificationInvalid(Invalid):
    """The de-identifier was set up or called with something it cannot work with."""


# --- de-identification policy (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)) --------------------

IdentifierKind = Literal[
    "name",
    "date",
    "birth_date",
    "age",
    "geo_subdivision",
    "postal_code",
    "contact",
    "identifier",
    "free_text",
    "keep",
]
DateMode = Literal["shift", "year"]

AGE_OVER_89: Final = "90+"
# Safe Harbor: these ZIP3 areas hold 20,000 people or fewer, so they become "000".
RESTRICTED_ZIP3: Final = frozenset(
    {"036", "059", "063", "102", "203", "556", "692", "790", "821"}
    | {"823", "830", "831", "878", "879", "884", "890", "893"}
)


class DeidPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Which fields hold which kind of identifier.

    ``fields`` maps a key name (matched at any depth) or a dotted path of key names
    (``"treatments.name"``, list levels skipped, matched against the end of the path) to a
    kind. ``prefixes`` and ``suffixes`` classify the remaining keys by name. A longer path
    beats a shorter one, any ``fields`` entry beats a pattern, a longer pattern beats a
    shorter one. Keys compare in snake_case: ``birthDate`` is ``birth_date``.
    """

    fields: dict[str, IdentifierKind] = msgspec.field(default_factory=dict)
    prefixes: dict[str, IdentifierKind] = msgspec.field(default_factory=dict)
    suffixes: dict[str, IdentifierKind] = msgspec.field(default_factory=dict)
    unknown_text: Literal["drop", "keep"] = "drop"

    def extended(self, fields: Mapping[str, IdentifierKind]) -> DeidPolicy:
        """This policy with more (or overriding) ``fields`` entries."""
        return msgspec.structs.replace(self, fields={**self.fields, **fields})


def _kinds(kind: IdentifierKind, *keys: str) -> dict[str, IdentifierKind]:
    return dict.fromkeys(keys, kind)


# Field names of the mCODE-shaped patient record (and the usual names of identifiers).
DEFAULT_POLICY: Final = DeidPolicy(
    fields={
        **_kinds("name", "name", "names", "full_name", "given_name", "given_names", "first_name"),
        **_kinds("name", "middle_name", "family_name", "last_name", "surname", "maiden_name"),
        **_kinds("name", "given", "family", "nickname", "alias", "next_of_kin", "signature"),
        **_kinds("name", "assessed_by"),  # the clinician who judged fitness for surgery (staff)
        **_kinds("identifier", "id", "patient_id", "mrn", "medical_record_number", "national_id"),
        **_kinds("identifier", "national_code", "ssn", "social_security_number", "passport"),
        **_kinds("identifier", "insurance", "health_plan", "account", "license", "license_plate"),
        **_kinds("identifier", "certificate", "vehicle", "device", "serial", "udi", "biometric"),
        **_kinds("identifier", "fingerprint", "photo", "photograph", "image", "identifier"),
        **_kinds("identifier", "identifiers", "username", "user", "research_id"),
        **_kinds("contact", "phone", "phones", "mobile", "telephone", "tel", "fax", "email"),
        **_kinds("contact", "emails", "url", "website", "homepage", "ip", "ip_address"),
        **_kinds("contact", "telecom", "contact", "contacts", "emergency_contact", "area_code"),
        **_kinds("geo_subdivision", "address", "addresses", "line", "lines", "street", "city"),
        **_kinds("geo_subdivision", "house_number", "building", "apartment", "town", "village"),
        **_kinds("geo_subdivision", "district", "county", "municipality", "neighborhood"),
        **_kinds("geo_subdivision", "neighbourhood", "locality", "suburb", "coordinates"),
        **_kinds("geo_subdivision", "latitude", "longitude", "lat", "lon", "lng", "geolocation"),
        **_kinds("geo_subdivision", "place_of_birth", "birth_place", "region"),
        **_kinds("postal_code", "postal_code", "postcode", "zip", "zip_code", "zipcode"),
        **_kinds("birth_date", "birth_date", "birthdate", "date_of_birth", "dob", "birth_year"),
        **_kinds("birth_date", "year_of_birth"),
        **_kinds("age", "age"),
        **_kinds("date", "date", "datetime", "timestamp"),
        **_kinds("free_text", "note", "notes", "comment", "comments", "text", "narrative"),
        **_kinds("free_text", "description", "remarks", "free_text", "summary", "report"),
        # Clinical content: demographics Safe Harbor allows, and the cancer record itself.
        **_kinds("keep", "sex", "gender", "ethnicity", "race", "country", "province", "state"),
        **_kinds("keep", "vital_status", "status", "condition", "conditions", "diagnosis"),
        **_kinds("keep", "histology", "histology_code", "morphology", "morphology_code"),
        **_kinds("keep", "topography", "topography_code", "location", "tumor_location"),
        **_kinds("keep", "tumour_location", "primary_site", "site", "grade", "differentiation"),
        **_kinds("keep", "stage", "stage_group", "group", "staging", "clinical_stage"),
        **_kinds("keep", "pathological_stage", "stage_type", "staging_system", "edition"),
        **_kinds("keep", "t", "n", "m", "t_category", "n_category", "m_category"),
        **_kinds("keep", "ct", "cn", "cm", "pt", "pn", "pm", "ypt", "ypn", "ypm"),
        **_kinds("keep", "cT", "cN", "cM", "pT", "pN", "pM", "ypT", "ypN", "ypM"),
        **_kinds("keep", "biomarker", "biomarkers", "her2", "her2_status", "pd_l1", "pd_l1_cps"),
        **_kinds("keep", "msi", "msi_status", "mmr", "treatment", "treatments", "treatment_type"),
        **_kinds("keep", "type", "category", "intent", "modality", "procedure", "procedure_name"),
        **_kinds("keep", "drug", "drug_name", "regimen", "regimen_name", "dose", "dose_gy"),
        **_kinds("keep", "fractions", "cycles", "cycle_number", "line_of_therapy"),
        **_kinds("keep", "observation", "observations", "lab", "labs", "test", "test_name"),
        **_kinds("keep", "value", "unit", "units", "result", "interpretation", "ecog"),
        **_kinds("keep", "outcome", "outcomes", "response", "recurrence", "recurrence_type"),
        **_kinds("keep", "recurrence_site", "cause_of_death", "smoking_status", "alcohol_use"),
        **_kinds("keep", "risk_factors", "code", "system", "display", "coding", "loinc_code"),
        **_kinds("keep", "snomed_code", "icd10_code", "icdo3_code"),
        # the record's own codes: which staging, marker or treatment a row is, and how it went
        # (a treatment's "line" stays out: the name is an address line's too)
        **_kinds("keep", "kind", "method", "agents", "margin", "siewert", "tobacco"),
        **_kinds("keep", "socioeconomic_status"),
    },
    prefixes={"date_of_": "date", "age_": "age"},
    suffixes={
        **_kinds("date", "_date", "_datetime", "_date_time", "_at", "_timestamp"),
        **_kinds("age", "_age"),
        **_kinds("name", "_name", "_names"),
        **_kinds("identifier", "_id", "_ids", "_number", "_no", "_mrn", "_ssn", "_identifier"),
        **_kinds("contact", "_phone", "_mobile", "_fax", "_email", "_url", "_ip", "_contact"),
        **_kinds("geo_subdivision", "_address", "_city", "_street", "_district", "_county"),
        **_kinds("postal_code", "_postal_code", "_zip", "_zip_code", "_postcode"),
        **_kinds("free_text", "_note", "_notes", "_comment", "_comments", "_text"),
    },
)


# --- helpers and facades -------------------------------------------------------------------


def principal_of(connection: Any) -> Principal | None:
    """The caller of a request (None when anonymous): the user the gateway's authentication
    put in the connection's scope."""
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


def username_of(connection: Any) -> str | None:
    """The caller's username (None when anonymous): who owns a job, who gave feedback."""
    who = principal_of(connection)
    return who.username if who else None


# Who acts on every user's jobs, uploads and schedules: administrators operate them all;
# auditors read them all (their oversight) but change none.
EVERY_OWNER_ROLES: Final = frozenset({"admin"})
EVERY_OWNER_READ_ROLES: Final = frozenset({"admin", "auditor"})


def owner_scope(connection: Any, *, reading: bool = False) -> str | None:
    """Whose jobs, uploads and schedules the caller may see (``reading``) or act on: ``None``
    for everyone's (an administrator, an auditor reading, or an install without the gateway,
    where nothing is authenticated), else only the caller's own (its username, the owner a
    submission records). Another user's are answered as missing (404), so ids do not leak."""
    who = principal_of(connection)
    if who is None:
        return None
    allowed = EVERY_OWNER_READ_ROLES if reading else EVERY_OWNER_ROLES
    return None if allowed & set(who.roles) else who.username


class Deidentifying(Protocol):
    """The install's one de-identifier: its secret derives from the encryption HMAC key, so
    every replica and every export gives a patient the same research id and date shift."""

    date_mode: DateMode

    def research_id(self, patient_id: str) -> str:
        """The pseudonym that stands for ``patient_id`` in everything a researcher sees."""
        ...

    def date_offset(self, patient_id: str) -> timedelta:
        """The shift every date of ``patient_id`` gets in ``date_mode="shift"``."""
        ...

    def deidentify(self, record: Mapping[str, Any], *, patient_id: str) -> dict[str, Any]:
        """A de-identified, JSON-friendly copy of ``record`` (Safe Harbor)."""
        ...


class Audit(msgspec.Struct, frozen=True):
    """The audit event a route declares beside its permission; the gateway writes it before
    the response starts (no event, no answer: a write failure is a 503 instead).

    ``action`` may name path parameters in braces (``"patients.add_{kind}"``); ``None``: the
    handler names each event it writes with ``audit_note(action=...)``, and writes none when
    it names none. ``resource_id`` and ``patient_id`` name the path parameters that hold them.
    An answer in 2xx or 3xx is written as a ``"success"``; an error answer is written only
    with the outcome a handler noted (a refusal it audits as a ``"failure"``). Before an
    unsafe method (POST, PUT, PATCH, DELETE) the audit store must answer, or nothing is done;
    ``read_only``: the route changes nothing though its method is unsafe (a question sent as
    a POST), so it skips that check (its event is still written before the answer).
    """

    action: str | None
    resource_type: str
    resource_id: str | None = None
    patient_id: str | None = None
    read_only: bool = False


AUDIT_NOTES: Final = "inescape.audit_notes"  # key in the connection's scope state


def audit_note(
    connection: Any,
    *,
    action: str | None = None,
    detail: str | None = None,
    resource_id: str | None = None,
    patient_id: str | None = None,
    outcome: str | None = None,
) -> None:
    """Add to the route's declared audit event what only the handler knows (a count, the id
    of what it created, an outcome); a later note overrides an earlier one field by field.
    With ``action``, a further event of the request (the declaration's resource type)."""
    given = {
        key: value
        for key, value in (
            ("detail", detail),
            ("resource_id", resource_id),
            ("patient_id", patient_id),
            ("outcome", outcome),
        )
        if value is not None
    }
    notes: list[dict[str, str]] = connection.scope.setdefault("state", {}).setdefault(AUDIT_NOTES, [{}])
    if action is None:
        notes[0].update(given)
    else:
        notes.append({"action": action, **given})


class GatewayApi(Protocol):
    """What other modules, the CLI and notebooks may ask of the gateway (a route takes it by
    name as ``NamedDependency[SkipValidation[GatewayApi]]``: a Protocol is injected unchecked)."""

    @property
    def deidentifier(self) -> Deidentifying: ...

    def view_for(
        self, principal: Principal | None, record: Mapping[str, Any], *, patient_id: str
    ) -> dict[str, Any]:
        """The viewer policy, in one place: researchers (or anonymous) get the record de-identified."""
        ...

    async def record(
        self,
        *,
        action: str,
        outcome: str,
        user: str | None = None,
        roles: list[str] | None = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
        patient_id: str | None = None,
        request_id: str | None = None,
        client_ip: str | None = None,
        detail: str | None = None,
    ) -> None:
        """An audit event outside a request (CLI, jobs); a route declares its own (``Audit``).
        Raises ``Unavailable`` while the audit store is down (fail closed)."""
        ...

    async def audit_ready(self) -> None:
        """Raise ``Unavailable`` while the audit store is down (before a write that must be
        audited outside a request; a route's declaration checks it by itself)."""
        ...

    def token_subject(self, token: str) -> str | None:
        """The subject of one of our access tokens; raises ``InvalidToken`` for one that does not verify."""
        ...

    async def create_user(
        self,
        *,
        username: str,
        display_name: str,
        roles: list[str],
        password: str,
        by: str,
        one_time: bool = False,
    ) -> User:
        """Create an account outside a request (the CLI), audited as done by ``by``;
        ``one_time``: the password must be changed at the first login."""
        ...

    async def list_users(self) -> list[User]:
        """Every account, by username (the CLI's ``users list``)."""
        ...

    async def verify_audit(self) -> VerifyReport:
        """Walk the audit hash chain; the report names the first deleted, altered or reordered event."""
        ...


__all__ = [
    "AGE_OVER_89",
    "AUDIT_NOTES",
    "DEFAULT_POLICY",
    "EVERY_OWNER_READ_ROLES",
    "EVERY_OWNER_ROLES",
    "MODULE",
    "RESTRICTED_ZIP3",
    "ROLES",
    "Audit",
    "BadCredentials",
    "DateMode",
    "DeidPolicy",
    "DeidentificationInvalid",
    "Deidentifying",
    "GatewayApi",
    "IdentifierKind",
    "NotAllowed",
    "Principal",
    "User",
    "UserNotFound",
    "UsernameTaken",
    "VerifyReport",
    "WeakPassword",
    "WrongCurrentPassword",
    "audit_note",
    "owner_scope",
    "principal_of",
]
