"""The outbound allow-list: a connector reaches public hosts over https and nothing else unless
``INESCAPE_COLLECTION_ALLOWED_HOSTS`` says so. Checked on the address a name resolves to, before
every request (redirects and token requests included), and the request goes to that address."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from inescape.infra.ratelimit.backends import MemoryRateLimiter
from inescape.kernel.errors import ConfigurationError
from inescape.modules.collection.connectors.base import Reach
from inescape.modules.collection.connectors.gdc import GdcConfig, GdcConnector
from inescape.modules.collection.connectors.http import paced_client
from inescape.modules.collection.connectors.outbound import SETTING, Outbound, OutboundRefused
from tests.support.gdc_server import GdcServer, esca_case
from tests.support.replay import replay_outbound


async def refused(outbound: Outbound, url: str) -> str:
    with pytest.raises(OutboundRefused) as caught:
        await outbound.check(httpx.URL(url))
    assert SETTING in caught.value.detail  # names what an administrator would change
    return caught.value.detail


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://127.0.0.1/fhir", "loopback"),
        ("https://127.8.9.10:8443/", "loopback"),
        ("https://[::1]/", "loopback"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://10.1.2.3/", "private"),
        ("https://192.168.0.10/", "private"),
        ("https://0.0.0.0/", "unspecified"),
    ],
)
async def test_by_default_a_non_public_address_is_refused(url, kind):
    assert f"a {kind} address" in await refused(Outbound(), url)


async def test_a_name_is_judged_by_the_address_it_resolves_to():
    detail = await refused(Outbound(), "https://localhost:9/fhir")

    assert "localhost resolves to" in detail
    assert "a loopback address" in detail


async def test_plain_http_is_refused_even_to_a_public_address():
    detail = await refused(Outbound(), "http://93.184.215.14/fhir")

    assert "plain http" in detail
    assert await Outbound().check(httpx.URL("https://93.184.215.14/fhir")) is not None


async def test_a_listed_network_allows_its_addresses_over_https_and_http_only_when_marked():
    networks = Outbound(["10.0.0.0/8"])

    assert str(await networks.check(httpx.URL("https://10.1.2.3/"))) == "10.1.2.3"
    assert "plain http" in await refused(networks, "http://10.1.2.3/")
    assert "192.168.0.1" in await refused(networks, "https://192.168.0.1/")
    marked = Outbound(["http://10.0.0.0/8"])
    assert str(await marked.check(httpx.URL("http://10.1.2.3/"))) == "10.1.2.3"


async def test_once_a_name_is_listed_only_listed_names_are_reached():
    names = Outbound(["*.hospital.example", "10.0.0.0/8"])

    assert "not listed" in await refused(names, "https://evil.example/fhir")
    assert "not in a listed network" in await refused(names, "https://93.184.215.14/")
    assert names.check_name(httpx.URL("https://fhir.hospital.example/r4")) is None


async def test_every_url_of_a_config_is_checked_at_submission_naming_its_field():
    config = {"base_url": "https://93.184.215.14/fhir", "token_url": "https://[::1]/token", "scope": "x"}

    with pytest.raises(OutboundRefused) as caught:
        await Outbound().check_config(config)

    assert caught.value.errors == [{"field": "config.token_url", "message": caught.value.detail}]


@pytest.mark.parametrize("entry", ["http://", "fhir hospital", "a/b/c", "*", "10.0.0.0/99"])
def test_a_malformed_entry_stops_the_start_naming_the_setting(entry):
    with pytest.raises(ConfigurationError) as caught:
        Outbound([entry])

    assert SETTING in str(caught.value)


async def test_a_connector_sends_nothing_to_a_replay_server_on_loopback_unless_allowed():
    server = GdcServer([esca_case(i) for i in range(3)])
    config = GdcConfig(base_url=server.base, page_size=2, backoff_s=0.01)
    try:
        with pytest.raises(OutboundRefused, match="loopback"):
            [page async for page in GdcConnector().pages(Reach(limiter=MemoryRateLimiter()), config, None)]
        assert server.requests == []

        allowed = Reach(limiter=MemoryRateLimiter(), outbound=replay_outbound())
        pages = [page async for page in GdcConnector().pages(allowed, config, None)]
        assert sum(len(p.items) for p in pages) == 3
    finally:
        server.close()


class Recorder:
    """A server that answers 200 with the Host header it saw, or redirects ``/away`` to ``to``."""

    def __init__(self, *, to: str = "") -> None:
        self.seen: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.seen.append({"path": self.path, **dict(self.headers)})
                if self.path == "/away":
                    self.send_response(302)
                    self.send_header("Location", to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b'{"host": "%s"}' % (self.headers.get("Host") or "").encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_a_redirect_to_an_address_not_allowed_is_refused_before_the_token_goes_there():
    elsewhere = Recorder()
    source = Recorder(to=f"http://127.0.0.2:{elsewhere.port}/steal")
    reach = Reach(limiter=MemoryRateLimiter(), outbound=Outbound(["http://127.0.0.1/32"]))
    try:
        async with paced_client(
            reach, 1000, follow_redirects=True, headers={"Authorization": "Bearer s3cret"}
        ) as client:
            with pytest.raises(OutboundRefused, match=r"127\.0\.0\.2"):
                await client.get(f"http://127.0.0.1:{source.port}/away")
        assert [s["path"] for s in source.seen] == ["/away"]
        assert elsewhere.seen == []
    finally:
        source.close()
        elsewhere.close()


async def test_a_request_goes_to_the_address_checked_with_the_host_name_kept():
    if {info[4][0] for info in socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)} != {"127.0.0.1"}:
        pytest.skip("localhost resolves to more than 127.0.0.1 here")
    server = Recorder()
    reach = Reach(limiter=MemoryRateLimiter(), outbound=Outbound(["http://127.0.0.0/8"]))
    try:
        async with paced_client(reach, 1000) as client:
            response = await client.get(f"http://localhost:{server.port}/fhir/metadata")
        assert response.status_code == 200
        assert response.json() == {"host": f"localhost:{server.port}"}
    finally:
        server.close()
