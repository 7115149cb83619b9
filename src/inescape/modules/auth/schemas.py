"""HTTP request and response bodies of the gateway."""

from __future__ import annotations

from typing import Annotated

import msgspec

from inescape.modules.auth.api import ROLES, User

Username = Annotated[str, msgspec.Meta(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*\Z")]
Role = Annotated[str, msgspec.Meta(pattern="^(" + "|".join(ROLES) + r")\Z")]


class TokenRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="The account's username.")]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024, description="Its password.")]


class RefreshRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    refresh_token: Annotated[
        str, msgspec.Meta(min_length=10, max_length=512, description="The refresh token of the last log-in.")
    ]


class TokenPair(msgspec.Struct, frozen=True, kw_only=True):
    access_token: Annotated[str, msgspec.Meta(description="Send it as 'Authorization: Bearer <token>'.")]
    refresh_token: Annotated[str, msgspec.Meta(description="For new tokens (POST /api/v1/auth/refresh).")]
    token_type: Annotated[str, msgspec.Meta(description="Always Bearer.")] = "Bearer"  # noqa: S105
    expires_in: Annotated[int, msgspec.Meta(description="Seconds until the access token expires.")]
    password_change_required: Annotated[
        bool,
        msgspec.Meta(
            description="true when the account's password is one-time: until it is changed "
            "(POST /api/v1/auth/password), every other route answers 403."
        ),
    ] = False


class PasswordChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    current_password: Annotated[
        str, msgspec.Meta(min_length=1, max_length=1024, description="The account's password now.")
    ]
    new_password: Annotated[
        str,
        msgspec.Meta(
            max_length=1024,
            description="The new password: at least 12 characters, not containing the username, "
            "not too repetitive, and not the current one.",
        ),
    ]


class PasswordChanged(msgspec.Struct, frozen=True, kw_only=True):
    detail: Annotated[str, msgspec.Meta(description="What was done, in words.")]
    other_sessions_ended: Annotated[
        bool,
        msgspec.Meta(
            description="Always true: every other session and refresh token of the account stopped "
            "working; this session continues with the tokens below."
        ),
    ]
    access_token: Annotated[str, msgspec.Meta(description="This session's new access token.")]
    refresh_token: Annotated[str, msgspec.Meta(description="This session's new refresh token.")]
    token_type: Annotated[str, msgspec.Meta(description="Always Bearer.")] = "Bearer"  # noqa: S105
    expires_in: Annotated[int, msgspec.Meta(description="Seconds until the access token expires.")]


class Me(msgspec.Struct, frozen=True, kw_only=True):
    id: Annotated[str, msgspec.Meta(description="The account's id.")]
    username: Annotated[str, msgspec.Meta(description="The account's username.")]
    roles: Annotated[list[str], msgspec.Meta(description="Its roles.")]
    permissions: Annotated[list[str], msgspec.Meta(description="What its roles allow.")]
    source: Annotated[str, msgspec.Meta(description="Who vouched for it: this platform, or a CDS client.")]
    must_change_password: Annotated[
        bool,
        msgspec.Meta(description="true while the password is one-time: only its change is allowed."),
    ] = False


class UserCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    username: Annotated[Username, msgspec.Meta(description="The new account's username.")]
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="The name shown.")]
    roles: Annotated[list[Role], msgspec.Meta(min_length=1, description="Its roles (at least one).")]
    password: Annotated[str, msgspec.Meta(max_length=1024, description="Its first password.")]
    one_time: Annotated[
        bool,
        msgspec.Meta(description="true: the user must change this password at the first login."),
    ] = False


class UserUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    roles: Annotated[
        Annotated[list[Role], msgspec.Meta(min_length=1)] | None, msgspec.Meta(description="New roles.")
    ] = None
    display_name: Annotated[
        Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None,
        msgspec.Meta(description="A new name shown."),
    ] = None
    active: Annotated[bool | None, msgspec.Meta(description="false deactivates the account.")] = None


class UserList(msgspec.Struct, frozen=True, kw_only=True):
    items: Annotated[list[User], msgspec.Meta(description="The accounts on this page.")]
    next_cursor: Annotated[
        str | None, msgspec.Meta(description="The cursor of the next page; null on the last one.")
    ]


class PublicKey(msgspec.Struct, frozen=True, kw_only=True):
    """One public key (a JWK, RFC 7517) that verifies this platform's access tokens."""

    kty: Annotated[str, msgspec.Meta(description="The key type: EC.")]
    crv: Annotated[str, msgspec.Meta(description="The curve: P-256.")] = ""
    x: Annotated[str, msgspec.Meta(description="The public point's x coordinate (base64url).")] = ""
    y: Annotated[str, msgspec.Meta(description="The public point's y coordinate (base64url).")] = ""
    kid: Annotated[
        str, msgspec.Meta(description="The key's id: a token's header names the key that signed it.")
    ] = ""
    alg: Annotated[str, msgspec.Meta(description="The signing algorithm (ES256).")] = ""
    use: Annotated[str, msgspec.Meta(description="sig: signatures.")] = ""


class KeySetView(msgspec.Struct, frozen=True, kw_only=True):
    keys: Annotated[
        list[PublicKey], msgspec.Meta(description="Every key a token of this platform may be signed with.")
    ]
