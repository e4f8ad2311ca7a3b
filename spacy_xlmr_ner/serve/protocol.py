"""uvicorn's h11 protocol with a header timeout: a connection must send a
request's headers within `header_timeout` seconds of opening, or of the last
response, or it is closed. uvicorn's own `timeout_keep_alive` starts only
after a response, so a connection that never sends a request (or sends its
headers a byte at a time) would be held for ever.

Imported only with the serve extra (uvicorn).
"""
import asyncio
from typing import Optional

from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEADER_TIMEOUT = 10.0


class HeaderTimeoutH11Protocol(H11Protocol):
    """H11Protocol that closes connections slow to send a request's headers."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: Optional[asyncio.TimerHandle] = None
        self._waiting_cycle = self.cycle
        self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._waiting_cycle = self.cycle
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not self._waiting_cycle and self.cycle is not None and not self.cycle.response_complete:
            return  # a request came in meanwhile
        self.logger.debug("Closing a connection that sent no request headers within %g s", self.header_timeout)
        self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        # A new request cycle: its headers are in.
        if self.cycle is not self._waiting_cycle:
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.cycle is not None and self.cycle.response_complete:
            self._arm_header_timer()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)


def protocol_with_header_timeout(seconds: float) -> type:
    """RETURNS (type): A HeaderTimeoutH11Protocol class with `header_timeout`
    set to `seconds`, for `uvicorn.Config(http=...)`."""
    return type("HeaderTimeoutH11Protocol", (HeaderTimeoutH11Protocol,), {"header_timeout": float(seconds)})
