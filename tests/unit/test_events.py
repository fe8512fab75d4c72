"""Event value objects: the delta events' faster ``__init__`` (it must behave as the one
``dataclass`` generates: parameters, defaults, keywords, immutability, equality, hashing) and
citations read from either provider's shape."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from spanstream import TextDelta
from spanstream.accumulate import Accumulator
from spanstream.events import (
    Citation,
    CitationAdded,
    ReasoningDelta,
    RefusalDelta,
    ToolCallArgumentsDelta,
)


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


def test_citation_from_raw_reads_both_providers_shapes() -> None:
    openai = Citation.from_raw(
        {"type": "url_citation", "url": "https://a.example", "title": "A", "start_index": 3,
         "end_index": 9},
        "msg_1",
    )  # fmt: skip
    assert (openai.kind, openai.item_id, openai.url, openai.title) == (
        "url_citation", "msg_1", "https://a.example", "A"
    )  # fmt: skip
    assert (openai.start_index, openai.end_index, openai.cited_text) == (3, 9, None)
    anthropic = Citation.from_raw(
        {"type": "char_location", "cited_text": "quote", "document_title": "Doc",
         "start_char_index": 0},
        "block-0",
    )  # fmt: skip
    assert (anthropic.title, anthropic.cited_text, anthropic.start_index) == ("Doc", "quote", None)
    file = Citation.from_raw({"type": "file_citation", "filename": "a.pdf", "index": 2}, None)
    assert file.title == "a.pdf"


def test_citation_from_raw_ignores_values_of_the_wrong_type() -> None:
    odd = Citation.from_raw({"type": 1, "url": ["x"], "start_index": True, "end_index": "9"}, None)
    assert (odd.kind, odd.url, odd.start_index, odd.end_index) == ("", None, None, None)
    assert odd.raw["url"] == ["x"]  # kept as received


def test_citations_accumulate_in_order_into_the_response() -> None:
    acc = Accumulator()
    first = Citation("url_citation", "m", url="https://a.example")
    second = Citation("url_citation", "m", url="https://b.example")
    acc.add(TextDelta("see", "m"))
    acc.add(CitationAdded(first))
    acc.add(CitationAdded(second))
    assert acc.snapshot().citations == (first, second)
    assert first == Citation("url_citation", "m", url="https://a.example", raw={"other": 1})
