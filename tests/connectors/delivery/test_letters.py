"""Letters as PDF files: one per action, idempotent, and a daily batch (DESIGN §10)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from delivery_builders import (
    TODAY,
    action,
    customer,
    formal_notice,
    listed,
    message,
    pdf_pages,
    pdf_text,
    plain,
    sender,
)

from connectors.delivery.errors import DeliveryError
from connectors.delivery.letters import LetterWriter, merge_pdfs, slug
from connectors.delivery.statement import letter_pdf, statement_pdf
from core.texts import format_money


def writer(folder: Path, day: date = TODAY) -> LetterWriter:
    return LetterWriter(folder, today=lambda: day)


def statement(number: str = "FA-2026-0042", amount: str = "1200.00") -> bytes:
    return statement_pdf(action([listed(number, 12, amount)]), customer(), sender(), TODAY, "fr")


def test_letter_file_is_named_by_date_company_customer_and_key(tmp_path: Path) -> None:
    letter = message(key="3f9a1c0b7d2e4f60a1b2c3d4", channel="letter", customer_id="C/042 Été")

    path = writer(tmp_path).write(letter, statement())

    assert path.name == "2026-03-16_dupont_c-042-ete_3f9a1c0b7d2e4f60.pdf"
    assert path.read_bytes().startswith(b"%PDF-")
    assert "FA-2026-0042" in pdf_text(path.read_bytes())


def test_writing_the_same_action_twice_keeps_one_file(tmp_path: Path) -> None:
    """A resend after a crash finds the letter already written (§10: exactly once)."""
    letters = writer(tmp_path)
    first = letters.write(message(channel="letter"), statement("FA-2026-0042"))
    again = letters.write(message(channel="letter"), statement("FA-2026-9999"))

    assert again == first
    assert list(tmp_path.glob("*.pdf")) == [first]
    assert "FA-2026-9999" not in pdf_text(first.read_bytes())


def test_the_same_action_retried_another_day_is_not_written_again(tmp_path: Path) -> None:
    first = writer(tmp_path, TODAY).write(message(channel="letter"), statement())
    later = writer(tmp_path, TODAY + timedelta(days=1)).write(
        message(channel="letter"), statement()
    )

    assert later == first
    assert len(list(tmp_path.glob("*.pdf"))) == 1


def test_two_actions_for_one_customer_make_two_letters(tmp_path: Path) -> None:
    letters = writer(tmp_path)
    letters.write(message(key="aaaa1111", channel="letter"), statement())
    letters.write(message(key="bbbb2222", channel="letter"), statement())

    assert len(list(tmp_path.glob("*.pdf"))) == 2


def test_same_key_in_two_companies_makes_two_letters(tmp_path: Path) -> None:
    """Action keys are unique within a company only."""
    letters = writer(tmp_path)
    letters.write(message(company="dupont", channel="letter"), statement())
    letters.write(message(company="martin", channel="letter"), statement())

    assert len(list(tmp_path.glob("*.pdf"))) == 2


def test_content_that_is_not_a_pdf_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError) as caught:
        writer(tmp_path).write(message(channel="letter"), b"<html>not a pdf</html>")

    assert caught.value.permanent
    assert list(tmp_path.iterdir()) == []


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    writer(tmp_path).write(message(channel="letter"), statement())

    assert [p.suffix for p in tmp_path.iterdir()] == [".pdf"]


def test_daily_batch_concatenates_the_days_letters_only(tmp_path: Path) -> None:
    today_writer = writer(tmp_path, TODAY)
    today_writer.write(
        message(key="aaaa", customer_id="C1", channel="letter"), statement("FA-1", "100.00")
    )
    today_writer.write(
        message(key="bbbb", customer_id="C2", channel="letter"), statement("FA-2", "250.50")
    )
    writer(tmp_path, TODAY - timedelta(days=1)).write(
        message(key="cccc", customer_id="C3", channel="letter"), statement("FA-3", "999.99")
    )

    batch = today_writer.daily_batch(TODAY)

    assert batch is not None and batch.name == "batch_2026-03-16.pdf"
    data = batch.read_bytes()
    assert pdf_pages(data) == 2
    text = pdf_text(data)
    assert "FA-1" in text and "FA-2" in text and "FA-3" not in text
    assert plain(format_money(Decimal("250.50"), "EUR", "fr")) in text
    assert text.index("FA-1") < text.index("FA-2")  # printing order: by customer


def test_daily_batch_is_none_on_a_day_without_letters(tmp_path: Path) -> None:
    assert writer(tmp_path).daily_batch(TODAY) is None


def test_daily_batch_is_not_taken_for_a_letter(tmp_path: Path) -> None:
    """Building the batch twice gives the same batch, not a batch of batches."""
    letters = writer(tmp_path)
    letters.write(message(channel="letter"), statement())

    first = letters.daily_batch(TODAY)
    assert first is not None
    first_bytes = first.read_bytes()
    again = letters.daily_batch(TODAY)

    assert again == first
    assert again.read_bytes() == first_bytes
    assert pdf_pages(first_bytes) == 1


def test_duplex_batch_starts_every_letter_on_a_new_sheet(tmp_path: Path) -> None:
    """A one-page letter gets a blank back page when printing on both sides."""
    letters = writer(tmp_path)
    notice = formal_notice()
    body = "\n".join(f"Ligne {n}" for n in range(70))  # two pages of text
    two_pages = letter_pdf("Mise en demeure", body, sender(), TODAY, "fr")
    assert pdf_pages(two_pages) == 2
    letters.write(
        message(key="aaaa", channel="letter"),
        statement_pdf(notice, customer(), sender(), TODAY, "fr"),
    )
    letters.write(message(key="bbbb", channel="letter"), two_pages)

    batch = letters.daily_batch(TODAY, duplex=True)

    assert batch is not None
    assert pdf_pages(batch.read_bytes()) == 4  # 1 + blank + 2


def test_merged_letter_and_statement_keep_both_texts() -> None:
    notice = formal_notice()
    letter = letter_pdf(
        "Mise en demeure", "Objet : mise en demeure de payer", sender(), TODAY, "fr"
    )

    merged = merge_pdfs([letter, statement_pdf(notice, customer(), sender(), TODAY, "fr")])

    text = pdf_text(merged)
    assert "Objet : mise en demeure de payer" in text and "FA-2026-0057" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Société Générale", "societe-generale"), ("C_42/A", "c-42-a"), ("", "x"), ("***", "x")],
)
def test_slug_is_a_safe_file_name_part(text: str, expected: str) -> None:
    assert slug(text) == expected
