"""Peak RSS per case in JSON formats that benchmark dashboards already read (a view over results).

CI set-ups already chart and alert on two formats; writing them lets memharness results feed
those dashboards without a plugin of their own:

- **pytest-benchmark** (the file ``pytest --benchmark-json`` writes; ``pytest-benchmark compare``
  reads it): one benchmark per case whose ``stats`` are computed over the peak RSS of the case's
  ok runs (repeats x workers), **in bytes, not seconds**. pytest-benchmark's own tables will
  still label them as times; ``extra_info["unit"]`` says ``bytes``. ``ops`` is kept because
  loaders expect it and is defined as pytest-benchmark defines it (``rounds / total``), which
  for bytes means nothing. ``machine_info`` describes the machine that measured, from
  ``meta.json`` (not pytest-benchmark's cpuinfo); ``commit_info`` is pytest-benchmark's
  "unversioned" form, since results do not record a commit. The key sets were checked against a
  file written by pytest-benchmark 5.3.1, whose version ``version`` names.
- **Bencher**'s BMF JSON (``bencher run --adapter json``): ``{case: {measure: {value,
  lower_value, upper_value}}}`` with the measures ``peak-rss`` (bytes), ``peak-minus-baseline``
  (bytes), ``wall-time`` (seconds) and ``throughput-mb-s``: the median of the case's ok runs,
  and their minimum and maximum as the bounds.
- **github-action-benchmark**'s ``customSmallerIsBetter`` tool: a JSON list of
  ``{"name", "unit", "value", "range"?, "extra"?}``, one entry per case with its median peak RSS
  in MB (10^6 bytes) and, on request, one with its median fetch wall time in seconds.

Only ok runs are measurements of what a case needs (an ``oom`` run's peak is where the cap cut
it off), so a case without any ok run has no entry; ``unmeasured`` lists those cases.
"""

from __future__ import annotations

import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any

from memharness_s3.analysis.cases import CaseRuns
from memharness_s3.config.sizes import format_mb

PYTEST_BENCHMARK_VERSION = "5.3.1"
"""The pytest-benchmark release whose file format this mirrors."""

FORMATS = ("pytest-benchmark", "github-action-benchmark", "bencher")


def measured(cases: Sequence[CaseRuns]) -> list[CaseRuns]:
    """The cases that have at least one ok run with a peak: the ones exported."""
    return [case for case in cases if case.ok_peaks]


def unmeasured(cases: Sequence[CaseRuns]) -> list[str]:
    """Labels of the cases left out of an export because no run of theirs ended ok."""
    return [case.label for case in cases if not case.ok_peaks]


def to_pytest_benchmark(cases: Sequence[CaseRuns], meta: dict[str, Any]) -> dict[str, Any]:
    """A pytest-benchmark JSON document; ``stats`` hold peak RSS in bytes (see the module doc)."""
    kept = measured(cases)
    benchmarks = []
    for case in kept:
        first = case.first
        param = case.label.replace(" ", "-")
        peaks = case.ok_peaks
        walls = [r.wall_s for r in case.ok_runs if r.wall_s is not None]
        benchmarks.append(
            {
                "group": f"peak RSS, concurrency {first.concurrency}",
                "name": f"peak_rss[{param}]",
                "fullname": f"memharness::peak_rss[{param}]",
                "params": {
                    "strategy": first.strategy,
                    "size_bytes": first.size_bytes,
                    "concurrency": first.concurrency,
                    "pool": first.pool,
                    "process": first.process,
                    "fault": first.fault,
                    "backend": first.backend,
                },
                "param": param,
                "extra_info": {
                    "unit": "bytes",
                    "measure": "peak_rss_bytes: the worker's kernel high-water mark (VmHWM); "
                    "stats are bytes, not seconds",
                    "case_id": case.case_id,
                    "peak_rss_bytes": _spread(peaks),
                    "object_name": first.object_name,
                    "strategy_params": first.params,
                    "memory_limit_bytes": first.memory_limit_bytes,
                    "statuses": case.statuses,
                    "repeats": case.repeats,
                    "median_wall_s": statistics.median(walls) if walls else None,
                },
                "options": {
                    "disable_gc": False,
                    "timer": first.peak_rss_source or "VmHWM",
                    "min_rounds": 1,
                    "max_time": 0,
                    "min_time": 0,
                    "precision": None,
                    "confidence": None,
                    "warmup": False,
                },
                "stats": byte_stats(peaks),
            }
        )
    return {
        "machine_info": {
            "python_version": meta.get("python"),
            "platform": meta.get("platform"),
            "cpu": {"count": meta.get("cpu_count")},
            "total_memory_bytes": meta.get("total_memory_bytes"),
            "packages": meta.get("packages", {}),
            "backend": meta.get("backend"),
            "cap_enforcement": meta.get("cap_enforcement"),
        },
        "commit_info": {
            "id": "unversioned",
            "time": None,
            "author_time": None,
            "dirty": False,
            "project": "memharness",
            "branch": "(unknown)",
        },
        "benchmarks": benchmarks,
        "datetime": meta.get("timestamp")
        or min((r.started_at for case in cases for r in case.runs), default=None),
        "version": PYTEST_BENCHMARK_VERSION,
    }


