"""The per-venue limiter honours the venues' own signals across every task of the process."""

from __future__ import annotations

import asyncio
import time

import pytest

from core.execution.limits import RateLimited, VenueLimiter, shared_limiter


class Clock:
    def __init__(self) -> None:
        self.mono = 100.0
        self.wall = 1_700_000_000.0


def limiter(clock: Clock, max_wait_s: float = 5.0) -> VenueLimiter:
    return VenueLimiter(
        "x", max_wait_s=max_wait_s, clock=lambda: clock.mono, wall=lambda: clock.wall
    )


def test_a_429_blocks_for_its_retry_after_seconds() -> None:
    c = Clock()
    lim = limiter(c)
    lim.observe(429, {"Retry-After": "3"}, '{"code":-1003,"msg":"Too many requests."}')
    assert lim.wait_s() == pytest.approx(3.0)
    c.mono += 2.5
    assert lim.wait_s() == pytest.approx(0.5)


def test_a_418_ban_lasts_until_the_time_in_the_message_when_that_is_later() -> None:
    c = Clock()
    lim = limiter(c)
    until_ms = int((c.wall + 120) * 1000)
    body = f'{{"code":-1003,"msg":"Way too many requests; IP banned until {until_ms}."}}'
    lim.observe(418, {"retry-after": "30"}, body)
    assert lim.wait_s() == pytest.approx(120.0)
    assert "418" in lim.reason


def test_bybit_limit_status_zero_waits_until_the_reset_timestamp_in_ms() -> None:
    # the docs' header example: X-Bapi-Limit 10, X-Bapi-Limit-Status 9, reset 1672738134824
    c = Clock()
    c.wall = 1672738134.024
    lim = limiter(c)
    headers = {"X-Bapi-Limit": "10", "X-Bapi-Limit-Reset-Timestamp": "1672738134824"}
    lim.observe(200, {**headers, "X-Bapi-Limit-Status": "9"}, "{}")
    assert lim.wait_s() == 0
    lim.observe(200, {**headers, "X-Bapi-Limit-Status": "0"}, '{"retCode":10006}')
    assert lim.wait_s() == pytest.approx(0.8)  # milliseconds, not seconds
    assert lim.reason == "X-Bapi-Limit-Status 0 of 10"


def test_generic_remaining_zero_waits_until_the_reset_second() -> None:
    c = Clock()
    lim = limiter(c)
    lim.observe(
        200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(c.wall) + 4)}, "[]"
    )
    assert lim.wait_s() == pytest.approx(4.0)
    lim2 = limiter(c)
    lim2.observe(200, {"x-ratelimit-remaining": "57", "x-ratelimit-remaining-1s": "0"}, "{}")
    assert lim2.wait_s() == pytest.approx(1.0)


def test_binance_weight_at_the_limit_waits_for_the_next_minute() -> None:
    c = Clock()
    c.wall = 1_700_000_080.0  # 40 s into a minute (1_700_000_040 is a whole minute)
    lim = limiter(c)
    lim.observe(200, {"X-MBX-USED-WEIGHT-1M": "2400"}, "{}")
    assert lim.wait_s() == pytest.approx(20.0)


async def test_a_wait_longer_than_allowed_is_refused_before_sending() -> None:
    c = Clock()
    lim = limiter(c, max_wait_s=5.0)
    lim.block_for(120, "HTTP 418 IP ban")
    with pytest.raises(RateLimited, match=r"x: rate limited for 120.0 s more \(HTTP 418 IP ban\)"):
        await lim.acquire()


async def test_every_task_of_the_process_waits_on_the_same_block() -> None:
    lim = VenueLimiter("y", max_wait_s=2.0)
    lim.block_for(0.2, "HTTP 429, Retry-After 0.2 s")
    t0 = time.monotonic()
    done: list[float] = []

    async def call() -> None:
        await lim.acquire()
        done.append(time.monotonic() - t0)

    await asyncio.gather(*(call() for _ in range(5)))
    assert len(done) == 5 and min(done) >= 0.19


def test_the_process_wide_limiter_is_one_object_per_venue() -> None:
    assert shared_limiter("testvenue-a", 5.0) is shared_limiter("testvenue-a", 1.0)
    assert shared_limiter("testvenue-a", 5.0) is not shared_limiter("testvenue-b", 5.0)


def test_a_reset_header_in_ms_where_seconds_are_expected_blocks_until_that_time() -> None:
    # the hazard: "x-ratelimit-reset" sent as epoch ms (1.7e12) read as seconds blocked a venue
    # for ~54,000 years; read by its size it is 4 s from now
    c = Clock()
    lim = limiter(c)
    reset_ms = str(int((c.wall + 4) * 1000))
    lim.observe(200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset_ms}, "[]")
    assert lim.wait_s() == pytest.approx(4.0)
    assert lim.alerts == []


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (429, {"Retry-After": "86400"}, "{}"),  # a day in seconds
        (418, {}, '{"code":-1003,"msg":"IP banned until 9999999999999."}'),  # year 2286
        (200, {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": "99999999999999"}, ""),
        (200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "999999999"}, "[]"),  # 31 y
    ],
)
def test_no_answer_blocks_a_venue_for_more_than_five_minutes_and_each_cut_is_an_alert(
    status: int, headers: dict[str, str], body: str
) -> None:
    c = Clock()
    lim = limiter(c)
    lim.observe(status, headers, body)
    assert lim.wait_s() == pytest.approx(300.0)
    assert len(lim.alerts) == 1
    assert lim.alerts[0].startswith("x: asked to wait ")
    assert lim.alerts[0].endswith("; waiting 300 s at most")
