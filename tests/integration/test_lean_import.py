"""``import spanstream`` and streaming need only ``opentelemetry-api``: the SDK and the exporters
are imported by ``configure()`` (and the CLI, ``spanstream.testing``), never by a client.

Each check runs in a fresh interpreter, since this test process has long imported the SDK. The
ReplayServer runs here: ``spanstream.testing`` itself imports the SDK (its ``GenAITelemetry``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from spanstream.testing import ReplayServer, Reply, recording

from ..conftest import FIXTURES

# What "the SDK or an exporter was imported" means: any module under these names.
_HEAVY = ("opentelemetry.sdk", "opentelemetry.exporter")

_PRELUDE = """
import json, sys

def heavy():
    return sorted(
        name for name in sys.modules
        if any(name == p or name.startswith(p + ".") for p in {heavy!r})
    )
"""


def _run(body: str, *args: str) -> dict[str, object]:
    """Run ``body`` in a fresh interpreter; it prints one JSON object as its last line."""
    code = _PRELUDE.format(heavy=_HEAVY) + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_import_spanstream_imports_neither_the_sdk_nor_an_exporter() -> None:
    result = _run(
        """
        import spanstream
        after_import = heavy()
        names = sorted(spanstream.__all__)
        missing = [n for n in names if not hasattr(spanstream, n)]
        import spanstream.telemetry.setup as setup
        print(json.dumps({
            "after_import": after_import,
            "missing": missing,
            "same": spanstream.configure is setup.configure
                and spanstream.TelemetryHandle is setup.TelemetryHandle
                and spanstream.telemetry.configure is setup.configure,
            "in_dir": {"configure", "TelemetryHandle"} <= set(dir(spanstream)),
            "sdk_now": "opentelemetry.sdk.trace" in sys.modules,
        }))
        """
    )
    assert result["after_import"] == []
    assert result["missing"] == []
    assert result["same"] is True
    assert result["in_dir"] is True
    # The check sees the SDK once something does import it (looking up configure).
    assert result["sdk_now"] is True


def test_import_spanstream_loads_no_parser_wire_model_or_pydantic_model() -> None:
    # A provider's parser and its pydantic wire models load with the first stream of its API,
    # pydantic's models with the first tool: ``import spanstream`` needs none of them.
    result = _run(
        """
        import spanstream
        from spanstream import Client

        def loaded():
            return sorted(
                name for name in sys.modules
                if name == "pydantic.main"
                or name.endswith((".wire", ".parser", "._lenient", "._parser"))
                and name.startswith("spanstream.")
            )

        at_import = loaded()
        Client(api_key="sk-test").responses  # a client and its resources: still none
        with_client = loaded()
        from spanstream.providers.openai_responses import ResponsesParser
        ResponsesParser().feed_raw("response.output_text.delta", b'{"delta": "Hi"}')
        print(json.dumps({"at_import": at_import, "with_client": with_client, "parsed": loaded()}))
        """
    )
    assert result["at_import"] == []
    assert result["with_client"] == []
    parsed = result["parsed"]
    assert isinstance(parsed, list)
    assert "spanstream.providers.openai_responses.wire" in parsed
    assert "spanstream.providers.openai_chat.wire" not in parsed  # only the API that streamed


def test_import_spanstream_loads_no_request_builder_agent_asyncio_or_propagator() -> None:
    # Each API's request builder loads with its first request, the agent loop and tools with the
    # first agent, asyncio with async code, the trace-context propagators when one is injected.
    result = _run(
        """
        import spanstream
        from spanstream import Client

        def loaded():
            return sorted(
                name for name in sys.modules
                if name in ("asyncio", "spanstream.agent", "spanstream.tools",
                            "opentelemetry.propagate")
                or name.endswith(".request") and name.startswith("spanstream.providers.")
            )

        at_import = loaded()
        client = Client(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
        with_client = loaded()
        stream = client.chat.completions.stream(model="m", messages=[])
        built = loaded()
        client.agent(model="m")
        print(json.dumps({"at_import": at_import, "with_client": with_client, "built": built,
                          "agent": loaded()}))
        """
    )
    assert result["at_import"] == []
    assert result["with_client"] == []
    assert result["built"] == ["spanstream.providers.openai_chat.request"]
    agent = result["agent"]
    assert isinstance(agent, list)
    assert "spanstream.agent" in agent


def test_star_import_still_gives_configure_and_telemetry_handle() -> None:
    result = _run(
        """
        from spanstream import *  # noqa: F403
        print(json.dumps({"configure": callable(configure), "handle": TelemetryHandle.__name__}))
        """
    )
    assert result == {"configure": True, "handle": "TelemetryHandle"}


_STREAM = """
import asyncio
import spanstream
from spanstream import AsyncAnthropicClient, AsyncClient, Client, TextDelta

base_url = sys.argv[1]
texts = []

with Client(api_key="sk-test", base_url=base_url) as client:
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        texts.append("".join(e.text for e in stream if isinstance(e, TextDelta)))
    with client.chat.completions.stream(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        texts.append("".join(e.text for e in stream if isinstance(e, TextDelta)))

async def main():
    async with AsyncClient(api_key="sk-test", base_url=base_url) as client:
        async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            texts.append("".join([e.text async for e in stream if isinstance(e, TextDelta)]))
    async with AsyncAnthropicClient(api_key="sk-ant-test", base_url=base_url) as client:
        async with client.messages.stream(
            model="claude", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            texts.append("".join([e.text async for e in stream if isinstance(e, TextDelta)]))

asyncio.run(main())
streamed = heavy()
if "--configure" in sys.argv:
    handle = spanstream.configure(exporter="memory", replace=True)
    handle.shutdown()
print(json.dumps({"texts": texts, "streamed": streamed, "after": heavy()}))
"""


def _stream_in_fresh_process(*flags: str) -> dict[str, object]:
    responses = Reply.from_file(recording("openai-responses/gpt-4.1-plain-text"))
    chat = Reply.from_file(FIXTURES / "openai-chat" / "gpt-4o-mini-include-usage.sse")
    anthropic = Reply.from_file(FIXTURES / "anthropic-messages" / "claude-haiku-4-5-text.sse")
    with ReplayServer() as server:
        server.enqueue(responses, chat, responses, anthropic)
        result = _run(_STREAM, server.base_url, *flags)
        assert [r.path for r in server.requests] == [
            "/v1/responses",
            "/v1/chat/completions",
            "/v1/responses",
            "/v1/messages",
        ]
    return result


def test_streaming_sync_and_async_imports_neither_the_sdk_nor_an_exporter() -> None:
    result = _stream_in_fresh_process()
    texts = result["texts"]
    assert isinstance(texts, list)
    assert len(texts) == 4
    assert all(texts)
    assert result["streamed"] == []
    assert result["after"] == []


def test_configure_is_what_imports_the_sdk() -> None:
    result = _stream_in_fresh_process("--configure")
    assert result["streamed"] == []
    after = result["after"]
    assert isinstance(after, list)
    assert "opentelemetry.sdk.trace" in after


def test_import_builds_no_wire_validator_until_an_event_needs_it() -> None:
    result = _run(
        """
        import spanstream
        from pydantic import BaseModel
        from spanstream.providers.anthropic_messages import wire as anthropic
        from spanstream.providers.openai_chat import wire as chat
        from spanstream.providers.openai_responses import wire as responses
        from spanstream.providers.openai_responses import ResponsesParser

        def built():
            return sorted(
                f"{module.__name__.split('.')[-2]}.{name}"
                for module in (anthropic, chat, responses)
                for name, value in vars(module).items()
                if isinstance(value, type) and issubclass(value, BaseModel)
                and value.__pydantic_complete__
            ) + [m.__name__ for m in (anthropic, responses) if "any_event_adapter" in vars(m)]

        at_import = built()
        parser = ResponsesParser()
        # A data-only frame (no event: field) goes through the union over every event type.
        events = parser.feed_raw(
            "message", b'{"type":"response.output_text.delta","item_id":"m","delta":"Hi"}'
        )
        print(json.dumps({"at_import": at_import, "after": built(),
                          "events": [type(e).__name__ for e in events]}))
        """
    )
    assert result["at_import"] == []
    assert result["events"] == ["TextDelta"]
    after = result["after"]
    assert isinstance(after, list)
    assert "spanstream.providers.openai_responses.wire" in after
