"""The source document's "Memory Budget Analysis", answered from the measurements.

The document budgets a 512 MB worker (Python and libraries take a share, the rest is for the
file), says reading whole objects fails at about 500 MB, and tiers the strategies by object
size: in memory below about 100 MB, streamed up to 1 GB, multipart above. This module turns
each claim into a question and answers it per strategy and concurrency from what ran, saying
"unclear" where the data cannot tell; a question about sizes or strategies the run did not
measure is left out (the decision matrix answers what was measured).

Answers speak of measured sizes only. "yes" needs measurements on both sides of the size the
question names, every one passing (no kill, the budget figure of the run's scope under the
budget): "below about 100 MB" is not answered yes from runs at 250 MB alone, however flat
their peaks. "no" needs a failure at a measured size within the question's band (or below it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memharness_s3.analysis.budget_scope import budget_figure, figure_name, scopes_of
from memharness_s3.analysis.cases import KILLED, Analysis, Series, group_by_size, median_of
from memharness_s3.config.sizes import format_size
from memharness_s3.model.records import INFRA, RunResult
from memharness_s3.views.html.fit import SafeSize, run_failed


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
    in_band = [r for r in runs if _in_band(question, r.size_bytes)]
    if not in_band:
        return Finding(series.label, "not measured", "")
    sizes = _SizeVerdicts(runs, safe.budget_bytes)
    if question.up_to_bytes is None:
        verdict, text = _open_band(question.above_bytes, sizes)
    else:
        verdict, text = _bounded_band(question.above_bytes, question.up_to_bytes, sizes)
    return Finding(series.label, verdict, text + _peaks(in_band, safe.budget_bytes))


def _in_band(question: Question, size: int) -> bool:
    return size > question.above_bytes and (
        question.up_to_bytes is None or size <= question.up_to_bytes
    )


class _SizeVerdicts:
    """Each measured size of a series: passed (every measured run) or failed, with its kills."""

    def __init__(self, runs: Sequence[RunResult], budget_bytes: int) -> None:
        self.passed: list[int] = []
        self.failed: list[int] = []
        self.kills: dict[int, str] = {}
        for size, group in group_by_size(runs).items():
            measured = [r for r in group if r.status != INFRA]
            killed = sum(1 for r in measured if r.status == KILLED)
            if killed:
                self.kills[size] = f"{killed} of {len(measured)} killed"
            if any(run_failed(r, budget_bytes) for r in measured):
                self.failed.append(size)
            elif any(r.status == "ok" for r in measured):
                self.passed.append(size)

    def failure(self, size: int) -> str:
        """``750 MB (2 of 4 killed)``, or ``750 MB (over the budget)``."""
        return f"{format_size(size)} ({self.kills.get(size, 'over the budget')})"


def _sizes(sizes: Sequence[int]) -> str:
    return ", ".join(format_size(size) for size in sorted(sizes))


def _bounded_band(above: int, up_to: int, sizes: _SizeVerdicts) -> tuple[str, str]:
    """Safe for every size up to ``up_to``: no failure at or below it, a passing size below
    it in the band and one at or above it (peaks grow with size, so a larger passing size
    covers the ones between)."""
    failed = [s for s in sizes.failed if s <= up_to]
    if failed:
        first = min(failed)
        where = "within the band" if first > above else "below the band"
        return "no", f"Fails at {sizes.failure(first)}, {where}."
    below = [s for s in sizes.passed if above < s < up_to]
    beyond = [s for s in sizes.passed if s >= up_to]
    beyond_failed = [s for s in sizes.failed if s >= up_to]
    band_end = format_size(up_to)
    if below and beyond and (not beyond_failed or min(beyond) < min(beyond_failed)):
        tail = f"; fails at {sizes.failure(min(beyond_failed))}" if beyond_failed else ""
        return "yes", (
            f"Ok at every measured size from {format_size(min(below))} to "
            f"{format_size(min(beyond))}{tail}."
        )
    measured = _sizes([s for s in sizes.passed if above < s <= up_to])
    if not below:
        missing = f"nothing measured between {format_size(above)} and {band_end}"
    else:
        missing = f"nothing measured at or above {band_end} passed"
    return "unclear", f"Ok at {measured}, but {missing}: the band is not covered."


def _open_band(above: int, sizes: _SizeVerdicts) -> tuple[str, str]:
    """Safe above ``above``: every measured size in the band passed, and one at or below it
    did too; no claim beyond the largest measured size."""
    in_band = sorted(s for s in [*sizes.passed, *sizes.failed] if s > above)
    failed = [s for s in sizes.failed if s > above]
    edge = format_size(above)
    if failed and len(failed) == len(in_band):
        return "no", f"Fails at every measured size above {edge}: {_failures(sizes, failed)}."
    if failed:
        return "no", f"Fails at {_failures(sizes, failed)}."
    if sizes.failed:
        return "no", f"Fails at {sizes.failure(min(sizes.failed))}, below the band."
    listed = _sizes(in_band)
    if not any(s <= above for s in sizes.passed):
        return "unclear", (
            f"Ok at {listed}, but no size at or below {edge} passed to compare with; nothing "
            f"above {format_size(in_band[-1])} was measured."
        )
    return "yes", (
        f"Ok at every measured size above {edge} ({listed}); nothing above "
        f"{format_size(in_band[-1])} was measured."
    )


def _failures(sizes: _SizeVerdicts, failed: Sequence[int]) -> str:
    return ", ".join(sizes.failure(size) for size in sorted(failed))


def _peaks(runs: Sequence[RunResult], budget_bytes: int) -> str:
    figures = [f for r in runs if r.status == "ok" and (f := budget_figure(r))]
    if not figures:
        return ""
    names = " / ".join(figure_name(scope) for scope in scopes_of(runs))
    return (
        f" Highest {names} in the band {format_size(max(figures))} "
        f"({max(figures) / budget_bytes:.0%} of the budget)."
    )
