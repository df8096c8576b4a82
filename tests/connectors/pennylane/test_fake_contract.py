"""The fake server enforces the documented contract (so the sync tests prove something)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import requests
from pennylane_fake import FakePennylane
from sync_support import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def get(url: str, path: str, **params: object) -> requests.Response:
    return requests.get(url + path, params=params, headers=AUTH, timeout=10)


def test_limit_is_1_to_100_and_1000_on_changelogs(fake: tuple[FakePennylane, str]) -> None:
    _, url = fake
    too_many = get(url, "/customer_invoices", limit=101)
    assert too_many.status_code == 400 and too_many.json()["code"] == "MoreThanMaximum"
    assert get(url, "/changelogs/customers", limit=1000).status_code == 200


def test_a_cursor_needs_the_same_limit_and_start_date_excludes_cursor(
    fake: tuple[FakePennylane, str],
) -> None:
    server, url = fake
    for n in range(3):
        server.add_customer(f"C{n}")
    first = get(url, "/customers", limit=2).json()
    assert first["has_more"] and len(first["items"]) == 2
    assert get(url, "/customers", limit=3, cursor=first["next_cursor"]).status_code == 400
    assert len(get(url, "/customers", limit=2, cursor=first["next_cursor"]).json()["items"]) == 1
    both = get(url, "/changelogs/customers", start_date="2026-12-01T00:00:00Z", cursor="x")
    assert both.status_code == 400


def test_only_documented_filters_are_accepted(fake: tuple[FakePennylane, str]) -> None:
    _, url = fake
    status = json.dumps([{"field": "status", "operator": "eq", "value": "late"}])
    assert get(url, "/customer_invoices", filter=status).status_code == 400


def test_a_start_date_older_than_four_weeks_is_a_422(fake: tuple[FakePennylane, str]) -> None:
    _, url = fake
    old = (date.today() - timedelta(weeks=5)).isoformat() + "T00:00:00Z"
    answer = get(url, "/changelogs/customer_invoices", start_date=old)
    assert answer.status_code == 422 and "4 weeks" in answer.json()["error"]


def test_the_26th_request_of_a_window_gets_a_429_with_headers(
    fake: tuple[FakePennylane, str],
) -> None:
    _, url = fake
    answers = [get(url, "/me") for _ in range(30)]
    refused = [a for a in answers if a.status_code == 429]
    assert refused, "30 requests at once must exceed 25 per window"
    assert refused[0].headers["retry-after"].isdigit()
    assert refused[0].text.startswith("Rate limit exceeded. Please retry in")
    assert all("ratelimit-remaining" in a.headers for a in answers)


def test_weights_must_sum_to_one_per_group_and_drafts_are_refused(
    fake: tuple[FakePennylane, str],
) -> None:
    server, url = fake
    group = server.add_group("Relance")
    a, b = server.add_category(group, "Litige"), server.add_category(group, "Relance 1")
    customer = server.add_customer("C")
    today = date.today()
    invoice = server.add_invoice(customer, "10", issued=today, deadline=today)
    draft = server.add_invoice(customer, "10", issued=today, deadline=today, draft=True)
    path = f"{url}/customer_invoices/{invoice}/categories"
    half = [{"id": a, "weight": "0.5"}, {"id": b, "weight": "0.4"}]
    assert requests.put(path, json=half, headers=AUTH, timeout=10).status_code == 422
    five = [{"id": a, "weight": "0.33333"}]
    assert requests.put(path, json=five, headers=AUTH, timeout=10).status_code == 400
    ok = [{"id": a, "weight": "0.5"}, {"id": b, "weight": "0.5"}]
    assert requests.put(path, json=ok, headers=AUTH, timeout=10).status_code == 200
    refused = requests.put(
        f"{url}/customer_invoices/{draft}/categories", json=ok, headers=AUTH, timeout=10
    )
    assert refused.status_code == 422 and "draft" in refused.json()["error"]


def test_a_missing_scope_is_named_and_a_bad_token_is_a_401(fake: tuple[FakePennylane, str]) -> None:
    server, url = fake
    server.token("narrow", ("customers:readonly",))
    narrow = requests.get(
        f"{url}/categories", headers={"Authorization": "Bearer narrow"}, timeout=10
    )
    assert narrow.status_code == 403 and "categories:readonly" in narrow.json()["error"]
    assert requests.get(f"{url}/me", timeout=10).status_code == 401
