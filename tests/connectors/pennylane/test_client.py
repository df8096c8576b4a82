"""The HTTP client against `responses`: request shapes, error bodies, retries, pacing."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from connectors.pennylane.client import PennylaneClient, filter_param
from connectors.pennylane.errors import PennylaneError
from connectors.pennylane.ratelimit import MARGIN, RateLimiter

BASE = "https://pl.example/api/external/v2"
TOKEN = "tok-unit-9a8b7c"


class Clock:
    """A clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(clock: Clock) -> PennylaneClient:
    limiter = RateLimiter(clock=clock, wall=lambda: clock.now, sleep=clock.sleep)
    return PennylaneClient(TOKEN, BASE, limiter=limiter, sleep=clock.sleep)


def query_of(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url or "").query)


def page(items: list[dict[str, object]], cursor: str | None) -> dict[str, object]:
    return {"items": items, "has_more": cursor is not None, "next_cursor": cursor}


@responses.activate
def test_requests_carry_the_bearer_token_to_the_configured_base_url(
    client: PennylaneClient,
) -> None:
    responses.get(f"{BASE}/me", json={"company": {"id": 1}, "scopes": []})
    client.get("/me")
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in repr(client)


@responses.activate
def test_pages_follow_the_cursor_with_the_same_limit_and_filter(client: PennylaneClient) -> None:
    wanted = filter_param(("draft", "eq", "false"))
    responses.get(f"{BASE}/customer_invoices", json=page([{"id": 1}], "c1"))
    responses.get(f"{BASE}/customer_invoices", json=page([{"id": 2}], None))
    got = [item["id"] for p in client.pages("/customer_invoices", {"filter": wanted}) for item in p]
    assert got == [1, 2]
    first, second = (query_of(c) for c in responses.calls)
    assert first == {"filter": [wanted], "limit": ["100"]}
    assert second == {"filter": [wanted], "limit": ["100"], "cursor": ["c1"]}


@responses.activate
def test_a_changelog_start_date_opens_the_listing_and_the_cursor_carries_on(
    client: PennylaneClient,
) -> None:
    responses.get(f"{BASE}/changelogs/customers", json=page([], "next"))
    responses.get(f"{BASE}/changelogs/customers", json=page([], None))
    list(client.pages("/changelogs/customers", {"start_date": "2026-11-01T00:00:00Z"}, limit=1000))
    first, second = (query_of(c) for c in responses.calls)
    assert first["start_date"] == ["2026-11-01T00:00:00Z"] and first["limit"] == ["1000"]
    assert "start_date" not in second and second["cursor"] == ["next"]


def test_the_filter_is_a_json_array_of_field_operator_value() -> None:
    assert json.loads(filter_param(("id", "in", [1, 2]), ("draft", "eq", "false"))) == [
        {"field": "id", "operator": "in", "value": [1, 2]},
        {"field": "draft", "operator": "eq", "value": "false"},
    ]


@responses.activate
def test_ids_are_refetched_100_per_request(client: PennylaneClient) -> None:
    responses.get(f"{BASE}/customer_invoices", json=page([], None))
    list(client.by_ids("/customer_invoices", list(range(1, 251))))
    sizes = [len(json.loads(query_of(c)["filter"][0])[0]["value"]) for c in responses.calls]
    assert sizes == [100, 100, 50]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, {"error": "Token expired", "status": 401}, "wrong, revoked or expired"),
        (
            403,
            {"error": 'Access to this resource requires scope "categories:all"', "status": 403},
            "lacks the scope categories:all",
        ),
        (
            422,
            {"error": "This endpoint is not applicable for draft invoices", "status": 422},
            "Pennylane refused PUT /x: This endpoint is not applicable for draft invoices",
        ),
        (
            400,
            {"message": "limit too big", "code": "MoreThanMaximum", "field": "limit"},
            "limit too big (code MoreThanMaximum, field limit)",
        ),
        (
            400,
            {"message": "bad", "payload": {"a": 1}, "code": "ValidateError"},
            "bad (code ValidateError)",
        ),
        (
            409,
            {"error": "exists", "message": "label taken", "details": "Litige"},
            "exists label taken Litige",
        ),
        (404, "Not Found", "Pennylane answered 404 to PUT /x: Not Found"),
    ],
)
@responses.activate
def test_error_bodies_become_one_clear_message(
    client: PennylaneClient, status: int, body: object, expected: str
) -> None:
    if isinstance(body, str):
        responses.put(f"{BASE}/x", body=body, status=status)
    else:
        responses.put(f"{BASE}/x", json=body, status=status)
    with pytest.raises(PennylaneError) as caught:
        client.request("PUT", "/x", body=[])
    assert expected in caught.value.message
    assert TOKEN not in str(caught.value)
    assert caught.value.kind == ("config" if status in (401, 403) else "data")
    assert len(responses.calls) == 1


