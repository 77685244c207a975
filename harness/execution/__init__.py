"""Runs the plan and measures it: the session, the executor protocol, one outcome path for both
executors, process helpers (caps, procfs, lifetime, interrupts); ``local/`` and ``celery/`` are the
two executors and ``worker`` is the measured process. The worker imports only ``model``,
``execution.procfs`` and the strategy contract, so nothing else is charged to its memory.
"""
