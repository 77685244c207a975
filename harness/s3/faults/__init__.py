"""Faults injected between the workers and S3, so that every run ends in a recorded outcome.

``spec`` parses ``--fault`` values; ``proxy`` is the fault-injecting HTTP proxy (its own process);
``inject`` starts it (and, for ``backend-kill``, a throwaway backend) around one run of a case.
"""
