"""The bounds a run's settings are checked against before anything starts (README "Faults and
bad input"): past them a value is a typo or a hostile file, not a plan."""

from __future__ import annotations

MAX_CONCURRENCY = 256
"""Most workers (or threads) a case runs at once: each needs its own copy of the object."""
MAX_LIST = 100
"""Most entries of one list setting (sizes, strategies, worker counts, faults, a parameter's
values)."""
MAX_REPEAT = 10_000
"""Most repeats (and Celery soak tasks) of a case."""
MAX_SECONDS = 7 * 24 * 3600.0
"""Longest --timeout or --sample-interval: a week."""
MAX_WORKER_RUNS = 100_000
"""Most worker runs one run may plan: repeats x soak x cases x workers per case. That many take
a day or more at a second each; beyond it a typo (``repeat = 100000000000``) is likelier than
intent, and the plan alone would not fit in memory."""
