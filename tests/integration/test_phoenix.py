"""Spans over the wire to a real backend: Arize Phoenix, over OTLP/HTTP and OTLP/gRPC.

Phoenix (pinned in ``scripts/phoenix-requirements.txt``, installed into its own ``.phoenix-venv``)
runs on 127.0.0.1 with its database in a temporary directory. A subprocess
(``phoenix_workload.py``) configures telemetry with ``spanstream.configure()`` and the standard
``OTEL_*`` variables only, streams real recordings from a loopback ReplayServer (a plain answer,
the agent's recorded tool call, a failed stream, a 429), and reports every span as the SDK
finished it. The tests then read the spans back from Phoenix's REST API: the same tree, every
attribute with its value, the errors, and the captured messages as Phoenix parses them
(Phoenix turns ``gen_ai.*`` into its OpenInference ``llm.*`` attributes on ingest).

Without Phoenix these tests skip locally; under CI they fail (see ``tests/phoenix.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes

import spanstream.data

from ..phoenix import REPO, launcher, phoenix_executable, record_timing, unavailable
from ..recorded import sdk_terminal_payload
from .phoenix_workload import AGENT_PROMPT, AGENT_TURNS, FAILED, INSTRUCTIONS, PLAIN, ROOT

Span = dict[str, Any]
AGENT_RECORDINGS = [Path(spanstream.data.__file__).parent / name for name in AGENT_TURNS]
PROTOCOLS = ("http/protobuf", "grpc")


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    executable = phoenix_executable()
    server = launcher().Phoenix(executable, tmp_path_factory.mktemp("phoenix"))
    try:
        server.start()
    except launcher().PhoenixUnavailable as exc:
        unavailable(f"Arize Phoenix did not start: {exc}")
    record_timing("phoenix serve until ready", server.startup_seconds)
    yield server
    server.stop()


@dataclass(frozen=True)
class Delivery:
    """One workload run: the spans the SDK finished, and the same spans as Phoenix stored them."""

    protocol: str
    sent: list[Span]
    received: dict[str, Span]
    """Phoenix's spans by span id."""

    def named(self, name: str) -> list[tuple[Span, Span]]:
        """(sent, received) of the spans called ``name``, in the order they started."""
        return [(s, self.received[s["span_id"]]) for s in self.sent_by_start if s["name"] == name]

    @property
    def sent_by_start(self) -> list[Span]:
        return sorted(self.sent, key=lambda s: self.received[s["span_id"]]["start_time"])


@pytest.fixture(scope="module", params=PROTOCOLS)
def delivery(request: pytest.FixtureRequest, phoenix: Any) -> Delivery:
    protocol: str = request.param
    endpoint = phoenix.base_url if protocol.startswith("http") else phoenix.grpc_endpoint
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_SERVICE_NAME=f"spanstream-phoenix-{protocol.split('/')[0]}",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY",
        # Phoenix receives traces only. configure() does not read these two yet, so it still
        # exports metrics and logs, which Phoenix refuses (405 / UNIMPLEMENTED): only noise.
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.phoenix_workload"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    sent: list[Span] = json.loads(done.stdout)
    (trace_id,) = {span["trace_id"] for span in sent}
    received = phoenix.wait_for_spans(len(sent), trace_id=trace_id)
    return Delivery(protocol, sent, {span["context"]["span_id"]: span for span in received})


def _terminal(path: Path) -> dict[str, Any]:
    """The recording's final ``response`` object, read with the openai SDK's decoder."""
    payload = sdk_terminal_payload(path)
    assert payload is not None, path
    response: dict[str, Any] = payload["response"]
    return response


def _usage(response: dict[str, Any]) -> dict[str, int]:
    usage = response["usage"]
    return {
        gen_ai.GEN_AI_USAGE_INPUT_TOKENS: usage["input_tokens"],
        gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: usage["output_tokens"],
        "gen_ai.usage.cache_read.input_tokens": usage["input_tokens_details"]["cached_tokens"],
        "gen_ai.usage.reasoning.output_tokens": usage["output_tokens_details"]["reasoning_tokens"],
    }


