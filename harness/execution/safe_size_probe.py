"""The probes of ``memharness limits``: N runs of one case at one object size, measured by the
same session, plan and executor as ``memharness run``, into one results directory.

Each probe is a session of its own, resumed into the search's results directory (whose
meta.json the search wrote first) on the backend the search keeps open: the fixture is generated
or taken from the cache, uploaded with its copies, and the runs' lines are appended to
``results.jsonl`` as each ends, exactly as a run's. The probe is then read back from those lines
(``analysis.safe_size.probe_of``), with runs the backend broke settled by their re-runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from memharness_s3.analysis.reruns import settled
from memharness_s3.analysis.safe_size import Probe, probe_of
from memharness_s3.config.settings import RunSettings
from memharness_s3.config.sizes import format_budget
from memharness_s3.execution.session import Executor, Session, Target
from memharness_s3.model.records import RunResult
from memharness_s3.s3.backends import Backend
from memharness_s3.views.progress import Progress


@dataclass(frozen=True)
class Series:
    """One search: a strategy, a number of workers at once, a memory limit and its scope."""

    strategy: str
    concurrency: int
    memory_limit_bytes: int
    memory_scope: str

    @property
    def label(self) -> str:
        """``read-all x4 in 512 MiB shared by the node``."""
        budget = format_budget(self.memory_limit_bytes, self.memory_scope)
        return f"{self.strategy} x{self.concurrency} in {budget}"

    def settings(self, base: RunSettings, size_bytes: int, tries: int) -> RunSettings:
        """The settings of one probe: this case at ``size_bytes``, ``tries`` times."""
        return dataclasses.replace(
            base,
            sizes=[(fixture_name(size_bytes), size_bytes)],
            strategies=[self.strategy],
            concurrency=[self.concurrency],
            memory_limit_bytes=self.memory_limit_bytes,
            memory_scope=self.memory_scope,
            repeat=tries,
        )

    def lines_at(self, results: Sequence[RunResult], size_bytes: int) -> list[RunResult]:
        """The lines of this series' case at ``size_bytes`` among a directory's lines."""
        return [
            r
            for r in results
            if r.size_bytes == size_bytes
            and r.strategy == self.strategy
            and r.concurrency == self.concurrency
            and r.memory_limit_bytes == self.memory_limit_bytes
            and r.memory_scope == self.memory_scope
        ]


def fixture_name(size_bytes: int) -> str:
    """The fixture (object) name of a probed size: ``53MB``, or bytes when not whole MB."""
    return f"{size_bytes // 10**6}MB" if size_bytes % 10**6 == 0 else f"{size_bytes}B"


class SessionProber:
    """Runs probes as sessions resumed into ``out_dir`` on an open ``backend``."""

    def __init__(
        self,
        base: RunSettings,
        target: Target,
        out_dir: Path,
        executor: Executor,
        backend: Backend,
        tries: int,
    ) -> None:
        self.base, self.target, self.out_dir = base, target, out_dir
        self.executor, self.backend, self.tries = executor, backend, tries

    def session(self, series: Series, size_bytes: int) -> Session:
        """The session of one probe (checked before the search starts, run by :meth:`probe`)."""
        return Session(
            series.settings(self.base, size_bytes, self.tries),
            self.target,
            self.out_dir,
            executor=self.executor,
            resume=True,
            progress=Progress(0),
        )

    def probe(self, series: Series, size_bytes: int) -> Probe:
        results = self.session(series, size_bytes).run(self.backend)
        return probe_of(size_bytes, self.tries, settled(series.lines_at(results, size_bytes)))
