"""The source document's "Memory Budget Analysis", answered from the measurements.

The document budgets a 512 MB worker (Python and libraries take a share, the rest is for the
file), says reading whole objects fails at about 500 MB, and tiers the strategies by object
size: in memory below about 100 MB, streamed up to 1 GB, multipart above. This module turns
each claim into a question and answers it per strategy and concurrency from what ran, saying
"unclear" where the data cannot tell; a question about sizes or strategies the run did not
measure is left out (the decision matrix answers what was measured).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memharness_s3.analysis.cases import Analysis, Series, median_of
from memharness_s3.config.sizes import format_size
from memharness_s3.model.records import RunResult
from memharness_s3.views.html.fit import SafeSize, budget_boundary, line_estimate


@dataclass(frozen=True)
class Question:
    """A tier of the document: are these strategies safe for objects in this size band?"""

    text: str
    strategies: tuple[str, ...]
    above_bytes: int
    """The band's lower end (exclusive)."""
    up_to_bytes: int | None
    """The band's upper end (inclusive); None: every size above ``above_bytes``."""


QUESTIONS = (
    Question(
        "Hold the whole object in memory (read-all) below about 100 MB?", ("read-all",), 0, 10**8
    ),
    Question(
        "Hold it in memory up to 500 MB, the document's current threshold (read-all)?",
        ("read-all",),
        10**8,
        5 * 10**8,
    ),
    Question("Stream it to disk in chunks (chunked) up to 1 GB?", ("chunked",), 10**8, 10**9),
    Question(
        "Above 1 GB, multipart / ranged downloads (range, transfer-manager)?",
        ("range", "transfer-manager"),
        10**9,
        None,
    ),
)


@dataclass(frozen=True)
class Finding:
    """One strategy at one concurrency for a question."""

    label: str
    verdict: str
    """``yes``, ``no``, ``unclear`` or ``not measured``."""
    text: str


@dataclass(frozen=True)
class Answer:
    """A question and its findings, one per series of its strategies."""

    question: Question
    findings: list[Finding]


def median_baselines(results: Sequence[RunResult]) -> dict[str, float]:
    """The idle worker of the document's arithmetic: the median baseline RSS (after imports and
    client creation) of each strategy's ok runs. What the budget leaves beyond it is for the
    object."""
    baselines = {}
    for strategy in sorted({r.strategy for r in results}):
        runs = [r for r in results if r.strategy == strategy and r.status == "ok"]
        median = median_of(runs, lambda r: r.baseline_rss_bytes or None)
        if median is not None:
            baselines[strategy] = median
    return baselines


def answer_questions(
    analysis: Analysis,
    safe: Sequence[SafeSize],
    questions: Sequence[Question] = QUESTIONS,
) -> list[Answer]:
    """Each question answered for every series of its strategies, from runs and safe sizes."""
    by_series = {s.series: s for s in safe}
    groups = analysis.group_by_series()
    answers = []
    for question in questions:
        findings: list[Finding] = []
        for strategy in question.strategies:
            series = [s for s in groups if s.strategy == strategy]
            findings.extend(_finding(question, s, groups[s], by_series[s]) for s in series)
        measured = [f for f in findings if f.verdict != "not measured"]
        if measured:
            answers.append(Answer(question, measured))
    return answers


def _finding(
    question: Question, series: Series, runs: Sequence[RunResult], safe: SafeSize
) -> Finding:
    in_band = [
        r
        for r in runs
        if r.size_bytes > question.above_bytes
        and (question.up_to_bytes is None or r.size_bytes <= question.up_to_bytes)
    ]
    if question.up_to_bytes is None:
        verdict, text = _open_band(question.above_bytes, in_band, safe.budget_bytes)
    else:
        verdict, text = _bounded_band(question.up_to_bytes, safe)
    return Finding(series.label, verdict, text + _peaks(in_band, safe.budget_bytes))


def _bounded_band(up_to: int, safe: SafeSize) -> tuple[str, str]:
    """Safe for every size up to ``up_to``: nothing failed at or below it, and something at
    or above it passed (peaks grow with size, so a larger ok size covers the smaller ones)."""
    largest_ok, failed_at = safe.limit.largest_ok_bytes, safe.limit.smallest_failed_bytes
    if failed_at is not None and failed_at <= up_to:
        return "no", f"Fails at {format_size(failed_at)}, within the band."
    tail = f"; fails from {format_size(failed_at)}" if failed_at is not None else ""
    if largest_ok is not None and largest_ok >= up_to:
        return "yes", f"Ok at every measured size up to {format_size(largest_ok)}{tail}."
    measured = f"ok up to {format_size(largest_ok)}" if largest_ok else "nothing ran ok"
    band_end = format_size(up_to)
    if safe.kind == "flat":
        return "yes", f"Measured {measured}, peak flat: {band_end} is an extrapolation{tail}."
    if safe.safe_size_bytes is not None and safe.safe_size_bytes >= up_to:
        reach = format_size(safe.safe_size_bytes)
        return "yes", (
            f"Measured {measured}; the fit reaches the budget only at {reach}: "
            f"{band_end} is an extrapolation{tail}."
        )
    estimate = line_estimate(safe.fit, safe.budget_bytes)
    return "unclear", f"Not measured up to {band_end}: {measured}{tail}.{estimate}"


def _open_band(above: int, in_band: Sequence[RunResult], budget_bytes: int) -> tuple[str, str]:
    """Safe above ``above``: every measured size in the band passed (no claim beyond them)."""
    if not in_band:
        return "not measured", f"No size above {format_size(above)} was measured."
    band = budget_boundary(in_band, budget_bytes)
    sizes = ", ".join(format_size(size) for size in sorted({r.size_bytes for r in in_band}))
    if band.smallest_failed_bytes is None:
        return "yes", f"Ok at every measured size above {format_size(above)} ({sizes})."
    if band.largest_ok_bytes is None:
        return "no", f"Fails at every measured size above {format_size(above)} ({sizes})."
    return "no", f"Fails from {format_size(band.smallest_failed_bytes)}."


def _peaks(runs: Sequence[RunResult], budget_bytes: int) -> str:
    peaks = [r.peak_rss_bytes for r in runs if r.status == "ok" and r.peak_rss_bytes]
    if not peaks:
        return ""
    text = (
        f" Highest peak in the band {format_size(max(peaks))} "
        f"({max(peaks) / budget_bytes:.0%} of the budget)"
    )
    aggregates = [
        r.aggregate_peak_rss_bytes
        for r in runs
        if r.concurrency > 1 and r.status == "ok" and r.aggregate_peak_rss_bytes
    ]
    if aggregates:
        workers = runs[0].concurrency
        text += f"; the {workers} workers together up to {format_size(max(aggregates))}"
    return text + "."
