"""A per-test Redis key prefix on the real server at 127.0.0.1:6379, cleaned up after."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from core.execution.redis_queue import make_client

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A unique key prefix; every key under it is deleted after the test."""
    p = f"arbtui-test-{uuid.uuid4().hex[:10]}"
    yield p
    r = make_client(REDIS, 5.0)
    keys = [k async for k in r.scan_iter(match=f"{p}:*")]
    if keys:
        await r.delete(*keys)
    await r.aclose()
