"""The regression corpus (fixtures/regressions.toml) run at 64 MB and gated, as CI runs it.

The same matrix and expectations as ``nox -s regressions`` at 250 MB, on a real s3rver process:
``memharness run --matrix`` with the sizes overridden, then ``memharness gate``, which passes
only when every expectation holds (the ones for other sizes are notes).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from memharness_s3.config import registry

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).parent.parent / "fixtures" / "regressions.toml"
CI_SIZE = "64MB"


def test_the_corpus_holds_at_a_small_size(tmp_path: Path, cache_dir: Path) -> None:
    missing = registry.not_installed()
    if missing:
        pytest.skip(f"the corpus needs pip install '{next(iter(missing.values()))}'")
    out = tmp_path / "regressions"
    cli = [sys.executable, "-m", "memharness_s3.cli"]
    sizes = ["--sizes", CI_SIZE, "--cache-dir", str(cache_dir)]
    run = subprocess.run(
        [*cli, "run", "--matrix", str(CORPUS), *sizes, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    gate = subprocess.run(
        [*cli, "gate", str(out), "--budget", "512MiB"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert gate.returncode == 0, gate.stdout
    lines = gate.stdout.splitlines()
    checked = [line for line in lines if line.startswith("PASS expect ")]
    assert len(checked) >= 10, gate.stdout
    assert lines[-1].startswith("PASS: ") and "0 failing" in lines[-1]