def byte_stats(values: Sequence[int]) -> dict[str, Any]:
    """pytest-benchmark's ``stats`` block computed over ``values`` (at least one).

    Quartiles follow pytest-benchmark: for an even count the medians of the two halves, for an
    odd count the weighted "method 3" of the Wikipedia quartile article.
    """
    data = sorted(values)
    rounds = len(data)
    mean = statistics.mean(data)
    stddev = statistics.stdev(data) if rounds > 1 else 0
    q1, q3 = _quartiles(data)
    iqr = q3 - q1
    low_fence, high_fence = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    stddev_outliers = sum(1 for v in data if not mean - stddev <= v <= mean + stddev)
    iqr_outliers = sum(1 for v in data if not low_fence <= v <= high_fence)
    total = sum(data)
    return {
        "min": data[0],
        "max": data[-1],
        "mean": mean,
        "stddev": stddev,
        "rounds": rounds,
        "median": statistics.median(data),
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": iqr_outliers,
        "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": data[bisect_left(data, low_fence)],
        "hd15iqr": data[bisect_right(data, high_fence) - 1],
        "ops": rounds / total,
        "total": total,
        "data": list(values),
        "iterations": 1,
    }


def _quartiles(data: list[int]) -> tuple[float, float]:
    n = len(data)
    if n == 1:
        return data[0], data[0]
    if n % 2 == 0:
        return statistics.median(data[: n // 2]), statistics.median(data[n // 2 :])
    k = n // 4
    if n % 4 == 1:
        return 0.25 * data[k - 1] + 0.75 * data[k], 0.75 * data[3 * k] + 0.25 * data[3 * k + 1]
    return 0.75 * data[k] + 0.25 * data[k + 1], 0.25 * data[3 * k + 1] + 0.75 * data[3 * k + 2]


def to_github_action_benchmark(
    cases: Sequence[CaseRuns], *, wall_time: bool = False
) -> list[dict[str, Any]]:
    """Entries for github-action-benchmark's ``customSmallerIsBetter`` tool.

    ``name`` is the series the action charts and compares from commit to commit, so it holds only
    the case's name (its settings, as the analysis layer names them), never a run id.
    """
    kept = measured(cases)
    entries: list[dict[str, Any]] = []
    for case in kept:
        peaks = case.ok_peaks
        runs = f"{len(peaks)} ok runs, repeats: {case.repeats}"
        entry: dict[str, Any] = {
            "name": f"peak RSS {case.label}",
            "unit": "MB",
            "value": round(statistics.median(peaks) / 1e6, 3),
            "extra": f"median of {runs}; min {format_mb(min(peaks))} MB, max "
            f"{format_mb(max(peaks))} MB; case {case.case_id}; MB = 10^6 bytes",
        }
        if len(peaks) > 1:
            entry["range"] = f"± {format_mb(statistics.stdev(peaks))}"
        entries.append(entry)
        walls = [r.wall_s for r in case.ok_runs if r.wall_s is not None]
        if wall_time and walls:
            entries.append(
                {
                    "name": f"wall time {case.label}",
                    "unit": "s",
                    "value": round(statistics.median(walls), 4),
                    "extra": f"median fetch time of {runs}; case {case.case_id}",
                }
            )
    return entries


def _spread(values: Sequence[float]) -> dict[str, float]:
    """Median, minimum and maximum, as BMF and ``extra_info`` carry them."""
    return {
        "value": float(statistics.median(values)),
        "lower_value": float(min(values)),
        "upper_value": float(max(values)),
    }


def to_bencher(cases: Sequence[CaseRuns]) -> dict[str, dict[str, dict[str, float]]]:
    """Bencher Metric Format: one benchmark per measured case, named as every view names it."""
    document: dict[str, dict[str, dict[str, float]]] = {}
    for case in measured(cases):
        ok = case.ok_runs
        measures = {
            "peak-rss": [float(r.peak_rss_bytes) for r in ok if r.peak_rss_bytes is not None],
            "peak-minus-baseline": [
                float(r.strategy_cost_bytes) for r in ok if r.strategy_cost_bytes is not None
            ],
            "wall-time": [r.wall_s for r in ok if r.wall_s is not None],
            "throughput-mb-s": [r.throughput_mb_s for r in ok if r.throughput_mb_s is not None],
        }
        document[case.label] = {
            measure: _spread(values) for measure, values in measures.items() if values
        }
    return document
