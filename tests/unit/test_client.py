"""``Client`` and ``AsyncClient`` against an in-process ``httpx.MockTransport``.

Every test injects its own ``httpx.Client``/``httpx.AsyncClient`` whose transport is a
:class:`FakeAPI`: it records each request and answers with the next scripted reply (the last one
repeats). Retry policies never wait (``initial_delay=0, max_delay=0, jitter=0``) unless a test
patches the client's sleep to record the delays it asks for.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from spanstream import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    Client,
    ConfigurationError,
    MalformedEventError,
    ResponseFailedError,
    RetryPolicy,
    StreamEvent,
    TextDelta,
)
from spanstream.events import (
    ErrorReported,
    MessageDone,
    ResponseDone,
    ResponseStarted,
    UsageReported,
)

from ..conftest import adrain, drain

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openai-responses"
PLAIN_TEXT = (FIXTURES / "gpt-4.1-plain-text.sse").read_bytes()
ERROR_THEN_FAILED = (FIXTURES / "gpt-5-error-event-then-response-failed.sse").read_bytes()

# What the plain-text recording says (read off the fixture, not computed by spanstream).
PLAIN_DELTAS = ["Four", " plus", " five", " equals", " **", "nine", "**", "."]
PLAIN_TEXT_FINAL = "Four plus five equals **nine**."
PLAIN_RESPONSE_ID = "resp_079fceed100a827c0068e011e9cefc81969ea6a843546705e6"

# The fixture uses LF line endings only, so each event ends at a blank line.
FRAMES = [frame + b"\n\n" for frame in PLAIN_TEXT.split(b"\n\n") if frame.strip()]
assert len(FRAMES) == 16
# An invalid-JSON text delta (unterminated string) placed after the delta " plus" (frame 5).
MALFORMED_FRAME = (
    b"event: response.output_text.delta\n"
    b'data: {"type":"response.output_text.delta","sequence_number":99,"delta":"unterminated\n\n'
)
WITH_MALFORMED = [*FRAMES[:6], MALFORMED_FRAME, *FRAMES[6:]]

KEY = "sk-test-SECRET-1234567890"
BASE_URL = "https://api.example.test/v1"
NO_WAIT = RetryPolicy(initial_delay=0, max_delay=0, jitter=0)

OPENAI_500 = {
    "error": {
        "message": "The server had an error while processing your request.",
        "type": "server_error",
        "param": None,
        "code": "internal_error",
    }
}
OPENAI_401_ECHOING_KEY = {
    "error": {
        "message": f"Incorrect API key provided: {KEY}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
}

Reply = Callable[[httpx.Request], httpx.Response]


# --- Scripted transport --------------------------------------------------------------------------


class FakeAPI:
    """A MockTransport handler: records requests, answers with scripted replies in order."""

    def __init__(self, *replies: Reply) -> None:
        assert replies
        self.replies = replies
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        index = min(len(self.requests), len(self.replies)) - 1
        return self.replies[index](request)

    @property
    def body(self) -> dict[str, Any]:
        """The JSON body of the only request."""
        assert len(self.requests) == 1
        body: dict[str, Any] = json.loads(self.requests[0].content)
        return body


def sse(
    body: bytes = PLAIN_TEXT, *, headers: dict[str, str] | None = None, status: int = 200
) -> Reply:
    """A streamed reply with the given body (one chunk)."""
    all_headers = {"content-type": "text/event-stream", **(headers or {})}
    return lambda request: httpx.Response(status, content=body, headers=all_headers)


def error(
    status: int, body: object = OPENAI_500, *, headers: dict[str, str] | None = None
) -> Reply:
    """An HTTP error reply; a dict body is sent as JSON, a str as text."""
    if isinstance(body, str):
        return lambda request: httpx.Response(status, text=body, headers=headers)
    return lambda request: httpx.Response(status, json=body, headers=headers)


def raising(exc_type: type[httpx.TransportError], message: str = "[Errno 111] refused") -> Reply:
    """A reply that fails in the transport before any response."""

    def reply(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)

    return reply


class ChunkedBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body delivered as the given chunks, optionally breaking with a read error after them."""

    def __init__(self, chunks: list[bytes], *, then_fail: bool = False) -> None:
        self.chunks = chunks
        self.then_fail = then_fail

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.then_fail:
            raise httpx.ReadError("connection reset by peer")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.then_fail:
            raise httpx.ReadError("connection reset by peer")


