"""The HTML report: a view over a results directory (``results.jsonl``, ``meta.json``, timelines).

It reads what ``memharness run`` wrote and never measures. ``source`` loads and checks the
input; the cases, their verdicts against the budget and the decision come from ``analysis``;
``fit`` fits peak RSS against object size, ``budget`` answers the source document's
memory-budget question from those fits, ``charts`` draws the figures and ``page`` puts it all in
one self-contained page, its charts inline SVG written by ``svg``. This package's ``__init__``
imports nothing, so a caller loads only the modules it uses.
"""
