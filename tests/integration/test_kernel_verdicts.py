"""Verdicts against the budget the kernel enforces (issue 18, points 4, 7 and 8).

Each test builds the results lines of a contradiction the issue found (a Celery node of 4
children in one 512 MiB cgroup, local runs at the same sizes, a size sweep of read-all) and
checks what the decision matrix, headline, safe sizes, budget questions, gate and report say.
"""

from __future__ import annotations

from pathlib import Path

from memharness_s3.analysis import recycling
from memharness_s3.analysis.budget_scope import NODE
from memharness_s3.analysis.cases import Analysis
from memharness_s3.views.html.page import render_report
from tests.support.results import MB, meta, node_run, task, write_results_dir

# --- the scope and its figure ------------------------------------------------------------


# --- point 4: decision cells -------------------------------------------------------------


def test_the_worker_scope_cell_shows_no_sum_and_partial_kills_are_counted(tmp_path: Path) -> None:
    results = [
        *node_run(
            "read-all",
            250 * MB,
            [300 * MB] * 4,
            None,
            executor="local",
            aggregate_peak_rss_bytes=1196 * MB,
        ),
        *node_run(
            "range", 250 * MB, [160 * MB] * 4, 520 * MB, executor="local", scope=NODE, killed=2
        ),
    ]
    html = render_report(write_results_dir(tmp_path, results, meta())).read_text()
    decision = html[html.index('id="decision"') : html.index('id="budget"')]
    assert "sum 1196" not in decision and "1196.0" not in decision
    assert "2 of 4 killed" in decision
    assert "inconsistent" not in html


# --- point 4: speed breaks a tie only beyond the repeats' spread, never on moto -----------


# --- point 4: the headline ---------------------------------------------------------------


# --- point 4: safe sizes -----------------------------------------------------------------


# --- point 4: the budget questions -------------------------------------------------------


# --- point 7: worker_max_memory_per_child ------------------------------------------------


def test_max_memory_per_child_never_stops_an_in_task_spike(tmp_path: Path) -> None:
    results = [
        task(
            "read-all",
            250 * MB,
            330 * MB,
            worker=0,
            node=530 * MB,
            task_index=0,
            retained_rss_bytes=200 * MB,
        ),
        task("read-all", 250 * MB, 331 * MB, status="oom", worker=1, node=530 * MB, task_index=1),
        task(
            "chunked",
            250 * MB,
            95 * MB,
            worker=0,
            concurrency=1,
            node=200 * MB,
            task_index=0,
            retained_rss_bytes=85 * MB,
        ),
    ]
    rows = {row.label: row for row in recycling.recycling(Analysis(results))}
    killed = rows["read-all 250MB x4 celery"]
    assert (killed.killed, killed.in_task_peak_bytes, killed.killed_peak_bytes) == (
        1,
        330 * MB,
        331 * MB,
    )
    assert "not prevented by any limit" in killed.effect
    assert "giving back 120.0 MB" in killed.effect  # 200 MB kept, a fresh child's 80 MB
    assert killed.worth_saying
    quiet = rows["chunked 250MB x1 celery"]  # kept 85 MB against a fresh child's 80 MB
    assert quiet.worth_saying and "giving back 5.0 MB" in quiet.effect
    summary = " ".join(recycling.summary(list(rows.values())))
    assert "never stops a spike inside a task" in summary
    assert (
        "the 1 task the kernel killed here (1 case, last recorded peaks up to 331.0 MB, the node "
        "peaking at up to 530.0 MB)" in summary
    )
    assert "(last recorded peak 331.0 MB, the node peaking at 530.0 MB)" in killed.effect
    assert "Children kept up to 120.0 MB above a fresh child" in summary
    html = render_report(write_results_dir(tmp_path, results, meta())).read_text()
    assert "worker_max_memory_per_child would and would not have prevented" in html
    local = [task("chunked", 250 * MB, 70 * MB, executor="local", concurrency=1)]
    assert recycling.recycling(Analysis(local)) == []


# --- point 8: the gate -------------------------------------------------------------------
