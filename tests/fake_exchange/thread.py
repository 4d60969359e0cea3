"""Running the fakes on a loop of their own thread, for tests whose engine runs on the
host's thread (``EngineHost``): ``ServerThread.call(coro)`` runs a coroutine there."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tests.fake_exchange.exchanges import FakeExchanges

T = TypeVar("T")


class ServerThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(2)
        self.loop.close()


@contextmanager
def fakes_on_a_thread() -> Iterator[tuple[ServerThread, FakeExchanges]]:
    """The public fakes (:class:`~tests.fake_exchange.exchanges.FakeExchanges`) started on a
    :class:`ServerThread` of their own, stopped and closed after the block."""
    from tests.fake_exchange.exchanges import FakeExchanges

    st = ServerThread()
    fakes = FakeExchanges()
    st.call(fakes.start())
    try:
        yield st, fakes
    finally:
        st.call(fakes.stop())
        st.close()
