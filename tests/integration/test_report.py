"""The HTML report and its parts: fit, oom boundary, verdicts, escaping, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memharness_s3.errors import UsageError
from memharness_s3.model.records import RunResult
from memharness_s3.views.html.page import render_report
from tests.support.results import (
    matrix_runs,
    meta,
    run,
    synthetic_report_dir,
    write_results_dir,
)

MB = 10**6


# --- fit ---------------------------------------------------------------------------------


# --- cases and the budget question -------------------------------------------------------


# --- the report --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = synthetic_report_dir(tmp_path_factory.mktemp("report"))
    path = render_report(directory)
    assert path == directory / "index.html"
    return path.read_text(encoding="utf-8")


def test_report_escapes_untrusted_text(rendered: str) -> None:
    assert "<script>alert" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.pdf" in rendered  # the object key
    assert "boom &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in rendered  # the error
    assert "<script" not in rendered.lower()


def test_report_has_the_four_charts_and_the_tables(rendered: str) -> None:
    assert rendered.count('<svg class="chart"') == 4
    for title in ("Peak RSS against object size", "RSS over time", "Aggregate peak", "Throughput"):
        assert f"<strong>{title}" in rendered
    assert 'id="summary"' in rendered and "median peak MB" in rendered
    assert "expected oom" in rendered
    assert "between 300 MB (largest ok) and 700 MB (smallest failed)" in rendered
    assert "No limit found in the measured range" in rendered
    assert "537 MB (512 MiB) per worker" in rendered
    assert "http://" not in rendered.replace("http://127.0.0.1:1", "")  # nothing fetched


def test_report_links_flamegraphs_relatively_and_only_safe_paths(tmp_path: Path) -> None:
    runs = matrix_runs()[:3]
    runs[0].flamegraph_file = "memray/one.html"
    runs[1].flamegraph_file = "javascript:alert(1)"
    runs[2].flamegraph_file = "../outside.html"
    directory = write_results_dir(tmp_path / "r", runs, meta())
    (directory / "memray").mkdir()
    (directory / "memray" / "one.html").write_text("flamegraph")
    (tmp_path / "outside.html").write_text("not ours")
    html = render_report(directory).read_text()
    assert '<a href="memray/one.html">' in html
    assert "javascript:" not in html and "outside.html" not in html


def test_budget_override_and_missing_meta(tmp_path: Path) -> None:
    directory = write_results_dir(tmp_path / "r", matrix_runs()[:4])
    html = render_report(directory, budget_bytes=100 * MB).read_text()
    assert "100 MB per worker (each worker&#39;s peak RSS is held against it): given with" in html
    assert "meta.json" in html and "missing" in html


# --- bad input ---------------------------------------------------------------------------


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no results directory"):
        render_report(tmp_path / "nope")


def test_missing_results_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no results file"):
        render_report(tmp_path)


def test_empty_results_file(tmp_path: Path) -> None:
    (tmp_path / "results.jsonl").write_text("\n")
    with pytest.raises(UsageError, match="has no runs"):
        render_report(tmp_path)


def test_line_that_is_not_json(tmp_path: Path) -> None:
    directory = write_results_dir(tmp_path, matrix_runs()[:1], meta())
    with (directory / "results.jsonl").open("a") as handle:
        handle.write("{not json\n")
    with pytest.raises(UsageError, match=r"results\.jsonl:2: not a memharness result line"):
        render_report(directory)


def test_field_of_the_wrong_type(tmp_path: Path) -> None:
    bad = run("read-all", 10 * MB, 60 * MB)
    directory = write_results_dir(tmp_path, [bad], meta())
    line = json.loads((directory / "results.jsonl").read_text())
    line["size_bytes"] = "<b>big</b>"
    (directory / "results.jsonl").write_text(json.dumps(line) + "\n")
    with pytest.raises(UsageError, match=r"results\.jsonl:1: field 'size_bytes'"):
        render_report(directory)


def test_meta_that_is_not_json(tmp_path: Path) -> None:
    directory = write_results_dir(tmp_path, matrix_runs()[:1], meta())
    (directory / "meta.json").write_text("{")
    with pytest.raises(UsageError, match=r"meta\.json: not JSON"):
        render_report(directory)


def test_report_renders_degenerate_results(tmp_path: Path) -> None:
    """One size, a failed run without numbers, a threads pool, heap peaks, no timelines."""
    runs = [
        run("read-all", 10 * MB, None, status="error", baseline_rss_bytes=None),
        run("chunked", 10 * MB, 60 * MB, heap_peak_bytes=9 * MB),
        run("chunked", 10 * MB, 80 * MB, concurrency=4, pool="threads"),
    ]
    directory = write_results_dir(tmp_path / "r", runs, meta())
    for csv_file in (directory / "timelines").iterdir():
        csv_file.unlink()
    html = render_report(directory).read_text()
    # One size: no peak-against-size chart; two concurrency levels: the aggregate one stays.
    assert html.count('class="chart"') == 3
    assert "Peak RSS against object size" not in html
    assert "median heap MB" in html and "chunked 10MB x4 threads" in html
    assert "only 1 distinct size ran ok" in html


# --- what the backend could not measure, and of wire -------------------------------------


def textract_and_chunked(backend: str) -> list[RunResult]:
    """textract-direct (the fastest, fitting) and chunked at 1 GB x 1 on ``backend``."""
    return [
        run("textract-direct", 10**9, 87 * MB, backend=backend, wall_s=0.1, bytes_fetched=10**9),
        run("chunked", 10**9, 70 * MB, backend=backend, wall_s=3.0, bytes_fetched=10**9),
    ]


def test_textract_against_moto_is_greyed_and_given_no_verdict(tmp_path: Path) -> None:
    report = render_report(write_results_dir(tmp_path, textract_and_chunked("moto"), meta()))
    html = report.read_text(encoding="utf-8")
    decision = html[html.index('<table class="decision">') : html.index("</table>")]
    textract = decision[decision.index("<td>textract-direct</td>") :].split("</tr>")[0]
    assert 'class="d-unmeasured"' in textract
    assert "not measured by this backend" in textract
    assert "&#9733;" not in textract and ">fits<" not in textract
    assert "chunked: peak 70.0 MB, 3.00 s (1 fit)" in decision  # the star moved to chunked
    summary = html[html.index('id="summary"') :]
    row = summary[summary.index("<td>textract-direct 1GB x1</td>") :].split("</tr>")[0]
    assert "v-not-measured" in row and "not measured by this backend" in row
    safe = html[html.index("Safe size per strategy") : html.index('id="summary"')]
    assert "<td>textract-direct x1</td>" in safe
    safe_row = safe[safe.index("<td>textract-direct x1</td>") :].split("</tr>")[0]
    assert "not measured by this backend" in safe_row


def test_textract_against_a_real_textract_keeps_its_verdict(tmp_path: Path) -> None:
    document = {**meta(), "textract_endpoint_url": "https://textract.us-east-1.amazonaws.com"}
    html = render_report(write_results_dir(tmp_path, textract_and_chunked("moto"), document))
    text = html.read_text(encoding="utf-8")
    assert "not measured by this backend" not in text
    # both fit; on moto speed breaks no tie
    assert "2 fit; equal within noise: textract-direct, chunked" in text


def test_report_shows_of_wire_by_the_same_rules(tmp_path: Path) -> None:
    shares = {"chunked": 0.6, "transfer-manager": 1.35}
    runs = [
        run(name, 250 * MB, 70 * MB, backend="s3rver", throughput_mb_s=400 * share, wire_mb_s=400.0)
        for name, share in shares.items()
    ]
    moto = run("read-all", 250 * MB, 302 * MB, throughput_mb_s=780.0, wire_mb_s=400.0)
    html = render_report(write_results_dir(tmp_path, [*runs, moto], meta()))
    text = html.read_text(encoding="utf-8")
    assert '<td class="num">0.60</td>' in text
    assert "1.35\u2020" in text
    assert "1.95" not in text  # read-all on moto: 780 / 400 withheld
    caveats_box = text[text.index("Before you trust these numbers") :]
    assert "\u2020 of wire above 1.1 in 1 case: transfer-manager 250MB x1" in caveats_box
