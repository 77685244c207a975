"""Integration tests: real servers on loopback, measured workers, rendered reports."""
