"""Sessions: ``tests``, ``lint``, ``bench``. They run in the project's environment (the README's
install), so no session resolves packages again (and none can pull a CUDA torch)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import nox

BIN = Path(sys.executable).parent  # the environment nox itself runs in (the README's .venv)
os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite; each backend-aware test runs on the embedded defaults and, when the
    real servers are up (``.ci/run``), on them too. INESCAPE_TEST_REAL=required makes a
    missing server fail the run. Test files run in parallel, one process per core (at most 8:
    each has its own Redis database of the 16), each file's tests (and its shared,
    module-scoped topology) in one process; the 25 slowest tests are listed at the end."""
    session.run(
        sys.executable,
        "-m",
        "pytest",
        *(
            session.posargs
            or ["-q", "-n", "auto", "--maxprocesses", "8", "--dist", "loadfile", "--durations=25"]
        ),
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (check and format), mypy (strict on kernel and infra), import-linter contracts."""
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("mypy")
    session.run("lint-imports", "--no-cache")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: each prints ratios against a baseline measured in the same run."""
    session.run(sys.executable, "benchmarks/bench_http.py", *session.posargs)
    session.run(sys.executable, "benchmarks/bench_auth.py")
    session.run(sys.executable, "benchmarks/bench_patients.py", "--quick")
    session.run(sys.executable, "benchmarks/bench_parallel_load.py", "--n", "20000", "--repeats", "2")
    session.run(sys.executable, "benchmarks/bench_cohort.py")
    session.run(sys.executable, "benchmarks/bench_cds.py", "--quick")
    session.run(sys.executable, "benchmarks/bench_generation.py", "--quick")
    session.run(sys.executable, "benchmarks/bench_training.py", "--quick")
    session.run(sys.executable, "benchmarks/bench_collection.py", "--quick")
    session.run(str(twins_python(session)), "benchmarks/bench_twins.py", "--quick")


TWINS_EXTRAS = ("sdv==2.0.0", "lifelines==0.30.3")  # the synthetic-twins comparison only


def twins_python(session: nox.Session) -> Path:
    """The Python of ``.nox/bench-twins``: a venv that sees the project's environment (a .pth
    adds its site-packages) and adds SDV and lifelines, with ``constraints.txt`` holding torch,
    numpy and the rest at the installed versions (torch stays the CPU build; nothing of the
    project's environment changes). Without a registry it is the project's Python, and the
    benchmark says why the SDV rows are missing."""
    venv = Path(".nox/bench-twins")
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        purelib = Path(sysconfig.get_paths(vars={"base": str(venv)})["purelib"])
        project = sysconfig.get_paths()["purelib"]  # its own .pth files (the editable install) too
        (purelib / "project.pth").write_text(f"import site; site.addsitedir({project!r})\n")
    install = [str(python), "-m", "pip", "install", "-q", "-c", "constraints.txt", *TWINS_EXTRAS]
    if subprocess.run(install, check=False).returncode != 0:
        session.warn("SDV could not be installed for bench_twins.py; its SDV rows will say why")
        return Path(sys.executable)
    return python


@nox.session
def gpu(session: nox.Session) -> None:
    """Lightning on a GPU: the same fits on the GPU and the CPU (needs a CUDA machine)."""
    session.run(sys.executable, "benchmarks/gpu_check.py", *session.posargs)
