"""``inescape demo``: a working platform to try, on whatever backends the settings name (the
embedded defaults on a bare machine).

In order, each step skipped when it is already done (``demo.json`` in the data folder records
what a run made, so a second run adds nothing):

1. one account per role, each with a random one-time password printed once (it must be
   changed at the first login: until then the account may only change it);
2. a generated cohort loaded into the clinical database (``iran-golestan``), with a progress bar;
3. a linear Cox model trained on that database (de-identified) and promoted for overall
   survival, so decision support answers with it (fitting needs the ``ml`` extra);
4. a sample CSV upload (shipped with the package, with a few deliberately bad rows) collected,
   its good rows loaded and its bad ones kept as rejects;
5. the guide (which URL, which account sees what), then the server, unless ``--no-serve``.

It runs through the modules' own services and jobs, as the HTTP routes do.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any

import click

from inescape.cli.common import cli_settings, one_line_errors
from inescape.settings import Settings

if TYPE_CHECKING:
    from inescape.kernel.jobs import JobView
    from inescape.runtime.process import Runtime

PROFILE = "iran-golestan"
MODEL_NAME = "demo-survival"
UPLOAD_SOURCE = "demo-hospital"
STATE_FILE = "demo.json"
# what each role's account is for, as the guide says it
ROLE_GUIDE = {
    "admin": "accounts, the audit log, the model registry (promotion) and every module's jobs; "
    "no patient records",
    "clinician": "identified patient records (read, write), decision support for a stored patient "
    "(stage, guideline options, risk), cohort analytics and Kaplan-Meier curves",
    "researcher": "de-identified records only (research ids, no names or MRNs), cohort analytics, "
    "synthetic cohorts, training runs, the model registry, decision support on entered facts",
    "data_steward": "identified patient records, collection (uploads, jobs, rejects), synthetic "
    "cohorts, the model registry and promotion",
    "auditor": "the audit log and every job (read only)",
}
UPLOAD_MAPPING = {
    "source_record_id": "PatientID",
    "mrn": "MRN",
    "given_name": "FirstName",
    "family_name": "LastName",
    "birth_date": "DOB",
    "sex": "Sex",
    "histology": "Histology",
    "condition.morphology_code": "Morphology",
    "condition.topography_code": "Site",
    "location": "Location",
    "grade": "Grade",
    "diagnosis_date": "DxDate",
    "vital_status": "Vital",
    "outcome.last_follow_up": "LastSeen",
}
FINISHED = ("succeeded", "failed", "cancelled")


def username_of(role: str) -> str:
    return f"demo.{role.replace('_', '-')}"


def sample_upload() -> bytes:
    """The CSV shipped with the package: good rows and a few bad ones (an impossible date, a
    morphology code that contradicts the histology, an unknown sex)."""
    return resources.files("inescape.cli").joinpath("demo_upload.csv").read_bytes()


@click.command()
@click.option(
    "--patients", type=click.IntRange(100, 100_000), default=3000, show_default=True, help="Cohort size."
)
@click.option("--seed", type=int, default=7, show_default=True, help="The cohort's and the model's seed.")
@click.option("--host", default=None, help="Interface to serve on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to serve on (default 8000).")
@click.option("--serve/--no-serve", "serve_after", default=True, help="Start the server when ready.")
@click.pass_context
@one_line_errors
def demo(
    ctx: click.Context, patients: int, seed: int, host: str | None, port: int | None, serve_after: bool
) -> None:
    """A platform to try: accounts for each role, a generated cohort, a production survival
    model, a collected upload with its rejects, and what to try. Running it again adds nothing."""
    from inescape.kernel.errors import DomainError

    settings = cli_settings()
    started = time.monotonic()
    try:
        state = asyncio.run(_prepare(settings, patients=patients, seed=seed))
    except DomainError as exc:
        click.echo(f"inescape: {exc.detail}", err=True)
        sys.exit(1)
    url = f"http://{host or settings.server.host or '127.0.0.1'}:{port or settings.server.port or 8000}"
    for line in guide(state, url=url):
        click.echo(line)
    click.echo(f"\nready in {time.monotonic() - started:.0f} s")
    if serve_after:
        from inescape.cli.serve import serve

        ctx.invoke(serve, module=None, host=host, port=port, ssl_certfile=None, ssl_keyfile=None)
    else:
        click.echo(
            f"start it with: inescape serve{f' --host {host}' if host else ''}"
            f"{f' --port {port}' if port else ''}"
        )


# --- the steps -----------------------------------------------------------------------------


async def _prepare(settings: Settings, *, patients: int, seed: int) -> dict[str, Any]:
    from inescape.runtime.process import Runtime

    path = settings.data_path / STATE_FILE
    state: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    def save() -> None:
        path.write_text(json.dumps(state, indent=2))

    runtime = Runtime(settings)
    await runtime.start(worker=True)  # the jobs (training, collection) run in this process
    try:
        state["accounts"] = await _accounts(runtime)
        save()
        if not state.get("dataset_id"):
            state["dataset_id"], state["patients"] = await _cohort(runtime, patients, seed)
            save()
        else:
            click.echo(
                f"cohort: already loaded ({state['patients']:,} patients, dataset {state['dataset_id']})"
            )
        if not state.get("model"):
            state["model"] = await _model(runtime, seed)
            save()
        else:
            model = state["model"]
            where = f"in production for {model['purpose']}" if model["purpose"] else "a candidate"
            click.echo(f"model: {model['name']} v{model['version']} already trained, {where}")
        if not state.get("upload"):
            state["upload"] = await _upload(runtime)
            save()
        else:
            click.echo(f"upload: already collected (job {state['upload']['job_id']})")
    finally:
        await runtime.stop()
    return state


async def _accounts(runtime: Runtime) -> dict[str, Any]:
    """One account per role; a new one's password is one-time (it must be changed at the first
    login) and kept only to be printed this once."""
    from inescape.kernel.errors import Conflict
    from inescape.modules.auth.api import ROLES, GatewayApi

    gateway = runtime.facade(GatewayApi)
    accounts: dict[str, Any] = {}
    for role in ROLES:
        username = username_of(role)
        password = secrets.token_urlsafe(15)
        try:
            await gateway.create_user(
                username=username,
                display_name=f"Demo {role.replace('_', ' ')}",
                roles=[role],
                password=password,
                by="demo",
                one_time=True,
            )
        except Conflict:
            accounts[role] = {"username": username, "created": False}
            continue
        accounts[role] = {"username": username, "created": True}
        _PASSWORDS[username] = password
    return accounts


_PASSWORDS: dict[str, str] = {}  # this run's new passwords: printed once, never written down


async def _cohort(runtime: Runtime, patients: int, seed: int) -> tuple[str, int]:
    from inescape.modules.generation.api import GenerationApi

    with click.progressbar(
        length=patients, label=f"cohort: generating {patients:,} patients ({PROFILE})", show_pos=True
    ) as bar:
        loaded = await runtime.facade(GenerationApi).load_cohort(
            profile=PROFILE, n=patients, seed=seed, on_chunk=bar.update, by="demo"
        )
    click.echo(f"cohort: {loaded.loaded:,} patients in the clinical database (dataset {loaded.dataset_id})")
    return loaded.dataset_id, loaded.loaded


async def _model(runtime: Runtime, seed: int) -> dict[str, Any] | None:
    """Train the linear Cox on the database and promote it for overall survival (the gates are
    checked; training on synthetic data is allowed, with the reason, as a demo)."""
    from inescape.kernel.errors import Conflict
    from inescape.modules.training.availability import missing_ml, ml_missing_message
    from inescape.modules.training.schemas import DatasetRef, PromotionRequest, TrainingRequest

    missing = missing_ml()
    if missing is not None:
        click.echo(f"model: skipped; {ml_missing_message(missing)}")
        return None
    training: Mapping[str, Any] = runtime.bound["training"].dependencies
    request = TrainingRequest(
        name=MODEL_NAME,
        model="cox",
        dataset=DatasetRef(source="database"),
        features="clinical",
        seed=seed,
        bootstrap=20,
        purpose="overall-survival",
        description="The demo's linear Cox on its generated cohort (synthetic: not for clinical use).",
    )
    job = await training["runs"].submit(request=request, owner="demo")
    done = await _wait(runtime, job, label="model: training a linear Cox")
    if done.status != "succeeded":
        click.echo(f"model: training {done.status}: {done.error}")
        return None
    version = int((done.result or {})["version"])
    try:
        card = await training["models"].promote(
            name=MODEL_NAME,
            version=version,
            body=PromotionRequest(
                allow_synthetic=True, reason="demo: a generated cohort to try the platform"
            ),
            by="demo",
        )
    except Conflict as exc:  # a gate failed (a small cohort): say which, keep the candidate
        click.echo(f"model: {MODEL_NAME} v{version} trained but not promoted: {exc.detail}")
        return {"name": MODEL_NAME, "version": version, "purpose": None}
    c_index = card.metrics.get("c_index")
    click.echo(
        f"model: {MODEL_NAME} v{version} in production for {card.purpose}"
        + (f" (held-out C-index {c_index:.3f})" if c_index is not None else "")
    )
    return {"name": MODEL_NAME, "version": version, "purpose": card.purpose}


async def _upload(runtime: Runtime) -> dict[str, Any]:
    from inescape.modules.collection.schemas import CollectionRequest

    collection: Any = runtime.bound["collection"].dependencies["collection"]

    async def body() -> AsyncIterator[bytes]:
        yield sample_upload()

    received = await collection.receive_upload(
        body=body(), content_type="text/csv", filename="demo-upload.csv", owner="demo"
    )
    request = CollectionRequest(
        connector="upload",
        source=UPLOAD_SOURCE,
        config={"upload_id": received.id, "format": "csv", "mapping": UPLOAD_MAPPING},
    )
    job = await collection.submit(request=request, owner="demo", uploads_of=None)
    done = await _wait(runtime, job, label="upload: collecting demo-upload.csv")
    counts = done.counts
    click.echo(
        f"upload: {done.status}: {counts.get('read', 0)} rows read, {counts.get('accepted', 0)} loaded, "
        f"{counts.get('rejected', 0)} rejected (job {done.id})"
    )
    return {"job_id": done.id, "counts": dict(counts), "status": done.status}


async def _wait(runtime: Runtime, job: JobView, *, label: str, timeout_s: float = 600) -> JobView:
    deadline = time.monotonic() + timeout_s
    with click.progressbar(length=100, label=label) as bar:
        shown = 0
        while True:
            current = await runtime.services.jobs.get(job.id)
            step = int(current.progress * 100) - shown
            if step > 0:
                bar.update(step)
                shown += step
            if current.status in FINISHED or time.monotonic() > deadline:
                bar.update(100 - shown)
                return current
            await asyncio.sleep(0.5)


# --- what to try ---------------------------------------------------------------------------


def guide(
    state: dict[str, Any], *, url: str, passwords: Callable[[str], str | None] | None = None
) -> list[str]:
    """The lines that say what there is and what to try."""
    password_of = passwords or _PASSWORDS.get
    lines = ["", "INEsCape demo", "", f"Open {url}/ and log in with one of these accounts:", ""]
    for role, account in state.get("accounts", {}).items():
        username = account["username"]
        password = password_of(username)
        secret = (
            f"password {password}  (shown only now; one-time)"
            if password
            else "exists already (its password was shown when it was made)"
        )
        lines.append(f"  {username:<20} {role:<13} {secret}")
        lines.append(f"  {'':<20} sees: {ROLE_GUIDE.get(role, '')}")
    lines += [
        "",
        "Passwords are random, printed once and one-time: at the first login each account is asked",
        "for a new password (until then it can do nothing else). Make more accounts with",
        "`inescape create-user`.",
        "",
        "Try:",
        f"  - as demo.clinician: Patients (the list), open one, then Decision support: stage, "
        f"guideline options and 1/3/5-year risk from the production model; Analytics: a "
        f"Kaplan-Meier curve by histology ({url}/api/v1/patients/cohort/survival?group=histology)",
        f"  - as demo.researcher: the same list de-identified: research ids, no names "
        f"({url}/api/v1/patients)",
        "  - as demo.data-steward: Collection: the demo upload's job and its rejected rows "
        "(the reason for each); Models: the production version and its gates",
        "  - as demo.auditor: the audit log of all of the above",
        f"  - the API: {url}/schema",
    ]
    model = state.get("model")
    if model and model["purpose"]:
        lines.append(f"Model in production for {model['purpose']}: {model['name']} v{model['version']}.")
    elif model:
        lines.append(
            f"{model['name']} v{model['version']} did not pass its promotion gates (a larger cohort "
            "helps: --patients); the registry shows why, and a data steward may promote another."
        )
    else:
        lines.append("No model in production: install the ml extra and run `inescape demo` again.")
    return lines


__all__ = ["demo", "guide", "sample_upload", "username_of"]
