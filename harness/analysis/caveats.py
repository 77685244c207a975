"""What a reader must know before trusting a number, said where it applies and nowhere else."""

from __future__ import annotations

import statistics
from typing import Any

from memharness_s3.analysis import wire_share
from memharness_s3.analysis.cases import Analysis
from memharness_s3.config.sizes import format_mb
from memharness_s3.model.records import HOST_REPORTED_NOTABLE_BYTES, RunResult

SPREAD_WORTH_SAYING = 0.25
"""Throughput that varies by more than this share of its median between repeats is flagged."""

NOT_MEASURED_BY_BACKEND = "not measured by this backend"
"""What a view shows instead of a verdict for a run its backend could not measure."""

WHY_NOT_MEASURED = (
    "moto's Textract never reads the document: what ran is the worker's side only, not a "
    "Textract job"
)
"""Why ``unmeasured_by_backend`` runs get no verdict, said where a verdict would be."""

MOTO_TEXTRACT_BACKENDS = frozenset({"moto", "s3rver", "minio"})
"""Launched backends: without ``--textract-endpoint-url`` their Textract calls go to a moto
server (``backends.open_backend``)."""


def unmeasured_by_backend(result: RunResult, meta: dict[str, Any]) -> bool:
    """Whether the backend could not measure what the run's strategy does: textract-direct
    against moto's Textract, which never reads the document, so neither a verdict ("fits", the
    fastest, a safe size) nor a comparison can be drawn from the run."""
    return (
        result.strategy == "textract-direct"
        and not meta.get("textract_endpoint_url")
        and result.backend in MOTO_TEXTRACT_BACKENDS
    )


def caveats(analysis: Analysis, meta: dict[str, Any]) -> list[str]:
    """Every caveat that applies to these results (``meta``: meta.json as written)."""
    results = analysis.results
    found: list[str] = []
    backends = {r.backend for r in results}
    if any(unmeasured_by_backend(r, meta) for r in results):
        found.append(
            "textract-direct ran against moto's Textract, which does not read the document "
            "(it answers with a random page count): its numbers are the worker's side only "
            "(the size check, the polling, and on the split path the download, split and "
            f"upload), not a real Textract job, so it is greyed as {NOT_MEASURED_BY_BACKEND} "
            "and given no verdict."
        )
    if "moto" in backends and any(r.throughput_mb_s for r in results):
        hidden = (
            ' "of wire" is left empty for the same reason: a plain GET from moto measures moto '
            "too, not the wire."
            if wire_share.hidden_on(results)
            else ""
        )
        found.append(
            "moto's server reads the whole object from its store on every GET, ranged ones "
            "included: wall times and MB/s here are moto's (ranged strategies worst of all); "
            f"compare throughput on s3rver or a real endpoint.{hidden}"
        )
    above_wire = wire_share.above_wire_caveat(analysis, meta)
    if above_wire:
        found.append(above_wire)
    over = [
        r
        for r in results
        if r.status == "ok"
        and r.memory_limit_bytes
        and r.cap_enforcement not in (None, "watchdog")
        and (r.peak_rss_bytes or 0) > r.memory_limit_bytes
    ]
    if over:
        worst = max(over, key=lambda r: r.peak_rss_bytes or 0)
        found.append(
            f"{len(over)} runs peaked above their cgroup limit (up to "
            f"{format_mb(worst.peak_rss_bytes)} MB against {format_mb(worst.memory_limit_bytes)} "
            "MB) and were not killed: RSS counts pages of shared libraries already charged to "
            "another cgroup, which the limit does not count."
        )
    found += _host_reporting(results, meta)
    found += _throughput_spread(analysis)
    return found


def _host_reporting(results: list[RunResult], meta: dict[str, Any]) -> list[str]:
    """Runs during which the VM handed freed memory back to its host: their page-cache writes
    waited on the host, so their MB/s is not comparable with the other runs'."""
    timed = [r for r in results if r.status == "ok" and r.throughput_mb_s]
    slowed = [r for r in timed if (r.host_reported_bytes or 0) >= HOST_REPORTED_NOTABLE_BYTES]
    if not slowed:
        return []
    settled = meta.get("host_memory", {}).get("settled")
    advice = (
        "even though every run waited for the run before it to be handed back"
        if settled
        else "--settle-host-memory makes every run wait until the run before it has been "
        "handed back (about 2 s a run), so that all start alike"
    )
    return [
        f"This machine handed freed memory back to its host (free page reporting) during "
        f"{len(slowed)} of {len(timed)} timed runs: a run's writes then wait while the host "
        "supplies pages again, which halved single-stream fetches on the machine this harness "
        "was measured on, so the MB/s of those runs is not comparable with the others' "
        f"({advice})."
    ]


def _throughput_spread(analysis: Analysis) -> list[str]:
    spread: list[tuple[float, str]] = []
    for case in analysis.cases:
        speeds = [r.throughput_mb_s for r in case.ok_runs if r.throughput_mb_s]
        if len({r.repeat for r in case.ok_runs}) < 2 or len(speeds) < 2:
            continue
        middle = statistics.median(speeds)
        share = (max(speeds) - min(speeds)) / middle
        if share > SPREAD_WORTH_SAYING:
            spread.append((share, case.label))
    if not spread:
        return []
    spread.sort(reverse=True)
    named = ", ".join(f"{label} ({share:.0%})" for share, label in spread[:5])
    more = f" and {len(spread) - 5} more" if len(spread) > 5 else ""
    return [
        f"Throughput varied by more than {SPREAD_WORTH_SAYING:.0%} of its median between "
        f"repeats in {len(spread)} cases: {named}{more}. Compare medians measured in one run, "
        "not single runs or runs on different days."
    ]
