"""``inescape serve --ssl-certfile --ssl-keyfile``: HTTPS with TLS 1.3 as the floor."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import Served, run_cli, wait_ready_tls
from tests.support.tls import make_self_signed


def client_context(certfile: Path, *, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certfile))
    if maximum is not None:
        context.maximum_version = maximum
    return context


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    certfile, keyfile = make_self_signed(folder)
    server = Served(
        "serve",
        "--ssl-certfile",
        str(certfile),
        "--ssl-keyfile",
        str(keyfile),
        # the gateway and the one module it requires: TLS is the app's edge, not any module's
        env={"INESCAPE_DATA_DIR": str(folder / "data"), "INESCAPE_MODULES": "auth,patients"},
        log=folder / "serve.log",
    ).start(wait=False)
    try:
        wait_ready_tls(server, client_context(certfile))
        yield server, certfile
    finally:
        server.stop()


def test_a_tls_1_2_only_client_is_refused(https_server):
    server, certfile = https_server
    context = client_context(certfile, maximum=ssl.TLSVersion.TLSv1_2)

    with (
        pytest.raises(ssl.SSLError) as refused,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname="127.0.0.1"),
    ):
        pass

    assert not isinstance(refused.value, ssl.SSLCertVerificationError)  # the version, not the cert


def test_a_tls_1_3_client_is_served_with_hsts(https_server):
    server, certfile = https_server
    context = client_context(certfile)

    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
    ):
        version = tls.version()
    response = httpx.get(f"https://127.0.0.1:{server.port}/health", verify=context, timeout=5)

    assert version == "TLSv1.3"
    assert response.status_code == 200
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert "on https://127.0.0.1:" in server.log()


def test_plain_http_on_the_tls_port_gets_no_answer(https_server):
    server, _certfile = https_server

    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=5)


def test_a_certificate_without_its_key_stops_serve_with_one_line(tmp_path):
    certfile, _keyfile = make_self_signed(tmp_path)

    result = run_cli(
        "serve", "--ssl-certfile", str(certfile), env={"INESCAPE_DATA_DIR": str(tmp_path / "data")}
    )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "inescape: configuration error: INESCAPE_SERVER_SSL_CERTFILE: "
        "set the certificate and its key (INESCAPE_SERVER_SSL_KEYFILE) together, or neither"
    ]
