"""Factories and helpers shared by the tests (never tests themselves)."""
