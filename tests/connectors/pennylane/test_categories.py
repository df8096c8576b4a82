"""Write-back through analytic categories: weights, merge, drafts, uncertain writes."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
import responses

from connectors.pennylane.categories import Catalog, labels, merged_body, push_flags, shares
from connectors.pennylane.client import PennylaneClient
from connectors.pennylane.errors import PennylaneError
from connectors.pennylane.models import Category, CategoryGroup, Ref
from connectors.pennylane.ratelimit import RateLimiter
from connectors.sources import Flag

BASE = "https://pl.example/api/external/v2"
DAY = date(2026, 11, 24)
GROUP = 50
OTHER = 60


@pytest.fixture
def client() -> PennylaneClient:
    return PennylaneClient(
        "tok", BASE, limiter=RateLimiter(sleep=lambda s: None), sleep=lambda s: None
    )


@pytest.fixture
def catalog() -> Catalog:
    ids = {label: 100 + n for n, label in enumerate(labels(4))}
    return Catalog(CategoryGroup(id=GROUP, label="Relance"), ids)


def category(ident: int, group: int, weight: str, label: str = "") -> dict[str, object]:
    return {"id": ident, "label": label, "weight": weight, "category_group": {"id": group}}


def test_labels_are_litige_the_levels_mise_en_demeure_and_contentieux() -> None:
    assert labels(2) == ["Litige", "Relance 1", "Relance 2", "Mise en demeure", "Contentieux"]


@pytest.mark.parametrize("count", [1, 2, 3, 6, 7])
def test_shares_have_four_decimals_at_most_and_sum_to_one(count: int) -> None:
    weights = shares(count)
    assert len(weights) == count
    assert sum(Decimal(w) for w in weights) == 1
    assert all(len(w.partition(".")[2]) <= 4 for w in weights)


def test_the_merge_keeps_other_groups_weights_and_shares_ours(catalog: Catalog) -> None:
    current = [
        Category(id=1, weight=Decimal("0.7"), category_group=Ref(id=OTHER)),
        Category(id=2, weight=Decimal("0.3"), category_group=Ref(id=OTHER)),
        Category(id=101, weight=Decimal("1"), category_group=Ref(id=GROUP)),
    ]
    body = merged_body(current, catalog, {"Litige", "Relance 2"}, 4)
    assert body == [
        {"id": 1, "weight": "0.7"},
        {"id": 2, "weight": "0.3"},
        {"id": 100, "weight": "0.5"},
        {"id": 102, "weight": "0.5"},
    ]


@responses.activate
def test_each_flag_kind_is_written_in_one_read_and_one_write_per_invoice(
    client: PennylaneClient, catalog: Catalog
) -> None:
    responses.get(
        f"{BASE}/customer_invoices/7/categories",
        json=[category(1, OTHER, "1", "Chantier"), category(101, GROUP, "1", "Relance 1")],
    )
    responses.put(f"{BASE}/customer_invoices/7/categories", json=[])
    flags = [
        Flag("reminder_level", "7", 5, DAY),
        Flag("dispute", "7", "prix contesté", DAY),
        Flag("escalated", "7", True, DAY),
    ]
    assert push_flags(client, catalog, flags, 4) == flags
    put = [c for c in responses.calls if c.request.method == "PUT"]
    assert len(put) == 1
    assert json.loads(put[0].request.body or b"") == [
        {"id": 1, "weight": "1"},
        {"id": 100, "weight": "0.3333"},  # Litige
        {"id": 105, "weight": "0.3333"},  # Mise en demeure (step 5 > 4 levels)
        {"id": 106, "weight": "0.3334"},  # Contentieux
    ]


@responses.activate
def test_a_closed_dispute_removes_litige_and_nothing_else(
    client: PennylaneClient, catalog: Catalog
) -> None:
    responses.get(
        f"{BASE}/customer_invoices/7/categories",
        json=[category(100, GROUP, "0.5", "Litige"), category(102, GROUP, "0.5", "Relance 2")],
    )
    responses.put(f"{BASE}/customer_invoices/7/categories", json=[])
    push_flags(client, catalog, [Flag("dispute", "7", None, DAY)], 4)
    assert json.loads(responses.calls[1].request.body or b"") == [{"id": 102, "weight": "1"}]


@responses.activate
def test_a_state_already_in_pennylane_is_not_written_again(
    client: PennylaneClient, catalog: Catalog
) -> None:
    responses.get(
        f"{BASE}/customer_invoices/7/categories", json=[category(103, GROUP, "1", "Relance 3")]
    )
    flags = [Flag("reminder_level", "7", 3, DAY)]
    assert push_flags(client, catalog, flags, 4) == flags
    assert len(responses.calls) == 1


@responses.activate
def test_a_draft_invoice_is_skipped_with_its_reason(
    client: PennylaneClient, catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    responses.get(f"{BASE}/customer_invoices/7/categories", json=[])
    responses.put(
        f"{BASE}/customer_invoices/7/categories",
        status=422,
        json={"error": "This endpoint is not applicable for draft invoices", "status": 422},
    )
    assert push_flags(client, catalog, [Flag("reminder_level", "7", 1, DAY)], 4) == []
    assert "reason=draft invoice" in caplog.text


@responses.activate
def test_a_write_whose_answer_was_lost_is_read_back_not_repeated(
    client: PennylaneClient, catalog: Catalog
) -> None:
    responses.get(f"{BASE}/customer_invoices/7/categories", json=[])
    responses.put(f"{BASE}/customer_invoices/7/categories", status=502, body="bad gateway")
    responses.get(
        f"{BASE}/customer_invoices/7/categories", json=[category(101, GROUP, "1", "Relance 1")]
    )
    flags = [Flag("reminder_level", "7", 1, DAY)]
    assert push_flags(client, catalog, flags, 4) == flags
    assert [c.request.method for c in responses.calls] == ["GET", "PUT", "GET"]


@responses.activate
def test_an_invoice_gone_from_pennylane_is_skipped(
    client: PennylaneClient, catalog: Catalog
) -> None:
    responses.get(f"{BASE}/customer_invoices/7/categories", status=404, json={"error": "Not Found"})
    assert push_flags(client, catalog, [Flag("escalated", "7", True, DAY)], 4) == []


def test_missing_categories_ask_for_setup(client: PennylaneClient) -> None:
    empty = Catalog(CategoryGroup(id=GROUP, label="Relance"), {})
    with pytest.raises(PennylaneError) as caught:
        push_flags(client, empty, [Flag("dispute", "7", "x", DAY)], 4)
    assert "relance pennylane setup" in caught.value.message and caught.value.kind == "config"