def chunked(chunks: list[bytes], *, then_fail: bool = False) -> Reply:
    return lambda request: httpx.Response(
        200,
        stream=ChunkedBody(chunks, then_fail=then_fail),
        headers={"content-type": "text/event-stream"},
    )


def make_client(api: FakeAPI, **kwargs: Any) -> Client:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("base_url", BASE_URL)
    kwargs.setdefault("retry", NO_WAIT)
    return Client(http_client=httpx.Client(transport=httpx.MockTransport(api)), **kwargs)


def make_async_client(api: FakeAPI, **kwargs: Any) -> AsyncClient:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("base_url", BASE_URL)
    kwargs.setdefault("retry", NO_WAIT)
    return AsyncClient(http_client=httpx.AsyncClient(transport=httpx.MockTransport(api)), **kwargs)


def run(client: Client, **params: Any) -> list[StreamEvent]:
    """Stream one request to the end and return its events."""
    params.setdefault("model", "gpt-4.1")
    params.setdefault("input", "What is four plus five?")
    with client.responses.stream(**params) as stream:
        return list(stream)


async def arun(client: AsyncClient, **params: Any) -> list[StreamEvent]:
    params.setdefault("model", "gpt-4.1")
    params.setdefault("input", "What is four plus five?")
    async with client.responses.stream(**params) as stream:
        return [event async for event in stream]


def deltas(events: list[StreamEvent]) -> list[str]:
    return [event.text for event in events if isinstance(event, TextDelta)]


def leaks(text: str) -> bool:
    return KEY in text or "SECRET-1234567890" in text or "Bearer" in text


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own OPENAI_* variables must not leak into these tests."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


# --- Request shape -------------------------------------------------------------------------------


def test_request_is_a_post_to_responses_under_the_base_url() -> None:
    api = FakeAPI(sse())
    run(make_client(api))
    (request,) = api.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.example.test/v1/responses"


def test_request_sends_bearer_key_and_accepts_event_stream() -> None:
    api = FakeAPI(sse())
    run(make_client(api))
    headers = api.requests[0].headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["accept"] == "text/event-stream"
    assert headers["content-type"] == "application/json"


def test_request_body_has_only_model_input_and_stream_when_no_option_is_given() -> None:
    api = FakeAPI(sse())
    run(make_client(api), model="gpt-4.1", input="What is four plus five?")
    assert api.body == {"model": "gpt-4.1", "input": "What is four plus five?", "stream": True}


def test_request_body_includes_optional_params_that_are_given() -> None:
    api = FakeAPI(sse())
    tool = {"type": "function", "name": "add", "parameters": {"type": "object"}}
    run(
        make_client(api),
        model="gpt-5",
        input=[{"role": "user", "content": "hi"}],
        instructions="Be brief.",
        tools=[tool],
        reasoning={"effort": "low"},
        max_output_tokens=128,
        temperature=0.2,
    )
    assert api.body == {
        "model": "gpt-5",
        "input": [{"role": "user", "content": "hi"}],
        "stream": True,
        "instructions": "Be brief.",
        "tools": [tool],
        "reasoning": {"effort": "low"},
        "max_output_tokens": 128,
        "temperature": 0.2,
    }


def test_request_body_sends_zero_valued_options() -> None:
    api = FakeAPI(sse())
    run(make_client(api), temperature=0.0, max_output_tokens=0)
    assert api.body["temperature"] == 0.0
    assert api.body["max_output_tokens"] == 0


def test_extra_keyword_arguments_are_merged_into_the_body() -> None:
    api = FakeAPI(sse())
    run(make_client(api), store=False, metadata={"run": "7"}, parallel_tool_calls=False)
    body = api.body
    assert body["store"] is False
    assert body["metadata"] == {"run": "7"}
    assert body["parallel_tool_calls"] is False
    assert body["stream"] is True


def test_default_headers_cannot_replace_the_authorization_header() -> None:
    api = FakeAPI(sse())
    client = make_client(api, default_headers={"Authorization": "Bearer other", "X-Team": "a"})
    run(client)
    headers = api.requests[0].headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["x-team"] == "a"


