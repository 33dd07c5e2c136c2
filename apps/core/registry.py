"""Registries filled at start-up (in `AppConfig.ready()`) from settings lists of dotted paths.

A key registered twice is a configuration mistake and stops start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

T = TypeVar("T")


class Registry(Generic[T]):
    """A named map of string keys to plug-ins (channels, inbound sources, periodic jobs)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, key: str, item: T) -> T:
        if key in self._items:
            raise ImproperlyConfigured(
                f"Two {self.kind}s are registered as {key!r}: {self._items[key]!r} and {item!r}. "
                "Give one of them another key or remove it from the settings list."
            )
        self._items[key] = item
        return item

    def unregister(self, key: str) -> None:
        self._items.pop(key, None)

    def load(self, dotted_paths: Iterable[str]) -> None:
        """Import each dotted path and register it under that path."""
        for path in dotted_paths:
            try:
                item = import_string(path)
            except ImportError as exc:
                raise ImproperlyConfigured(
                    f"The {self.kind} {path!r} cannot be imported: {exc}"
                ) from exc
            self.register(path, item)

    def __getitem__(self, key: str) -> T:
        try:
            return self._items[key]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise KeyError(f"No {self.kind} is registered as {key!r} (known: {known}).") from None

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())
