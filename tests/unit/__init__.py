"""Unit tests: pure functions in-process, no server, no subprocess (`pytest tests/unit`)."""