@pytest.mark.parametrize(
    ("default_headers", "content_type"),
    [
        ({}, "application/json"),
        ({"content-type": "application/json; charset=utf-8"}, "application/json; charset=utf-8"),
    ],
    ids=["default", "the-callers"],
)
def test_the_body_is_compact_utf8_json_with_one_content_type(
    default_headers: dict[str, str], content_type: str
) -> None:
    api = FakeAPI(sse())
    run(make_client(api, default_headers=default_headers), input="caf\u00e9 \U0001f600")
    request = api.requests[0]
    assert request.headers.get_list("content-type") == [content_type]
    assert int(request.headers["content-length"]) == len(request.content)
    # What httpx's json= sends: no spaces, UTF-8 rather than \u escapes.
    assert b'"input":"caf\xc3\xa9 \xf0\x9f\x98\x80"' in request.content
    assert b", " not in request.content


@pytest.mark.parametrize(
    "base_url", ["http://localhost:8000/v1", "http://localhost:8000/v1/"], ids=["bare", "slash"]
)
def test_base_url_with_or_without_trailing_slash_gives_one_slash(base_url: str) -> None:
    api = FakeAPI(sse())
    run(make_client(api, base_url=base_url))
    assert str(api.requests[0].url) == "http://localhost:8000/v1/responses"


def test_default_base_url_is_openai() -> None:
    api = FakeAPI(sse())
    client = Client(
        api_key=KEY, retry=NO_WAIT, http_client=httpx.Client(transport=httpx.MockTransport(api))
    )
    run(client)
    assert str(api.requests[0].url) == "https://api.openai.com/v1/responses"


def test_api_key_is_read_from_openai_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-abcdef")
    api = FakeAPI(sse())
    run(make_client(api, api_key=None))
    assert api.requests[0].headers["authorization"] == "Bearer sk-from-env-abcdef"


def test_api_key_argument_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-abcdef")
    api = FakeAPI(sse())
    run(make_client(api, api_key="sk-from-arg-abcdef"))
    assert api.requests[0].headers["authorization"] == "Bearer sk-from-arg-abcdef"


def test_base_url_is_read_from_openai_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env-host:9000/v1/")
    api = FakeAPI(sse())
    run(make_client(api, base_url=None))
    assert str(api.requests[0].url) == "http://env-host:9000/v1/responses"


def test_base_url_argument_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env-host:9000/v1")
    api = FakeAPI(sse())
    run(make_client(api, base_url="http://arg-host:8000/v1"))
    assert str(api.requests[0].url) == "http://arg-host:8000/v1/responses"


@pytest.mark.parametrize("client_class", [Client, AsyncClient])
def test_missing_api_key_raises_configuration_error_saying_how_to_fix_it(
    client_class: type[Client] | type[AsyncClient],
) -> None:
    with pytest.raises(ConfigurationError) as info:
        client_class()
    message = str(info.value)
    assert "api_key=" in message
    assert "OPENAI_API_KEY" in message


def test_empty_api_key_in_environment_is_a_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "")
    with pytest.raises(ConfigurationError):
        Client()


# --- Streaming a recorded body -------------------------------------------------------------------


def test_recorded_body_streams_its_events_in_order() -> None:
    events = run(make_client(FakeAPI(sse())))
    assert [type(event) for event in events] == [
        ResponseStarted,
        *[TextDelta] * len(PLAIN_DELTAS),
        MessageDone,
        UsageReported,
        ResponseDone,
    ]
    assert deltas(events) == PLAIN_DELTAS
    started = events[0]
    assert isinstance(started, ResponseStarted)
    assert started.id == PLAIN_RESPONSE_ID
    assert started.model == "gpt-4.1-2025-04-14"


def test_final_response_has_the_recorded_text_and_usage() -> None:
    with make_client(FakeAPI(sse())).responses.stream(model="gpt-4.1", input="4+5?") as stream:
        response = stream.final_response()
    assert response.status == "completed"
    assert response.text == PLAIN_TEXT_FINAL
    assert response.id == PLAIN_RESPONSE_ID
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (13, 9)
    assert response.usage.total_tokens == 22


def test_stream_body_split_into_one_chunk_per_event_gives_the_same_text() -> None:
    events = run(make_client(FakeAPI(chunked(FRAMES))))
    assert deltas(events) == PLAIN_DELTAS
    assert isinstance(events[-1], ResponseDone)
    assert events[-1].response.text == PLAIN_TEXT_FINAL


