"""How the FHIR connectors sign in: a bearer token given in the config, or SMART Backend
Services (a client assertion JWT signed with the client's private key, RS384 or ES384, traded
at the token endpoint for an access token with ``grant_type=client_credentials``).

An access token is kept in this process until shortly before it expires, shared by the jobs
that use the same client, and fetched again once when the server answers 401 (it was revoked
or expired early). The private key is a secret: sealed in the job's params, left out of
provenance, and never sent anywhere; only the assertion signed with it is.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator
from typing import Annotated, Any, Literal

import httpx
import msgspec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey, import_key

from inescape.kernel.errors import DomainError, Invalid
from inescape.modules.collection.connectors.base import Reach
from inescape.modules.collection.connectors.http import DEFAULT_RATE, Retry, fetch, outcome_text, paced_client

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_TTL_S = 300  # the most SMART allows
URL = Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s]+\Z", max_length=500)]
SMART_FIELDS = ("token_url", "client_id", "private_key", "kid")


class FhirAuthConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The config fields every FHIR connector shares: how to sign in and how fast to go."""

    token: str | None = None  # a bearer token; or SMART Backend Services with the fields below
    token_url: URL | None = None
    client_id: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    private_key: Annotated[str, msgspec.Meta(max_length=20_000)] | None = None  # PEM
    kid: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    alg: Literal["RS384", "ES384"] = "RS384"
    scope: Annotated[str, msgspec.Meta(max_length=2000)] = "system/*.read"
    requests_per_s: Annotated[float, msgspec.Meta(gt=0, le=1000)] = DEFAULT_RATE
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 30.0
    max_retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 5
    backoff_s: Annotated[float, msgspec.Meta(ge=0, le=60)] = 1.0


SECRETS = ("token", "private_key")


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(f"config.{field}: {message}", errors=[{"field": f"config.{field}", "message": message}])


def signing_key(config: FhirAuthConfig) -> RSAKey | ECKey:
    """The private key as ``alg`` needs it; ``Invalid`` naming ``config.private_key``."""
    kind = "RSA" if config.alg == "RS384" else "EC"
    try:
        key: RSAKey | ECKey = (
            import_key(str(config.private_key), "RSA")
            if kind == "RSA"
            else import_key(str(config.private_key), "EC")
        )
    except (JoseError, ValueError, TypeError):
        raise _invalid("private_key", f"not a PEM {kind} private key (alg {config.alg})") from None
    if not key.is_private or (isinstance(key, ECKey) and key.curve_name != "P-384"):
        raise _invalid("private_key", f"{config.alg} needs a private {kind} key (P-384 for ES384)")
    return key


def check_auth(config: FhirAuthConfig) -> None:
    """A bearer token or every SMART field, not both; the private key readable."""
    given = [f for f in SMART_FIELDS if getattr(config, f)]
    if given and config.token:
        raise _invalid("token", "give a bearer token or SMART Backend Services fields, not both")
    missing = [f for f in SMART_FIELDS if not getattr(config, f)]
    if given and missing:
        raise _invalid(missing[0], f"SMART Backend Services needs {', '.join(SMART_FIELDS)}")
    if given:
        signing_key(config)


def assertion(config: FhirAuthConfig, now: float) -> str:
    """The client assertion: a JWT about the client, for the token endpoint only."""
    claims = {
        "iss": config.client_id,
        "sub": config.client_id,
        "aud": config.token_url,
        "exp": int(now) + ASSERTION_TTL_S,
        "iat": int(now),
        "jti": uuid.uuid4().hex,
    }
    header = {"alg": config.alg, "kid": config.kid, "typ": "JWT"}
    return jwt.encode(header, claims, signing_key(config), algorithms=[config.alg])


def token_retry(config: FhirAuthConfig) -> Retry:
    return Retry(
        what="the SMART token endpoint",
        hint="check token_url, client_id, kid and that the server holds the client's public key",
        backend="fhir",
        timeout_s=config.timeout_s,
        max_retries=config.max_retries,
        backoff_s=config.backoff_s,
    )


def _refused(response: httpx.Response) -> DomainError | None:
    if response.status_code not in (400, 401, 403):
        return None
    try:
        body = response.json()
        said = f"{body.get('error')}: {body.get('error_description') or ''}".strip(": ")
    except (ValueError, AttributeError):
        said = outcome_text(response)
    return Invalid(
        f"the SMART token endpoint refused the client assertion (HTTP {response.status_code}"
        f"{f', {said}' if said else ''}); check client_id, kid, alg and the key registered with the server"
    )


_TOKENS: dict[tuple[str, ...], tuple[str, float]] = {}  # (token_url, client_id, kid, scope) -> (token, until)


class Tokens:
    """Access tokens from a SMART token endpoint, kept until shortly before they expire."""

    def __init__(self, reach: Reach, config: FhirAuthConfig) -> None:
        self.reach = reach
        self.config = config
        self.key = (str(config.token_url), str(config.client_id), str(config.kid), config.scope)

    async def get(self, *, fresh: bool = False) -> str:
        held = _TOKENS.get(self.key)
        if held is not None and not fresh and time.monotonic() < held[1]:
            return held[0]
        token, expires_in = await self._request()
        _TOKENS[self.key] = (token, time.monotonic() + expires_in - min(60.0, expires_in / 10))
        return token

    async def _request(self) -> tuple[str, float]:
        config = self.config
        form = {
            "grant_type": "client_credentials",
            "scope": config.scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(config, time.time()),
        }
        async with paced_client(
            self.reach, config.requests_per_s, headers={"Accept": "application/json"}
        ) as http:
            _, body = await fetch(
                http, str(config.token_url), token_retry(config), method="POST", data=form, refuse=_refused
            )
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise Invalid(f"the SMART token endpoint {config.token_url} answered without an access_token")
        expires = body.get("expires_in")
        return body["access_token"], float(expires) if isinstance(expires, int | float) else 300.0


class FhirAuth(httpx.Auth):
    """Adds the bearer token to each request; with SMART, a 401 fetches a new token once."""

    def __init__(self, reach: Reach, config: FhirAuthConfig) -> None:
        self.token = config.token
        self.tokens = Tokens(reach, config) if config.token_url else None

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self.tokens is None:
            if self.token:
                request.headers["Authorization"] = f"Bearer {self.token}"
            yield request
            return
        request.headers["Authorization"] = f"Bearer {await self.tokens.get()}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {await self.tokens.get(fresh=True)}"
            yield request


def fhir_client(reach: Reach, config: FhirAuthConfig, **options: Any) -> httpx.AsyncClient:
    """A client for the FHIR server: signed in as the config says, at the source's pace."""
    headers = {"Accept": "application/fhir+json"} | options.pop("headers", {})
    return paced_client(
        reach, config.requests_per_s, headers=headers, auth=FhirAuth(reach, config), **options
    )
