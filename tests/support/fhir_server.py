"""A FHIR R4 server on loopback that answers reads and searches from a set of resources, the way
an EHR's FHIR API does: searchset Bundles with ``fullUrl``, paged with ``next`` links, a bearer
token required, and faults on demand (an error status, or no answer in time)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FhirServer:
    def __init__(
        self, resources: list[dict[str, Any]], *, token: str = "ehr-token", page_size: int = 2
    ) -> None:
        self.resources = resources
        self.token = token
        self.page_size = page_size
        self.requests: list[tuple[str, str | None]] = []  # (path?query, Authorization)
        self.fail: dict[str, int] = {}  # resource type -> status to answer with
        self.stall_s = 0.0
        # faults for the next requests, in order: {"status": 429, "headers": {"Retry-After": "1"}},
        # {"status": 500}, {"stall_s": 2.0} (no answer in time), {"truncate": True} (body cut short)
        self.script: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Authorization")))
                fault = server.script.pop(0) if server.script else {}
                status, body = server.answer(self.path, self.headers.get("Authorization"))
                time.sleep(fault.get("stall_s", server.stall_s))
                payload = json.dumps(body).encode()
                if fault.get("truncate"):
                    payload = payload[: len(payload) // 2]
                self.send_response(fault.get("status", status))
                self.send_header("Content-Type", "application/fhir+json")
                for name, value in fault.get("headers", {}).items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up waiting
                    self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/fhir"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        if authorization != f"Bearer {self.token}":
            return 401, _outcome("login", "a valid bearer token is required")
        url = urlsplit(path)
        kind, _, rid = url.path.removeprefix("/fhir/").partition("/")
        if kind in self.fail:
            return self.fail[kind], _outcome("exception", "the server failed")
        if rid:
            found = [r for r in self.resources if r["resourceType"] == kind and r.get("id") == rid]
            return (200, found[0]) if found else (404, _outcome("not-found", f"{kind}/{rid}"))
        query = parse_qs(url.query)
        patient = query.get("patient", [""])[0]
        page = int(query.get("_page", ["1"])[0])
        if kind == "Patient" and not patient:  # a Patient search: every Patient, paged
            return 200, self._patients(page)
        matches = [
            r for r in self.resources if r["resourceType"] == kind and _subject(r) == f"Patient/{patient}"
        ]
        chunk = matches[(page - 1) * self.page_size : page * self.page_size]
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "entry": [{"fullUrl": f"{self.base}/{kind}/{r['id']}", "resource": r} for r in chunk],
        }
        if page * self.page_size < len(matches):
            bundle["link"] = [
                {"relation": "next", "url": f"{self.base}/{kind}?patient={patient}&_page={page + 1}"}
            ]
        return 200, bundle

    def _patients(self, page: int) -> dict[str, Any]:
        matches = [r for r in self.resources if r["resourceType"] == "Patient"]
        chunk = matches[(page - 1) * self.page_size : page * self.page_size]
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "entry": [{"fullUrl": f"{self.base}/Patient/{r['id']}", "resource": r} for r in chunk],
        }
        if page * self.page_size < len(matches):
            bundle["link"] = [{"relation": "next", "url": f"{self.base}/Patient?_page={page + 1}"}]
        return bundle


def _subject(resource: dict[str, Any]) -> str | None:
    ref = resource.get("subject") or resource.get("patient") or {}
    return ref.get("reference") if isinstance(ref, dict) else None


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
