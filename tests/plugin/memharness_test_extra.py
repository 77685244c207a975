"""A strategy whose client library (never installed) comes from an optional extra."""

from memharness_s3.strategies.base import MissingExtra

try:
    import memharness_no_such_client  # noqa: F401
except ImportError as exc:
    raise MissingExtra(
        "test-needs-extra", "memharness_no_such_client", "memharness-test-plugins[client]"
    ) from exc
