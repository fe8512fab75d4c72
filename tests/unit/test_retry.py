"""``RetryPolicy``: which statuses are retried and how long to wait (``Retry-After``, backoff,
jitter), with the clock and the randomness injected."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from spanstream import RetryPolicy

NOW = 1_760_000_000.0  # a fixed "current time" (2025-10-09)
NO_JITTER = RetryPolicy(initial_delay=0.5, max_delay=8.0, jitter=0.0)


def now() -> float:
    return NOW


def headers(**values: str) -> httpx.Headers:
    return httpx.Headers({name.replace("_", "-"): value for name, value in values.items()})


def http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


# --- Which statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 599])
def test_retryable_statuses(status: int) -> None:
    assert RetryPolicy().should_retry_status(status)


@pytest.mark.parametrize("status", [200, 301, 400, 401, 403, 404, 413, 422])
def test_non_retryable_statuses(status: int) -> None:
    assert not RetryPolicy().should_retry_status(status)


def test_defaults() -> None:
    policy = RetryPolicy()
    assert (policy.max_retries, policy.initial_delay, policy.max_delay, policy.jitter) == (
        2,
        0.5,
        8.0,
        0.25,
    )


# --- Retry-After ---------------------------------------------------------------------------------


def test_retry_after_seconds_is_honoured() -> None:
    assert NO_JITTER.delay(0, headers(retry_after="3"), now=now) == 3.0


def test_retry_after_fractional_seconds_is_honoured() -> None:
    assert NO_JITTER.delay(0, headers(retry_after="1.5"), now=now) == 1.5


def test_retry_after_zero_means_retry_now() -> None:
    assert NO_JITTER.delay(2, headers(retry_after="0"), now=now) == 0.0


def test_retry_after_http_date_is_the_time_left_until_then() -> None:
    delay = NO_JITTER.delay(0, headers(retry_after=http_date(NOW + 10)), now=now)
    assert delay == pytest.approx(10.0)


def test_retry_after_http_date_in_the_past_falls_back_to_backoff() -> None:
    assert NO_JITTER.delay(1, headers(retry_after=http_date(NOW - 30)), now=now) == 1.0


def test_retry_after_ms_is_honoured() -> None:
    assert NO_JITTER.delay(0, headers(retry_after_ms="250"), now=now) == 0.25


def test_retry_after_ms_takes_precedence_over_retry_after() -> None:
    value = NO_JITTER.delay(0, headers(retry_after_ms="1500", retry_after="7"), now=now)
    assert value == 1.5


def test_garbage_retry_after_ms_falls_back_to_retry_after() -> None:
    value = NO_JITTER.delay(0, headers(retry_after_ms="soon", retry_after="7"), now=now)
    assert value == 7.0


def test_retry_after_is_not_jittered() -> None:
    policy = RetryPolicy(jitter=0.5)
    assert policy.delay(0, headers(retry_after="3"), rand=lambda: 0.9, now=now) == 3.0


def test_retry_after_above_max_delay_but_within_60_seconds_is_honoured() -> None:
    assert NO_JITTER.delay(0, headers(retry_after="30"), now=now) == 30.0


def test_retry_after_of_exactly_60_seconds_is_honoured() -> None:
    assert NO_JITTER.delay(0, headers(retry_after="60"), now=now) == 60.0


@pytest.mark.parametrize(
    "header",
    [
        {"retry_after": "61"},
        {"retry_after": "3600"},
        {"retry_after_ms": "60001"},
        {"retry_after": http_date(NOW + 120)},
    ],
    ids=["61s", "1h", "ms-above-60s", "date-2min-ahead"],
)
def test_retry_after_above_60_seconds_falls_back_to_backoff(header: dict[str, str]) -> None:
    assert NO_JITTER.delay(2, headers(**header), now=now) == 2.0


@pytest.mark.parametrize(
    "header", [{"retry_after": "-1"}, {"retry_after_ms": "-500"}], ids=["seconds", "ms"]
)
def test_negative_retry_after_falls_back_to_backoff(header: dict[str, str]) -> None:
    assert NO_JITTER.delay(1, headers(**header), now=now) == 1.0


@pytest.mark.parametrize("value", ["soon", "", "3 seconds", "nan", "inf", "Mon, 99 Foo 2025"])
def test_garbage_retry_after_falls_back_to_backoff(value: str) -> None:
    assert NO_JITTER.delay(0, headers(retry_after=value), now=now) == 0.5


def test_headers_without_retry_after_use_backoff() -> None:
    assert NO_JITTER.delay(1, headers(x_request_id="req_1"), now=now) == 1.0


# --- Backoff and jitter --------------------------------------------------------------------------


def test_backoff_doubles_from_initial_delay_and_is_capped_at_max_delay() -> None:
    delays = [NO_JITTER.delay(attempt) for attempt in range(7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_backoff_cap_holds_for_a_small_max_delay() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=3.0, jitter=0.0)
    assert [policy.delay(attempt) for attempt in range(4)] == [1.0, 2.0, 3.0, 3.0]


def test_zero_delays_never_wait() -> None:
    policy = RetryPolicy(initial_delay=0, max_delay=0, jitter=0)
    assert [policy.delay(attempt) for attempt in range(5)] == [0.0] * 5


def test_backoff_cap_holds_for_a_very_large_attempt() -> None:
    assert NO_JITTER.delay(1024) == 8.0


def test_jitter_zero_draw_gives_the_full_delay() -> None:
    policy = RetryPolicy(initial_delay=2.0, max_delay=8.0, jitter=0.25)
    assert policy.delay(1, rand=lambda: 0.0) == 4.0


def test_jitter_full_draw_removes_at_most_the_jitter_fraction() -> None:
    policy = RetryPolicy(initial_delay=2.0, max_delay=8.0, jitter=0.25)
    assert policy.delay(1, rand=lambda: 1.0) == 3.0


def test_jitter_is_proportional_to_the_draw() -> None:
    policy = RetryPolicy(initial_delay=2.0, max_delay=8.0, jitter=0.5)
    assert policy.delay(0, rand=lambda: 0.5) == 1.5


def test_jitter_applies_after_the_cap() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=4.0, jitter=0.25)
    assert policy.delay(5, rand=lambda: 1.0) == 3.0


def test_default_random_jitter_stays_within_bounds() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=8.0, jitter=0.25)
    for _ in range(200):
        assert 0.75 <= policy.delay(0) <= 1.0
