"""Client-side pacing: 25 requests per 5 seconds per token (Pennylane's documented bound).

Once Pennylane has answered, its ``ratelimit-remaining``, ``ratelimit-reset``
and ``ratelimit-limit`` headers are the budget: the requests it still grants
go out at once, and when none is left the next one waits for the reset, after
which a fresh window grants ``ratelimit-limit`` requests again.  Pacing by the
server's own fixed windows is what lets a long sync reach the bound: a sliding
window on our side never fills the server's windows whole.  Before the first
answer, or from a server that sends no such headers, a sliding window of the
send times of the last ``limit`` requests paces them instead.  A 429's
``retry-after`` blocks every request of the token until it has passed.
Limiters are shared per token within a process (``limiter_for``), as the
bound is.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

__all__ = ["LIMIT", "MARGIN", "WINDOW", "RateLimiter", "limiter_for"]

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
        # Only the last ``limit`` send times matter to the sliding window.
        self._sent: deque[float] = deque(maxlen=limit)
        self._blocked_until = 0.0
        # The server's budget, once an answer told it: requests left in its
        # current window, when that window ends (our clock, margin included)
        # and what a fresh one grants.
        self._budget: int | None = None
        self._budget_until = 0.0
        self._budget_limit = limit
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting, for the bench and `check`

    def acquire(self) -> None:
        """Wait until the server's budget (or else the sliding window) grants one more request."""
        with self._lock:
            while True:
                now = self._clock()
                wait = self._blocked_until - now
                if self._budget is not None:
                    self._roll_budget(now)
                if self._budget is not None:
                    if self._budget <= 0:
                        wait = max(wait, self._budget_until - now)
                    elif wait <= 0:
                        self._budget -= 1
                        self._sent.append(now)
                        return
                else:
                    while self._sent and self._sent[0] <= now - self.window - MARGIN:
                        self._sent.popleft()
                    if len(self._sent) >= self.limit:
                        wait = max(wait, self._sent[0] + self.window + MARGIN - now)
                    if wait <= 0:
                        self._sent.append(now)
                        return
                self.waited += wait
                self._sleep(wait)

    def _roll_budget(self, now: float) -> None:
        """Past the server's reset a fresh window begins; long past it, where is unknown."""
        if now < self._budget_until:
            return
        if now < self._budget_until + self.window:
            self._budget = self._budget_limit
            self._budget_until += self.window
        else:
            self._budget = None
            self._sent.clear()

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the ``ratelimit-*`` headers of an answer as the budget left until the reset."""
        remaining = _number(headers.get("ratelimit-remaining"))
        if remaining is None:
            return
        reset = _number(headers.get("ratelimit-reset"))
        if reset is None:
            delay = self.window
        elif reset > 1_000_000_000:  # a Unix time, as documented
            delay = reset - self._wall()
        else:  # some servers send seconds left
            delay = reset
        delay = min(max(delay, 0.0), self.window * 2)
        limit = _number(headers.get("ratelimit-limit"))
        with self._lock:
            until = self._clock() + delay + MARGIN
            left = max(int(remaining), 0)
            if self._budget is not None and abs(until - self._budget_until) < 1.0:
                # The same window: an answer to an earlier request may come late,
                # and never gives back requests already let through.
                left = min(left, self._budget)
            self._budget = left
            self._budget_until = until
            if limit is not None and limit >= 1:
                self._budget_limit = int(limit)
        if remaining <= 0:
            self.block(delay + MARGIN)

    def block(self, seconds: float) -> None:
        """No request of this token before ``seconds`` from now (a 429's ``retry-after``)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None  # "nan", "inf": as if absent


_LIMITERS: dict[str, RateLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def limiter_for(token: str) -> RateLimiter:
    """The process-wide limiter of this token (keyed by a digest: the token is kept nowhere)."""
    key = hashlib.sha256(token.encode()).hexdigest()
    with _REGISTRY_LOCK:
        if key not in _LIMITERS:
            _LIMITERS[key] = RateLimiter()
        return _LIMITERS[key]
