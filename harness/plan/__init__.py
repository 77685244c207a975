"""From settings to the ordered runs of a session (and each run's wall-clock limit). May import
``config`` and ``model``.
"""
