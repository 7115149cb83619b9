"""Settings of collection (``INESCAPE_COLLECTION_*``)."""

from __future__ import annotations

import msgspec


class CollectionSettings(msgspec.Struct, kw_only=True):
    # The outbound allow-list (connectors/outbound.py): host names or *.patterns, addresses or
    # CIDR networks whose non-public addresses may be reached, each optionally prefixed
    # http:// to allow plain http there. Empty: public hosts, over https only.
    allowed_hosts: list[str] = msgspec.field(default_factory=list)
