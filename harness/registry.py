"""Strategy discovery through the ``memharness.strategies`` entry-point group, and parameters.

A third-party package whose entry point fails to import must not take the others down: the
strategies that load are listed and run, the broken one is named (entry point, distribution,
the import error) in one warning, and asking to run it is a usage error saying the same. A
strategy whose client library comes from an optional extra that is not installed (it raises
``MissingExtra``) is not broken: it is left out without a warning, ``memharness strategies``
names the extra, and asking to run it is a usage error saying what to install. The
parent resolves each strategy to its ``module:Class`` (``target``) and hands that to the worker,
which imports the module directly and never loads the entry-point machinery it would measure.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, version
from typing import Any

from memharness_s3.config.sizes import parse_size
from memharness_s3.errors import UsageError
from memharness_s3.strategies.base import MissingExtra, Strategy

GROUP = "memharness.strategies"
_CONTRACT = ("name", "description", "params", "fetch")


class NotInstalled(UsageError):
    """A registered strategy whose optional client library is missing."""

    def __init__(self, message: str, requirement: str) -> None:
        super().__init__(message)
        self.requirement = requirement


@dataclass(frozen=True)
class Registered:
    """One entry point of the group: where it points and which distribution registered it."""

    name: str
    target: str
    """``module:Class``, what the worker imports."""
    distribution: str | None
    version: str | None


def _describe(entry_point: EntryPoint) -> Registered:
    dist = entry_point.dist
    return Registered(
        entry_point.name,
        entry_point.value,
        dist.name if dist is not None else None,
        dist.version if dist is not None else None,
    )


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in sorted(entry_points(group=GROUP), key=lambda ep: ep.name)}


def registered() -> dict[str, Registered]:
    """Every registered strategy by name, in name order, whether or not it imports."""
    return {name: _describe(ep) for name, ep in _entry_points().items()}


def _load(name: str) -> type[Strategy]:
    return _import(_entry_points()[name])


@cache
def _import(entry_point: EntryPoint) -> type[Strategy]:
    """The class an entry point names, imported once per process."""
    name = entry_point.name
    where = _describe(entry_point)
    origin = (
        f"entry point {name!r} ({where.target}) of {where.distribution or 'an unknown package'}"
    )
    try:
        cls = entry_point.load()
    except MissingExtra as exc:
        raise NotInstalled(str(exc), exc.requirement) from None
    except Exception as exc:
        raise UsageError(
            f"strategy {name!r} cannot be loaded: {origin} failed to import: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(cls, type) or not all(hasattr(cls, attr) for attr in _CONTRACT):
        raise UsageError(
            f"{origin} is not a strategy class: it needs name, description, params and fetch()"
        )
    return cls


def load(name: str) -> type[Strategy]:
    """Import and return the strategy class registered as ``name``; UsageError otherwise."""
    if name not in _entry_points():
        known = ", ".join(available()) or "none (is memharness-s3 installed with pip?)"
        raise UsageError(f"unknown strategy {name!r}; registered strategies: {known}")
    return _load(name)


def _problems() -> dict[str, UsageError]:
    problems = {}
    for name in _entry_points():
        try:
            _load(name)
        except UsageError as exc:
            problems[name] = exc
    return problems


def broken() -> dict[str, str]:
    """Registered strategies that do not load (missing extras aside), each with why."""
    return {
        name: str(exc) for name, exc in _problems().items() if not isinstance(exc, NotInstalled)
    }


def not_installed() -> dict[str, str]:
    """Registered strategies whose optional client library is missing, each with what to
    install."""
    return {
        name: exc.requirement for name, exc in _problems().items() if isinstance(exc, NotInstalled)
    }


def available() -> list[str]:
    """The names of the registered strategies that load, in name order."""
    failing = _problems()
    return [name for name in _entry_points() if name not in failing]


def default_strategies() -> list[str]:
    """What a run that names no strategies runs: those that load, less the opt-in ones
    (``opt_in = True``: the client comparisons, which a matrix or ``--strategies`` names)."""
    return [name for name in available() if not getattr(_load(name), "opt_in", False)]


def libraries(name: str) -> dict[str, str | None]:
    """The client libraries strategy ``name`` declares (``libraries``), each with its installed
    version (None when it is not installed)."""
    found: dict[str, str | None] = {}
    for distribution in getattr(load(name), "libraries", ()):
        try:
            found[distribution] = version(distribution)
        except PackageNotFoundError:
            found[distribution] = None
    return found


def warn_broken() -> None:
    """One warning on stderr per strategy that is registered but does not load."""
    for problem in broken().values():
        print(f"memharness: warning: {problem}; it is left out", file=sys.stderr)


def parse_strategy_list(text: str | None) -> list[str]:
    """Names from a comma-separated list (the default ones when ``text`` is None), validated."""
    if text is None:
        warn_broken()
        return default_strategies()
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


def resolve_params(cls: type[Strategy], overrides: Mapping[str, str | list[str]]) -> dict[str, Any]:
    """The strategy's defaults with ``overrides`` applied, each coerced to its default's type.

    An override given as a list (a matrix file's ``chunk_size = ["1KiB", "8MiB"]``) stays a list
    of coerced values: the variants ``plan.build_cases`` makes one set of cases of each.
    """
    params = dict(cls.params)
    for name, text in overrides.items():
        if name not in params:
            known = ", ".join(params) or "none"
            raise UsageError(f"strategy {cls.name!r} has no parameter {name!r}; it has: {known}")
        default = params[name]
        if isinstance(text, list):
            params[name] = [_coerce(cls.name, name, default, item) for item in text]
        else:
            params[name] = _coerce(cls.name, name, default, text)
    return params


def _coerce(strategy: str, name: str, default: Any, text: str) -> Any:
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise UsageError(f"{strategy}.{name} expects true or false, got {text!r}")
    if isinstance(default, int):
        if text.strip().lstrip("+-").isdigit() and len(text) < 40 and int(text) < 1:
            raise UsageError(f"{strategy}.{name} must be 1 or more, got {text!r}")
        try:
            return parse_size(text)
        except UsageError as exc:
            raise UsageError(f"{strategy}.{name}: {exc}") from None
    if isinstance(default, float):
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{strategy}.{name} expects a number, got {text!r}") from None
        if not 0 < value < math.inf:
            raise UsageError(
                f"{strategy}.{name} must be a positive finite number, got {text!r:.60}"
            )
        return value
    return text
