"""The gateway's runtime: what its middleware and controllers use, built at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inescape.infra.crypto import field_cipher
from inescape.infra.oidc import OidcVerifier, map_roles, unverified_claims
from inescape.infra.ratelimit import LoginPolicy, LoginThrottle, rate_limiter_for
from inescape.infra.tokens import TokenSigner, load_or_create_key_file
from inescape.modules.auth.api import ROLES, Principal
from inescape.modules.auth.audit import AuditTrail
from inescape.modules.auth.deid import Deidentifier
from inescape.modules.auth.service import Accounts, Sessions
from inescape.modules.auth.settings import AuthSettings


@dataclass
class Gateway:
    settings: AuthSettings
    signer: TokenSigner
    accounts: Accounts
    sessions: Sessions
    audit: AuditTrail
    deidentifier: Deidentifier | None = None
    throttle: LoginThrottle | None = None
    oidc: OidcVerifier | None = None

    async def authenticate(self, token: str) -> Principal:
        """Our own access tokens, or the hospital provider's when its issuer is configured."""
        if self.oidc is not None and unverified_claims(token).get("iss") == self.oidc.issuer:
            claims = await self.oidc.verify(token)
            roles = map_roles(claims, self.settings.oidc_roles_claim, self.settings.oidc_role_map, ROLES)
            name = claims.get("preferred_username") or claims.get("email") or claims["sub"]
            return Principal(id=f"oidc:{claims['sub']}", username=str(name), roles=roles, source="oidc")
        return await self.sessions.authenticate(token)


def build_gateway(services: Any, settings: AuthSettings) -> Gateway:
    key_file = (
        Path(settings.signing_key_file)
        if settings.signing_key_file
        else services.data_dir / "keys" / "jwt-signing.json"
    )
    signer = TokenSigner(
        load_or_create_key_file(key_file), issuer=settings.issuer, audience=settings.audience
    )
    oidc = None
    if settings.oidc_issuer and settings.oidc_jwks_url:
        oidc = OidcVerifier(
            issuer=settings.oidc_issuer, jwks_url=settings.oidc_jwks_url, audience=settings.oidc_audience
        )
    return Gateway(
        settings=settings,
        signer=signer,
        accounts=Accounts(services.clock),
        sessions=Sessions(
            signer, services.cache, access_ttl_s=settings.access_ttl_s, refresh_ttl_s=settings.refresh_ttl_s
        ),
        audit=AuditTrail(services.documents, services.clock),
        throttle=LoginThrottle(
            rate_limiter_for(services.cache),
            services.cache,
            policy=LoginPolicy(
                free_failures=settings.login_free_failures,
                backoff_max_s=settings.login_backoff_max_s,
                ip_failures=settings.login_ip_max_failures,
                account_failures=settings.login_account_max_failures,
                account_delay_s=settings.login_account_delay_s,
            ),
        ),
        oidc=oidc,
        deidentifier=Deidentifier(research_secret()),
    )


def research_secret() -> bytes:
    """The de-identification secret, derived from the encryption HMAC key: shared by every
    replica that shares the keys, never stored on its own."""
    return bytes.fromhex(field_cipher().blind_index("research identities", context="inescape.deid.v1"))
