"""A cBioPortal REST API on loopback: ``/api/studies/{studyId}/clinical-data`` answers a
study's rows in long format (one per patient or sample and attribute, values strings, as
cBioPortal's client types say: domain.md §5.2), paged by ``pageNumber``/``pageSize``; faults on
demand as ``GdcServer`` takes them. No captured cBioPortal answer exists to replay
(tests/support/realworld/README.md): ``esca_patient`` writes one in that documented shape."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

STUDY = "esca_tcga"


def esca_patient(i: int, **changes: str) -> list[dict[str, Any]]:
    """PATIENT and SAMPLE rows of TCGA-style patient ``i`` (SCC, middle third, IIIA, living)."""
    patient = f"TCGA-CB-{i:04d}"
    attrs = {
        "SEX": "Male",
        "AGE": "61",
        "DAYS_TO_BIRTH": "-22300",
        "INITIAL_PATHOLOGIC_DX_YEAR": "2010",
        "ICD_O_3_HISTOLOGY": "8070/3",
        "ICD_O_3_SITE": "C15.4",
        "AJCC_PATHOLOGIC_TUMOR_STAGE": "Stage IIIA",
        "PATH_T_STAGE": "T3",
        "PATH_N_STAGE": "N1",
        "PATH_M_STAGE": "M0",
        "AJCC_STAGING_EDITION": "7th",
        "OS_STATUS": "0:LIVING",
        "OS_MONTHS": "20.5",
        "LAST_CONTACT_DAYS_TO": "640",
    } | changes
    common = {"uniquePatientKey": f"key-{patient}", "patientId": patient, "studyId": STUDY}
    rows = [common | {"clinicalAttributeId": k, "value": v} for k, v in attrs.items() if v]
    sample = {"sampleId": f"{patient}-01", "uniqueSampleKey": f"key-{patient}-01"}
    return [*rows, common | sample | {"clinicalAttributeId": "GRADE", "value": "G2"}]


class CbioportalServer:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.requests: list[dict[str, str]] = []
        self.script: list[dict[str, Any]] = []
        self.fail_status: int | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                server.requests.append({"path": url.path, **query})
                fault = server.script.pop(0) if server.script else {}
                status, body = server.answer(url.path, query)
                time.sleep(fault.get("stall_s", 0))
                payload = fault.get("body") or json.dumps(body).encode()
                if fault.get("truncate"):
                    payload = payload[: len(payload) // 2]
                self.send_response(fault.get("status", status))
                self.send_header("Content-Type", "application/json")
                for name, value in fault.get("headers", {}).items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if self.fail_status:
            return self.fail_status, {"message": "internal server error"}
        parts = path.split("/")  # ['', 'api', 'studies', id, 'clinical-data']
        if len(parts) != 5 or parts[2] != "studies" or parts[4] != "clinical-data":
            return 404, {"message": f"{path} not found"}
        if parts[3] != STUDY:
            return 404, {"message": f"Study not found: {parts[3]}"}
        kind = query.get("clinicalDataType", "PATIENT")
        size, number = int(query.get("pageSize", "10000000")), int(query.get("pageNumber", "0"))
        found = [r for r in self.rows if ("sampleId" in r) == (kind == "SAMPLE")]
        return 200, found[number * size : (number + 1) * size]
