"""Strategy discovery through the ``memharness.strategies`` entry-point group, and parameters."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from memharness_s3.errors import UsageError
from memharness_s3.sizes import parse_size
from memharness_s3.strategies.base import Strategy

GROUP = "memharness.strategies"


def available() -> dict[str, EntryPoint]:
    """Registered strategies by name, in name order."""
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    return dict(sorted(found.items()))


def load(name: str) -> type[Strategy]:
    """Import and return the strategy class registered as ``name``."""
    registered = available()
    if name not in registered:
        known = ", ".join(registered) or "none (is memharness installed with pip?)"
        raise UsageError(f"unknown strategy {name!r}; registered strategies: {known}")
    cls = registered[name].load()
    if not isinstance(cls, type) or not all(
        hasattr(cls, attr) for attr in ("name", "description", "params", "fetch")
    ):
        raise UsageError(
            f"entry point {name!r} ({registered[name].value}) is not a strategy class: it needs "
            "name, description, params and fetch()"
        )
    return cls


def parse_strategy_list(text: str | None) -> list[str]:
    """Names from a comma-separated list (all registered ones when ``text`` is None), validated."""
    if text is None:
        return list(available())
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError("empty strategy list")
    for name in names:
        load(name)
    return names


def parse_param_overrides(items: list[str]) -> dict[str, dict[str, str]]:
    """Turn ``STRATEGY.NAME=VALUE`` items into ``{strategy: {name: value}}``."""
    overrides: dict[str, dict[str, str]] = {}
    for item in items:
        target, sep, value = item.partition("=")
        strategy, dot, name = target.partition(".")
        if not sep or not dot or not strategy or not name:
            raise UsageError(f"malformed --param {item!r}: expected STRATEGY.NAME=VALUE")
        overrides.setdefault(strategy.strip(), {})[name.strip()] = value.strip()
    return overrides


def resolve_params(cls: type[Strategy], overrides: dict[str, str]) -> dict[str, Any]:
    """The strategy's defaults with ``overrides`` applied, each coerced to its default's type."""
    params = dict(cls.params)
    for name, text in overrides.items():
        if name not in params:
            known = ", ".join(params) or "none"
            raise UsageError(f"strategy {cls.name!r} has no parameter {name!r}; it has: {known}")
        params[name] = _coerce(cls.name, name, params[name], text)
    return params


def _coerce(strategy: str, name: str, default: Any, text: str) -> Any:
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise UsageError(f"{strategy}.{name} expects true or false, got {text!r}")
    if isinstance(default, int):
        return parse_size(text)
    if isinstance(default, float):
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{strategy}.{name} expects a number, got {text!r}") from None
        if value <= 0:
            raise UsageError(f"{strategy}.{name} must be positive, got {text!r}")
        return value
    return text