def test_gzip_encoded_body_is_decoded_before_parsing() -> None:
    # A proxy that compresses the event stream: the raw bytes are not the events.
    import gzip

    body = gzip.compress(PLAIN_TEXT)
    api = FakeAPI(sse(body, headers={"content-encoding": "gzip"}))
    events = run(make_client(api))
    assert deltas(events) == PLAIN_DELTAS
    assert isinstance(events[-1], ResponseDone)
    assert events[-1].response.text == PLAIN_TEXT_FINAL


async def test_gzip_encoded_body_is_decoded_before_parsing_async() -> None:
    import gzip

    body = gzip.compress(PLAIN_TEXT)
    api = FakeAPI(sse(body, headers={"content-encoding": "gzip"}))
    events = await arun(make_async_client(api))
    assert deltas(events) == PLAIN_DELTAS


def test_streamed_body_is_consumed_like_httpx_iter_raw_leaves_it() -> None:
    # The stream reads the transport's byte stream itself; the response must still say so.
    with make_client(FakeAPI(chunked(FRAMES))).responses.stream(model="m", input="x") as stream:
        events = list(stream)
    http = stream.http_response
    assert http is not None
    assert http.is_stream_consumed
    assert http.is_closed
    with pytest.raises(httpx.StreamConsumed):
        http.read()
    assert deltas(events) == PLAIN_DELTAS


def test_body_read_by_a_response_hook_still_streams() -> None:
    # A user's httpx client whose event hook reads every response before spanstream sees it.
    read: list[int] = []

    def hook(response: httpx.Response) -> None:
        read.append(len(response.read()))

    http = httpx.Client(
        transport=httpx.MockTransport(FakeAPI(sse())), event_hooks={"response": [hook]}
    )
    client = Client(api_key=KEY, http_client=http, max_retries=0)
    with client.responses.stream(model="gpt-4.1", input="4+5?") as stream:
        events = list(stream)
    assert read == [len(PLAIN_TEXT)]
    assert deltas(events) == PLAIN_DELTAS
    assert stream.outcome == "completed"


def test_request_id_comes_from_the_x_request_id_header() -> None:
    client = make_client(FakeAPI(sse(headers={"x-request-id": "req_123abc"})))
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        assert stream.request_id == "req_123abc"


def test_http_response_exposes_the_status() -> None:
    client = make_client(FakeAPI(sse()))
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        assert stream.http_response is not None
        assert stream.http_response.status_code == 200


def test_request_is_sent_on_entering_the_stream_not_on_creating_it() -> None:
    api = FakeAPI(sse())
    stream = make_client(api).responses.stream(model="gpt-4.1", input="hi")
    assert api.requests == []
    with stream:
        assert len(api.requests) == 1


# --- Ownership of the HTTP client ----------------------------------------------------------------


def test_close_does_not_close_an_injected_http_client() -> None:
    http = httpx.Client(transport=httpx.MockTransport(FakeAPI(sse())))
    Client(api_key=KEY, http_client=http).close()
    assert not http.is_closed
    http.close()


def test_context_exit_does_not_close_an_injected_http_client() -> None:
    http = httpx.Client(transport=httpx.MockTransport(FakeAPI(sse())))
    with Client(api_key=KEY, http_client=http) as client:
        run(client)
    assert not http.is_closed
    http.close()


def test_close_closes_the_http_client_the_client_created() -> None:
    client = Client(api_key=KEY)
    client.close()
    assert client._http.is_closed


def test_context_exit_closes_the_http_client_the_client_created() -> None:
    with Client(api_key=KEY) as client:
        pass
    assert client._http.is_closed


async def test_async_close_does_not_close_an_injected_http_client() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(FakeAPI(sse())))
    await AsyncClient(api_key=KEY, http_client=http).aclose()
    assert not http.is_closed
    await http.aclose()


async def test_async_context_exit_does_not_close_an_injected_http_client() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(FakeAPI(sse())))
    async with AsyncClient(api_key=KEY, http_client=http) as client:
        await arun(client)
    assert not http.is_closed
    await http.aclose()


