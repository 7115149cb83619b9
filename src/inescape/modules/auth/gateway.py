"""The gateway: the ``GatewayApi`` implementation, and what the module's middleware and
controllers use (token signer, accounts, sessions, sign-in, login throttle, OIDC)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from inescape.infra.cds_clients import CdsClientVerifier, TrustedCdsClient, is_cds_path, parse_clients
from inescape.infra.crypto import field_cipher
from inescape.infra.oidc import OidcVerifier, map_roles, unverified_claims
from inescape.infra.ratelimit import rate_limiter_for
from inescape.infra.tokens import InvalidToken, TokenSigner, load_or_create_key_file
from inescape.infra.uow import UnitOfWork
from inescape.kernel.clock import Clock
from inescape.kernel.errors import ConfigurationError
from inescape.kernel.ports import Cache, DocumentStore
from inescape.modules.auth.accounts import Accounts
from inescape.modules.auth.api import ROLES, NotAllowed, Principal, User, VerifyReport
from inescape.modules.auth.audit import AuditKeys, AuditTrail
from inescape.modules.auth.deid import Deidentifier, for_viewer
from inescape.modules.auth.passwords import passwords
from inescape.modules.auth.service import SignIn
from inescape.modules.auth.sessions import Sessions
from inescape.modules.auth.settings import AuthSettings
from inescape.modules.auth.throttle import LoginPolicy, LoginThrottle


class Gateway:
    """Implements ``GatewayApi``; one per process, built by the module's ``bind``. ``trail``
    is the hash-chained audit trail (the module's middleware writes each route's declared
    event to it; the audit API and tests query it)."""

    def __init__(
        self,
        *,
        settings: AuthSettings,
        signer: TokenSigner,
        accounts: Accounts,
        sessions: Sessions,
        trail: AuditTrail,
        deidentifier: Deidentifier,
        throttle: LoginThrottle | None = None,
        oidc: OidcVerifier | None = None,
        cds_clients: CdsClientVerifier | None = None,
    ) -> None:
        self.settings = settings
        self.signer = signer
        self.accounts = accounts
        self.sessions = sessions
        self.trail = trail
        self.deidentifier = deidentifier
        self.throttle = throttle
        self.oidc = oidc
        self.cds_clients = cds_clients
        self.sign_in = SignIn(accounts=accounts, sessions=sessions, trail=trail, throttle=throttle)

    async def authenticate(self, token: str, *, url: str | None = None) -> Principal:
        """Our own access tokens, the hospital provider's when its issuer is configured, and
        on the CDS Hooks routes (``url``: the URL called) the tokens trusted EHRs sign."""
        issuer = unverified_claims(token).get("iss")
        if self.oidc is not None and issuer == self.oidc.issuer:
            claims = await self.oidc.verify(token)
            roles = map_roles(claims, self.settings.oidc_roles_claim, self.settings.oidc_role_map, ROLES)
            name = claims.get("preferred_username") or claims.get("email") or claims["sub"]
            return Principal(id=f"oidc:{claims['sub']}", username=str(name), roles=roles, source="oidc")
        if self.cds_clients is not None and self.cds_clients.knows(issuer):
            return await cds_client(self.cds_clients, token, str(issuer), url)
        if isinstance(issuer, str) and issuer != self.settings.issuer:
            raise InvalidToken(
                f"The token's issuer {issuer!r} is unknown here: not this platform, not its "
                "identity provider, not a configured CDS client."
            )
        # the token's roles are those at issue time: the account's own, now, decide
        return await self.accounts.now(await self.sessions.authenticate(token))

    def view_for(
        self, principal: Principal | None, record: Mapping[str, Any], *, patient_id: str
    ) -> dict[str, Any]:
        return for_viewer(principal, self.deidentifier, record, patient_id=patient_id)

    async def record(self, **event: Any) -> None:
        """``GatewayApi.record``: the trail's own append (its fields are the Protocol's)."""
        await self.trail.record(**event)

    async def audit_ready(self) -> None:
        await self.trail.ready()

    def token_subject(self, token: str) -> str | None:
        return str(self.signer.verify(token)["sub"])

    def jwks(self) -> dict[str, Any]:
        """The public keys of our access tokens."""
        return self.signer.jwks()

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
        user = await self.accounts.create(
            username=username, display_name=display_name, roles=roles, password=password, one_time=one_time
        )
        await self.trail.record(
            action="users.create",
            outcome="success",
            user=by,
            resource_type="user",
            resource_id=user.id,
            detail=f"{user.username} with roles {','.join(user.roles)}"
            + (", one-time password" if one_time else ""),
        )
        return user

    async def list_users(self) -> list[User]:
        found: list[User] = []
        cursor: str | None = None
        while True:
            items, cursor = await self.accounts.page(limit=200, cursor=cursor)
            found += items
            if cursor is None:
                return found

    async def verify_audit(self) -> VerifyReport:
        return await self.trail.verify()


def build_gateway(
    *,
    settings: AuthSettings,
    clock: Clock,
    cache: Cache,
    documents: DocumentStore,
    checkpoints: DocumentStore,
    sessions: Callable[[], AsyncSession],
    transaction: Callable[[], UnitOfWork],
    data_dir: Path,
) -> Gateway:
    """The gateway on the platform's ports. The signing keys are read (or created) here; the
    de-identification secret and the audit chain's key need the process-wide field cipher
    the root installs first. ``checkpoints``: where the audit chain's signed head is kept
    (the SQL database, apart from the audit store)."""
    key_file = (
        Path(settings.signing_key_file)
        if settings.signing_key_file
        else data_dir / "keys" / "jwt-signing.json"
    )
    signer = TokenSigner(
        load_or_create_key_file(key_file), issuer=settings.issuer, audience=settings.audience
    )
    oidc = None
    if settings.oidc_issuer and settings.oidc_jwks_url:
        oidc = OidcVerifier(
            issuer=settings.oidc_issuer, jwks_url=settings.oidc_jwks_url, audience=settings.oidc_audience
        )
    clients = trusted_cds_clients(settings)
    return Gateway(
        settings=settings,
        signer=signer,
        accounts=Accounts(
            clock=clock,
            sessions=sessions,
            transaction=transaction,
            cache=cache,
            hashing=passwords(settings.password_memory_kib, settings.password_time_cost),
        ),
        sessions=Sessions(
            signer, cache, access_ttl_s=settings.access_ttl_s, refresh_ttl_s=settings.refresh_ttl_s
        ),
        trail=AuditTrail(documents, clock, keys=audit_keys(), checkpoints=checkpoints),
        throttle=LoginThrottle(rate_limiter_for(cache), cache, policy=login_policy(settings)),
        oidc=oidc,
        cds_clients=(
            CdsClientVerifier(clients, cache=cache, public_url=settings.public_url) if clients else None
        ),
        deidentifier=Deidentifier(research_secret()),
    )


async def cds_client(verifier: CdsClientVerifier, token: str, issuer: str, url: str | None) -> Principal:
    """An EHR's own token: only for the CDS Hooks routes, as a clinician named for audit."""
    if url is None or not is_cds_path(urlsplit(url).path):
        raise NotAllowed(
            f"A token signed by the CDS client {issuer} is accepted only on the CDS Hooks "
            "routes (/cds-services/...)."
        )
    await verifier.verify(token, url=url)
    return Principal(id=f"cds-client:{issuer}", username=issuer, roles=["clinician"], source="cds-client")


