"""Sessions: ``tests``, ``lint``, ``bench``. They run in the project's environment (the README's
install), so no session resolves packages again (and none can pull a CUDA torch)."""

from __future__ import annotations

import os
import sys
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
    missing server fail the run. Test files run in parallel, one process per core, each
    file's tests (and its shared, module-scoped topology) in one process."""
    session.run(
        sys.executable,
        "-m",
        "pytest",
        *(session.posargs or ["-q", "-n", "auto", "--maxprocesses", "8", "--dist", "loadfile"]),
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


@nox.session
def gpu(session: nox.Session) -> None:
    """Lightning on a GPU: the same fits on the GPU and the CPU (needs a CUDA machine)."""
    session.run(sys.executable, "benchmarks/gpu_check.py", *session.posargs)
