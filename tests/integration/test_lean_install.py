"""The base install draws the report's charts itself: no plotting library among its
requirements (the ``charts`` extra is kept, empty, for older instructions), and the report and
``compare --html`` have their charts as inline SVG with matplotlib impossible to import."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import metadata, requires
from pathlib import Path

from tests.support.results import seed_like, write


def test_no_requirement_of_any_extra_brings_a_plotting_library() -> None:
    requirements = requires("memharness-s3") or []
    assert not [r for r in requirements if r.lower().startswith(("matplotlib", "numpy"))]
    assert "charts" in (metadata("memharness-s3").get_all("Provides-Extra") or [])
    assert not [r for r in requirements if 'extra == "charts"' in r]  # kept, and empty


def test_the_report_and_compare_draw_their_charts_without_matplotlib(tmp_path: Path) -> None:
    old, new = write(tmp_path / "a", seed_like()), write(tmp_path / "b", seed_like())
    page = tmp_path / "compare.html"
    script = (
        "import sys\n"
        "sys.modules['matplotlib'] = None  # importing it now raises ImportError\n"
        "from pathlib import Path\n"
        "from memharness_s3.cli import main\n"
        f"assert main(['report', {str(old)!r}]) == 0\n"
        f"assert main(['compare', {str(old)!r}, {str(new)!r}, '--html', {str(page)!r}]) in (0, 1)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    report = (old / "index.html").read_text()
    assert report.count('<svg class="chart"') >= 2
    assert "<img" not in report and "chunked" in report
    assert page.read_text().count('class="chart"') == 1
