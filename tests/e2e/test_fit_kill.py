"""Kill the process running a fit once it has spent its ε: the job is re-queued, fits again,
spends nothing more, and stores exactly one profile."""

from __future__ import annotations

import httpx

from tests.support.served_jobs import admin, kill_mid_job, wait_finished

SOURCE = "inescape-generator/global@1.0"  # the platform's own cohort, treated as real


def test_a_fit_killed_after_spending_its_epsilon_reruns_spends_once_and_stores_one_profile(
    served_env, tmp_path, backend
):
    def submit(base: str) -> str:
        headers = admin(base)
        loaded = httpx.post(
            f"{base}/api/v1/generation/jobs",
            headers=headers,
            timeout=10,
            json={"profile": "global", "n": 3000, "seed": 5, "outputs": ["database"]},
        ).json()
        assert wait_finished(base, "generation", loaded["id"])["status"] == "succeeded"
        fit = httpx.post(
            f"{base}/api/v1/generation/profiles/fit",
            headers=headers,
            timeout=10,
            json={"name": "kill-twin", "source": SOURCE, "epsilon": 0.7},
        )
        assert fit.status_code == 202, fit.text
        return str(fit.json()["id"])

    def ledger(base: str) -> tuple[dict, list[dict]]:
        headers = admin(base)
        budget = httpx.get(
            f"{base}/api/v1/generation/privacy-budget", params={"source": SOURCE}, headers=headers, timeout=10
        ).json()
        fitted = httpx.get(f"{base}/api/v1/generation/fitted-profiles", headers=headers, timeout=10).json()[
            "items"
        ]
        return budget, fitted

    # progress 0.1: the ε is spent and the patients are being read; the profile is not stored
    midway, done, answer = kill_mid_job(
        served_env,
        tmp_path,
        backend,
        "generation",
        submit,
        lambda job: job["status"] == "running" and job["progress"] >= 0.1,
        poll=0.02,
        before_stop=ledger,
    )

    assert 0.1 <= midway["progress"] < 1
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    budget, fitted = answer  # type: ignore[misc]
    assert budget["spent"] == 0.7
    assert [(f["profile"], f["epsilon"]) for f in budget["fits"]] == [("kill-twin", 0.7)]
    assert [p["name"] for p in fitted] == ["kill-twin"]
    assert done["result"]["name"] == "kill-twin"
