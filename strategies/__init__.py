"""Built-in fetch strategies, one module each, registered under ``memharness.strategies``."""
