"""Token signing: ES256 JWTs from a key set with key ids and rotation; public keys as JWKS.

The key set file holds private keys (JWK); the newest is the signing key, older ones stay to
verify tokens issued before a rotation until they expire. Verification accepts only ES256
from our issuer for our audience and checks ``exp``/``nbf``; ``alg: none``, HS/RS tokens, an
unknown ``kid``, a tampered payload and an expired token are all refused.

A token whose signature verified is remembered (the last ``VERIFIED_TOKENS``, by its whole
text): the same token on the next request skips the elliptic-curve check, most of the cost
of authenticating a request, and still has its claims (``exp``, ``nbf``, issuer, audience)
checked every time. A refused token is never remembered.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from inescape.kernel.errors import ConfigurationError, Unauthorized
from inescape.kernel.ids import new_id

ALGORITHM = "ES256"
VERIFIED_TOKENS = 4096


class InvalidToken(Unauthorized):
    pass


def new_signing_key() -> ECKey:
    return ECKey.generate_key(
        "P-256",
        parameters={"kid": f"k{time.strftime('%Y%m%d')}-{new_id()[-8:]}", "use": "sig", "alg": ALGORITHM},
        private=True,
    )


def load_or_create_key_file(path: Path, *, setting: str = "INESCAPE_AUTH_SIGNING_KEY_FILE") -> list[ECKey]:
    """Keys from ``path`` (newest last); a missing file is created with one new key, mode 0600."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_key_file(path, [new_signing_key()])
    try:
        data = json.loads(path.read_text())
        keys = [ECKey.import_key(k) for k in data["keys"]]
    except (OSError, ValueError, KeyError, TypeError, JoseError) as exc:
        raise ConfigurationError(setting, f"cannot read the signing keys in {path}: {exc}") from None
    if not keys or any(not k.is_private for k in keys):
        raise ConfigurationError(setting, f"{path} must hold private EC P-256 keys")
    return keys


def write_key_file(path: Path, keys: Sequence[ECKey]) -> None:
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"keys": [k.as_dict(private=True) for k in keys]}, out)
    os.replace(path.with_suffix(".tmp"), path)


def rotate_key_file(path: Path, *, keep: int = 3) -> str:
    """Add a new signing key (it signs from the next start); keep the newest ``keep``."""
    keys = [*load_or_create_key_file(path), new_signing_key()]
    write_key_file(path, keys[-keep:])
    return str(keys[-1].kid)


class TokenSigner:
    def __init__(self, keys: Sequence[ECKey], *, issuer: str, audience: str, clock: Any = time.time) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self._keys = KeySet(list(keys))
        self._signing = keys[-1]
        self.issuer = issuer
        self.audience = audience
        self._clock = clock
        self._claims = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=30,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
        )
        self._signed = functools.lru_cache(maxsize=VERIFIED_TOKENS)(self._signed_claims)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in self._keys.keys]}

    def issue(self, *, subject: str, ttl_s: int, claims: Mapping[str, Any]) -> tuple[str, int]:
        now = int(self._clock())
        body = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_s,
            "jti": new_id(),
            **claims,
        }
        header = {"alg": ALGORITHM, "kid": self._signing.kid, "typ": "JWT"}
        return jwt.encode(header, body, self._signing, algorithms=[ALGORITHM]), body["exp"]

    def verify(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = msgspec.json.decode(self._signed(token))  # a fresh copy
            self._claims.validate(claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidToken(f"The access token is invalid ({_reason(exc)}); log in again.") from None
        return claims

    def _signed_claims(self, token: str) -> bytes:
        """The claims of ``token`` (JSON) once its signature verifies (raises otherwise)."""
        return msgspec.json.encode(jwt.decode(token, self._keys, algorithms=[ALGORITHM]).claims)


def _reason(exc: BaseException) -> str:
    error = getattr(exc, "error", None)
    return str(error or type(exc).__name__).replace("_", " ")