@responses.activate
def test_a_429_is_retried_after_its_retry_after(client: PennylaneClient, clock: Clock) -> None:
    responses.get(
        f"{BASE}/me",
        body="Rate limit exceeded. Please retry in 3 seconds.",
        status=429,
        headers={"retry-after": "3", "ratelimit-remaining": "0", "ratelimit-limit": "25"},
    )
    responses.get(f"{BASE}/me", json={"ok": True})
    assert client.get("/me") == {"ok": True}
    assert sum(clock.slept) >= 3


@responses.activate
def test_a_429_on_a_write_is_retried_the_request_was_turned_away(
    client: PennylaneClient,
) -> None:
    responses.post(f"{BASE}/categories", status=429, body="slow down", headers={"retry-after": "1"})
    responses.post(f"{BASE}/categories", status=201, json={"id": 7})
    assert client.request("POST", "/categories", body={"label": "Litige"}).data == {"id": 7}
    assert len(responses.calls) == 2


@responses.activate
def test_a_5xx_on_a_get_is_retried_with_backoff(client: PennylaneClient, clock: Clock) -> None:
    responses.get(f"{BASE}/customers", status=502, body="bad gateway")
    responses.get(f"{BASE}/customers", status=503, json={"error": "busy"})
    responses.get(f"{BASE}/customers", json=page([{"id": 1}], None))
    assert next(client.pages("/customers")) == [{"id": 1}]
    assert clock.slept[:2] == [0.5, 1.0]


@responses.activate
def test_a_5xx_on_a_write_is_not_retried_and_marked_uncertain(client: PennylaneClient) -> None:
    responses.put(f"{BASE}/customer_invoices/1/categories", status=500, body="oops")
    with pytest.raises(PennylaneError) as caught:
        client.request("PUT", "/customer_invoices/1/categories", body=[])
    assert caught.value.uncertain and caught.value.kind == "transient"
    assert len(responses.calls) == 1


@responses.activate
def test_a_timeout_on_a_get_is_retried_but_not_on_a_write(client: PennylaneClient) -> None:
    responses.get(f"{BASE}/me", body=requests.Timeout("slow"))
    responses.get(f"{BASE}/me", json={"ok": 1})
    assert client.get("/me") == {"ok": 1}
    responses.post(f"{BASE}/categories", body=requests.ConnectionError("reset"))
    with pytest.raises(PennylaneError) as caught:
        client.request("POST", "/categories", body={})
    assert caught.value.uncertain
    assert sum(c.request.method == "POST" for c in responses.calls) == 1


@responses.activate
def test_endless_5xx_end_in_a_transient_error_for_the_next_cycle(
    client: PennylaneClient,
) -> None:
    responses.get(f"{BASE}/me", status=503, body="down")
    with pytest.raises(PennylaneError) as caught:
        client.get("/me")
    assert caught.value.kind == "transient" and "503" in caught.value.message
    assert len(responses.calls) == client.attempts


def test_the_limiter_holds_the_26th_request_until_the_window_slides(clock: Clock) -> None:
    limiter = RateLimiter(clock=clock, wall=lambda: clock.now, sleep=clock.sleep)
    for _ in range(25):
        limiter.acquire()
    assert clock.slept == []
    limiter.acquire()
    assert clock.slept and 5.0 <= clock.slept[0] <= 5.1