async def test_async_context_exit_closes_the_http_client_the_client_created() -> None:
    async with AsyncClient(api_key=KEY) as client:
        pass
    assert client._http.is_closed


# --- Retries -------------------------------------------------------------------------------------


def test_429_then_200_succeeds_after_two_requests() -> None:
    api = FakeAPI(error(429), sse())
    events = run(make_client(api))
    assert len(api.requests) == 2
    assert deltas(events) == PLAIN_DELTAS


@pytest.mark.parametrize("status", [500, 502, 503, 408, 409])
def test_retryable_status_is_retried(status: int) -> None:
    api = FakeAPI(error(status), sse())
    events = run(make_client(api))
    assert len(api.requests) == 2
    assert isinstance(events[-1], ResponseDone)


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_error_status_is_not_retried(status: int) -> None:
    api = FakeAPI(error(status), sse())
    with pytest.raises(APIStatusError) as info:
        run(make_client(api))
    assert info.value.status_code == status
    assert len(api.requests) == 1


def test_exhausted_retries_raise_api_status_error_with_provider_details() -> None:
    api = FakeAPI(error(500, headers={"x-request-id": "req_500"}))
    with pytest.raises(APIStatusError) as info:
        run(make_client(api))
    err = info.value
    assert len(api.requests) == 3  # default max_retries=2
    assert err.status_code == 500
    assert err.error_type == "server_error"
    assert err.code == "internal_error"
    assert err.message == "The server had an error while processing your request."
    assert err.request_id == "req_500"
    assert str(err).startswith("HTTP 500: The server had an error")


def test_status_error_with_non_json_body_uses_the_text_as_message() -> None:
    api = FakeAPI(error(400, "bad gateway config\n"))
    with pytest.raises(APIStatusError) as info:
        run(make_client(api))
    assert info.value.message == "bad gateway config"
    assert info.value.error_type is None


def test_connect_error_is_retried_then_succeeds() -> None:
    api = FakeAPI(raising(httpx.ConnectError), sse())
    events = run(make_client(api))
    assert len(api.requests) == 2
    assert deltas(events) == PLAIN_DELTAS


def test_exhausted_connect_errors_raise_api_connection_error() -> None:
    api = FakeAPI(raising(httpx.ConnectError))
    with pytest.raises(APIConnectionError) as info:
        run(make_client(api))
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(api.requests) == 3


def test_exhausted_connect_timeouts_raise_api_timeout_error() -> None:
    api = FakeAPI(raising(httpx.ConnectTimeout, "timed out"))
    with pytest.raises(APITimeoutError):
        run(make_client(api))
    assert len(api.requests) == 3


def test_read_timeout_before_the_response_is_not_retried() -> None:
    api = FakeAPI(raising(httpx.ReadTimeout, "timed out"), sse())
    with pytest.raises(APITimeoutError):
        run(make_client(api))
    assert len(api.requests) == 1


def test_read_error_after_streaming_started_is_raised_while_iterating_and_not_retried() -> None:
    api = FakeAPI(chunked(FRAMES[:6], then_fail=True), sse())
    seen: list[StreamEvent] = []
    with (
        make_client(api).responses.stream(model="gpt-4.1", input="hi") as stream,
        pytest.raises(APIConnectionError) as info,
    ):
        drain(stream, seen)
    cause = info.value.__cause__
    assert isinstance(cause, httpx.ReadError)
    assert cause.request.url.path == "/v1/responses"  # named, as httpx's iter_raw names it
    assert deltas(seen) == PLAIN_DELTAS[:2]
    assert len(api.requests) == 1


def test_max_retries_zero_makes_one_attempt() -> None:
    api = FakeAPI(error(503), sse())
    with pytest.raises(APIStatusError):
        run(make_client(api, max_retries=0))
    assert len(api.requests) == 1


def test_max_retries_zero_makes_one_attempt_on_connect_error() -> None:
    api = FakeAPI(raising(httpx.ConnectError), sse())
    with pytest.raises(APIConnectionError):
        run(make_client(api, max_retries=0))
    assert len(api.requests) == 1


def test_max_retries_argument_overrides_the_policy_count() -> None:
    api = FakeAPI(error(500))
    policy = RetryPolicy(max_retries=1, initial_delay=0, max_delay=0, jitter=0)
    with pytest.raises(APIStatusError):
        run(make_client(api, retry=policy, max_retries=4))
    assert len(api.requests) == 5


