"""One registry for every plug-in family: encoders, detectors, flow, text scorers, fusion rules.

An entry is a class or a "module:Class" string imported the first time it is asked for, so
registering a torchvision-backed encoder costs nothing until one is built. Settings are
checked against the class's constructor before it is called, so a typo in an option is a
`ConfigError` naming the options the entry takes, not a TypeError deep inside a run.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from importlib import import_module
from typing import Any, Generic, TypeVar

from vidskill.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named plug-ins of one kind (e.g. "encoder"), in registration order."""

    def __init__(self, kind: str, entries: Mapping[str, str | type] | None = None):
        self.kind = kind
        self._entries: dict[str, str | type] = {}
        for name, target in (entries or {}).items():
            self.add(name, target)

    def add(self, name: str, target: str | type) -> None:
        """Register `target` (a class or "module:Class") under `name`."""
        if name in self._entries:
            raise ValueError(f"a {self.kind} is already registered under the name {name!r}")
        self._entries[name] = target

    def names(self) -> list[str]:
        """Every registered name, in registration order (CLI choices come from here)."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def cls(self, name: str) -> type[T]:
        """The class registered under `name`, imported on first use."""
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of the available: "
                              f"{', '.join(self.names())}")
        target = self._entries[name]
        if isinstance(target, str):
            module, attr = target.split(":")
            target = getattr(import_module(module), attr)
            self._entries[name] = target
        return target

    def check(self, name: str, settings: Mapping[str, Any]) -> None:
        """Raise a `ConfigError` unless `settings` fit the constructor of `name`."""
        cls = self.cls(name)
        signature = inspect.signature(cls)
        try:
            signature.bind(**settings)
        except TypeError as e:
            takes = [p for p in signature.parameters if p not in ("self", "args", "kwargs")]
            raise ConfigError(
                f"{self.kind} {name!r}: bad settings {sorted(settings)} ({e}); it takes "
                f"{', '.join(takes) or 'no settings'}"
            ) from None

    def get(self, name: str, **settings: Any) -> T:
        """A `name` plug-in built with `settings` (checked first)."""
        self.check(name, settings)
        return self.cls(name)(**settings)
