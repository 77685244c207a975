"""System tests: the ``memharness`` command end to end as a user runs it, services and all."""
