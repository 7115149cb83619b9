"""The deployment files say what a platform engineer relies on: the chart renders one Deployment
per process in each mode, probes hit the health endpoints, pods run as the image's non-root user
on a read-only root filesystem, and migrations run before the pods of an install or upgrade.

The chart is rendered with the helm binary that ``.ci/run`` fetches into ``.ci/.tools/bin``;
without it these tests skip, unless ``INESCAPE_TEST_REAL=required`` (CI), where they fail."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "inescape"
SPLIT_PROCESSES = {"gateway": 8000, "generation": 8001, "collection": 8002, "training": 8003, "cds": 8004}


def _helm() -> str:
    local = ROOT / ".ci" / ".tools" / "bin" / "helm"
    found = str(local) if local.is_file() else shutil.which("helm")
    if found is None:
        if os.environ.get("INESCAPE_TEST_REAL", "").lower() == "required":
            pytest.fail("INESCAPE_TEST_REAL=required but helm is not in .ci/.tools/bin: run .ci/run")
        pytest.skip("helm not installed (.ci/run fetches it into .ci/.tools/bin)")
    return found


def _render(tmp_path: Path, *sets: str) -> list[dict[str, Any]]:
    env = {
        **os.environ,
        **{f"HELM_{kind}_HOME": str(tmp_path / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")},
    }
    args = [_helm(), "template", "rel", str(CHART)]
    for value in sets:
        args += ["--set", value]
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def _named(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"].removeprefix("rel-inescape-"): d for d in docs if d["kind"] == kind}


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


@pytest.fixture(params=["monolith", "split"])
def rendered(request: pytest.FixtureRequest, tmp_path: Path) -> list[dict[str, Any]]:
    return _render(tmp_path, f"mode={request.param}")


def test_split_mode_runs_the_gateway_each_module_and_the_worker_each_in_its_own_deployment(tmp_path):
    deployments = _named(_render(tmp_path, "mode=split"), "Deployment")

    assert set(deployments) == {*SPLIT_PROCESSES, "worker"}


def test_split_mode_serves_each_module_alone_on_its_own_port(tmp_path):
    docs = _render(tmp_path, "mode=split")
    deployments, services = _named(docs, "Deployment"), _named(docs, "Service")

    for name, port in SPLIT_PROCESSES.items():
        container = _pod(deployments[name])["containers"][0]
        expected_module = [] if name == "gateway" else ["--module", name]
        assert container["args"][:-4] == ["serve", *expected_module], name
        assert container["ports"][0]["containerPort"] == port
        assert services[name]["spec"]["ports"][0]["port"] == port


def test_the_split_gateway_forwards_each_module_to_its_service(tmp_path):
    gateway = _named(_render(tmp_path, "mode=split"), "Deployment")["gateway"]
    env = {e["name"]: e.get("value") for e in _pod(gateway)["containers"][0]["env"]}

    assert "INESCAPE_MODULES" not in env  # a module it does not load is not forwarded either
    upstreams = dict(pair.split("=", 1) for pair in env["INESCAPE_GATEWAY_UPSTREAMS"].split(","))
    modules = {name: port for name, port in SPLIT_PROCESSES.items() if name != "gateway"}
    assert upstreams == {name: f"http://rel-inescape-{name}:{port}" for name, port in modules.items()}


def test_monolith_mode_runs_one_app_deployment_and_the_worker(tmp_path):
    deployments = _named(_render(tmp_path, "mode=monolith"), "Deployment")

    assert set(deployments) == {"app", "worker"}
    assert _pod(deployments["app"])["containers"][0]["args"][0] == "serve"
    assert _pod(deployments["worker"])["containers"][0]["args"][0] == "worker"


def test_every_web_deployment_probes_liveness_on_health_and_readiness_on_health_detailed(rendered):
    web = {n: d for n, d in _named(rendered, "Deployment").items() if n != "worker"}

    assert web
    for name, deployment in web.items():
        container = _pod(deployment)["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/detailed", name
        assert container["livenessProbe"]["httpGet"]["port"] == "http"


def test_every_pod_runs_as_non_root_on_a_read_only_root_with_writable_tmp_and_data(rendered):
    workloads = [d for d in rendered if d["kind"] in ("Deployment", "Job", "CronJob")]

    assert len(workloads) >= 4
    for workload in workloads:
        pod = _pod(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
            assert {mounts["/tmp"], mounts["/var/lib/inescape"]} <= empty_dirs, workload["metadata"]["name"]


def test_the_pods_run_as_the_user_the_image_creates(rendered):
    image_uid = re.search(r"^ARG UID=(\d+)$", (ROOT / "docker" / "Dockerfile").read_text(), re.M)

    assert image_uid is not None
    for workload in (d for d in rendered if d["kind"] in ("Deployment", "Job", "CronJob")):
        assert _pod(workload)["securityContext"]["runAsUser"] == int(image_uid.group(1))


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(rendered):
    job = _named(rendered, "Job")["migrate"]

    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert _pod(job)["containers"][0]["args"] == ["migrate"]
    assert _pod(job)["restartPolicy"] == "Never"


def test_the_backup_cronjob_sends_backups_to_the_configured_s3_location(tmp_path):
    docs = _render(tmp_path, "backup.to=s3://hospital-backups/inescape")
    cronjob = _named(docs, "CronJob")["backup"]

    assert _pod(cronjob)["containers"][0]["args"] == ["backup", "--to", "s3://hospital-backups/inescape"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"


def test_the_ingress_terminates_tls_and_routes_to_the_front_process(rendered):
    ingress = next(d for d in rendered if d["kind"] == "Ingress")
    front = "gateway" if "gateway" in _named(rendered, "Deployment") else "app"

    assert ingress["spec"]["tls"][0]["secretName"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == f"rel-inescape-{front}"


def test_an_unknown_mode_is_refused_when_rendering(tmp_path):
    with pytest.raises(subprocess.CalledProcessError) as refused:
        _render(tmp_path, "mode=microservices")

    assert "mode" in refused.value.stderr


def test_forwarded_headers_are_trusted_only_from_the_configured_peers_never_every_peer(rendered):
    for workload in _named(rendered, "Deployment").values():
        env = {e["name"]: e.get("value") for e in _pod(workload)["containers"][0]["env"]}

        assert env["FORWARDED_ALLOW_IPS"] == "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"


def test_network_policies_let_only_the_ingress_reach_the_front_and_only_the_gateway_reach_a_module(
    tmp_path,
):
    docs = _render(tmp_path, "mode=split")
    policies = _named(docs, "NetworkPolicy")

    assert set(policies) == {"default-deny", "gateway", "modules", "worker-metrics"}
    deny = policies["default-deny"]["spec"]
    assert deny["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny
    front = policies["gateway"]["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in front
    module_peers = policies["modules"]["spec"]["ingress"][0]["from"]
    gateway = module_peers[0]["podSelector"]["matchLabels"]
    assert gateway["app.kubernetes.io/component"] == "gateway"
    selected = policies["modules"]["spec"]["podSelector"]["matchExpressions"][0]["values"]
    assert selected == ["generation", "collection", "training", "cds"]


def test_network_policies_can_be_turned_off_or_restrict_egress_too(tmp_path):
    off = _render(tmp_path, "networkPolicy.enabled=false")
    egress = _named(_render(tmp_path, "networkPolicy.restrictEgress=true"), "NetworkPolicy")

    assert not _named(off, "NetworkPolicy")
    assert egress["default-deny"]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    dns = egress["egress"]["spec"]["egress"][0]["ports"]
    assert {"port": 53, "protocol": "UDP"} in dns


def test_a_service_monitor_scrapes_every_process_only_when_asked(tmp_path):
    default = _render(tmp_path)
    docs = _render(
        tmp_path,
        "mode=split",
        "metrics.serviceMonitor.enabled=true",
        "metrics.serviceMonitor.labels.release=kps",
    )

    assert not [d for d in default if d["kind"] == "ServiceMonitor"]
    [monitor] = [d for d in docs if d["kind"] == "ServiceMonitor"]
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert [(e["port"], e["path"]) for e in monitor["spec"]["endpoints"]] == [
        ("http", "/metrics"),
        ("metrics", "/metrics"),
    ]
    selector = monitor["spec"]["selector"]["matchLabels"]
    services = [d for d in docs if d["kind"] == "Service"]
    assert services
    assert all(selector.items() <= s["metadata"]["labels"].items() for s in services)


def test_the_worker_serves_its_metrics_on_the_metrics_port(rendered):
    worker = _named(rendered, "Deployment")["worker"]
    container = _pod(worker)["containers"][0]

    assert container["args"][-2:] == ["--metrics-port", "9102"]
    assert container["ports"] == [{"name": "metrics", "containerPort": 9102, "protocol": "TCP"}]
    assert _named(rendered, "Service")["worker"]["spec"]["ports"][0]["targetPort"] == "metrics"


def test_the_chart_passes_strict_lint_and_schema_validation_in_both_modes(tmp_path):
    validate = ROOT / ".ci" / ".tools" / "venv" / "bin" / "kubernetes-validate"
    found = str(validate) if validate.is_file() else shutil.which("kubernetes-validate")
    if found is None:
        pytest.skip("kubernetes-validate not installed (.ci/run installs it)")
    env = {
        **os.environ,
        **{f"HELM_{kind}_HOME": str(tmp_path / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")},
    }
    for sets in (["mode=monolith"], ["mode=split"], ["mode=split", "networkPolicy.restrictEgress=true"]):
        flags = [arg for s in sets for arg in ("--set", s)]
        lint = subprocess.run(
            [_helm(), "lint", "--strict", "--quiet", str(CHART), *flags],
            capture_output=True,
            text=True,
            env=env,
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr
        rendered = subprocess.run(
            [_helm(), "template", "rel", str(CHART), *flags],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        checked = subprocess.run(
            [found, "--strict", "--quiet", "-"], input=rendered, capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
