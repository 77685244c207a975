"""The pytest plugin: the memharness_run fixture and the peak_memory marker, used for real."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memharness_s3.model.records import RunResult

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

Run = Callable[..., list[RunResult]]


@pytest.mark.peak_memory(max="120MB")
def test_chunked_64mib_stays_under_120mb(memharness_run: Run) -> None:
    (result,) = memharness_run("chunked", size="64MiB")
    assert result.status == "ok" and result.verified is True


@pytest.mark.peak_memory(max="150MB")
def test_range_with_16mib_parts_stays_under_150mb(memharness_run: Run) -> None:
    (result,) = memharness_run("range", size="64MiB", params={"part_size": "16MiB"})
    assert result.status == "ok" and result.details["parts"] == 4


def test_the_marker_fails_a_test_whose_run_peaks_above_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.peak_memory(max="80MB")
        def test_read_all(memharness_run):
            (result,) = memharness_run("read-all", size="64MiB")
            assert result.status == "ok"
        """
    )
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcome.assert_outcomes(failed=1)
    outcome.stdout.fnmatch_lines(["*peak_memory(max=80 MB): read-all on 67.1 MB peaked at*"])
