"""Client-side pacing: 25 requests per 5 seconds per token (Pennylane's documented bound).

A sliding window of the send times of the last ``limit`` requests: the next one
waits until the oldest leaves the window.  The ``ratelimit-remaining`` and
``ratelimit-reset`` headers of every answer tighten it (another process using
the same token spends the same budget), and a 429's ``retry-after`` blocks every
request of the token until it has passed.  Limiters are shared per token within
a process (``limiter_for``), as the bound is.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

__all__ = ["LIMIT", "WINDOW", "RateLimiter", "limiter_for"]

LIMIT = 25
WINDOW = 5.0
# Our clock and Pennylane's differ by network latency: a little slack per window.
MARGIN = 0.05


class RateLimiter:
    def __init__(
        self,
        limit: int = LIMIT,
        window: float = WINDOW,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting, for the bench and `check`

    def acquire(self) -> None:
        """Wait until one more request fits in the window, then count it."""
        with self._lock:
            while True:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.window - MARGIN:
                    self._sent.popleft()
                wait = self._blocked_until - now
                if len(self._sent) >= self.limit:
                    wait = max(wait, self._sent[0] + self.window + MARGIN - now)
                if wait <= 0:
                    self._sent.append(now)
                    return
                self.waited += wait
                self._sleep(wait)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read ``ratelimit-remaining``/``ratelimit-reset``: none left means wait for the reset."""
        remaining = _number(headers.get("ratelimit-remaining"))
        if remaining is None or remaining > 0:
            return
        reset = _number(headers.get("ratelimit-reset"))
        if reset is None:
            delay = self.window
        elif reset > 1_000_000_000:  # a Unix time, as documented
            delay = reset - self._wall()
        else:  # some servers send seconds left
            delay = reset
        self.block(min(max(delay, 0.0), self.window * 2))

    def block(self, seconds: float) -> None:
        """No request of this token before ``seconds`` from now (a 429's ``retry-after``)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


_LIMITERS: dict[str, RateLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def limiter_for(token: str) -> RateLimiter:
    """The process-wide limiter of this token (keyed by a digest: the token is kept nowhere)."""
    key = hashlib.sha256(token.encode()).hexdigest()
    with _REGISTRY_LOCK:
        if key not in _LIMITERS:
            _LIMITERS[key] = RateLimiter()
        return _LIMITERS[key]
