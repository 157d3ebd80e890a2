"""Value classes that cost nothing to define: a stand-in for ``@dataclass(frozen=True)``.

A subclass declares its fields as annotations, with defaults as a dataclass would (``field()``
for a default factory, or for a field that equality ignores), and gets what ``@dataclass`` gave
the core's classes: ``__init__`` (positional or by keyword), ``__eq__`` and ``__hash__`` over the
compared fields, ``__repr__``, and no assignment after ``__init__`` (``FrozenInstanceError``,
unless the class says ``frozen=False``; then it is unhashable, as a dataclass would be).

Why not ``@dataclass``: it writes and ``exec``s new source for each of these methods of every
class, about half a millisecond a class, and the core's 30 classes paid that on every command.
Here the methods are shared and a subclass only records its field names. Instances keep their
fields in ``__dict__``, so they pickle and copy as plain objects (the workflow cache relies on it).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: object) -> Callable[[type], type]:
        return lambda cls: cls


T = TypeVar("T")
_MISSING: Any = object()


class _Spec:
    """What ``field()`` says about one field, until the class is made."""

    __slots__ = ("compare", "default", "factory")

    def __init__(self, default: Any, factory: Callable[[], Any] | None, compare: bool) -> None:
        self.default = default
        self.factory = factory
        self.compare = compare


@overload
def field(*, default: T, compare: bool = True) -> T: ...
@overload
def field(*, default_factory: Callable[[], T], compare: bool = True) -> T: ...
def field(
    *, default: Any = _MISSING, default_factory: Callable[[], Any] | None = None, compare: bool = True
) -> Any:
    """A field's default value or factory, and whether equality and the hash look at it."""
    return _Spec(default, default_factory, compare)


@dataclass_transform(eq_default=True, frozen_default=True, field_specifiers=(field,))
class Record:
    """Base of the core's value classes; see the module's docstring."""

    _fields: ClassVar[tuple[str, ...]] = ()  # in order, a base class's first
    _defaults: ClassVar[dict[str, Any]] = {}
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {}
    _compared: ClassVar[tuple[str, ...]] = ()  # the fields that equality and the hash look at
    _key: ClassVar[Callable[[Any], Any]] = staticmethod(lambda _: ())  # their values

    def __init_subclass__(cls, *, frozen: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = list(cls._fields)
        defaults = dict(cls._defaults)
        factories = dict(cls._factories)
        ignored = set(fields) - set(cls._compared)
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
                continue
            if name not in fields:
                fields.append(name)
            value = cls.__dict__.get(name, _MISSING)
            if isinstance(value, _Spec):
                if not value.compare:
                    ignored.add(name)
                if value.factory is not None:
                    factories[name] = value.factory
                    delattr(cls, name)
                    continue
                value = value.default
                if value is _MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, value)
            if value is not _MISSING:
                defaults[name] = value
            elif defaults or factories:
                raise TypeError(f"{cls.__name__}: {name!r} has no default but follows a field that has one")
        cls._fields = tuple(fields)
        cls._defaults = defaults
        cls._factories = factories
        compared = [name for name in fields if name not in ignored]
        cls._key = staticmethod(operator.attrgetter(*compared) if compared else lambda _: ())
        cls._compared = tuple(compared)
        if not frozen:
            cls.__setattr__ = object.__setattr__  # type: ignore[assignment]
            cls.__delattr__ = object.__delattr__  # type: ignore[method-assign]
            cls.__hash__ = None  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        fields = cls._fields
        if len(args) > len(fields):
            raise TypeError(f"{cls.__name__}() takes {len(fields)} arguments but {len(args)} were given")
        values = dict(zip(fields, args, strict=False))  # fewer args: the rest by name or default
        for name, value in kwargs.items():
            if name in values or name not in fields:
                problem = "got two values for" if name in values else "got an unexpected keyword argument"
                raise TypeError(f"{cls.__name__}() {problem} {name!r}")
            values[name] = value
        if len(values) < len(fields):
            for name in fields:
                if name in values:
                    continue
                if name in cls._defaults:
                    values[name] = cls._defaults[name]
                elif name in cls._factories:
                    values[name] = cls._factories[name]()
                else:
                    raise TypeError(f"{cls.__name__}() missing the argument {name!r}")
        self.__dict__.update(values)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            key = type(self)._key
            return bool(key(self) == key(other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(type(self)._key(self))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({shown})"

    def __setattr__(self, name: str, value: Any) -> None:
        from dataclasses import FrozenInstanceError  # imported here: only a mistake pays for it

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")