def test_retry_after_header_sets_the_wait_before_the_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("spanstream._send.time.sleep", sleeps.append)
    api = FakeAPI(error(429, headers={"retry-after": "3"}), sse())
    client = make_client(api, retry=RetryPolicy(initial_delay=0.5, max_delay=8, jitter=0))
    run(client)
    assert sleeps == [3.0]
    assert len(api.requests) == 2


def test_without_retry_after_the_waits_follow_the_policy_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("spanstream._send.time.sleep", sleeps.append)
    api = FakeAPI(error(500), raising(httpx.ConnectError), sse())
    policy = RetryPolicy(max_retries=3, initial_delay=0.5, max_delay=8, jitter=0)
    run(make_client(api, retry=policy))
    assert sleeps == [0.5, 1.0]


# --- Secrets -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [OPENAI_401_ECHOING_KEY, f"Unauthorized: key {KEY} is not valid"],
    ids=["openai-json", "plain-text"],
)
def test_status_error_never_contains_the_api_key(body: object) -> None:
    api = FakeAPI(error(401, body))
    with pytest.raises(APIStatusError) as info:
        run(make_client(api))
    err = info.value
    assert err.status_code == 401
    assert "Incorrect API key provided" in err.message or "Unauthorized" in err.message
    for text in (str(err), repr(err), err.message, *map(str, err.args)):
        assert not leaks(text), text


def test_status_error_never_contains_a_key_that_does_not_look_like_an_openai_key() -> None:
    token = "local-gateway-token-ABCDEFGH"  # e.g. an OpenAI-compatible server's own token
    api = FakeAPI(error(403, {"error": {"message": f"token {token} has expired"}}))
    with pytest.raises(APIStatusError) as info:
        run(make_client(api, api_key=token))
    err = info.value
    assert "has expired" in err.message
    for text in (str(err), repr(err), err.message, *map(str, err.args)):
        assert token not in text, text


def test_status_error_never_contains_the_api_key_echoed_in_the_error_code() -> None:
    api = FakeAPI(error(400, {"error": {"message": "bad key", "code": KEY, "param": KEY}}))
    with pytest.raises(APIStatusError) as info:
        run(make_client(api))
    err = info.value
    for text in (str(err), repr(err), str(err.code), str(err.param), *map(str, err.args)):
        assert not leaks(text), text


def test_connection_error_never_contains_the_api_key() -> None:
    api = FakeAPI(raising(httpx.ConnectError))
    with pytest.raises(APIConnectionError) as info:
        run(make_client(api))
    err = info.value
    for text in (str(err), repr(err), *map(str, err.args)):
        assert not leaks(text), text


# --- Malformed events ----------------------------------------------------------------------------


def test_invalid_json_event_is_skipped_by_default() -> None:
    events = run(make_client(FakeAPI(sse(b"".join(WITH_MALFORMED)))))
    assert deltas(events) == PLAIN_DELTAS
    assert isinstance(events[-1], ResponseDone)
    assert events[-1].response.status == "completed"


def test_strict_client_raises_malformed_event_with_its_sequence_number() -> None:
    client = make_client(FakeAPI(sse(b"".join(WITH_MALFORMED))), strict=True)
    with pytest.raises(MalformedEventError) as info:
        run(client)
    assert info.value.sequence_number == 99
    assert info.value.event_type == "response.output_text.delta"


def test_strict_client_yields_the_events_before_the_malformed_one_first() -> None:
    client = make_client(FakeAPI(chunked(WITH_MALFORMED)), strict=True)
    seen: list[StreamEvent] = []
    with (
        client.responses.stream(model="gpt-4.1", input="hi") as stream,
        pytest.raises(MalformedEventError),
    ):
        drain(stream, seen)
    assert deltas(seen) == PLAIN_DELTAS[:2]


def test_strict_client_yields_earlier_events_of_the_same_chunk_before_raising() -> None:
    client = make_client(FakeAPI(sse(b"".join(WITH_MALFORMED))), strict=True)
    seen: list[StreamEvent] = []
    with (
        client.responses.stream(model="gpt-4.1", input="hi") as stream,
        pytest.raises(MalformedEventError),
    ):
        drain(stream, seen)
    assert deltas(seen) == PLAIN_DELTAS[:2]


