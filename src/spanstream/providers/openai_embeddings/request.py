"""Builds the ``POST /embeddings`` request body and its :class:`RequestInfo`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Literal

from typing_extensions import Required, Unpack

from .. import base
from .._openai import PROVIDER
from ..base import CommonParams, PreparedRequest, RequestInfo, int_of, prepare_request, str_of

_PARSER = base.first_use(__package__, "EmbeddingsParser")

__all__ = ["DEFAULT_ENCODING_FORMAT", "EmbeddingsParams", "build_request", "input_count"]

DEFAULT_ENCODING_FORMAT = "base64"
"""Asked for when the caller names no ``encoding_format``, as the openai SDK does: a quarter
of the bytes of JSON floats, and no float text to parse. The vectors come back as floats
either way; pass ``encoding_format="float"`` to a server that refuses ``base64``."""


class EmbeddingsParams(CommonParams, total=False):
    """The keyword arguments of ``client.embeddings.create()``: ``/embeddings`` body fields
    (any further keyword is sent as a body field as is; a type checker wants those in
    ``extra_body``). ``conversation_id`` does not apply: the embeddings span has none."""

    model: Required[str]
    input: Required[str | Sequence[str] | Sequence[int] | Sequence[Sequence[int]]]
    """A text, a list of texts, a list of token ids, or a list of such lists."""
    encoding_format: Literal["float", "base64"] | None
    """How the server sends the vectors (default ``base64``: see
    :data:`DEFAULT_ENCODING_FORMAT`); they are floats either way."""
    dimensions: int | None
    """The number of dimensions the embeddings should have (``text-embedding-3`` and later)."""
    user: str | None


def build_request(**params: Unpack[EmbeddingsParams]) -> PreparedRequest:
    """Return the ``create()`` request for embeddings (``params``: see
    :class:`EmbeddingsParams`). The reply is one JSON document, read by an
    :class:`EmbeddingsParser` that checks it has one vector per input. Parameters left
    ``None`` are not sent; ``extra_body`` is merged last."""
    if params.get("conversation_id") is not None:
        raise TypeError("create() got conversation_id, which the embeddings span does not have")
    encoding = {} if params.get("encoding_format") else {"encoding_format": DEFAULT_ENCODING_FORMAT}
    prepared = prepare_request(
        "/embeddings", params, EmbeddingsParams, _info, _PARSER, derived=encoding, stream=False
    )
    assert prepared.body is not None
    inputs = input_count(prepared.body.get("input"))
    return replace(prepared, parser=partial(_PARSER, inputs=inputs))


def input_count(value: object) -> int | None:
    """How many embeddings a request's ``input`` asks for: one for a text or a list of token
    ids, one per item of a list of texts or of token lists (``None``: not a shape the API
    takes, so the reply's count is not checked)."""
    if isinstance(value, str):
        return 1
    if not isinstance(value, Sequence) or isinstance(value, bytes):
        return None
    if value and all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        return 1
    if all(isinstance(item, str) or _is_tokens(item) for item in value):
        return len(value)
    return None


def _is_tokens(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _info(body: Mapping[str, object]) -> RequestInfo:
    """Read the telemetry-relevant fields from the final body (after ``extra_body``)."""
    encoding = str_of(body.get("encoding_format"))
    return RequestInfo(
        provider=PROVIDER,
        operation="embeddings",
        model=str(body["model"]),
        family="embeddings",
        encoding_formats=(encoding,) if encoding else None,
        dimension_count=int_of(body.get("dimensions")),
    )
