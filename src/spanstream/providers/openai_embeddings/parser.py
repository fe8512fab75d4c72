"""Sans-IO parser of the OpenAI ``/embeddings`` reply: one JSON document in, an
:class:`~spanstream.embeddings.EmbeddingsResponse` out (:attr:`EmbeddingsParser.result`).

The reply is never streamed, so the parser reads it whole with :meth:`~EmbeddingsParser.
feed_body`; its :attr:`~EmbeddingsParser.response` is what telemetry reads of it (the model,
the usage and the dimension count, status ``completed``), its ``result`` what ``create()``
returns. A reply it cannot use is :class:`~spanstream.errors.MalformedEventError`, strict or
not (there is nothing else in it to keep): not JSON, no ``data``, an ``embedding`` that is
neither floats nor base64 of float32, indexes that do not number the vectors 0 to n-1, or fewer
or more vectors than the request had inputs (the vectors would no longer line up with them).
A usage or model of the wrong type is dropped alone and counted (``malformed_count``). A reply
that reports an ``error`` with a success status is a failed response (``ResponseFailedError``).
"""

from __future__ import annotations

import base64
import binascii
import sys
from array import array

from ...embeddings import EmbeddingsResponse, Vector
from ...events import ProviderError, Response, ResponseStatus, StreamEvent, UnknownEvent, Usage
from .._parser import Data, ParserBase, text_of
from . import wire

__all__ = ["EmbeddingsParser"]

_REPLY = "embeddings"  # what messages call the document


class EmbeddingsParser(ParserBase):
    """Reads one ``/embeddings`` reply; ``inputs``: how many inputs the request sent (``None``:
    not checked).

    >>> parser = EmbeddingsParser(inputs=1)
    >>> _ = parser.feed_body(b'{"data":[{"index":0,"embedding":[0.5,-1]}],"model":"m"}')
    >>> parser.result.vectors
    ((0.5, -1.0),)
    """

    api = "Embeddings"
    # Logs (a dropped usage) go to ParserBase's "spanstream.providers", whose records the key
    # scrubber filters (spanstream._secrets.LOGGERS).

    def __init__(self, *, strict: bool = False, inputs: int | None = None) -> None:
        super().__init__(strict=strict)
        self.unknown_count = 0
        """Server-sent events (an embeddings reply has none: each is counted, not read)."""
        self.done = False
        """Whether the reply was read (:meth:`feed_body`)."""
        self._inputs = inputs
        self._status: ResponseStatus = "in_progress"
        self._error: ProviderError | None = None
        self._result = EmbeddingsResponse(vectors=(), model=None, usage=None)

    @property
    def response(self) -> Response:
        """The reply as telemetry reads it: model, usage (input tokens) and dimension count."""
        result = self._result
        return Response(
            id=None,
            model=result.model,
            status=self._status,
            finish_reason=None,
            text="",
            refusal=None,
            tool_calls=(),
            reasoning=(),
            usage=result.usage,
            error=self._error,
            dimension_count=result.dimension_count,
        )

    @property
    def result(self) -> EmbeddingsResponse:
        """The embeddings read (none until :meth:`feed_body`)."""
        return self._result

    @property
    def error(self) -> ProviderError | None:
        """The error a reply with a success status reported, if any."""
        return self._error

    def feed_raw(self, event: str, data: Data) -> list[StreamEvent]:
        """An event of a reply that came as an event stream, which the embeddings API never
        sends: counted and passed on as ``UnknownEvent``; the reply then ends incomplete."""
        self.unknown_count += 1
        return [UnknownEvent(event, text_of(data))]

    def close(self) -> list[StreamEvent]:
        return []

    def feed_body(self, data: bytes) -> list[StreamEvent]:
        """Read the whole reply (see the module's rules); no events: the result is
        :attr:`result`, the outcome :attr:`response`'s status."""
        reply: wire.EmbeddingsList = self._decode_body(data, wire.EmbeddingsList, _REPLY)
        self.done = True
        if reply.data is None and reply.error is not None:
            error = reply.error
            self._error = ProviderError(
                message=error.message or "error",
                code=error.code or error.type,
                type=error.type,
                param=error.param,
            )
            self._status = "failed"
            return []
        if reply.data is None:
            raise self._malformed_reply("data: the reply has no embeddings")
        usage = reply.usage
        self._result = EmbeddingsResponse(
            vectors=self._vectors(reply.data),
            model=reply.model,
            usage=None
            if usage is None
            else Usage(input_tokens=usage.prompt_tokens, total_tokens=usage.total_tokens),
        )
        self._status = "completed"
        return []

    def _vectors(self, items: list[wire.EmbeddingItem]) -> tuple[Vector, ...]:
        """The vectors in input order, checked against the indexes and the inputs' count."""
        indexes = [item.index for item in items]
        if any(index is not None for index in indexes):
            if sorted(i if i is not None else -1 for i in indexes) != list(range(len(items))):
                raise self._malformed_reply(
                    "data.index: the indexes do not number the embeddings 0..n-1"
                )
            items = sorted(items, key=lambda item: item.index or 0)
        if self._inputs is not None and len(items) != self._inputs:
            raise self._malformed_reply(
                f"data: {len(items)} embedding(s) for {self._inputs} input(s)"
            )
        return tuple(self._vector(position, item.embedding) for position, item in enumerate(items))

    def _vector(self, position: int, embedding: list[float] | str) -> Vector:
        if not isinstance(embedding, str):
            return tuple(embedding)
        # base64 of little-endian float32, as the API sends it and the openai SDK reads it
        # (openai-python src/openai/lib/_parsing/_embeddings.py).
        try:
            raw = base64.b64decode(embedding, validate=True)
        except (binascii.Error, ValueError):
            raise self._malformed_reply(f"data.{position}.embedding: not base64") from None
        if len(raw) % 4:
            raise self._malformed_reply(
                f"data.{position}.embedding: {len(raw)} bytes is no whole number of float32"
            )
        floats = array("f", raw)
        if sys.byteorder == "big":
            floats.byteswap()
        return tuple(floats)
