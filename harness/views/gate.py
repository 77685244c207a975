"""The gate's verdict as text: what ``memharness gate`` prints (``render_text``) and the
pull-request summary (``render_markdown``). Renders a :class:`~memharness_s3.analysis.gate.Verdict`;
decides nothing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from memharness_s3.analysis.budget_scope import NODE, SCOPES, WORKER
from memharness_s3.analysis.compare import percent
from memharness_s3.analysis.gate import REASONS_LIMIT, CaseVerdict, Verdict
from memharness_s3.config.sizes import format_mb
from memharness_s3.printable import printable


def _budget(budget_bytes: int) -> str:
    binary = f" ({budget_bytes // 2**20} MiB)" if budget_bytes % 2**20 == 0 else ""
    return f"{format_mb(budget_bytes)} MB{binary}"


def _change(case: CaseVerdict) -> str:
    return "-" if case.change_pct is None else f"{case.change_pct:+.1f}%"


def _baseline_cell(case: CaseVerdict) -> str:
    if case.in_baseline is False:
        return "new"
    cell = format_mb(case.baseline_median_peak_bytes)
    return f"{cell} ({', '.join(case.changes)})" if case.changes else cell


def _counts(verdict: Verdict) -> str:
    counts = verdict.outcome_counts
    order = sorted(
        counts,
        key=lambda outcome: (outcome != "pass", outcome == "FAIL", outcome == "WARN", outcome),
    )
    parts = [f"{counts[o]} {'failing' if o == 'FAIL' else o}" for o in order]
    if "FAIL" not in counts:
        parts.append("0 failing")
    return f"{len(verdict.cases)} cases: {', '.join(parts)}"


def _by_scope(verdict: Verdict) -> str:
    """Which figure the budget was held against, with how many cases of each scope."""
    checked = [case for case in verdict.cases if case.statuses]
    said = []
    for scope in SCOPES:
        count = sum(1 for case in checked if case.scope == scope)
        if not count:
            continue
        if scope == WORKER:
            what = "peak RSS per ok worker run"
        else:
            what = "by the node's charged peak per ok run, and any kill fails"
        scoped = f" ({count} {scope}-scoped)" if len({c.scope for c in checked}) > 1 else ""
        said.append(f"{what}{scoped}")
    return " and ".join(said) or "peak RSS per ok worker run"


def _settings(verdict: Verdict) -> str:
    """What the verdict compared: the budget, by which figure, and how many cases against which
    baseline."""
    checked = sum(1 for case in verdict.cases if case.statuses)
    text = (
        f"{checked} cases checked against the budget {_budget(verdict.budget_bytes)} "
        f"{_by_scope(verdict)}"
    )
    if verdict.baseline is not None:
        text += (
            f"; {verdict.compared_count} compared with baseline {verdict.baseline} (tolerance "
            f"{percent(verdict.tolerance)}"
        )
        if verdict.warn is not None:
            text += f", warning above {percent(verdict.warn)}"
        if verdict.compared_repeats:
            text += f", medians of {verdict.compared_repeats} repeats"
        text += (
            f", rises within {verdict.noise_factor:g} standard errors of the difference of the "
            "medians taken as noise"
        )
        if verdict.floors:
            text += f", noise floor from {' and '.join(verdict.floors)}"
        if (found := verdict.detectable_range) is not None:
            low, high = found
            shown = f"{low:.1f}%" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}-{high:.1f}%"
            text += f"; detects rises above {shown}"
        text += ")"
    checks = verdict.checks
    if checks or verdict.unmet:
        held = sum(1 for check in checks if check.passed)
        text += f"; {held} of {len(checks) + len(verdict.unmet)} expected cost bounds held"
    return text


def _compared(case: CaseVerdict) -> str:
    """A compared case's change and the smallest rise its comparison could detect."""
    change = case.peak_change
    if change is None:
        return ""
    outcome = "" if change.outcome in ("pass", "noise", "WARN") else f"{change.outcome}: "
    return f"{outcome}{change.message}; {change.detects}"


def render_text(verdict: Verdict) -> str:
    """What ``memharness gate`` prints: a line per failing, warned and compared case (each
    comparison with the smallest rise it could detect), notes, then PASS or FAIL."""
    lines = []
    for case in verdict.failures:
        numbers = (
            f"median peak {format_mb(case.median_peak_bytes)} MB, "
            f"max {format_mb(case.max_peak_bytes)} MB, budget {format_mb(verdict.budget_bytes)} MB"
        )
        if case.scope == NODE:
            numbers = (
                f"{case.budget_text} against the node's budget "
                f"{format_mb(verdict.budget_bytes)} MB, {case.killed} of {case.measured} killed, "
                f"median worker peak {format_mb(case.median_peak_bytes)} MB"
            )
        if case.in_baseline:
            numbers += f", baseline {format_mb(case.baseline_median_peak_bytes)} MB"
            numbers += f" ({_change(case)})"
        if case.changes:
            numbers += f", baseline case {case.baseline_label}"
        reasons = list(case.reasons)
        if case.peak_change is not None and case.peak_change.outcome != "FAIL":
            reasons.append(f"against the baseline: {_compared(case)}")
        why = printable("; ".join(reasons), REASONS_LIMIT)
        lines.append(f"FAIL {printable(case.label)} [{printable(case.case_id)}]: {numbers}: {why}")
    passed = [case for case in verdict.cases if not case.failed and case.peak_change is not None]
    order = {"WARN": 0, "pass": 2, "noise": 2}
    for case in sorted(passed, key=lambda c: order.get(c.outcome, 1)):
        word = {"WARN": "WARN", "pass": "PASS", "noise": "PASS"}.get(case.outcome, "SKIP")
        compared = printable(_compared(case) + _node_check(case), REASONS_LIMIT)
        lines.append(f"{word} {printable(case.label)} [{printable(case.case_id)}]: {compared}")
    lines.extend(
        f"PASS {printable(case.label)} [{printable(case.case_id)}]: {_node_check(case)[2:]}"
        for case in verdict.cases
        if case.scope == NODE and not case.failed and case.peak_change is None and case.statuses
    )
    lines.extend(
        f"{'PASS' if check.passed else 'FAIL'} expect {printable(check.text, REASONS_LIMIT)}"
        for check in verdict.checks
    )
    lines.extend(f"FAIL expect: {printable(unmet, REASONS_LIMIT)}" for unmet in verdict.unmet)
    lines.extend(f"note: {printable(note, REASONS_LIMIT)}" for note in verdict.notes)
    word = "PASS" if verdict.passed else "FAIL"
    settings = printable(_settings(verdict), REASONS_LIMIT)
    lines.append(f"{word}: {_counts(verdict)}; {settings} (MB = 10^6 bytes)")
    return "\n".join(lines)


