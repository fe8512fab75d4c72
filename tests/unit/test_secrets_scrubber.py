"""The scrubber that keeps an API key out of what spanstream builds (spanstream._secrets)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from spanstream._secrets import LOGGERS, Scrubber, protect_logs

KEY = "gw-live-0123456789abcdefghijKLMNOP"


@pytest.mark.parametrize(
    "echo",
    [
        KEY,
        KEY[:-3],  # cut by a server's truncation
        KEY[5:],  # prefix dropped
        KEY[9:17],  # the shortest piece removed (8 characters)
        f"x{KEY}y",
    ],
)
def test_every_piece_of_eight_or_more_characters_is_removed(echo: str) -> None:
    scrub = Scrubber(KEY)
    text = scrub(f"the server said: {echo} (request 12)")
    assert "***" in text
    assert text.startswith("the server said: ")
    assert text.endswith(" (request 12)")
    for start in range(len(KEY) - 7):
        assert KEY[start : start + 8] not in text


def test_seven_characters_of_the_key_are_not_a_secret() -> None:
    assert Scrubber(KEY)(f"id {KEY[9:16]}") == f"id {KEY[9:16]}"


def test_credential_values_go_and_header_names_stay() -> None:
    scrub = Scrubber(KEY)
    assert scrub("invalid x-api-key") == "invalid x-api-key"
    assert scrub("Authorization: Bearer abcdefgh12345") == "Authorization: ***"
    assert scrub("x-api-key=zzzzzzzzzzzzzz, retry") == "x-api-key=***, retry"
    assert scrub("expected a Bearer token") == "expected a Bearer token"
    assert scrub("got Bearer QWERTYzxcv9876") == "got Bearer ***"
    assert scrub("someone's sk-proj-abcdefgh123") == "someone's ***"


def test_httpcore_log_records_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    scrubber = Scrubber(KEY)
    protect_logs(scrubber)
    caplog.set_level(logging.DEBUG, logger="httpcore.http11")
    logging.getLogger("httpcore.http11").debug("headers=%s", [(b"x-request-id", KEY.encode())])
    assert KEY not in caplog.text
    assert "***" in caplog.text


def test_every_logger_spanstream_writes_to_is_filtered() -> None:
    src = Path(__file__).parents[2] / "src" / "spanstream"
    names = {
        match.group(1)
        for path in src.rglob("*.py")
        for match in re.finditer(r'getLogger\("(spanstream[^"]*)"\)', path.read_text())
    }
    assert names
    assert names <= set(LOGGERS), names - set(LOGGERS)
