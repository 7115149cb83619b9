"""An EHR's JWK sets served over HTTPS on loopback (a self-signed certificate the test makes
the platform trust through ``SSL_CERT_FILE``); the keys may change while the platform runs."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.tls import make_self_signed


class JwksServer:
    """``sets[path]`` is the list of public JWKs served at ``https://localhost:<port><path>``;
    ``hits`` counts the requests per path."""

    def __init__(self, folder: Path) -> None:
        self.certfile, keyfile = make_self_signed(folder)
        self.sets: dict[str, list[dict[str, Any]]] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                keys = server.sets.get(self.path)
                body = json.dumps({"keys": keys}).encode() if keys is not None else b"{}"
                self.send_response(200 if keys is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certfile, keyfile)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"https://localhost:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