def test_ratelimit_headers_saying_none_left_hold_requests_until_the_reset(clock: Clock) -> None:
    epoch = 1_790_000_000.0  # the wall clock: Unix time
    limiter = RateLimiter(clock=clock, wall=lambda: epoch + clock.now, sleep=clock.sleep)
    reset = epoch + clock.now + 2
    limiter.observe({"ratelimit-remaining": "0", "ratelimit-reset": str(int(reset))})
    limiter.acquire()
    assert sum(clock.slept) == pytest.approx(2.0 + MARGIN)


def test_a_ratelimit_reset_in_seconds_left_is_understood_too(clock: Clock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe({"ratelimit-remaining": "0", "ratelimit-reset": "3"})
    limiter.observe({"ratelimit-remaining": "4", "ratelimit-reset": "3"})
    limiter.acquire()
    assert sum(clock.slept) == pytest.approx(3.0 + MARGIN)


def test_the_servers_remaining_budget_is_spent_then_the_reset_is_awaited(clock: Clock) -> None:
    # 3 requests left in Pennylane's window, which resets in 4 s: they go out at
    # once, the 4th waits for the reset.
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe({"ratelimit-remaining": "3", "ratelimit-reset": "4", "ratelimit-limit": "25"})
    for _ in range(3):
        limiter.acquire()
    assert clock.slept == []
    limiter.acquire()
    assert clock.slept == [pytest.approx(4.0 + MARGIN)]


def test_a_fresh_server_window_grants_its_whole_limit_at_once(clock: Clock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe({"ratelimit-remaining": "0", "ratelimit-reset": "1", "ratelimit-limit": "25"})
    for _ in range(25):
        limiter.acquire()
    assert clock.slept == [pytest.approx(1.0 + MARGIN)]
    limiter.acquire()  # the 26th of the fresh window waits for the next reset
    assert clock.slept[1:] == [pytest.approx(5.0)]


def test_without_ratelimit_headers_the_sliding_window_paces_requests(clock: Clock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe({"content-type": "application/json"})
    for _ in range(25):
        limiter.acquire()
    assert clock.slept == []
    limiter.acquire()
    assert clock.slept == [pytest.approx(5.0 + MARGIN)]


def test_a_late_answer_never_gives_back_requests_already_let_through(clock: Clock) -> None:
    # 2 left; both go out; the answer to the first (saying 1 left) arrives after.
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe({"ratelimit-remaining": "2", "ratelimit-reset": "4", "ratelimit-limit": "25"})
    limiter.acquire()
    limiter.acquire()
    limiter.observe({"ratelimit-remaining": "1", "ratelimit-reset": "4", "ratelimit-limit": "25"})
    limiter.acquire()
    assert clock.slept == [pytest.approx(4.0 + MARGIN)]


@pytest.mark.parametrize("garbage", ["nan", "inf", "-inf", "soon"])
def test_ratelimit_headers_that_are_not_numbers_are_ignored(clock: Clock, garbage: str) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe(
        {"ratelimit-remaining": garbage, "ratelimit-reset": garbage, "ratelimit-limit": garbage}
    )
    for _ in range(25):
        limiter.acquire()
    assert clock.slept == []


def test_long_after_the_servers_reset_the_sliding_window_paces_again(clock: Clock) -> None:
    # Idle for more than a window: where the server's window now ends is unknown.
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe({"ratelimit-remaining": "0", "ratelimit-reset": "1", "ratelimit-limit": "25"})
    clock.now += 60
    for _ in range(25):
        limiter.acquire()
    assert clock.slept == []
    limiter.acquire()
    assert clock.slept == [pytest.approx(5.0 + MARGIN)]


@responses.activate
def test_a_fractional_or_http_date_retry_after_is_understood(
    client: PennylaneClient, clock: Clock
) -> None:
    responses.get(f"{BASE}/me", status=429, body="", headers={"retry-after": "1.5"})
    responses.get(f"{BASE}/me", json={})
    client.get("/me")
    assert sum(clock.slept) == pytest.approx(1.5)


@responses.activate
def test_amounts_sent_as_json_numbers_are_read_as_exact_decimals(
    client: PennylaneClient,
) -> None:
    responses.get(f"{BASE}/customer_invoices/1", body='{"id": 1, "amount": 1440.1}')
    assert client.get("/customer_invoices/1")["amount"] == Decimal("1440.1")
