"""Developer sessions: tests, lint, typecheck, bench (the default comparison), large (the
GB-scale pytest cases), seed (the seed document's full matrix on s3rver), clients (the client
libraries' matrix), regressions (the corpus of known memory traps, gated), report, gate,
fidelity (does measuring change what is measured), calibrate (the gate's error rates), scale
(how the views scale to 100,000 result lines) and latest (the smoke matrix against the newest
upstream releases)."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
PYTHON = "3.11"
DEV_CONSTRAINTS = "constraints-dev.txt"
"""The versions the tests run with: pip alone cannot find the one boto3 that s3fs's aiobotocore
accepts (it backtracks into releases that no longer build); see README, Development."""
DEV_INSTALL = ("-c", DEV_CONSTRAINTS, "--config-settings", "editable_mode=strict", "-e", ".[dev]")
"""The README's development install: a strict editable install (a tree of links), which mypy
and editors can follow, unlike setuptools' default for a mapped package."""


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite, against real moto server processes on loopback."""
    session.install(*DEV_INSTALL)
    session.run("pytest", *session.posargs)


LATEST = ("boto3", "botocore", "s3transfer", "moto[s3]", "flask", "flask-cors", "celery[redis]")
"""The upstream packages whose behaviour changes what a run records (moto's copy checksum,
botocore's default checksum validation, s3transfer's downloads, Celery's prefork pool)."""


@nox.session(python=PYTHON)
def latest(session: nox.Session) -> None:
    """The smoke matrix (every strategy on moto and s3rver, local and Celery, below and above
    one upload part, 1 and 2 workers) against the newest releases of boto3, botocore,
    s3transfer, moto and celery, without the development constraints, so an upstream change
    that would make rows wrong fails here first. The ``clients`` extra stays out: s3fs's
    aiobotocore pins botocore."""
    session.install(".[celery]", "pytest>=8", "pytest-timeout>=2.3")
    session.install("--upgrade", *LATEST)
    session.run("pip", "list", "--format=freeze", silent=False)
    session.run(
        "pytest",
        "tests/system/test_smoke_matrix.py",
        "tests/integration/test_object_readback.py",
        "-v",
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package and the tests."""
    session.install(*DEV_INSTALL)
    session.run("mypy")
    session.run("mypy", "tests")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The default comparison (all strategies, small and medium fixtures, moto)."""
    session.install("-e", ".")
    session.run("memharness", "run", *session.posargs)


@nox.session(python=PYTHON)
def large(session: nox.Session) -> None:
    """The GB-scale pytest cases (marker ``large``): minutes each, tens of GB of disk."""
    session.install(*DEV_INSTALL)
    session.run("pytest", "-m", "large", *session.posargs)


@nox.session(python=PYTHON)
def seed(session: nox.Session) -> None:
    """The seed document's matrix: 5 strategies x 10 MB-2 GB x concurrency 1 and 4, 512 MiB cap."""
    session.install("-e", ".")
    session.run("memharness", "run", "--matrix", "fixtures/seed-matrix.toml", *session.posargs)


@nox.session(python=PYTHON)
def clients(session: nox.Session) -> None:
    """The client libraries (CRT, obstore, s3fs, smart_open, boto3's own calls) at 250 MB and
    2 GB under a 512 MiB cap, 1 and 4 workers, on s3rver (``-- --sizes 250MB`` for the first)."""
    session.install(".[clients]")
    session.run("memharness", "run", "--matrix", "fixtures/clients-matrix.toml", *session.posargs)


@nox.session(python=PYTHON)
def regressions(session: nox.Session) -> None:
    """The regression corpus at 250 MB, then the gate: passes when every expectation holds.
    ``-- DIR`` keeps the results somewhere other than reports/regressions."""
    session.install(".[clients]")
    where = session.posargs[0] if session.posargs else "reports/regressions"
    session.run("memharness", "run", "--matrix", "fixtures/regressions.toml", "--out", where)
    session.run("memharness", "gate", where, "--budget", "512MiB")


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """Rewrite the HTML report of a results directory: ``nox -s report -- reports/<run>``."""
    session.install("-e", ".")
    session.run("memharness", "report", *session.posargs)


@nox.session(python=PYTHON)
def gate(session: nox.Session) -> None:
    """Gate a results directory: ``nox -s gate -- reports/<run> --budget 512MiB [--baseline X]``."""
    session.install("-e", ".")
    session.run("memharness", "gate", *session.posargs)


@nox.session(python=PYTHON)
def fidelity(session: nox.Session) -> None:
    """Does measuring change what is measured? Each strategy plain, plain again (an A/A control:
    the experiment's resolution), plain under the harness's sampler, and inside the harness,
    the modes shuffled per repeat: 750 MB on s3rver, 8 interleaved repeats (about 14 minutes
    on a VM that hands freed memory back to its host, where every run waits for it first).
    Options after ``--``: ``--size``, ``--repeat``, ``--strategies``, ``--modes``, ``--seed``,
    ``--sample-interval``, ``--busy N`` (N spinning processes beside it: ``nox -s fidelity --
    --busy 1``), ``--host-memory leave`` (on a VM with free page reporting, do not wait before
    each run until the host has taken back what the run before freed; README, Measurement
    fidelity)."""
    session.install(".")
    session.run("python", "-m", "memharness_s3.experiments.fidelity", *session.posargs)


@nox.session(python=PYTHON)
def calibrate(session: nox.Session) -> None:
    """The gate's own error rates: 31 runs of the default matrix with --repeat 3 (about 30
    minutes here), then every ordered pair as an A/A pair, with and without an injected +5 %
    (at least 8 MiB) rise. ``-- DIR`` keeps the runs somewhere other than reports/calibration."""
    session.install(".")
    where = session.posargs[0] if session.posargs else "reports/calibration"
    session.run("python", "-m", "memharness_s3.experiments.calibrate", "collect", where)
    session.run("python", "-m", "memharness_s3.experiments.calibrate", "analyze", where)


@nox.session(python=PYTHON)
def scale(session: nox.Session) -> None:
    """How the views scale: synthetic results directories of 1,000 / 10,000 / 100,000 lines built
    from a small real run, and the wall time and peak RSS of report, gate, each export and
    compare of ten 100,000-line runs (about 10 minutes). Options after ``--``: ``--source DIR``
    (a real results directory), ``--scales``, ``--repeat``, ``--views``, ``--no-compare``."""
    session.install(".")
    session.run("python", "-m", "memharness_s3.experiments.scale", *session.posargs)
