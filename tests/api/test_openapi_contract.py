"""The OpenAPI document as a contract a client generator can rely on, the documentation pages
working without the internet, and unknown query parameters refused by name."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from tests.support.auth import bearer

METHODS = ("get", "put", "post", "delete", "patch", "head")
# the operations anyone may call (no token): liveness, metrics, login, keys, discovery
PUBLIC = {
    ("get", "/health"),
    ("get", "/health/detailed"),
    ("get", "/metrics"),
    ("post", "/api/v1/auth/token"),
    ("post", "/api/v1/auth/refresh"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/fhir/metadata"),
    ("get", "/cds-services"),
}
OPERATION_ID = re.compile(r"^[a-z][A-Za-z0-9]*\.[a-z][A-Za-z0-9]*$")


def _operations(doc):
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


@pytest.fixture
async def document(client):
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()


async def test_every_protected_operation_names_the_bearer_scheme_and_public_ones_none(document):
    scheme = document["components"]["securitySchemes"]["bearer"]
    operations = list(_operations(document))
    public = {(m, p) for m, p, op in operations if not op.get("security")}

    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    # the demo plugin's routes are protected too; every public one is in the list above
    assert public == {op for op in PUBLIC if op[1] in document["paths"]}
    assert all(op["security"] == [{"bearer": []}] for m, p, op in operations if (m, p) not in PUBLIC)


async def test_operation_ids_are_readable_unique_and_named_by_tag_and_handler(document):
    ids = [op["operationId"] for _m, _p, op in _operations(document)]

    assert [i for i in ids if not OPERATION_ID.match(i)] == []
    assert len(ids) == len(set(ids))
    assert document["paths"]["/api/v1/patients/{patient_id}"]["get"]["operationId"] == "patients.readPatient"
    assert document["paths"]["/api/v1/patients/jobs"]["get"]["operationId"] == "patients.listJobs"
    assert document["paths"]["/api/v1/auth/token"]["post"]["operationId"] == "auth.token"


async def test_errors_are_documented_in_the_real_error_shape(document, client, clinician):
    error = document["components"]["schemas"]["Error"]
    read = document["paths"]["/api/v1/patients/{patient_id}"]["get"]["responses"]
    create = document["paths"]["/api/v1/patients"]["post"]["responses"]
    token = document["paths"]["/api/v1/auth/token"]["post"]["responses"]
    fhir_read = document["paths"]["/fhir/{kind}/{resource_id}"]["get"]["responses"]
    missing = await client.get("/api/v1/patients/nobody", headers=clinician)

    assert set(error["required"]) == {"detail", "status_code"}
    assert set(missing.json()) <= set(error["properties"])  # what a 404 really holds
    assert {"401", "403", "404", "422", "429", "503"} <= set(read)
    assert {"400", "422"} <= set(create)  # unreadable JSON, and invalid JSON
    assert {"401", "422", "429"} <= set(token)
    assert "403" not in token
    assert read["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert fhir_read["404"]["content"]["application/fhir+json"]["schema"] == {
        "$ref": "#/components/schemas/OperationOutcome"
    }
    assert "Retry-After" in read["429"]["headers"]
    assert "Retry-After" in read["503"]["headers"]
    # no answer keeps Litestar's own error body (its "extra" member is not what is sent)
    bodies = [
        answer["content"]
        for _m, _p, op in _operations(document)
        for status, answer in op["responses"].items()
        if status >= "400" and "content" in answer
    ]
    assert all("extra" not in str(content) for content in bodies)


async def test_every_parameter_has_a_description(document):
    missing = [
        f"{method.upper()} {path} {parameter['name']}"
        for method, path, op in _operations(document)
        for parameter in op.get("parameters", [])
        if not parameter.get("description")
    ]

    assert missing == []


# Every schema is described field by field; those named here must stay so, and a schema added
# later must be described where its fields are declared (the count of undescribed fields is 0).
DESCRIBED = (
    "Error",
    "OperationOutcome",
    "JobView",
    "JobList",
    "DatasetList",
    "ComponentHealth",
    "Liveness",
    "ModuleHealth",
    "DetailedHealth",
    "User",
    "UserList",
    "UserCreate",
    "UserUpdate",
    "TokenPair",
    "TokenRequest",
    "RefreshRequest",
    "Me",
    "CollectionRequest",
    "SourceKind",
    "UploadView",
    "ScheduleCreate",
    "Schedule",
    "ScheduleList",
    # decision support
    "ClinicalFacts",
    "PriorTreatment",
    "StagingRequest",
    "HookRequest",
    "HookContext",
    "FhirAuthorization",
    "Feedback",
    "FeedbackItem",
    "AcceptedSuggestion",
    "OverrideReason",
    # generation
    "GenerationRequest",
    "ProfileSummary",
    # audit
    "AuditEvent",
    "AuditEvents",
    # training
    "TrainingRequest",
    "DatasetRef",
    "PromotionRequest",
    # patients
    "PatientCreate",
    "PatientUpdate",
    "PatientPage",
    "Created",
    "BulkCreated",
    "RiskFactors",
    "Condition",
    "Staging",
    "Biomarker",
    "Treatment",
    "Observation",
    "Outcome",
    "SurgicalFitness",
    "Comorbidity",
    # the answers each operation encodes itself
    "PatientRecordView",
    "RecordVersion",
    "FhirResource",
    "FhirBundle",
    "ExportManifest",
    "DatasetView",
    "ProfileDocument",
    "FittedProfile",
    "PrivacyBudget",
    "Release",
    "Thresholds",
    "RunSummary",
    "RunDetail",
    "ModelName",
    "ModelVersion",
    "GateResult",
    "StageResult",
    "RecommendationsAnswer",
    "RiskAnswer",
    "PatientDecision",
    "Cards",
    "Card",
    "Discovery",
    "KeySetView",
)
UNDESCRIBED_FIELDS_AT_MOST = 0


async def test_schema_fields_have_descriptions(document):
    schemas = document["components"]["schemas"]
    missing = [
        f"{name}.{field}"
        for name, schema in schemas.items()
        for field, spec in (schema.get("properties") or {}).items()
        if not spec.get("description")
    ]

    assert [m for m in missing if m.split(".")[0] in DESCRIBED] == []
    assert all(name in schemas for name in DESCRIBED)
    assert len(missing) <= UNDESCRIBED_FIELDS_AT_MOST, "describe a new field where it is declared"


async def test_lists_answer_in_one_envelope(document):
    for path in (
        "/api/v1/datasets",
        "/api/v1/users",
        "/api/v1/patients",
        "/api/v1/patients/jobs",
        "/api/v1/generation/profiles",
        "/api/v1/generation/fitted-profiles",
        "/api/v1/training/runs",
        "/api/v1/models",
        "/api/v1/models/{name}/versions",
        "/api/v1/models/{name}/versions/{version}/gates",
        "/api/v1/collection/sources",
    ):
        schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        name = schema["$ref"].rsplit("/", 1)[-1]
        assert {"items", "next_cursor"} <= set(document["components"]["schemas"][name]["properties"]), path
    bare = [
        path
        for path, item in document["paths"].items()
        if (item.get("get") or {})
        .get("responses", {})
        .get("200", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
        .get("type")
        == "array"
    ]
    # the one bare array is the test plugin's own (tests/support/demo_plugin.py)
    assert bare == ["/api/v1/demo/notes"], "a list answers {items, next_cursor}"


async def test_the_datasets_list_is_a_page(client, clinician):
    researcher = await bearer(client, client.app, "res.pages", ["researcher"])
    response = await client.get("/api/v1/datasets", params={"limit": 5}, headers=researcher)
    bad_cursor = await client.get("/api/v1/datasets", params={"cursor": "x"}, headers=researcher)

    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}
    assert bad_cursor.status_code == 422


class Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(found["src"] or "")
        if tag == "link" and found.get("href"):
            self.urls.append(found["href"] or "")


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
async def test_the_docs_page_loads_only_its_own_assets(client, page):
    response = await client.get(page)
    assets = Assets()
    assets.feed(response.text)
    loaded = {url: await client.get(url) for url in assets.urls}

    assert response.status_code == 200
    assert "http" not in response.text  # no absolute URL at all: nothing from a CDN
    assert {urlsplit(url).netloc for url in assets.urls} == {""}
    assert {url.rsplit("/", 1)[-1] for url in assets.urls} == {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-init.js",
    }
    assert {url: r.status_code for url, r in loaded.items()} == dict.fromkeys(assets.urls, 200)
    assert all(r.headers["content-type"].startswith(("text/javascript", "text/css")) for r in loaded.values())
    assert "SwaggerUIBundle" in loaded["/schema/assets/swagger-ui-bundle.js"].text
    csp = response.headers["content-security-policy"]
    assert "cdn." not in csp
    assert "https:" not in csp


async def test_a_docs_asset_outside_the_vendored_files_is_not_served(client):
    assert (await client.get("/schema/assets/README.md")).status_code == 404
    assert (await client.get("/schema/assets/..%2F..%2Fapp.py")).status_code in (400, 404)


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "dr.contract", ["clinician"])


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/patients", {"colour": "red"}),
        ("/api/v1/patients", {"sex": "female", "histolgy": "adenocarcinoma"}),
        ("/api/v1/patients/cohort/counts", {"by": "sex", "colour": "red"}),
        ("/api/v1/patients/jobs", {"colour": "red"}),
        ("/health", {"colour": "red"}),
    ],
)
async def test_an_unknown_query_parameter_is_a_422_naming_it(client, clinician, path, params):
    response = await client.get(path, params=params, headers=clinician)
    unknown = [k for k in params if k in ("colour", "histolgy")]

    assert response.status_code == 422, response.text
    body = response.json()
    assert all(name in body["detail"] for name in unknown)
    assert [e["field"] for e in body["errors"]] == unknown


async def test_known_query_parameters_still_work(client, clinician):
    listed = await client.get("/api/v1/patients", params={"sex": "female", "limit": 5}, headers=clinician)
    counted = await client.get(
        "/api/v1/patients/cohort/counts", params={"by": "sex", "sex": "male"}, headers=clinician
    )

    assert listed.status_code == 200, listed.text
    assert counted.status_code == 200, counted.text


async def test_an_unknown_query_parameter_on_a_protected_route_without_a_token_is_still_a_401(client):
    client.headers.pop("Authorization", None)
    response = await client.get("/api/v1/patients", params={"colour": "red"})

    assert response.status_code == 401


@pytest.mark.parametrize("params", [{"limit": "many"}, {"limit": 0}])
async def test_a_parameter_that_fails_validation_is_a_422(client, clinician, params):
    response = await client.get("/api/v1/patients", params=params, headers=clinician)

    assert response.status_code == 422, response.text
    assert response.json()["status_code"] == 422
    assert "limit" in response.json()["detail"]


async def test_the_cohort_reads_document_the_json_they_answer(document):
    schemas = document["components"]["schemas"]
    for path, fields in (
        ("/api/v1/patients/cohort/counts", {"items"}),
        ("/api/v1/patients/cohort/age", {"bins", "summary"}),
        ("/api/v1/patients/cohort/survival", {"km", "median", "at_risk", "log_rank", "hazard_ratios"}),
        ("/api/v1/patients/cohort/compare", {"a", "b", "overlap", "compared", "log_rank", "hazard_ratio"}),
    ):
        answer = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        named = schemas[answer["$ref"].rsplit("/", 1)[-1]]
        assert fields <= set(named["properties"]), path
        assert all(spec.get("description") for spec in named["properties"].values()), path


# JSON answers documented without naming their fields, each with its reason
FREE_FORM_ANSWERS = {
    ("post", "/cds-services/{service_id}/feedback", "200"): "CDS Hooks answers feedback with an empty object",
}


def _is_json(media_type: str) -> bool:
    kind = media_type.split(";")[0].strip()
    return kind == "application/json" or kind.endswith("+json")


def _names_no_field(schema: dict, schemas: dict) -> bool:
    """Whether a schema leaves a JSON answer undescribed: no schema, a bare or free-form
    object, or a list of those."""
    if "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    if alternatives:
        return any(_names_no_field(s, schemas) for s in alternatives if s.get("type") != "null")
    if schema.get("type") == "array":
        return _names_no_field(schema.get("items") or {}, schemas)
    if schema.get("type") in ("string", "integer", "number", "boolean"):
        return False
    return not schema.get("properties")


async def test_every_json_answer_has_a_schema_naming_its_fields(document):
    schemas = document["components"]["schemas"]
    blank = {
        (method, path, status)
        for method, path, op in _operations(document)
        for status, answer in op["responses"].items()
        if status.startswith("2")
        for media_type, body in (answer.get("content") or {}).items()
        if _is_json(media_type) and _names_no_field(body.get("schema") or {}, schemas)
    }

    assert blank == set(FREE_FORM_ANSWERS)


@pytest.mark.parametrize(
    ("method", "path", "media_types"),
    [
        (
            "get",
            "/api/v1/datasets/{dataset_id}/files/{name}",
            {"application/vnd.apache.parquet", "text/csv", "application/fhir+ndjson"},
        ),
        ("get", "/api/v1/datasets/{dataset_id}/survival.svg", {"image/svg+xml"}),
        ("get", "/api/v1/training/runs/{run_id}/curve.svg", {"image/svg+xml"}),
        ("get", "/api/v1/models/{name}/versions/{version}/card.md", {"text/markdown; charset=utf-8"}),
        ("get", "/api/v1/models/{name}/versions/{version}/calibration.svg", {"image/svg+xml"}),
        ("get", "/api/v1/collection/jobs/{job_id}/rejects", {"text/csv"}),
        ("get", "/api/v1/patients/export.ndjson", {"application/fhir+ndjson"}),
        ("get", "/api/v1/patients/cohort/survival", {"application/json", "image/svg+xml"}),
        ("get", "/api/v1/patients/{patient_id}/fhir", {"application/fhir+json"}),
    ],
)
async def test_files_and_pictures_are_documented_in_their_own_media_types(
    document, method, path, media_types
):
    content = document["paths"][path][method]["responses"]["200"]["content"]

    assert set(content) == media_types
    assert all(body["schema"].get("description") or "$ref" in body["schema"] for body in content.values())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/fhir/Patient/$export"),
        ("get", "/fhir/Group/{group_id}/$export"),
        ("delete", "/fhir/$export-status/{job_id}"),
    ],
)
async def test_an_accepted_bulk_export_is_documented_without_a_body(document, method, path):
    assert "content" not in document["paths"][path][method]["responses"]["202"]