def _output_text(response: dict[str, Any]) -> str:
    return "".join(
        part["text"]
        for item in response["output"]
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    )


def test_every_span_arrives_in_its_place_in_the_tree(delivery: Delivery) -> None:
    assert set(delivery.received) == {span["span_id"] for span in delivery.sent}
    names = {span["span_id"]: span["name"] for span in delivery.sent}
    tree = [
        (names.get(str(delivery.received[s["span_id"]]["parent_id"])), s["name"])
        for s in delivery.sent_by_start
    ]
    assert tree == [
        (None, ROOT),
        (ROOT, "chat gpt-4.1"),
        (ROOT, "invoke_agent weather"),
        ("invoke_agent weather", "chat deepseek-v4-flash"),
        ("invoke_agent weather", "execute_tool get_temperature"),
        ("invoke_agent weather", "chat deepseek-v4-flash"),
        (ROOT, "chat gpt-5"),
        (ROOT, "chat gpt-4.1"),
    ]
    for sent in delivery.sent:
        got = delivery.received[sent["span_id"]]
        assert got["name"] == sent["name"]
        assert got["parent_id"] == sent["parent_id"]
        assert got["context"]["trace_id"] == sent["trace_id"]
    kinds = {s["name"]: delivery.received[s["span_id"]]["span_kind"] for s in delivery.sent}
    # Phoenix's own span kinds, which it infers from gen_ai.operation.name.
    assert kinds["chat gpt-4.1"] == kinds["chat deepseek-v4-flash"] == "LLM"
    assert kinds["invoke_agent weather"] == "AGENT"
    assert kinds["execute_tool get_temperature"] == "TOOL"


def test_every_attribute_arrives_with_its_value(delivery: Delivery) -> None:
    gen_ai_keys = 0
    for sent in delivery.sent:
        got = delivery.received[sent["span_id"]]["attributes"]
        for key, value in sent["attributes"].items():
            assert key in got, f"{sent['name']}: {key} did not arrive"
            assert got[key] == value, f"{sent['name']}: {key}"
            gen_ai_keys += key.startswith("gen_ai.")
    assert gen_ai_keys >= 60  # 5 inference spans with 12+ each: the loop compared something

    # The values themselves, from the recordings (not from what the SDK reported).
    plain = _terminal(PLAIN)
    ((_, answer), _) = delivery.named("chat gpt-4.1")
    expected: dict[str, object] = {
        gen_ai.GEN_AI_OPERATION_NAME: "chat",
        gen_ai.GEN_AI_PROVIDER_NAME: "openai",
        gen_ai.GEN_AI_REQUEST_MODEL: "gpt-4.1",
        gen_ai.GEN_AI_RESPONSE_MODEL: plain["model"],
        gen_ai.GEN_AI_RESPONSE_ID: plain["id"],
        gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
        "gen_ai.request.stream": True,
        **_usage(plain),
    }
    assert {key: answer["attributes"].get(key) for key in expected} == expected

    turns = [_terminal(path) for path in AGENT_RECORDINGS]
    chats = delivery.named("chat deepseek-v4-flash")
    for (_, chat), turn, reason in zip(chats, turns, ["tool_call", "stop"], strict=True):
        attributes = chat["attributes"]
        assert attributes[gen_ai.GEN_AI_RESPONSE_ID] == turn["id"]
        assert attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [reason]
        assert {key: attributes[key] for key in _usage(turn)} == _usage(turn)
    ((_, agent),) = delivery.named("invoke_agent weather")
    totals = {key: sum(_usage(turn)[key] for turn in turns) for key in _usage(turns[0])}
    assert {key: agent["attributes"][key] for key in totals} == totals
    assert agent["attributes"][gen_ai.GEN_AI_AGENT_NAME] == "weather"
    ((_, tool),) = delivery.named("execute_tool get_temperature")
    call = next(
        item for item in turns[0]["output"] if item["type"] == "function_call"
    )  # the recorded call
    assert tool["attributes"][gen_ai.GEN_AI_TOOL_NAME] == call["name"] == "get_temperature"
    assert tool["attributes"][gen_ai.GEN_AI_TOOL_CALL_ID] == call["call_id"]
    assert json.loads(tool["attributes"]["gen_ai.tool.call.arguments"]) == json.loads(
        call["arguments"]
    )
    assert tool["attributes"]["gen_ai.tool.call.result"] == "21.0"


