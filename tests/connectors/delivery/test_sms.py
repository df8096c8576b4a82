"""SMS through a provider (DESIGN §10): E.164 numbers, idempotency per action key,
transient and permanent provider errors.  HTTP is mocked with ``responses``: no traffic."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import responses
from responses import matchers

from connectors.delivery.errors import DeliveryError
from connectors.delivery.sms import (
    FileSmsProvider,
    HttpSmsProvider,
    SmsProvider,
    normalize_phone,
    parse_retry_after,
    sms_parts,
    sms_text,
)

NOW = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)
BASE = "https://sms.example.test/api/v1"
API_KEY = "sk_live_do-not-leak-0123456789"
TEXT = "Dupont Frères : sauf erreur, la facture FA-2026-0042 (1\u202f200,00\u00a0€) reste impayée."


def http_provider(**options: object) -> HttpSmsProvider:
    return HttpSmsProvider(BASE, API_KEY, "DUPONT", clock=lambda: NOW, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("07-12-34-56-78", "+33712345678"),
        ("01 23 45 67 89", "+33123456789"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+33 (0)6 12 34 56 78", "+33612345678"),
        ("+33 06 12 34 56 78", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("0692 12 34 56", "+262692123456"),  # La Réunion mobile
        ("0690 12 34 56", "+590690123456"),  # Guadeloupe mobile
        ("0696 12 34 56", "+596696123456"),  # Martinique mobile
        ("+32 470 12 34 56", "+32470123456"),  # Belgium, kept
    ],
)
def test_phone_numbers_are_normalised_to_e164(number: str, expected: str) -> None:
    assert normalize_phone(number) == expected


@pytest.mark.parametrize("number", ["", "12345", "06 12 34 56", "+33 6 12 34", "abc", "00 00"])
def test_invalid_phone_number_is_a_permanent_error(number: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        normalize_phone(number)

    assert caught.value.permanent


def test_sms_text_uses_plain_spaces_so_it_stays_in_the_gsm_alphabet() -> None:
    """A French amount's narrow no-break spaces would force UCS-2 (70 chars per SMS)."""
    assert sms_parts(TEXT) == 1 or len(TEXT) > 70
    cleaned = sms_text(TEXT)

    assert "1 200,00 €" in cleaned
    assert sms_parts(cleaned) == 1
    assert sms_parts(TEXT) == 2  # as UCS-2: 84 characters do not fit one part of 70


def test_long_sms_counts_its_parts() -> None:
    assert sms_parts("a" * 160) == 1
    assert sms_parts("a" * 161) == 2
    assert sms_parts("€" * 80) == 1  # extension characters count double
    assert sms_parts("€" * 81) == 2


# --------------------------------------------------------------------------- file


def test_file_provider_writes_one_json_line_per_sms(tmp_path: Path) -> None:
    log = tmp_path / "sms" / "outbox.jsonl"
    provider: SmsProvider = FileSmsProvider(log, clock=lambda: NOW)

    message_id = provider.send("06 12 34 56 78", TEXT, "key-1")

    [line] = log.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record == {
        "id": message_id,
        "key": "key-1",
        "to": "+33612345678",
        "text": sms_text(TEXT),
        "parts": 1,
        "at": NOW.isoformat(),
    }


def test_file_provider_sends_each_action_key_once(tmp_path: Path) -> None:
    """A resend of the same action returns the first id and writes nothing."""
    log = tmp_path / "outbox.jsonl"
    provider = FileSmsProvider(log)

    first = provider.send("06 12 34 56 78", TEXT, "key-1")
    again = FileSmsProvider(log).send("06 12 34 56 78", "another text", "key-1")

    assert again == first
    assert len(log.read_text(encoding="utf-8").splitlines()) == 1
    assert provider.sent_id("key-1") == first
    assert provider.sent_id("key-2") is None


def test_file_provider_writes_different_keys_separately(tmp_path: Path) -> None:
    log = tmp_path / "outbox.jsonl"
    provider = FileSmsProvider(log)

    provider.send("06 12 34 56 78", TEXT, "key-1")
    provider.send("06 12 34 56 78", TEXT, "key-2")

    assert [json.loads(x)["key"] for x in log.read_text().splitlines()] == ["key-1", "key-2"]


def test_file_provider_ignores_a_torn_last_line(tmp_path: Path) -> None:
    """A crash mid-write leaves a partial line; the next SMS still goes out."""
    log = tmp_path / "outbox.jsonl"
    log.write_text('{"id": "file-key-0", "key": "key-0"}\n{"id": "fi', encoding="utf-8")

    FileSmsProvider(log).send("06 12 34 56 78", TEXT, "key-1")

    assert FileSmsProvider(log).sent_id("key-1") == "file-key-1"
    assert FileSmsProvider(log).sent_id("key-0") == "file-key-0"


