"""The delta events get a faster ``__init__`` than ``dataclass`` generates: it must behave the
same (parameters, defaults, keywords, immutability, equality and hashing)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from spanstream import ReasoningDelta, RefusalDelta, TextDelta, ToolCallArgumentsDelta


@pytest.mark.parametrize("cls", [TextDelta, RefusalDelta, ReasoningDelta, ToolCallArgumentsDelta])
def test_fast_init_keeps_the_dataclass_signature(cls: type) -> None:
    params = inspect.signature(cls).parameters
    assert list(params) == [f.name for f in dataclasses.fields(cls)]
    for f in dataclasses.fields(cls):
        expected = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        assert params[f.name].default == expected


def test_fast_init_sets_every_field_positionally_and_by_keyword() -> None:
    assert TextDelta("a") == TextDelta(text="a", item_id=None)
    assert TextDelta("a", "m").item_id == "m"
    delta = ReasoningDelta("t", "r1", kind="text", part=2)
    assert (delta.text, delta.item_id, delta.kind, delta.part) == ("t", "r1", "text", 2)
    assert ReasoningDelta("t").kind == "summary"
    assert ToolCallArgumentsDelta("c", "{}", "fc_1") == ToolCallArgumentsDelta(
        call_id="c", delta="{}", item_id="fc_1"
    )
    with pytest.raises(TypeError):
        TextDelta()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        TextDelta("a", "b", "c")  # type: ignore[call-arg]


def test_fast_init_events_stay_frozen_and_hashable() -> None:
    delta = TextDelta("a", "m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        delta.text = "b"  # type: ignore[misc]
    assert hash(delta) == hash(TextDelta("a", "m"))
    assert delta != TextDelta("a", "n")
    assert repr(delta) == "TextDelta(text='a', item_id='m')"
