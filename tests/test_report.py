"""The HTML report and its parts: fit, oom boundary, verdicts, escaping, bad input."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pytest

from memharness_s3.analysis.cases import Analysis, Series
from memharness_s3.analysis.identity import key_of_case
from memharness_s3.analysis.verdicts import judge
from memharness_s3.cli import report as report_cmd
from memharness_s3.errors import UsageError
from memharness_s3.model.records import Case, Expectation, RunResult, to_json
from memharness_s3.views.html import budget, charts, fit
from memharness_s3.views.html.page import render_report

MB = 10**6
MiB = 2**20
CAP = 512 * MiB
XSS = "<script>alert(1)</script>"


def run(
    strategy: str,
    size: int,
    peak: int | None,
    *,
    status: str = "ok",
    concurrency: int = 1,
    worker: int = 0,
    repeat: int = 0,
    pool: str = "processes",
    **fields: Any,
) -> RunResult:
    """A result line as the runner writes it, with the numbers a test cares about."""
    case = Case(
        strategy, f"{size}B", size, concurrency=concurrency, pool=pool, memory_limit_bytes=CAP
    )
    run_id = f"{strategy}-{size}-{concurrency}-{worker}-{repeat}"
    values: dict[str, Any] = {
        "case_id": key_of_case(case, f"fixtures/{size}.pdf", "moto").case_id,
        "run_id": run_id,
        "group_id": f"g-{strategy}-{size}-{concurrency}-{repeat}",
        "status": status,
        "backend": "moto",
        "started_at": "2026-01-01T00:00:00+00:00",
        "object_key": f"fixtures/{size}.pdf",
        "peak_rss_bytes": peak,
        "baseline_rss_bytes": 52 * MB if status == "ok" else None,
        "wall_s": 0.5 if status == "ok" else None,
        "throughput_mb_s": size / MB / 0.5 if status == "ok" else None,
        "aggregate_peak_rss_bytes": (peak or 0) * concurrency,
        "error": None if status == "ok" else f"killed by the kernel at the {CAP} cap",
    }
    values.update(fields)
    return RunResult.for_case(case, repeat=repeat, worker=worker, **values)


def series_of(runs: list[RunResult]) -> Series:
    """The one series ``runs`` belong to."""
    (series,) = Analysis(runs).group_by_series()
    return series


def matrix_runs() -> list[RunResult]:
    """read-all (peak = base + size, oom from 700 MB) and chunked (flat) at concurrency 1 and 2."""
    runs = []
    for concurrency in (1, 2):
        for size in (10 * MB, 100 * MB, 300 * MB, 700 * MB):
            for worker in range(concurrency):
                if size < 500 * MB:
                    runs.append(
                        run(
                            "read-all", size, 52 * MB + size, concurrency=concurrency, worker=worker
                        )
                    )
                else:
                    runs.append(
                        run(
                            "read-all",
                            size,
                            CAP + MB,
                            status="oom",
                            concurrency=concurrency,
                            worker=worker,
                        )
                    )
                runs.append(
                    run(
                        "chunked",
                        size,
                        61 * MB + (worker % 2) * MB,
                        concurrency=concurrency,
                        worker=worker,
                    )
                )
    return runs


def meta(**settings: Any) -> dict[str, Any]:
    return {
        "timestamp": "2026-01-01T00:00:00+00:00",
        "python": "3.11.7",
        "platform": "Linux",
        "packages": {"boto3": "1.44.8"},
        "backend": "moto",
        "endpoint_url": "http://127.0.0.1:1",
        "cpu_count": 2,
        "total_memory_bytes": 24 * 10**9,
        "cap_enforcement": "watchdog",
        "settings": {"memory_limit_bytes": CAP, **settings},
    }


def write_results_dir(
    path: Path, runs: list[RunResult], meta_json: dict[str, Any] | None = None
) -> Path:
    """A results directory as `memharness run` leaves it: results.jsonl, meta.json, timelines."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "timelines").mkdir(exist_ok=True)
    lines = []
    for result in runs:
        result.timeline_file = f"timelines/{result.run_id}.csv"
        peak = result.peak_rss_bytes or 0
        rows = [f"{i * 0.01:.2f},{30 * MB + (peak - 30 * MB) * i // 20}" for i in range(21)]
        (path / result.timeline_file).write_text("t_s,rss_bytes\n" + "\n".join(rows) + "\n")
        lines.append(to_json(result))
    (path / "results.jsonl").write_text("\n".join(lines) + "\n")
    if meta_json is not None:
        (path / "meta.json").write_text(json.dumps(meta_json))
    return path


