"""What ``client.embeddings.create(...)`` returns: :class:`EmbeddingsResponse`.

::

    result = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    first, second = result.vectors            # one vector per input, in input order
    result.usage.input_tokens if result.usage else None

The vectors are Python floats whatever the encoding on the wire (``encoding_format``): a
``base64`` reply is decoded from little-endian float32, as the ``openai`` SDK decodes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._record import Record
from .events import Usage

__all__ = ["EmbeddingsResponse", "Vector"]

Vector = tuple[float, ...]
"""One embedding."""


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class EmbeddingsResponse(Record):
    """The embeddings of one request: ``vectors[i]`` is the embedding of the ``i``-th input
    (the server's ``index`` decides the order, not the order it listed them in)."""

    vectors: tuple[Vector, ...]
    model: str | None
    """The model that made them, as the server names it."""
    usage: Usage | None
    """Token usage: ``input_tokens`` and ``total_tokens`` (an embedding has no output tokens);
    ``None`` when the server reported none."""

    @property
    def dimension_count(self) -> int | None:
        """The length of the vectors (``None`` when there are none)."""
        return len(self.vectors[0]) if self.vectors else None
