"""The replay servers (``*_server.py``) listen on 127.0.0.1 over plain http: collection
reaches them only because the tests allow it explicitly, as an administrator would with
``INESCAPE_COLLECTION_ALLOWED_HOSTS``; the default (public hosts over https) stays."""

from __future__ import annotations

import pytest

from inescape.modules.collection.connectors.outbound import SETTING, Outbound

REPLAY_HOSTS = "http://127.0.0.1"


def replay_outbound() -> Outbound:
    return Outbound([REPLAY_HOSTS])


@pytest.fixture
def replay_sources_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app started after this reaches the replay servers (request it before ``client``)."""
    monkeypatch.setenv(SETTING, REPLAY_HOSTS)
