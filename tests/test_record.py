"""Tests of erflow.core.record: the core's value classes behave as the dataclasses they replace."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pytest

from erflow.core.engine import Plan
from erflow.core.model import Ticket
from erflow.core.record import Record, field
from erflow.core.workflow import EmailSpec, LinkedTicket


class Point(Record):
    x: int
    y: int = 0
    seen: int = field(default=0, compare=False)
    tags: list[str] = field(default_factory=list)


class Point3(Point):
    z: int = 0


class Box(Record, frozen=False):
    items: list[Any] = field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class DataPoint:
    x: int
    y: int = 0
    seen: int = dataclasses.field(default=0, compare=False)
    tags: list[str] = dataclasses.field(default_factory=list)


def test_a_record_is_made_by_position_or_by_name_with_defaults_and_factories() -> None:
    assert (Point(1).x, Point(1).y, Point(1).tags) == (1, 0, [])
    assert Point(1, 2) == Point(y=2, x=1)
    assert Point(1).tags is not Point(1).tags


def test_a_record_refuses_missing_unknown_and_doubled_arguments() -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((), {}),
        ((1,), {"z": 3}),
        ((1,), {"x": 2}),
        ((1, 2, 3, [], 5), {}),
    ]
    for args, kwargs in calls:
        with pytest.raises(TypeError):
            Point(*args, **kwargs)


def test_equality_and_hash_are_a_dataclasses_over_the_compared_fields() -> None:
    assert Point(1, 2, seen=5) == Point(1, 2, seen=9)
    assert Point(1, 2) != Point(1, 3)
    assert Point3(1, 2) != Point(1, 2)  # another class is never equal, as with @dataclass
    assert Point(1, 2).__eq__((1, 2)) is NotImplemented
    assert len({EmailSpec("a", line=1), EmailSpec("a", line=2)}) == 1


def test_repr_is_a_dataclasses() -> None:
    assert repr(Point(1, 2, 3, ["a"])) == repr(DataPoint(1, 2, 3, ["a"])).replace("DataPoint", "Point")


def test_a_frozen_record_refuses_assignment_and_deletion_as_a_dataclass_does() -> None:
    point = Point(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del point.y  # type: ignore[misc]
    assert point == Point(1)


def test_a_record_made_with_frozen_false_is_mutable_and_unhashable() -> None:
    box = Box()
    box.items = [1]
    assert box == Box([1])
    with pytest.raises(TypeError):
        hash(box)
    ticket = Ticket({"id": "ER-1"})
    ticket.description = "text"
    assert ticket.sections == {"Notes": [], "Communications": []}


def test_a_subclass_has_its_bases_fields_first() -> None:
    assert Point3(1, 2, 0, [], 3).z == 3
    assert repr(Point3(1)).startswith("Point3(x=1, y=0, seen=0, tags=[], z=0")


def test_a_field_without_a_default_after_one_with_a_default_is_refused() -> None:
    with pytest.raises(TypeError):

        class Bad(Record):  # noqa: F841
            a: int = 0
            b: int


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_records_pickle_and_copy_to_equal_records(protocol: int) -> None:
    linked = LinkedTicket("bug", "creates", ("title",), {"a": "b"}, {"priority": "high"}, True, None, 7)
    for value in (Point(1, 2, 3, ["a"]), linked, Box([1])):
        assert pickle.loads(pickle.dumps(value, protocol)) == value
        assert copy.deepcopy(value) == value == copy.copy(value)


def test_a_mutable_record_with_factories_keeps_its_own_lists() -> None:
    first, second = Box(), Box()
    first.items.append(1)
    assert second.items == []
    assert Plan.__hash__ is None