def _node_check(case: CaseVerdict) -> str:
    """For a node-scoped case that passed: what its budget check compared (with a leading
    ``; ``); empty for a per-worker case (the last line says what those compared)."""
    if case.scope != NODE:
        return ""
    return f"; {case.budget_text} within the node's budget, 0 of {case.measured} killed"


def _detects_cell(case: CaseVerdict) -> str:
    change = case.peak_change
    if change is None:
        return "-"
    if change.detectable_bytes is None:
        return "nothing (no noise estimate)"
    pct = change.detectable_bytes / change.old_median * 100
    return f"{format_mb(change.detectable_bytes)} ({pct:.1f}%)"


def _cell(text: str) -> str:
    return printable(text, REASONS_LIMIT).replace("|", "\\|")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> list[str]:
    """A Markdown table; ``align`` has one letter per column: ``l`` text, ``r`` numbers."""
    rules = [":---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rules) + " |"]
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return lines


def render_markdown(verdict: Verdict) -> str:
    """A pull-request summary: headline, failures, every case, notes."""
    word = "PASS" if verdict.passed else "FAIL"
    mark = "✅" if verdict.passed else "❌"
    if verdict.passed and verdict.warnings:
        mark = "⚠️"
        count = len(verdict.warnings)
        word += f" with {count} warning{'s' if count > 1 else ''}"
    lines = [
        f"## {mark} memharness gate: {word}",
        "",
        f"**{_counts(verdict)}.**",
        "",
        f"Checked against: {_settings(verdict)}. MB = 10^6 bytes; peak = the worker's kernel "
        "high-water mark of resident memory (VmHWM); node charged peak = the node's resident "
        "memory without page cache as its cgroup charges it (the figure the kernel kills by "
        "when the node's workers share the limit).",
    ]
    if verdict.failures:
        lines += ["", f"### Failures ({len(verdict.failures)})", ""]
        lines += _table(
            [
                "case",
                "id",
                "median peak MB",
                "max peak MB",
                "budget MB",
                "baseline MB",
                "change",
                "why",
            ],
            (
                [
                    case.label,
                    f"`{case.case_id}`",
                    format_mb(case.median_peak_bytes),
                    format_mb(case.max_peak_bytes),
                    format_mb(verdict.budget_bytes),
                    _baseline_cell(case),
                    _change(case),
                    "; ".join(case.reasons),
                ]
                for case in verdict.failures
            ),
            align="llrrrrrl",
        )
    if verdict.warnings:
        lines += ["", f"### Warnings ({len(verdict.warnings)})", ""]
        lines += _table(
            [
                "case",
                "id",
                "median peak MB",
                "baseline MB",
                "change",
                "detects rises above MB",
                "why",
            ],
            (
                [
                    case.label,
                    f"`{case.case_id}`",
                    format_mb(case.median_peak_bytes),
                    _baseline_cell(case),
                    _change(case),
                    _detects_cell(case),
                    case.peak_change.message if case.peak_change else "",
                ]
                for case in verdict.warnings
            ),
            align="llrrrrl",
        )
    lines += ["", "### All cases", ""]
    lines += _table(
        [
            "case",
            "budget checked by",
            "median peak MB",
            "baseline MB",
            "change",
            "detects rises above MB",
            "verdict",
        ],
        (
            [
                case.label,
                f"{case.scope} scope: {case.budget_text}" if case.statuses else "-",
                format_mb(case.median_peak_bytes),
                _baseline_cell(case),
                _change(case),
                _detects_cell(case),
                f"**{case.outcome}**" if case.failed or case.warned else case.outcome,
            ]
            for case in verdict.cases
        ),
        align="llrrrrl",
    )
    if verdict.checks or verdict.unmet:
        lines += ["", "### Expected costs (peak - baseline)", ""]
        lines += [
            f"- {'PASS' if check.passed else '**FAIL**'} {_cell(check.text)}"
            for check in verdict.checks
        ]
        lines += [f"- **FAIL** {_cell(unmet)}" for unmet in verdict.unmet]
    if verdict.notes:
        lines += ["", "### Notes", ""]
        lines += [f"- {_cell(note)}" for note in verdict.notes]
    return "\n".join(lines) + "\n"
