"""The install and the command line as a newcomer meets them: one import package, lean commands,
plugins that fail named but not fatal, and small things (``--version``, a closed pipe)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from memharness_s3.config import registry
from memharness_s3.errors import UsageError
from tests.support.cli import memharness, one_line_error

REPO = Path(__file__).resolve().parents[2]
BROKEN_PLUGIN_DIR = Path(__file__).parents[1] / "broken_plugin"
BROKEN = (
    "strategy 'broken' cannot be loaded: entry point 'broken' (brokenstrat.nope:Broken) of "
    "brokenstrat failed to import: ModuleNotFoundError: No module named 'brokenstrat'"
)


@pytest.fixture()
def broken_plugin(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A package whose entry point names a module that does not exist; returns the env for CLIs."""
    monkeypatch.syspath_prepend(str(BROKEN_PLUGIN_DIR))
    existing = os.environ.get("PYTHONPATH")
    path = str(BROKEN_PLUGIN_DIR) + (os.pathsep + existing if existing else "")
    monkeypatch.setenv("PYTHONPATH", path)
    return {"PYTHONPATH": path}


@pytest.mark.usefixtures("broken_plugin")
def test_a_broken_entry_point_is_named_and_left_out() -> None:
    assert "broken" in registry.registered()
    assert "broken" not in registry.available()
    assert {"chunked", "read-all"} <= set(registry.available())
    assert registry.broken() == {"broken": BROKEN}
    with pytest.raises(UsageError) as caught:
        registry.parse_strategy_list("chunked,broken")
    assert str(caught.value) == BROKEN


@pytest.mark.usefixtures("broken_plugin")
def test_a_run_of_the_default_strategies_warns_about_the_broken_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from memharness_s3 import log

    log.configure(0)
    registry.warn_broken.cache_clear()
    names = registry.default_strategies()
    registry.default_strategies()
    assert "broken" not in names
    assert capsys.readouterr().err == f"memharness: warning: {BROKEN}; it is left out\n"


def test_strategies_lists_the_others_and_warns_once(
    tmp_path: Path, broken_plugin: dict[str, str]
) -> None:
    proc = memharness("strategies", cwd=tmp_path, env=broken_plugin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == f"memharness: warning: {BROKEN}; it is left out\n"
    names = [line.split()[0] for line in proc.stdout.splitlines() if not line.startswith(" ")]
    assert {"chunked", "range", "read-all", "textract-direct", "transfer-manager"} <= set(names)


def test_running_the_broken_one_is_a_usage_error(
    tmp_path: Path, broken_plugin: dict[str, str]
) -> None:
    out = tmp_path / "out"
    proc = memharness(
        "run", "--strategies", "broken", "--out", str(out), cwd=tmp_path, env=broken_plugin
    )
    assert proc.returncode == 2
    assert one_line_error(proc) == f"memharness: error: --strategies: {BROKEN}"
    assert not out.exists()


@pytest.mark.integration
def test_the_other_strategies_still_run(tmp_path: Path, broken_plugin: dict[str, str]) -> None:
    out = tmp_path / "out"
    proc = memharness(
        "run",
        "--strategies",
        "chunked",
        "--sizes",
        "64KiB",
        "--out",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
        cwd=tmp_path,
        env=broken_plugin,
    )
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["strategies"]["chunked"] == {
        "target": "memharness_s3.strategies.chunked:Chunked",
        "distribution": "memharness-s3",
        "version": meta["packages"]["memharness-s3"],
        "libraries": {},
    }


def test_version_and_a_closed_pipe(tmp_path: Path) -> None:
    version = memharness("--version", cwd=tmp_path)
    assert version.returncode == 0
    assert version.stdout.startswith("memharness ") and "(memharness-s3)" in version.stdout
    piped = subprocess.run(
        f"'{sys.executable}' -m memharness_s3.cli strategies | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert piped.stderr == ""
    assert len(piped.stdout.splitlines()) == 1


LEAN = (
    "jinja2",
    "memharness_s3.views.html",
    "memharness_s3.execution.session",
    "memray",
)


@pytest.mark.parametrize(
    "argv",
    [["--version"], ["--help"], ["run", "--help"], ["strategies"], ["run", "--repeat", "0"]],
    ids=["version", "help", "run-help", "strategies", "usage-error"],
)
def test_quick_commands_import_nothing_heavy(tmp_path: Path, argv: list[str]) -> None:
    """What a quick command loads: no plotting, templating, report or measuring code."""
    script = (
        "import sys\n"
        "from memharness_s3.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    loaded = eval(proc.stderr.strip().splitlines()[-1])  # the list printed last
    heavy = [name for name in loaded if name.split(".")[0] in LEAN or name.startswith(LEAN)]
    assert heavy == []


def test_the_wheel_installs_exactly_one_top_level_package(tmp_path: Path) -> None:
    """Build the wheel, install it into a fresh venv, and list what landed at top level."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("memharness_s3-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"memharness_s3"}
    # Every file the repository's three folders ship is in the wheel: the package list in
    # pyproject.toml is kept by hand (the folders are mapped onto one package), so a new
    # subpackage or data file left out of it fails here, not on a user's machine.
    shipped = {
        f"memharness_s3/{prefix}{path.relative_to(REPO / folder)}"
        for folder, prefix in (
            ("harness", ""),
            ("strategies", "strategies/"),
            ("fixtures", "fixtures/"),
        )
        for path in (REPO / folder).rglob("*")
        if path.is_file()
        and path.suffix in (".py", ".toml", ".json", ".j2", ".typed")
        and "__pycache__" not in path.parts
    }
    assert sorted(shipped - set(names)) == []
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
        check=True,
        timeout=300,
    )
    site = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    before = set(os.listdir(site))
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-deps", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    added = {
        name
        for name in set(os.listdir(site)) - before
        if not name.endswith(".dist-info") and name != "__pycache__"
    }
    assert added == {"memharness_s3"}
