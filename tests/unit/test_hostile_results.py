"""Hostile and absurd inputs (issue 16, points 3, 4 and 6): each ends in one line and the exit
status docs/bad-input.md gives it, leaves no directory behind, and never makes a command read,
write or follow a path outside its directory.

Most of these run the command in-process (``cli.main``): what is tested is the line and the
status, and a results directory is refused before anything heavy is imported. The ones about
servers and directories left behind run ``memharness`` as a user does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memharness_s3.cli.compare import run_names
from memharness_s3.printable import printable
from tests.support.results import assert_clean, hostile_results

# --- results fields out of range -----------------------------------------------------------


# --- printing: control characters escaped, long text cut ------------------------------------


@pytest.fixture(autouse=True)
def private_crash_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An internal error in a test writes its traceback under tmp_path, not the user's cache."""
    monkeypatch.setenv("MEMHARNESS_CACHE", str(tmp_path / "cache"))


def test_printable_escapes_controls_and_bidi_and_cuts_long_text() -> None:
    assert printable("a\x1b[31mb\nc\u202ed\td") == "a\\x1b[31mb\\x0ac\\u202ed\\x09d"
    assert printable("plain name 250 MB x4, é ü 中") == "plain name 250 MB x4, é ü 中"
    assert printable("y" * 600, 500) == "y" * 500 + "... (100 more characters)"


def test_run_table_and_summary_print_names_escaped(tmp_path: Path) -> None:
    from memharness_s3.results.loader import load
    from memharness_s3.views.summary import render_summary
    from memharness_s3.views.table import render

    results = load(hostile_results(tmp_path / "hostile")).results
    for text in (render(results), render_summary(results)):
        assert_clean(text)
        assert "\\x1b[2J" in text


def test_compare_tells_default_run_folders_apart(tmp_path: Path) -> None:
    """``reports/<UTC time>`` folders made minutes apart share their first 12 characters."""
    reports = tmp_path / "reports"
    names = run_names([reports / "20261202T004105Z", reports / "20261202T004913Z"])
    assert names == ["20261202T004105Z", "20261202T004913Z"]
    same_name = run_names([tmp_path / "a" / "results", tmp_path / "b" / "results"])
    assert len(set(same_name)) == 2


# --- gate options ----------------------------------------------------------------------------


# --- writes: never through a symlink, never over a file memharness did not write -------------


# --- run --out and --resume: refused before anything starts ----------------------------------


# --- runs that fail before measuring leave no directory --------------------------------------


# --- numbers on the command line -------------------------------------------------------------


# --- matrix files ------------------------------------------------------------------------------


def test_a_byte_order_mark_at_the_start_of_a_matrix_file_is_read_past(tmp_path: Path) -> None:
    from memharness_s3.config.matrix import load_matrix

    matrix = tmp_path / "m.toml"
    matrix.write_bytes(b'\xef\xbb\xbf[matrix]\nsizes = ["64KiB"]\nstrategies = ["chunked"]\n')
    assert load_matrix(matrix).sizes == [("64KiB", 65536)]


# --- internal errors ---------------------------------------------------------------------------
