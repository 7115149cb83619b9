"""A FHIR Bulk Data server on loopback, answering the way the spec's reference servers do:
``$export`` kick-off 202 with ``Content-Location``; the status URL 202 with ``Retry-After`` and
``X-Progress`` for ``polls`` polls, then 200 with the manifest; NDJSON files of at most
``file_lines`` lines each; DELETE on the status URL. A SMART token endpoint checks the client
assertion's signature with the client's public key and issues short-lived tokens. Faults on
demand: scripted answers for the next requests to a path, a file cut short, a failed export,
every token revoked (the next request with one gets 401)."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from inescape.modules.patients.api import ClinicalCodecs, PatientCreate, PatientRecord
from inescape.runtime import library
from tests.support.records import RECORD

NDJSON = "application/fhir+ndjson"


def resources_of(n: int) -> list[dict[str, Any]]:
    """``n`` Patients with their related resources, as the clinical core writes them."""
    stamp = datetime(2024, 1, 1, tzinfo=UTC)
    fields = msgspec.structs.asdict(msgspec.convert(RECORD, PatientCreate))
    records = [
        PatientRecord(
            **fields, id=f"00000000-0000-4000-8000-{i:012d}", version=1, created_at=stamp, updated_at=stamp
        )
        for i in range(n)
    ]
    codecs = library(ClinicalCodecs)
    return [json.loads(line) for line in codecs.to_ndjson(records)]


class FhirBulkServer:
    def __init__(
        self,
        resources: list[dict[str, Any]],
        *,
        token: str | None = "ehr-token",
        client_id: str = "inescape",
        public_key: RSAKey | ECKey | None = None,
        kid: str = "key-1",
        expires_in: int = 300,
        polls: int = 2,
        file_lines: int = 1000,
        requires_access_token: bool = True,
    ) -> None:
        self.resources = resources
        self.token = token
        self.client_id, self.public_key, self.kid, self.expires_in = client_id, public_key, kid, expires_in
        self.polls, self.file_lines, self.requires_access_token = polls, file_lines, requires_access_token
        self.valid: set[str] = {token} if token else set()
        self.issued = itertools.count(1)
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Authorization)
        self.times: list[float] = []  # monotonic arrival of each request
        self.exports: dict[str, dict[str, Any]] = {}  # export id -> {"polls", "types", "deleted"}
        self.assertions: list[dict[str, Any]] = []  # the verified claims of each token request
        # scripted answers, by path fragment, for the next matching requests in order:
        # {"status": 429, "headers": {"Retry-After": "1"}}, {"status": 500}, {"cut": True} (the body
        # stops short of its Content-Length), {"stall_s": 2.0}
        self.script: dict[str, list[dict[str, Any]]] = {}
        self.cut_files: set[str] = set()  # file names served with their last line cut in half
        self.export_error: dict[str, Any] | None = None  # an OperationOutcome the status URL fails with
        self.error_file: list[dict[str, Any]] = []  # OperationOutcomes listed in the manifest's "error"
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def base(self) -> str:
        return f"{self.origin}/fhir"

    @property
    def token_url(self) -> str:
        return f"{self.origin}/auth/token"

    def kickoffs(self) -> int:
        return sum(1 for m, p, _ in self.requests if m == "GET" and "$export?" in p)

    def revoke(self) -> None:
        """Every token issued so far now gets 401 (as when one expires early)."""
        self.valid = {self.token} if self.token else set()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- answers: (status, headers, body bytes) ---------------------------------------------

    def answer(
        self, method: str, path: str, authorization: str | None, body: bytes
    ) -> tuple[int, dict, bytes]:
        url = urlsplit(path)
        if url.path == "/auth/token" and method == "POST":
            return self._token(body)
        needs_token = not url.path.startswith("/files/") or self.requires_access_token
        if needs_token and (authorization or "").removeprefix("Bearer ") not in self.valid:
            return _json(401, _outcome("login", "a valid bearer token is required"))
        if url.path.endswith("/$export"):
            return self._kickoff(url.query)
        if url.path.startswith("/fhir/$export-status/"):
            return self._status(method, url.path.rsplit("/", 1)[1])
        if url.path.startswith("/files/"):
            return self._file(url.path.rsplit("/", 1)[1])
        return _json(404, _outcome("not-found", url.path))

    def _token(self, body: bytes) -> tuple[int, dict, bytes]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        try:
            assert form.get("grant_type") == "client_credentials"
            assert (
                form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            )
            token = jwt.decode(form["client_assertion"], self.public_key, algorithms=["RS384", "ES384"])
            claims = token.claims
            assert token.header.get("kid") == self.kid
            assert claims["iss"] == claims["sub"] == self.client_id
            assert claims["aud"] == self.token_url
            assert time.time() < claims["exp"] <= time.time() + 300
        except Exception as exc:  # any failed check is the same answer to the client
            return _json(401, {"error": "invalid_client", "error_description": repr(exc)[:200]})
        self.assertions.append(claims)
        issued = f"access-{next(self.issued)}"
        self.valid.add(issued)
        answer = {"access_token": issued, "token_type": "bearer", "expires_in": self.expires_in}
        return _json(200, answer | {"scope": form.get("scope", "")})

    def _kickoff(self, query: str) -> tuple[int, dict, bytes]:
        types = parse_qs(query).get("_type", ["Patient"])[0].split(",")
        export_id = str(len(self.exports) + 1)
        self.exports[export_id] = {"polls": 0, "types": types, "deleted": False}
        return 202, {"Content-Location": f"{self.base}/$export-status/{export_id}"}, b""

    def _status(self, method: str, export_id: str) -> tuple[int, dict, bytes]:
        export = self.exports.get(export_id)
        if export is None or export["deleted"]:
            return _json(404, _outcome("not-found", "no such export"))
        if method == "DELETE":
            export["deleted"] = True
            return 202, {}, b""
        if self.export_error is not None:
            return _json(500, self.export_error)
        if export["polls"] < self.polls:
            export["polls"] += 1
            progress = f"{100 * export['polls'] // (self.polls + 1)}% complete"
            return 202, {"Retry-After": "1", "X-Progress": progress}, b""
        return _json(200, self.manifest(export["types"]))

    def manifest(self, types: list[str]) -> dict[str, Any]:
        output = []
        for kind in types:
            lines = self._lines(kind)
            for part in range(0, len(lines), self.file_lines):
                count = len(lines[part : part + self.file_lines])
                name = f"{kind}-{part // self.file_lines + 1}.ndjson"
                output.append({"type": kind, "url": f"{self.origin}/files/{name}", "count": count})
        errors = (
            [{"type": "OperationOutcome", "url": f"{self.origin}/files/errors.ndjson"}]
            if self.error_file
            else []
        )
        return {
            "transactionTime": "2024-05-01T12:00:00Z",
            "request": f"{self.base}/Patient/$export?_type={','.join(types)}",
            "requiresAccessToken": self.requires_access_token,
            "output": output,
            "error": errors,
        }

    def _lines(self, kind: str) -> list[bytes]:
        return [json.dumps(r).encode() for r in self.resources if r["resourceType"] == kind]

    def _file(self, name: str) -> tuple[int, dict, bytes]:
        if name == "errors.ndjson":
            return (
                200,
                {"Content-Type": NDJSON},
                b"\n".join(json.dumps(o).encode() for o in self.error_file) + b"\n",
            )
        kind, _, number = name.removesuffix(".ndjson").rpartition("-")
        part = (int(number) - 1) * self.file_lines
        body = b"\n".join(self._lines(kind)[part : part + self.file_lines]) + b"\n"
        if name in self.cut_files:
            body = body[: len(body) - len(body.rsplit(b"\n", 2)[-2]) // 2 - 1]
        return 200, {"Content-Type": NDJSON}, body


def _handler(server: FhirBulkServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stall

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            authorization = self.headers.get("Authorization")
            with server.lock:
                server.requests.append((method, self.path, authorization))
                server.times.append(time.monotonic())
                fault = next(
                    (faults.pop(0) for frag, faults in server.script.items() if frag in self.path and faults),
                    {},
                )
            status, headers, payload = server.answer(method, self.path, authorization, body)
            time.sleep(fault.get("stall_s", 0))
            status = fault.get("status", status)
            headers = fault.get("headers", headers) if "status" in fault else headers
            if "status" in fault and status >= 400:
                payload = json.dumps(_outcome("transient", "try again later")).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            if fault.get("cut"):
                payload = payload[: len(payload) // 2]
                self.close_connection = True
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up waiting
                self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def _json(status: int, body: dict[str, Any]) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/fhir+json"}, json.dumps(body).encode()


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
