"""HTTP to Pennylane's Company API v2: one ``requests.Session`` per token.

- ``Authorization: Bearer <token>``; the token lives in the session headers only
  (never in a message, a log line or ``repr``).
- Every request first waits for the rate limiter (``ratelimit``).
- Retries (tenacity): a 429 is retried for any method (the request was turned
  away before doing anything), after ``retry-after``; 5xx answers, timeouts and
  broken connections only for GETs.  A write that fails that way raises a
  ``PennylaneError`` marked ``uncertain``: the caller reads back before writing
  again (the API has no idempotency keys).
- ``pages`` walks cursor pagination with the same ``limit`` and ``filter`` on
  every page; cursors are never kept beyond one listing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from tenacity import (
    RetryCallState,
    Retrying,
)

from connectors.pennylane.errors import PennylaneError, error_for_status
from connectors.pennylane.ratelimit import RateLimiter, limiter_for

__all__ = ["DEFAULT_BASE_URL", "PAGE_LIMIT", "Answer", "PennylaneClient", "filter_param"]

log = logging.getLogger("relance.pennylane")

DEFAULT_BASE_URL = "https://app.pennylane.com/api/external/v2"
PAGE_LIMIT = 100
ATTEMPTS = 5
RATE_LIMITED_TRIES = 30
# A retry-after longer than this is not waited for inside one cycle.
MAX_RETRY_AFTER = 60.0
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0


def filter_param(*conditions: tuple[str, str, Any]) -> str:
    """The ``filter`` query value: a JSON array of ``{field, operator, value}``."""
    return json.dumps(
        [{"field": f, "operator": op, "value": value} for f, op, value in conditions],
        separators=(",", ":"),
    )


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    data: Any
    headers: Mapping[str, str]


class _Retry(Exception):
    """An answer (or no answer) worth asking again."""

    def __init__(self, error: PennylaneError, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class PennylaneClient:
    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 30.0,
        limiter: RateLimiter | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = ATTEMPTS,
    ) -> None:
        if not token:
            raise PennylaneError("no Pennylane API token was given", kind="config")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.limiter = limiter or limiter_for(token)
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "relance-pennylane/0.1"
        self._sleep = sleep
        self.attempts = attempts
        self.requests = 0  # requests sent (answers and failures), for the bench
        self.last_headers: Mapping[str, str] = {}

    def __repr__(self) -> str:
        return f"PennylaneClient({self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    # -- requests ----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Answer:
        """One request with pacing and retries; an error answer raises ``PennylaneError``."""
        what = f"{method} {path}"
        retrying = Retrying(
            retry=self._retry,
            wait=self._wait,
            stop=self._stop,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._once(method, path, what, params, body)
        except _Retry as final:
            raise final.error from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params).data

    def pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        limit: int = PAGE_LIMIT,
    ) -> Iterator[list[dict[str, Any]]]:
        """The ``items`` of each page, following ``next_cursor`` while ``has_more``."""
        query: dict[str, Any] = {**(params or {}), "limit": limit}
        while True:
            data = self.get(path, query)
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise PennylaneError(
                    f"GET {path}: expected a page {{items, has_more, next_cursor}}, got "
                    f"{type(data).__name__}",
                    kind="data",
                )
            yield [item for item in data["items"] if isinstance(item, dict)]
            cursor = data.get("next_cursor")
            if not data.get("has_more") or not cursor:
                return
            # A changelog's start_date only opens the listing: the cursor carries on.
            query = {k: v for k, v in query.items() if k != "start_date"}
            query["cursor"] = cursor

    def by_ids(
        self, path: str, ids: Sequence[int], *, batch: int = PAGE_LIMIT
    ) -> Iterator[dict[str, Any]]:
        """Records of these ids, ``batch`` per request with the ``id in [...]`` filter."""
        for start in range(0, len(ids), batch):
            chunk = list(ids[start : start + batch])
            for page in self.pages(path, {"filter": filter_param(("id", "in", chunk))}):
                yield from page

    # -- one attempt -------------------------------------------------------------------

    def _once(
        self,
        method: str,
        path: str,
        what: str,
        params: Mapping[str, Any] | None,
        body: Any,
    ) -> Answer:
        self.limiter.acquire()
        self.requests += 1
        writes = method != "GET"
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                params=params,
                json=body,
                timeout=self.timeout,
            )
        except (requests.Timeout, requests.ConnectionError) as error:
            failure = PennylaneError(
                f"no answer from Pennylane to {what} ({type(error).__name__}); "
                f"the next cycle tries again",
                kind="transient",
                uncertain=writes,
            )
            if writes:
                raise failure from None
            log.warning("retrying request=%r reason=%s", what, type(error).__name__)
            raise _Retry(failure, None) from None
        self.last_headers = response.headers
        self.limiter.observe(response.headers)
        status = response.status_code
        if status < 400:
            return Answer(status, _json(response, what), response.headers)
        retry_after = _retry_after(response.headers.get("retry-after"))
        refused = error_for_status(status, response.text, what, retry_after=retry_after)
        if status == 429:
            self.limiter.block(min(retry_after or self.limiter.window, MAX_RETRY_AFTER))
            log.warning("rate limited request=%r retry_after=%s", what, retry_after)
            raise _Retry(refused, retry_after)
        if status >= 500:
            if writes:
                refused.uncertain = True
                raise refused
            log.warning("retrying request=%r status=%d", what, status)
            raise _Retry(refused, retry_after)
        raise refused

    @staticmethod
    def _counts(state: RetryCallState) -> dict[str, int]:
        counts: dict[str, int] = state.retry_object.statistics.setdefault(
            "relance", {"429": 0, "other": 0}
        )
        return counts

    def _retry(self, state: RetryCallState) -> bool:
        """Whether to ask again (tenacity calls this first, then ``_wait``, then ``_stop``)."""
        outcome = state.outcome
        failure = outcome.exception() if outcome is not None else None
        if not isinstance(failure, _Retry):
            return False
        self._counts(state)["429" if failure.error.status == 429 else "other"] += 1
        return True

    def _stop(self, state: RetryCallState) -> bool:
        """Failures (5xx, no answer) have ``attempts`` tries; 429s, which only say "later"
        and are waited out, have ``RATE_LIMITED_TRIES``."""
        counts = self._counts(state)
        return counts["429"] >= RATE_LIMITED_TRIES or counts["other"] >= self.attempts

    def _wait(self, state: RetryCallState) -> float:
        """After a 429 the limiter already holds every request back; after a failure,
        back off exponentially (0.5 s, 1 s, 2 s, ... counted over failures only)."""
        outcome = state.outcome
        failure = outcome.exception() if outcome is not None else None
        if isinstance(failure, _Retry) and failure.error.status == 429:
            return 0.0
        failures = max(self._counts(state)["other"], 1)
        return float(min(BACKOFF_FIRST * 2 ** (failures - 1), BACKOFF_MAX))


def _json(response: requests.Response, what: str) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        # Money may come as JSON numbers too: read them as Decimals, never as floats.
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise PennylaneError(
            f"Pennylane's answer to {what} is not JSON (is base_url the API's, ending in "
            f"/api/external/v2?)",
            kind="config",
            status=response.status_code,
        ) from None


def _retry_after(value: str | None) -> float | None:
    """Seconds from ``retry-after``: a number (fractions allowed) or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
