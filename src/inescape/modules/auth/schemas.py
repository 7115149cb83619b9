"""HTTP request and response bodies of the gateway."""

from __future__ import annotations

from typing import Annotated

import msgspec

from inescape.modules.auth.api import ROLES, User

Username = Annotated[str, msgspec.Meta(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*\Z")]
Role = Annotated[str, msgspec.Meta(pattern="^(" + "|".join(ROLES) + r")\Z")]


class TokenRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class RefreshRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=10, max_length=512)]


class TokenPair(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


class Me(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    username: str
    roles: list[str]
    permissions: list[str]
    source: str


class UserCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    username: Username
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    roles: Annotated[list[Role], msgspec.Meta(min_length=1)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]


class UserUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    roles: Annotated[list[Role], msgspec.Meta(min_length=1)] | None = None
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    active: bool | None = None


class UserList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[User]
    next_cursor: str | None
