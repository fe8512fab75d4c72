"""The frozen records' equality, hashing and repr are written once (spanstream._record.Record)
instead of generated per class: they must behave exactly as the dataclass-generated methods
would, for every record class of the package."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import pkgutil

import pytest

import spanstream
from spanstream import _record, events


def _records() -> list[type]:
    """Every dataclass of the package that is a Record (by module, then name)."""
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(spanstream.__path__, "spanstream."):
        if ".testing" in info.name or info.name.endswith(("cli", "__main__")):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, _record.Record):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[key] for key in sorted(found)]


RECORDS = [cls for cls in _records() if dataclasses.is_dataclass(cls)]


def _generated(cls: type) -> type:
    """The same fields as a plain frozen slotted dataclass, with every method generated."""
    spec = [(f.name, object, f) for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(cls.__qualname__, spec, frozen=True, slots=True)


def _sample(cls: type, salt: int) -> dict[str, object]:
    values: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        values[f.name] = f"{f.name}-{salt}" if f.compare else {"salt": salt}
    return values


def test_every_record_is_a_frozen_slotted_dataclass_with_the_shared_methods() -> None:
    assert len(RECORDS) >= 35
    assert {events.TextDelta, events.Response} <= set(RECORDS)
    for cls in RECORDS:
        assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        assert hasattr(cls, "__slots__")
        assert not hasattr(cls(**_sample(cls, 1)), "__dict__")


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_equality_hash_and_repr_are_those_a_dataclass_generates(cls: type) -> None:
    twin = _generated(cls)
    one, same, other = (cls(**_sample(cls, n)) for n in (1, 1, 2))
    g_one, g_same, g_other = (twin(**_sample(cls, n)) for n in (1, 1, 2))
    assert (one == same) is (g_one == g_same) is True
    assert (one == other) is (g_one == g_other)
    assert (one != other) is (g_one != g_other)
    assert one.__eq__(g_one) is NotImplemented  # another class is never equal
    compared = [f for f in dataclasses.fields(cls) if f.compare]
    if all(f.hash is None for f in compared):
        assert hash(one) == hash(g_one) == hash(same)
    assert repr(one) == repr(g_one)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.__setattr__(dataclasses.fields(cls)[0].name, "changed")


def test_a_field_left_out_of_comparison_is_ignored_and_unhashed() -> None:
    call = events.ToolCall.build("c1", "f", '{"a": 1}', None)
    again = dataclasses.replace(call, parsed_arguments={"other": True})
    assert call == again
    assert hash(call) == hash(again)
    citation = events.Citation(kind="url", raw={"a": 1})
    assert "raw=" not in repr(citation)


def test_a_nan_field_equals_itself_as_in_a_generated_eq() -> None:
    nan = math.nan
    assert events.TurnStarted(nan) == events.TurnStarted(nan)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_init_takes_and_sets_what_the_generated_one_does(cls: type) -> None:
    # The hot deltas write their own __init__ (events.TextDelta says why): the same parameters
    # and defaults, the same fields set, whether given by position, by keyword or by default.
    twin = _generated(cls)

    def parameters(init: object) -> list[tuple[str, object, object]]:
        found = inspect.signature(init).parameters.values()  # type: ignore[arg-type]
        return [(p.name, p.kind, p.default) for p in found]

    assert parameters(cls.__init__) == parameters(twin.__init__)
    names = [f.name for f in dataclasses.fields(cls)]
    values = _sample(cls, 3)
    required = {
        f.name: values[f.name]
        for f in dataclasses.fields(cls)
        if f.init
        and (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    }
    for args, kwargs in (((), values), (tuple(values.values()), {}), ((), required)):
        made, expected = cls(*args, **kwargs), twin(*args, **kwargs)
        assert [getattr(made, n) for n in names] == [getattr(expected, n) for n in names]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(cls(**values), names[0], "changed")
