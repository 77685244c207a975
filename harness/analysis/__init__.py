"""The one analysis layer over results: case identity and names (``identity``), grouping and
statistics (``cases``), the budget verdict (``verdicts``) and baseline pairing (``compare``).
Every view reads results through it; none groups runs on its own. Pure functions: may import
``model``, ``config`` and ``results``;
never prints, measures or renders."""