# --- Provider failure inside the stream ----------------------------------------------------------


def test_error_event_then_response_failed_yields_both_then_raises_response_failed() -> None:
    seen: list[StreamEvent] = []
    client = make_client(FakeAPI(sse(ERROR_THEN_FAILED)))
    with (
        client.responses.stream(model="gpt-5", input="hi") as stream,
        pytest.raises(ResponseFailedError) as info,
    ):
        drain(stream, seen)
    assert [type(event) for event in seen] == [ResponseStarted, ErrorReported, ResponseDone]
    reported = seen[1]
    assert isinstance(reported, ErrorReported)
    assert reported.error.code == "insufficient_quota"
    assert info.value.code == "insufficient_quota"
    assert info.value.message.startswith("You exceeded your current quota")
    assert info.value.response is not None
    assert info.value.response.status == "failed"


def test_final_response_raises_response_failed_for_a_failed_response() -> None:
    client = make_client(FakeAPI(sse(ERROR_THEN_FAILED)))
    with (
        client.responses.stream(model="gpt-5", input="hi") as stream,
        pytest.raises(ResponseFailedError) as info,
    ):
        stream.final_response()
    assert info.value.code == "insufficient_quota"
    assert stream.outcome == "failed"


# --- AsyncClient ---------------------------------------------------------------------------------


async def test_async_request_shape() -> None:
    api = FakeAPI(sse())
    await arun(make_async_client(api), model="gpt-4.1", input="hi", instructions="Be brief.")
    (request,) = api.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.example.test/v1/responses"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept"] == "text/event-stream"
    assert api.body == {
        "model": "gpt-4.1",
        "input": "hi",
        "stream": True,
        "instructions": "Be brief.",
    }


async def test_async_api_key_and_base_url_from_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-abcdef")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env-host:9000/v1")
    api = FakeAPI(sse())
    await arun(make_async_client(api, api_key=None, base_url=None))
    assert api.requests[0].headers["authorization"] == "Bearer sk-from-env-abcdef"
    assert str(api.requests[0].url) == "http://env-host:9000/v1/responses"


async def test_async_recorded_body_streams_to_final_response() -> None:
    client = make_async_client(FakeAPI(sse(headers={"x-request-id": "req_async"})))
    async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        events = [event async for event in stream]
        response = await stream.final_response()
        assert stream.request_id == "req_async"
    assert deltas(events) == PLAIN_DELTAS
    assert response.text == PLAIN_TEXT_FINAL
    assert response.usage is not None
    assert response.usage.total_tokens == 22


async def test_async_429_then_200_succeeds_after_two_requests() -> None:
    api = FakeAPI(error(429), sse())
    events = await arun(make_async_client(api))
    assert len(api.requests) == 2
    assert deltas(events) == PLAIN_DELTAS


@pytest.mark.parametrize("status", [400, 401, 404])
async def test_async_client_error_status_is_not_retried(status: int) -> None:
    api = FakeAPI(error(status), sse())
    with pytest.raises(APIStatusError) as info:
        await arun(make_async_client(api))
    assert info.value.status_code == status
    assert len(api.requests) == 1


async def test_async_exhausted_retries_raise_api_status_error_with_provider_details() -> None:
    api = FakeAPI(error(503, headers={"x-request-id": "req_503"}))
    with pytest.raises(APIStatusError) as info:
        await arun(make_async_client(api))
    err = info.value
    assert len(api.requests) == 3
    assert (err.status_code, err.error_type, err.code) == (503, "server_error", "internal_error")
    assert err.request_id == "req_503"


async def test_async_connect_error_is_retried_then_succeeds() -> None:
    api = FakeAPI(raising(httpx.ConnectError), sse())
    events = await arun(make_async_client(api))
    assert len(api.requests) == 2
    assert isinstance(events[-1], ResponseDone)


async def test_async_exhausted_connect_errors_raise_api_connection_error() -> None:
    api = FakeAPI(raising(httpx.ConnectError))
    with pytest.raises(APIConnectionError):
        await arun(make_async_client(api))
    assert len(api.requests) == 3