def synthetic_report_dir(path: Path) -> Path:
    """The matrix with hostile text in an object key, an error message and meta.json."""
    runs = matrix_runs()
    runs[0].object_key = f"{XSS}.pdf"
    oom = next(r for r in runs if r.status == "oom")
    oom.error = f"boom {XSS} & more"
    expect = [
        {
            "strategy": "read-all",
            "min_size_bytes": 500 * MB,
            "status": "oom",
            "reason": f"cannot fit {XSS}",
        }
    ]
    document = meta(expect=expect)
    document["backend"] = XSS
    return write_results_dir(path, runs, document)


# --- fit ---------------------------------------------------------------------------------


def test_fit_recovers_intercept_and_slope_from_medians_over_repeats() -> None:
    a, b = 50 * MB, 0.8
    runs = []
    for size in (10 * MB, 100 * MB, 200 * MB, 400 * MB):
        exact = round(a + b * size)
        for repeat, noise in enumerate((-3 * MB, 0, 9 * MB)):  # the median is the exact value
            runs.append(run("read-all", size, exact + noise, repeat=repeat))
    safe = fit.safe_size(series_of(runs), runs, CAP)
    assert safe.fit is not None
    assert safe.fit.intercept_bytes == pytest.approx(a, rel=1e-6)
    assert safe.fit.slope == pytest.approx(b, rel=1e-6)
    assert safe.fit.r_squared == pytest.approx(1.0)
    assert safe.fit.sizes == 4
    assert safe.kind == "fit"
    assert safe.safe_size_bytes == pytest.approx((CAP - a) / b, rel=1e-6)
    assert "Safe up to 609 MB" in safe.statement
    assert "extrapolation" in safe.statement  # beyond the largest measured size, 400 MB


def test_two_sizes_cannot_support_a_threshold() -> None:
    runs = [run("read-all", 10 * MB, 62 * MB), run("read-all", 100 * MB, 152 * MB)]
    safe = fit.safe_size(series_of(runs), runs, CAP)
    assert safe.kind == "unsupported"
    assert safe.safe_size_bytes is None
    assert "cannot support a threshold" in safe.statement
    assert "only 2 distinct sizes" in safe.statement
    assert "not a fit" in safe.statement


def test_poor_fit_cannot_support_a_threshold() -> None:
    peaks = {10 * MB: 60 * MB, 100 * MB: 300 * MB, 200 * MB: 70 * MB, 400 * MB: 320 * MB}
    runs = [run("range", size, peak) for size, peak in peaks.items()]
    safe = fit.safe_size(series_of(runs), runs, CAP)
    assert safe.fit is not None and safe.fit.r_squared is not None
    assert safe.fit.r_squared < fit.MIN_R_SQUARED
    assert safe.kind == "unsupported"
    assert "cannot support a threshold" in safe.statement
    assert "fits poorly" in safe.statement


def test_flat_peak_has_no_limit_in_the_measured_range() -> None:
    peaks = {10 * MB: 61 * MB, 250 * MB: 69 * MB, 750 * MB: 69 * MB, 2000 * MB: 69 * MB}
    runs = [run("chunked", size, peak) for size, peak in peaks.items()]
    safe = fit.safe_size(series_of(runs), runs, CAP)
    assert safe.kind == "flat"
    assert safe.safe_size_bytes == math.inf
    assert "No limit found in the measured range" in safe.statement


def test_equal_peaks_are_flat_without_an_r_squared() -> None:
    line = fit.fit_line([(10 * MB, 60e6), (20 * MB, 60e6), (30 * MB, 60e6)])
    assert line is not None and line.r_squared is None and line.slope == 0
    assert line.reaches(CAP) is None
    assert fit.fit_line([(10 * MB, 60e6)]) is None


def test_oom_boundary_brackets_the_threshold() -> None:
    runs = [r for r in matrix_runs() if r.strategy == "read-all" and r.concurrency == 1]
    assert fit.oom_boundary(runs) == fit.Boundary(300 * MB, 700 * MB)
    safe = fit.safe_size(series_of(runs), runs, CAP)
    assert safe.kind == "bracketed"
    assert safe.safe_size_bytes is None
    assert "cannot support a single threshold" in safe.statement
    assert "between 300 MB (largest ok) and 700 MB (smallest failed)" in safe.statement


