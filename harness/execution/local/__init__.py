"""The local executor: one measured worker process per run, sampled from the parent
(``measure``), one run after another (``runner``).
"""
