"""A token whose signature verified is remembered, so the next request with it skips the
signature check; its claims are still checked every time."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc import jwt

from inescape.infra import tokens
from inescape.infra.tokens import InvalidToken, TokenSigner, new_signing_key


@pytest.fixture
def now() -> list[float]:
    return [1_900_000_000.0]


@pytest.fixture
def signer(now) -> TokenSigner:
    return TokenSigner([new_signing_key()], issuer="inescape", audience="inescape-api", clock=lambda: now[0])


@pytest.fixture
def signature_checks(monkeypatch) -> list[str]:
    checked: list[str] = []
    decode = jwt.decode

    def counted(token, *args, **kwargs):
        checked.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(tokens.jwt, "decode", counted)
    return checked


def test_a_token_is_signature_checked_once_and_answers_the_same_claims(signer, signature_checks):
    token, _ = signer.issue(subject="u1", ttl_s=900, claims={"roles": ["clinician"], "typ": "access"})

    first = signer.verify(token)
    first["roles"].append("admin")  # what a caller does with its copy stays its own
    second = signer.verify(token)

    assert signature_checks == [token]
    assert second["sub"] == "u1"
    assert second["roles"] == ["clinician"]


def test_a_remembered_token_is_refused_once_it_expires(signer, now, signature_checks):
    token, exp = signer.issue(subject="u1", ttl_s=60, claims={"typ": "access"})
    signer.verify(token)

    now[0] = exp + 31  # past its expiry and the 30 s of leeway

    with pytest.raises(InvalidToken, match="expired"):
        signer.verify(token)
    assert signature_checks == [token]  # refused by its claims, not by a new signature check


def test_a_token_altered_after_a_genuine_one_verified_is_checked_and_refused(signer, signature_checks):
    token, _ = signer.issue(subject="u1", ttl_s=900, claims={"roles": ["clinician"], "typ": "access"})
    signer.verify(token)
    head, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["roles"] = ["admin"]
    forged = f"{head}.{base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b'=').decode()}.{sig}"

    for _ in range(2):  # a refused token is never remembered
        with pytest.raises(InvalidToken):
            signer.verify(forged)

    assert signature_checks == [token, forged, forged]
