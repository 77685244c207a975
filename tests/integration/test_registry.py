"""Strategy discovery through entry points, and parameter overrides."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.cli import MEMHARNESS


@pytest.mark.usefixtures("test_plugins")
def test_strategies_names_the_extra_to_install_without_a_warning() -> None:
    proc = subprocess.run(
        [*MEMHARNESS, "strategies"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    assert "test-needs-extra" not in proc.stderr
    assert (
        "test-needs-extra   not installed: pip install 'memharness-test-plugins[client]'"
        in proc.stdout.splitlines()
    )