def test_over_budget_ok_runs_fail_against_a_smaller_budget() -> None:
    runs = [r for r in matrix_runs() if r.strategy == "read-all" and r.concurrency == 1]
    limit = fit.budget_boundary(runs, 256 * MiB)
    assert limit == fit.Boundary(100 * MB, 300 * MB)
    # An oom at a cap above the budget still fails it; one at a cap below proves nothing.
    assert fit.budget_boundary(runs, 1024 * MiB) == fit.Boundary(300 * MB, None)


def test_safe_sizes_cover_every_strategy_and_concurrency() -> None:
    labels = [s.series.label for s in fit.safe_sizes(Analysis(matrix_runs()), CAP)]
    assert labels == ["chunked x1", "chunked x2", "read-all x1", "read-all x2"]


# --- cases and the budget question -------------------------------------------------------


def test_case_verdicts_against_budget_and_expectations() -> None:
    runs = [
        run("read-all", 100 * MB, 150 * MB),
        run("read-all", 500 * MB, CAP + MB, status="oom"),
        run("range", 500 * MB, 600 * MB),
        run("range", 900 * MB, CAP + MB, status="oom"),
        run("chunked", 900 * MB, 70 * MB),
    ]
    expect = [
        Expectation("read-all", 400 * MB, "oom", "too big"),
        Expectation("chunked", 800 * MB, "oom", "wrong guess"),
    ]
    cases = {(c.key.strategy, c.key.size_bytes): c for c in Analysis(runs).cases}
    rows = {key: judge(case, CAP, expect) for key, case in cases.items()}
    assert rows["read-all", 100 * MB].verdict == "ok"
    assert rows["read-all", 500 * MB].verdict == "expected oom"
    expectation = rows["read-all", 500 * MB].expectation
    assert expectation is not None and expectation.reason == "too big"
    assert rows["range", 500 * MB].verdict == "over budget"
    assert rows["range", 900 * MB].verdict == "oom"
    assert rows["chunked", 900 * MB].verdict == "ok (expected oom)"
    assert cases["read-all", 500 * MB].shown_peak == CAP + MB  # the failed run's peak


def test_budget_questions_answered_from_the_data() -> None:
    runs = matrix_runs()
    analysis = Analysis(runs)
    answers = budget.answer_questions(analysis, fit.safe_sizes(analysis, CAP))
    # The multipart question (range, transfer-manager above 1 GB) asks about nothing this run
    # measured, so it is left out rather than answered "not measured".
    in_memory, threshold, streaming = answers
    assert [(f.label, f.verdict) for f in in_memory.findings] == [
        ("read-all x1", "yes"),
        ("read-all x2", "yes"),
    ]
    assert "fails from 700 MB" in in_memory.findings[0].text
    # 500 MB lies between the largest ok (300 MB) and the smallest oom (700 MB).
    assert threshold.findings[0].verdict == "unclear"
    assert "Not measured up to 500 MB: ok up to 300 MB; fails from 700 MB" in (
        threshold.findings[0].text
    )
    assert all(f.verdict == "yes" for f in streaming.findings)  # flat chunked covers 1 GB


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
    assert rendered.count('<img src="data:image/png;base64,') == 4
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
    assert "100 MB per worker: given with --budget" in html
    assert "meta.json" in html and "missing" in html


def test_timelines_outside_the_results_dir_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("t_s,rss_bytes\n0,1\n")
    inside = tmp_path / "r"
    inside.mkdir()
    assert charts.read_timeline(inside, "../secret.csv") == []
    assert charts.read_timeline(tmp_path, "secret.csv") == [(0.0, 1e-6)]


def test_report_subcommand_prints_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = write_results_dir(tmp_path / "r", matrix_runs()[:2], meta())
    parser = argparse.ArgumentParser()
    report_cmd.add_arguments(parser)
    assert report_cmd.run(parser.parse_args([str(directory), "--budget", "1GiB"])) == 0
    assert capsys.readouterr().out.strip() == str(directory / "index.html")
    with pytest.raises(UsageError, match="malformed size"):
        report_cmd.run(parser.parse_args([str(directory), "--budget", "lots"]))


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
    assert html.count('<img src="data:image/png;base64,') == 3
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
    assert "chunked: 70.0 MB peak, 3.00 s (1 fit)" in decision  # the star moved to chunked
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
    assert "textract-direct: 87.0 MB peak, 0.10 s (2 fit)" in text


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
