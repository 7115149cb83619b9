"""A GDC API on loopback that answers ``/cases`` (POST with a JSON body, or GET with query
parameters) from a set of case hits in the real envelope (``data.hits``,
``data.pagination``, ``warnings``), filtered by ``project.project_id`` and paged by
``from``/``size``; faults on demand, as ``FhirServer`` takes them, plus ``{"body": bytes}``
(answer those bytes instead). ``esca_case`` builds a hit in the real shape: the case-level keys
of the GDC docs' TCGA-BH-A0EA answer and the exposure of TCGA-39-5031 (tests/support/realworld/
gdc/), with esophageal values in place of the breast and lung ones."""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

REALWORLD = Path(__file__).parent / "realworld" / "gdc"
BRCA_CASE = REALWORLD / "gdc-docs_case_expand_diagnoses_TCGA-BH-A0EA.json.txt"
LUSC_OCCURRENCE = REALWORLD / "gdc-docs_cnv_occurrence_expand_case_exposures_diagnoses_TCGA-39-5031.json"


DEMOGRAPHIC: dict[str, Any] = {
    "gender": "male",
    "race": "asian",
    "ethnicity": "not hispanic or latino",
    "vital_status": "Alive",
    "days_to_death": None,
    "days_to_birth": -21900,
    "year_of_birth": 1950,
    "age_at_index": 60,
}
DIAGNOSIS: dict[str, Any] = {
    "primary_diagnosis": "Squamous cell carcinoma, NOS",
    "morphology": "8070/3",
    "tissue_or_organ_of_origin": "Middle third of esophagus",
    "site_of_resection_or_biopsy": "Middle third of esophagus",
    "icd_10_code": "C15.4",
    "age_at_diagnosis": 21900,
    "year_of_diagnosis": 2011,
    "tumor_grade": "G2",
    "ajcc_pathologic_stage": "Stage IIIA",
    "ajcc_pathologic_t": "T3",
    "ajcc_pathologic_n": "N1",
    "ajcc_pathologic_m": "M0",
    "ajcc_staging_system_edition": "7th",
    "days_to_last_follow_up": 700,
    "treatments": [
        {
            "treatment_type": "Radiation Therapy, NOS",
            "treatment_or_therapy": "yes",
            "days_to_treatment_start": 30,
            "days_to_treatment_end": 70,
            "treatment_intent_type": "Adjuvant",
        }
    ],
}


def real_brca_case() -> dict[str, Any]:
    """The docs' answer as published lacks its opening brace; the case with it put back."""
    case: dict[str, Any] = json.loads("{" + BRCA_CASE.read_text())["data"]
    return case


def real_lusc_case() -> dict[str, Any]:
    return dict(json.loads(LUSC_OCCURRENCE.read_text())["data"]["case"])


def esca_case(i: int, **diagnosis: Any) -> dict[str, Any]:
    """TCGA-ESCA-shaped hit number ``i`` (SCC, middle third, pT3 N1 M0 IIIA 7th ed., alive)."""
    case = real_brca_case()
    submitter = f"TCGA-ES-{i:04d}"
    case |= {
        "case_id": f"00000000-0000-4000-8000-{i:012d}",
        "submitter_id": submitter,
        "primary_site": "Esophagus",
        "disease_type": "Squamous Cell Neoplasms",
        "project": {"project_id": "TCGA-ESCA"},
        "demographic": dict(DEMOGRAPHIC),
        "exposures": real_lusc_case()["exposures"],
        "follow_ups": [{"days_to_follow_up": 400}, {"days_to_follow_up": 812}],
    }
    first = copy.deepcopy(case["diagnoses"][0])
    first |= {"submitter_id": f"{submitter}_diagnosis"} | copy.deepcopy(DIAGNOSIS) | diagnosis
    case["diagnoses"] = [first]
    return case


class GdcServer:
    def __init__(self, cases: list[dict[str, Any]]) -> None:
        self.cases = cases
        self.requests: list[tuple[str, str, dict[str, Any]]] = []  # (method, path, query)
        self.script: list[dict[str, Any]] = []
        self.fail_status: int | None = None
        self.stall_s = 0.0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.fail_status:
            return self.fail_status, {"message": "internal server error"}
        if path != "/cases":
            return 404, {"message": f"{path} not found"}
        try:
            projects = _projects(params["filters"])
            start, size = int(params.get("from", 0)), int(params.get("size", 10))
        except (KeyError, TypeError, ValueError):
            return 400, {"message": "Bad request: filters, from and size"}
        found = [c for c in self.cases if c.get("project", {}).get("project_id") in projects]
        hits = found[start : start + size]
        pagination = {
            "count": len(hits),
            "total": len(found),
            "size": size,
            "from": start,
            "sort": "",
            "page": start // size + 1,
            "pages": -(-len(found) // size),
        }
        return 200, {"data": {"hits": hits, "pagination": pagination}, "warnings": {}}


def _projects(filters: dict[str, Any]) -> list[str]:
    content = filters["content"]
    if filters["op"] != "in" or content["field"] != "project.project_id":
        raise ValueError("only project.project_id filters are replayed")
    return list(content["value"])


def _handler(server: GdcServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            try:
                params = json.loads(self.rfile.read(size) or b"{}")
            except ValueError:
                params = {"filters": "not JSON"}
            self._answer("POST", params)

        def do_GET(self) -> None:
            params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            if "filters" in params:
                params["filters"] = json.loads(params["filters"])
            self._answer("GET", params)

        def _answer(self, method: str, params: dict[str, Any]) -> None:
            server.requests.append((method, urlsplit(self.path).path, params))
            fault = server.script.pop(0) if server.script else {}
            status, body = server.answer(urlsplit(self.path).path, params)
            time.sleep(fault.get("stall_s", server.stall_s))
            payload = fault.get("body") or json.dumps(body).encode()
            if fault.get("truncate"):
                payload = payload[: len(payload) // 2]
            self.send_response(fault.get("status", status))
            self.send_header("Content-Type", "application/json")
            for name, value in fault.get("headers", {}).items():
                self.send_header(name, value)
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up waiting
                self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