def test_a_failed_stream_and_a_429_arrive_as_errors(delivery: Delivery) -> None:
    failed = _terminal(FAILED)
    ((_, provider_failure),) = delivery.named("chat gpt-5")
    assert provider_failure["status_code"] == "ERROR"
    assert provider_failure["status_message"].startswith(failed["error"]["code"])
    attributes = provider_failure["attributes"]
    assert attributes[error_attributes.ERROR_TYPE] == failed["error"]["code"]
    assert attributes[gen_ai.GEN_AI_RESPONSE_ID] == failed["id"]
    assert attributes["spanstream.outcome"] == "failed"

    (_, (_, rate_limited)) = delivery.named("chat gpt-4.1")
    assert rate_limited["status_code"] == "ERROR"
    assert rate_limited["status_message"].startswith("HTTP 429")
    assert rate_limited["attributes"][error_attributes.ERROR_TYPE] == "429"
    assert rate_limited["attributes"]["spanstream.outcome"] == "error"

    # Everything else ended without error (status unset, as the conventions want for success).
    errors = {s["name"] for s in delivery.received.values() if s["status_code"] == "ERROR"}
    assert errors == {"chat gpt-5", "chat gpt-4.1"}


def _messages(attributes: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Phoenix's flattened ``llm.input_messages.N.message.*`` attributes, as a list."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if key.startswith(f"{prefix}."):
            index, _, field = key[len(prefix) + 1 :].partition(".message.")
            found.setdefault(int(index), {})[field] = value
    return [found[index] for index in sorted(found)]


def test_phoenix_parses_the_captured_input_messages_and_tools(delivery: Delivery) -> None:
    request = json.loads(PLAIN.with_suffix(".request.json").read_text())
    ((_, answer), _) = delivery.named("chat gpt-4.1")
    assert _messages(answer["attributes"], "llm.input_messages") == [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": request["input"]},
    ]
    assert answer["attributes"]["llm.model_name"] == "gpt-4.1"
    plain = _terminal(PLAIN)["usage"]
    assert answer["attributes"]["llm.token_count.prompt"] == plain["input_tokens"]
    assert answer["attributes"]["llm.token_count.completion"] == plain["output_tokens"]

    call = next(item for item in _terminal(AGENT_RECORDINGS[0])["output"] if "call_id" in item)
    (_, (_, second_turn)) = delivery.named("chat deepseek-v4-flash")
    messages = _messages(second_turn["attributes"], "llm.input_messages")
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant", "tool"]
    assert messages[0]["content"] == AGENT_PROMPT
    assert messages[2]["tool_calls.0.tool_call.id"] == call["call_id"]
    assert messages[2]["tool_calls.0.tool_call.function.name"] == "get_temperature"
    assert json.loads(messages[2]["tool_calls.0.tool_call.function.arguments"]) == json.loads(
        call["arguments"]
    )
    assert (messages[3]["tool_call_id"], messages[3]["content"]) == (call["call_id"], "21.0")
    schema = json.loads(second_turn["attributes"]["llm.tools.0.tool.json_schema"])
    assert schema["function"]["name"] == "get_temperature"

    ((_, tool),) = delivery.named("execute_tool get_temperature")
    assert tool["attributes"]["tool.name"] == "get_temperature"
    assert tool["attributes"]["tool.parameters.city"] == "Tokyo"


def test_phoenix_parses_the_captured_output_messages(delivery: Delivery) -> None:
    ((sent, answer), _) = delivery.named("chat gpt-4.1")
    (output,) = json.loads(sent["attributes"][gen_ai.GEN_AI_OUTPUT_MESSAGES])
    # Phoenix validates gen_ai.output.messages against the conventions' schema, where
    # finish_reason is required, and drops the whole attribute when it is missing.
    assert output["finish_reason"] == "stop"
    assert _messages(answer["attributes"], "llm.output_messages") == [
        {"role": "assistant", "content": _output_text(_terminal(PLAIN)), "finish_reason": "stop"}
    ]
