"""``inescape demo`` from a bare data folder, as a new user runs it: each role's account with a
one-time password printed once, a cohort, a production model, a collected upload with its
rejects; run twice, it adds nothing. Then the served platform: each account must change its
printed password before anything else; a clinician lists patients, gets a risk answer from the
production model and a Kaplan-Meier curve; a researcher sees de-identified data only."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.processes import Served, run_cli

ACCOUNT = re.compile(
    r"^\s+(demo\.[a-z-]+)\s+([a-z_]+)\s+password (\S+)\s+\(shown only now; one-time\)$", re.M
)
PATIENTS = 2000
NEW_PASSWORD = "the demo user's own passphrase 5"
CHANGED: set[str] = set()  # the accounts whose printed password a test here has changed


def token(url: str, username: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/auth/token", json={"username": username, "password": password}, timeout=10
    )


def change_password(url: str, tokens: dict, current: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/auth/password",
        json={"current_password": current, "new_password": NEW_PASSWORD},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )


def login(url: str, username: str, printed: str) -> dict[str, str]:
    """Headers of a session of ``username``: its printed one-time password is changed at the
    first login, as the dashboard does."""
    response = token(url, username, NEW_PASSWORD if username in CHANGED else printed)
    assert response.status_code == 200, response.text
    tokens = response.json()
    if tokens["password_change_required"]:
        changed = change_password(url, tokens, printed)
        assert changed.status_code == 200, changed.text
        CHANGED.add(username)
        tokens = changed.json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    data = tmp_path_factory.mktemp("demo")
    env = {"INESCAPE_DATA_DIR": str(data / "data"), "INESCAPE_LOG_LEVEL": "WARNING"}
    args = ("demo", "--no-serve", "--patients", str(PATIENTS), "--seed", "3")
    first = run_cli(*args, env=env, timeout=540)
    again = run_cli(*args, env=env, timeout=240)
    server = Served("serve", env=env, log=data / "serve.log").start()
    try:
        yield first, again, server.url
    finally:
        server.stop()


def test_the_demo_makes_each_role_an_account_with_a_password_printed_once(demo_site):
    first, _, _ = demo_site

    assert first.returncode == 0, first.stdout + first.stderr
    accounts = {role: (user, pw) for user, role, pw in ACCOUNT.findall(first.stdout)}
    assert set(accounts) == {"admin", "clinician", "researcher", "data_steward", "auditor"}
    assert len({pw for _, pw in accounts.values()}) == 5  # random, one each
    assert "one-time: at the first login each account is asked" in first.stdout
    assert f"{PATIENTS:,} patients in the clinical database" in first.stdout
    assert "demo-survival v1 in production for overall-survival" in first.stdout
    assert "8 rows read, 5 loaded, 3 rejected" in first.stdout
    assert "Traceback" not in first.stderr


def test_a_second_run_adds_nothing_and_prints_no_password(demo_site):
    first, again, url = demo_site
    passwords = {role: pw for _, role, pw in ACCOUNT.findall(first.stdout)}
    admin = login(url, "demo.admin", passwords["admin"])
    clinician = login(url, "demo.clinician", passwords["clinician"])

    assert again.returncode == 0, again.stdout + again.stderr
    assert ACCOUNT.findall(again.stdout) == []
    assert "exists already" in again.stdout
    assert "cohort: already loaded" in again.stdout
    assert "already trained, in production for overall-survival" in again.stdout
    assert "upload: already collected" in again.stdout
    models = httpx.get(f"{url}/api/v1/models", headers=admin, timeout=10).json()["items"]
    assert [(m["name"], m["versions"], m["production"]) for m in models] == [("demo-survival", 1, 1)]
    counts = httpx.get(
        f"{url}/api/v1/patients/cohort/counts", params={"by": "origin"}, headers=clinician, timeout=30
    )
    assert counts.status_code == 200, counts.text
    # the cohort once, the upload's good rows once
    assert {i["origin"]: i["n"] for i in counts.json()["items"]} == {"synthetic": PATIENTS, "real": 5}


def test_a_printed_password_allows_only_its_change_then_the_account_works(demo_site):
    first, _, url = demo_site
    printed = {role: pw for _, role, pw in ACCOUNT.findall(first.stdout)}
    assert "demo.data-steward" not in CHANGED

    tokens = token(url, "demo.data-steward", printed["data_steward"]).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    before = httpx.get(f"{url}/api/v1/patients", headers=headers, timeout=30)
    me = httpx.get(f"{url}/api/v1/auth/me", headers=headers, timeout=10)
    changed = change_password(url, tokens, printed["data_steward"])
    CHANGED.add("demo.data-steward")
    after = httpx.get(
        f"{url}/api/v1/patients",
        headers={"Authorization": f"Bearer {changed.json()['access_token']}"},
        timeout=30,
    )

    assert tokens["password_change_required"] is True
    assert before.status_code == 403
    assert "Change your password first" in before.json()["detail"]
    assert me.json()["must_change_password"] is True
    assert changed.status_code == 200, changed.text
    assert after.status_code == 200, after.text
    assert token(url, "demo.data-steward", printed["data_steward"]).status_code == 401
    assert token(url, "demo.data-steward", NEW_PASSWORD).json()["password_change_required"] is False


def test_a_clinician_lists_patients_gets_risk_from_the_production_model_and_a_km_curve(demo_site):
    first, _, url = demo_site
    passwords = {role: pw for _, role, pw in ACCOUNT.findall(first.stdout)}
    clinician = login(url, "demo.clinician", passwords["clinician"])

    listing = httpx.get(f"{url}/api/v1/patients", params={"limit": 50}, headers=clinician, timeout=30)
    assert listing.status_code == 200, listing.text
    items = listing.json()["items"]
    assert len(items) == 50
    answers = {}
    for item in items:
        decision = httpx.get(f"{url}/api/v1/patients/{item['id']}/cds", headers=clinician, timeout=30)
        assert decision.status_code == 200, decision.text
        answers[item["id"]] = (item["vital_status"], decision.json()["risk"])
    living = [risk for status, risk in answers.values() if status != "dead"]
    dead = [risk for status, risk in answers.values() if status == "dead"]
    answered = [risk for risk in living if risk["available"]]
    assert answered, living[:3]
    assert {(r["model"], r["version"], r["purpose"]) for r in answered} == {
        ("demo-survival", 1, "overall-survival")
    }
    for risk in answered:
        assert all(h["lower"] < h["survival"] < h["upper"] for h in risk["horizons"] if h["survival"])
    assert all(not r["available"] and "died" in r["message"] for r in dead)
    assert not any("No survival model" in r["message"] for r in living)
    curve = httpx.get(
        f"{url}/api/v1/patients/cohort/survival",
        params={"group": "histology"},
        headers=clinician,
        timeout=30,
    )
    assert curve.status_code == 200, curve.text
    km = curve.json()
    assert len({row["histology"] for row in km["km"]}) >= 2
    assert 0 <= km["log_rank"]["p_value"] <= 1


def test_a_researcher_sees_only_de_identified_data(demo_site):
    first, _, url = demo_site
    passwords = {role: pw for _, role, pw in ACCOUNT.findall(first.stdout)}
    researcher = login(url, "demo.researcher", passwords["researcher"])
    clinician = login(url, "demo.clinician", passwords["clinician"])
    uploaded = httpx.get(
        f"{url}/api/v1/patients", params={"source": "demo-hospital"}, headers=clinician, timeout=30
    ).json()["items"]

    listing = httpx.get(f"{url}/api/v1/patients", params={"limit": 500}, headers=researcher, timeout=30)
    record = httpx.get(f"{url}/api/v1/patients/{uploaded[0]['id']}", headers=researcher, timeout=30)
    research_id = listing.json()["items"][0]["research_id"]
    detail = httpx.get(f"{url}/api/v1/patients/{research_id}", headers=researcher, timeout=30)

    assert listing.status_code == 200, listing.text
    assert len(uploaded) == 5
    text = listing.text + detail.text
    for identifier in ("MRN-7000", "Rahimi", "Mohammadi", "Amir", *(p["id"] for p in uploaded)):
        assert identifier not in text
    assert record.status_code in (403, 404)
    assert detail.status_code == 200
    assert detail.json()["research_id"] == research_id
