"""A stream's results, and the protocol of whoever observes them (spanstream's telemetry in
:mod:`spanstream.telemetry.span_observer`, or a user's own).

The stream calls :meth:`StreamObserver.start` once when it sends the request and
:meth:`StreamObserver.end` exactly once, on every path, with a :class:`StreamResult`. Nothing is
reported per event: the stream keeps the few timestamps the conventions ask for itself, so an
observer costs nothing on the hot path.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ._record import Record
from ._request import RequestInfo
from .events import Response

__all__ = ["Outcome", "StreamObserver", "StreamResult", "StreamTimings"]

Outcome = Literal["completed", "incomplete", "failed", "error", "cancelled", "abandoned"]
"""How a stream ended:

* ``completed`` / ``incomplete``: the provider finished the response (incomplete = cut short by
  a limit such as ``max_output_tokens``; its reason is the finish reason);
* ``failed``: the provider reported that generation failed (``response.failed`` or ``error``);
* ``error``: transport, HTTP status or protocol error on our side of the wire;
* ``cancelled``: the asyncio task consuming the stream was cancelled;
* ``abandoned``: the consumer stopped early (``break``, an exception in its loop, ``close()``
  before the end) or dropped the stream without closing it.
"""


@dataclass(slots=True)
class StreamTimings:
    """Monotonic (``time.perf_counter``) timestamps of one stream."""

    started: float
    first_chunk: float | None = None
    first_token: float | None = None
    last_chunk: float | None = None
    ended: float | None = None
    chunks: int = 0
    """Server-sent events received."""
    gaps: array[float] = field(default_factory=lambda: array("d"))
    """For each network read after the first that completed an event: seconds since the
    previous such read. Kept in a flat buffer (one append per read) and turned into per-chunk
    values only when the stream ends (:meth:`output_chunk_gaps`)."""

    @property
    def time_to_first_chunk(self) -> float | None:
        """Seconds from sending the request to the first server-sent event."""
        return None if self.first_chunk is None else self.first_chunk - self.started

    @property
    def time_to_first_token(self) -> float | None:
        """Seconds from sending the request to the first output delta (text, refusal, tool)."""
        return None if self.first_token is None else self.first_token - self.started

    @property
    def time_per_output_chunk(self) -> float | None:
        """Mean seconds between consecutive server-sent events after the first."""
        if self.chunks < 2 or self.first_chunk is None or self.last_chunk is None:
            return None
        return (self.last_chunk - self.first_chunk) / (self.chunks - 1)

    def output_chunk_gaps(self) -> list[float]:
        """One value per server-sent event after the first: seconds from the end of the
        previous event to the end of this one (``time_per_output_chunk`` as the conventions
        define it). Events decoded from the same network read as the event before them arrived
        together, as far as the client can tell: their value is 0."""
        gaps, zeros = self.output_chunk_gap_parts()
        return [*gaps, *[0.0] * zeros]

    def output_chunk_gap_parts(self) -> tuple[Sequence[float], int]:
        """:meth:`output_chunk_gaps` as the gaps between reads (the buffer itself, not a copy:
        do not change it) and how many zeros follow them: what the metric records, without a
        value per event in memory (most events of a long stream arrive with others in one
        read)."""
        return self.gaps, max(0, self.chunks - 1 - len(self.gaps))

    @property
    def duration(self) -> float | None:
        """Seconds from sending the request to the end of the stream."""
        return None if self.ended is None else self.ended - self.started


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class StreamResult(Record):
    """Everything known about a stream when it ends."""

    outcome: Outcome
    response: Response
    timings: StreamTimings
    error: BaseException | None = None
    error_type: str | None = None
    retries: int = 0
    unknown_events: int = 0
    malformed_events: int = 0
    ignored_events: int = 0
    """Events after the terminal event, in the chunk that brought it (not delivered)."""


class StreamObserver(Protocol):
    """Receives the start and the end of one stream."""

    def start(self, info: RequestInfo, server_address: str | None, server_port: int | None) -> None:
        """The request is about to be sent (before connecting; retries included after)."""
        ...

    def activate(self) -> AbstractContextManager[object]:
        """A context in which the observer's span is current (spanstream's own code runs in
        it, so spans of an instrumented HTTP client nest under the inference span)."""
        ...

    def end(self, result: StreamResult) -> None:
        """The stream ended; called exactly once."""
        ...
