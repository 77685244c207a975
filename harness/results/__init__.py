"""The results directory: ``results.jsonl``, ``meta.json`` and per-run artifacts.

``writer`` appends results as runs end; ``loader`` is the one reader every view, the gate,
the exports and ``--resume`` use, so a file is validated the same way whoever reads it. May import
``model`` and ``config``.
"""