def trusted_cds_clients(settings: AuthSettings) -> list[TrustedCdsClient]:
    """The CDS clients of ``INESCAPE_AUTH_CDS_CLIENTS`` and ``_CDS_CLIENTS_FILE`` together."""
    clients = (
        parse_clients(settings.cds_clients, setting="INESCAPE_AUTH_CDS_CLIENTS")
        if settings.cds_clients
        else []
    )
    if settings.cds_clients_file:
        key = "INESCAPE_AUTH_CDS_CLIENTS_FILE"
        try:
            raw = Path(settings.cds_clients_file).read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                key, f"cannot read {settings.cds_clients_file} ({exc.strerror})"
            ) from None
        clients += parse_clients(raw, setting=key)
    if len({c.issuer for c in clients}) != len(clients):
        raise ConfigurationError("INESCAPE_AUTH_CDS_CLIENTS", "an issuer is configured twice")
    return clients


def login_policy(settings: AuthSettings) -> LoginPolicy:
    return LoginPolicy(
        free_failures=settings.login_free_failures,
        backoff_max_s=settings.login_backoff_max_s,
        ip_failures=settings.login_ip_max_failures,
        account_failures=settings.login_account_max_failures,
        account_delay_s=settings.login_account_delay_s,
    )


def research_secret() -> bytes:
    """The de-identification secret, derived from the encryption HMAC key: shared by every
    replica that shares the keys, never stored on its own."""
    return bytes.fromhex(field_cipher().blind_index("research identities", context="inescape.deid.v1"))


def audit_keys() -> AuditKeys:
    """The audit chain's key, derived like the research secret from the key ring's HMAC key:
    outside the audit store, the same in every replica. (That key is not rotated, since the
    blind indexes depend on it; a future audit key rotation adds the new secret first and
    keeps the old one to verify the events it signed.)"""
    return AuditKeys.derived(
        bytes.fromhex(field_cipher().blind_index("audit chain", context="inescape.audit.v1"))
    )
