"""Settings of the gateway (``INESCAPE_AUTH_*``)."""

from __future__ import annotations

import msgspec


class AuthSettings(msgspec.Struct, kw_only=True):
    issuer: str = "inescape"
    audience: str = "inescape-api"
    access_ttl_s: int = 900  # 15 minutes
    refresh_ttl_s: int = 14 * 24 * 3600
    # argon2id's cost for new password hashes (see passwords.py): memory in KiB and passes
    password_memory_kib: int = 65_536
    password_time_cost: int = 3
    signing_key_file: str | None = None  # JWK set with private keys; default <data dir>/keys/
    # A hospital's OpenID Connect provider whose tokens are accepted too.
    oidc_issuer: str | None = None
    oidc_jwks_url: str | None = None
    oidc_audience: str | None = None
    oidc_roles_claim: str = "roles"
    oidc_role_map: list[str] = msgspec.field(default_factory=list)  # "Oncologist=clinician"
    # CDS Hooks clients (EHRs) whose self-signed JWTs the /cds-services routes accept: a JSON
    # array of {"issuer", "jwks_url" | "jwks", "jku_hosts"} inline, or in a file (both: all).
    cds_clients: str | None = None
    cds_clients_file: str | None = None
    # The platform's public base URL as EHRs call it (https://inescape.hospital.example) when a
    # proxy stands in front: a CDS client token's aud may name a service under it.
    public_url: str | None = None
    # Login brute-force protection (see LoginThrottle): free tries per account and IP, the
    # back-off cap, failures per IP across accounts, and the bounded slow-down of an account
    # attacked from many IPs (its owner never waits longer than this after a failure).
    login_free_failures: int = 5
    login_backoff_max_s: float = 900.0
    login_ip_max_failures: int = 50
    login_account_max_failures: int = 20
    login_account_delay_s: float = 30.0