def test_file_provider_refuses_an_invalid_number(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError) as caught:
        FileSmsProvider(tmp_path / "outbox.jsonl").send("12", TEXT, "key-1")

    assert caught.value.permanent
    assert not (tmp_path / "outbox.jsonl").exists()


# --------------------------------------------------------------------------- HTTP


@responses.activate
def test_http_provider_posts_json_with_the_key_as_idempotency_header() -> None:
    responses.post(
        f"{BASE}/sms",
        json={"id": "msg_123"},
        status=201,
        match=[
            matchers.json_params_matcher(
                {"to": "+33612345678", "text": sms_text(TEXT), "sender": "DUPONT"}
            ),
            matchers.header_matcher(
                {"Idempotency-Key": "key-1", "Authorization": f"Bearer {API_KEY}"}
            ),
        ],
    )

    assert http_provider().send("06 12 34 56 78", TEXT, "key-1") == "msg_123"


@responses.activate
def test_http_provider_endpoint_and_id_field_are_configurable() -> None:
    responses.post(f"{BASE}/messages/send", json={"messageId": 42}, status=200)

    provider = http_provider(endpoint="messages/send", id_field="messageId")

    assert provider.send("06 12 34 56 78", TEXT, "key-1") == "42"


@responses.activate
def test_rate_limited_is_transient_and_carries_retry_after() -> None:
    """429 + Retry-After: the outbox waits as long as the provider asked (§10)."""
    responses.post(f"{BASE}/sms", status=429, headers={"Retry-After": "30"}, body="slow down")

    with pytest.raises(DeliveryError) as caught:
        http_provider().send("06 12 34 56 78", TEXT, "key-1")

    assert caught.value.transient
    assert caught.value.retry_after == 30
    assert caught.value.code == 429
    assert "retry after 30 s" in str(caught.value)


@responses.activate
def test_server_error_is_transient_and_honours_a_retry_after_date() -> None:
    responses.post(
        f"{BASE}/sms", status=503, headers={"Retry-After": "Mon, 16 Mar 2026 10:02:00 GMT"}
    )

    with pytest.raises(DeliveryError) as caught:
        http_provider().send("06 12 34 56 78", TEXT, "key-1")

    assert caught.value.transient
    assert caught.value.retry_after == 120


@responses.activate
def test_rejected_request_is_permanent() -> None:
    responses.post(f"{BASE}/sms", status=400, json={"error": "invalid sender"})

    with pytest.raises(DeliveryError) as caught:
        http_provider().send("06 12 34 56 78", TEXT, "key-1")

    assert caught.value.permanent
    assert caught.value.retry_after is None
    assert "400" in str(caught.value) and "invalid sender" in str(caught.value)


@responses.activate
def test_api_key_echoed_by_the_provider_is_not_in_the_error() -> None:
    responses.post(f"{BASE}/sms", status=401, body=f"unknown key {API_KEY}")

    with pytest.raises(DeliveryError) as caught:
        http_provider().send("06 12 34 56 78", TEXT, "key-1")

    assert caught.value.permanent
    assert API_KEY not in str(caught.value) and API_KEY not in repr(caught.value)


@responses.activate
def test_unreachable_provider_is_transient() -> None:
    responses.post(f"{BASE}/sms", body=requests.ConnectionError("connection refused"))

    with pytest.raises(DeliveryError) as caught:
        http_provider().send("06 12 34 56 78", TEXT, "key-1")

    assert caught.value.transient
    assert not caught.value.maybe_delivered


@responses.activate
def test_timeout_is_transient_and_may_have_been_delivered() -> None:
    """The provider may hold the SMS: a retry is safe only thanks to the idempotency key."""
    responses.post(f"{BASE}/sms", body=requests.ReadTimeout("read timed out"))

    with pytest.raises(DeliveryError) as caught:
        http_provider().send("06 12 34 56 78", TEXT, "key-1")

    assert caught.value.transient
    assert caught.value.maybe_delivered


@responses.activate
def test_accepted_answer_without_an_id_is_not_retried() -> None:
    responses.post(f"{BASE}/sms", status=200, body="OK")

    with pytest.raises(DeliveryError) as caught:
        http_provider().send("06 12 34 56 78", TEXT, "key-1")

    assert caught.value.permanent
    assert caught.value.maybe_delivered


def test_api_key_is_not_in_the_provider_repr() -> None:
    assert API_KEY not in repr(http_provider())


def test_retry_after_accepts_seconds_and_dates_and_ignores_garbage() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Mon, 16 Mar 2026 09:59:00 GMT", now=NOW) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