async def test_async_read_error_after_streaming_started_is_not_retried() -> None:
    api = FakeAPI(chunked(FRAMES[:6], then_fail=True), sse())
    seen: list[StreamEvent] = []
    client = make_async_client(api)
    async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        with pytest.raises(APIConnectionError) as info:
            await adrain(stream, seen)
    cause = info.value.__cause__
    assert isinstance(cause, httpx.ReadError)
    assert cause.request.url.path == "/v1/responses"
    assert deltas(seen) == PLAIN_DELTAS[:2]
    assert len(api.requests) == 1


async def test_async_max_retries_zero_makes_one_attempt() -> None:
    api = FakeAPI(error(500), sse())
    with pytest.raises(APIStatusError):
        await arun(make_async_client(api, max_retries=0))
    assert len(api.requests) == 1


async def test_async_retry_after_header_sets_the_wait_before_the_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sleeps: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float, result: object = None) -> object:
        sleeps.append(delay)
        await real_sleep(0)
        return result

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)  # _send imports asyncio when it sleeps
    api = FakeAPI(error(503, headers={"retry-after": "3"}), sse())
    client = make_async_client(api, retry=RetryPolicy(initial_delay=0.5, max_delay=8, jitter=0))
    await arun(client)
    assert sleeps == [3.0]


async def test_async_status_error_never_contains_the_api_key() -> None:
    api = FakeAPI(error(401, OPENAI_401_ECHOING_KEY))
    with pytest.raises(APIStatusError) as info:
        await arun(make_async_client(api))
    err = info.value
    for text in (str(err), repr(err), err.message, *map(str, err.args)):
        assert not leaks(text), text


async def test_async_invalid_json_event_is_skipped_by_default() -> None:
    events = await arun(make_async_client(FakeAPI(sse(b"".join(WITH_MALFORMED)))))
    assert deltas(events) == PLAIN_DELTAS
    assert isinstance(events[-1], ResponseDone)


async def test_async_strict_client_raises_malformed_event_with_its_sequence_number() -> None:
    client = make_async_client(FakeAPI(chunked(WITH_MALFORMED)), strict=True)
    seen: list[StreamEvent] = []
    async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        with pytest.raises(MalformedEventError) as info:
            await adrain(stream, seen)
    assert info.value.sequence_number == 99
    assert deltas(seen) == PLAIN_DELTAS[:2]


async def test_async_error_event_then_response_failed_raises_response_failed() -> None:
    seen: list[StreamEvent] = []
    client = make_async_client(FakeAPI(sse(ERROR_THEN_FAILED)))
    async with client.responses.stream(model="gpt-5", input="hi") as stream:
        with pytest.raises(ResponseFailedError) as info:
            await adrain(stream, seen)
    assert [type(event) for event in seen] == [ResponseStarted, ErrorReported, ResponseDone]
    assert info.value.code == "insufficient_quota"


async def test_async_final_response_raises_response_failed_for_a_failed_response() -> None:
    client = make_async_client(FakeAPI(sse(ERROR_THEN_FAILED)))
    async with client.responses.stream(model="gpt-5", input="hi") as stream:
        with pytest.raises(ResponseFailedError) as info:
            await stream.final_response()
    assert info.value.code == "insufficient_quota"


def test_misspelt_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unexpected client option\\(s\\): max_retry"):
        Client(api_key="sk-test", max_retry=3)  # type: ignore[call-arg]


def _frame(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


def test_the_cursor_of_a_long_final_event_is_read_without_holding_the_event() -> None:
    text = "word " * 2000  # the terminal event restates it: far above what a stream keeps
    done = {
        "type": "response.completed",
        "response": {
            "id": "resp_long",
            "status": "completed",
            "output": [
                {
                    "type": "message",
                    "id": "msg_1",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text}],
                }
            ],
        },
        "sequence_number": 7,  # after the restated response: found all the same
    }
    delta = {
        "type": "response.output_text.delta",
        "sequence_number": 6,
        "item_id": "msg_1",
        "delta": text,
    }
    with make_client(FakeAPI(chunked([_frame(delta), _frame(done)]))).responses.stream(
        model="m", input="x"
    ) as stream:
        assert next(stream) == TextDelta(text, "msg_1")
        assert stream.last_sequence_number == 6
        assert stream.final_response().text == text
    assert stream.last_sequence_number == 7
    held = stream._core.last_data
    assert held == 7  # its cursor, not the restated response
