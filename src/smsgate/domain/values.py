"""``value``: the dataclass decorator of the delivery pipeline's value objects.

They are frozen to the type checker (mypy refuses any assignment to a field, as for
``@dataclass(frozen=True)``) but built by a plain ``__init__`` at run time. A frozen
dataclass's ``__init__`` sets each field through ``object.__setattr__``, which made it
about four times slower: a ``Transition`` took 2.1 µs instead of 0.5, and the worker builds
some thirty of these objects for every message it delivers (docs/benchmarks.md). They
hash and compare by value, as frozen dataclasses do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def value(cls: type[T]) -> type[T]:
    """``@dataclass(frozen=True, slots=True)`` for the type checker, without the cost of
    frozen fields at run time (see the module's docstring)."""
    return dataclass(slots=True, unsafe_hash=True)(cls)
