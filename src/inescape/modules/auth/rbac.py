"""Roles and permissions: one table, in code (the README shows the same table).

Every route declares ``opt={"permission": ...}``; the gateway's guard checks it for every
request. A route that declares nothing is refused (fail closed), and the RBAC matrix test
fails for it. Permissions are plain strings so that ``infra`` (the job routes) can name them
without importing this module.
"""

from __future__ import annotations

from collections.abc import Iterable

from inescape.modules.auth.api import ROLES

PUBLIC = "public"  # no token needed: health, metrics, docs, login, JWKS
AUTHENTICATED = "authenticated"  # any valid token: /auth/me, logout
# A route whose opt marks it so (the password change, logout, /auth/me) answers an account
# whose password is one-time; the guard refuses that account every other route with 403.
WHILE_ONE_TIME = "while_one_time_password"

USERS_MANAGE = "users.manage"
PATIENTS_READ = "patients.read"  # researchers get de-identified records only
PATIENTS_WRITE = "patients.write"
PATIENTS_EXPORT = "patients.export"  # identified FHIR bundles and NDJSON (not for researchers)
AUDIT_READ = "audit.read"
CDS_USE = "cds.use"  # staging, recommendations and risk on facts sent in the request
CDS_PATIENTS = "cds.patients.read"  # decision support on a stored patient's record
CDS_HOOKS = "cds.hooks"  # CDS Hooks calls and feedback from an EHR
DATASETS_READ = "datasets.read"  # dataset metadata, fidelity reports and files (synthetic, de-identified)
DATASETS_RELEASE = "datasets.release"  # release a dataset derived from real patients; set privacy budgets
MODELS_READ = "models.read"  # the model registry: versions, model cards, their pictures
MODELS_PROMOTE = "models.promote"  # make a version the production model (through its gates)


def jobs_read(module: str) -> str:
    return f"{module}.jobs.read"


def jobs_manage(module: str) -> str:
    return f"{module}.jobs.manage"


JOB_MODULES = ("auth", "patients", "generation", "collection", "training", "cds")


def _jobs(modules: Iterable[str], *, manage: bool) -> set[str]:
    perms = {jobs_read(m) for m in modules}
    if manage:
        perms |= {jobs_manage(m) for m in modules}
    return perms


ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {USERS_MANAGE, AUDIT_READ, MODELS_READ, MODELS_PROMOTE} | _jobs(JOB_MODULES, manage=True)
    ),
    "clinician": frozenset(
        {PATIENTS_READ, PATIENTS_WRITE, PATIENTS_EXPORT, CDS_USE, CDS_PATIENTS, CDS_HOOKS, MODELS_READ}
        | _jobs(("patients", "cds"), manage=False)
    ),
    "researcher": frozenset(
        {PATIENTS_READ, CDS_USE, DATASETS_READ, MODELS_READ}
        | _jobs(("generation", "training", "cds"), manage=True)
    ),
    "data_steward": frozenset(
        {
            PATIENTS_READ,
            PATIENTS_WRITE,
            PATIENTS_EXPORT,
            DATASETS_READ,
            DATASETS_RELEASE,
            MODELS_READ,
            MODELS_PROMOTE,
        }
        | _jobs(("patients", "collection", "generation"), manage=True)
        | _jobs(("training",), manage=False)
    ),
    "auditor": frozenset({AUDIT_READ} | _jobs(JOB_MODULES, manage=False)),
}


def allowed(roles: Iterable[str], permission: str) -> bool:
    roles = list(roles)
    if permission in (PUBLIC, AUTHENTICATED):
        return True
    if "admin" in roles and permission.endswith((".jobs.read", ".jobs.manage")):
        return True  # admins operate the jobs of every module, plugins included
    return any(permission in ROLE_PERMISSIONS.get(role, frozenset()) for role in roles)


def permissions_of(roles: Iterable[str]) -> list[str]:
    found: set[str] = set()
    for role in roles:
        found |= ROLE_PERMISSIONS.get(role, frozenset())
    return sorted(found)


def matrix_markdown() -> str:
    """The table for the README: permission by role."""
    perms = sorted({p for ps in ROLE_PERMISSIONS.values() for p in ps})
    lines = ["| permission | " + " | ".join(ROLES) + " |", "|---" * (len(ROLES) + 1) + "|"]
    for perm in perms:
        marks = ["✓" if perm in ROLE_PERMISSIONS[r] else "" for r in ROLES]
        lines.append(f"| `{perm}` | " + " | ".join(marks) + " |")
    return "\n".join(lines)
