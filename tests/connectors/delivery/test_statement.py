"""The statement of account PDF (relevé), checked by reading its text back (DESIGN §7, §10)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from delivery_builders import (
    TODAY,
    action,
    customer,
    engine_formal_notice,
    formal_notice,
    listed,
    pdf_pages,
    pdf_text,
    plain,
    sender,
)

from connectors.delivery.statement import find_unicode_font, letter_pdf, statement_pdf
from core.actions import ContextInvoice, Credit
from core.texts import format_date, format_money, render_action

needs_dejavu = pytest.mark.skipif(
    find_unicode_font() is None, reason="DejaVu fonts not installed (Debian fonts-dejavu-core)"
)


def fr(amount: str | Decimal, currency: str = "EUR") -> str:
    return plain(format_money(Decimal(amount), currency, "fr"))


def test_statement_lists_each_invoice_with_due_date_days_and_open_amount() -> None:
    reminder = action([listed("FA-2026-0042", 12, "1200.00"), listed("FA-2026-0050", 3, "89.90")])

    text = pdf_text(statement_pdf(reminder, customer(), sender(), TODAY, "fr"))

    assert "Relevé de compte" in text
    assert "FA-2026-0042 " + format_date(TODAY - timedelta(days=12), "fr") + " 12 " in text
    assert fr("1200.00") in text and fr("89.90") in text
    assert "Net à payer " + fr("1289.90") in text


def test_statement_shows_the_sender_the_customer_and_the_reference() -> None:
    reminder = action()

    text = pdf_text(statement_pdf(reminder, customer(), sender(), TODAY, "fr"))

    assert "Dupont Frères SARL" in text and "75002 Paris" in text
    assert "Société Générale de Plâtrerie" in text and "Compte client : C1" in text
    assert f"Référence : {reminder.key}" in text
    assert "IBAN FR76 3000 6000 0112 3456 7890 189" in text


def test_context_invoices_and_credits_are_listed_and_deducted_from_the_net_due() -> None:
    """Net due = reminded + other overdue invoices - open credit notes (DESIGN §5.5)."""
    reminder = action(
        [listed("FA-2026-0042", 12, "1200.00")],
        context=[ContextInvoice("FA-2026-0031", "FA-2026-0031", 40, Decimal("500.00"))],
        credits=[Credit("AV-2026-0003", "AV-2026-0003", Decimal("150.00"))],
    )

    text = pdf_text(statement_pdf(reminder, customer(), sender(), TODAY, "fr"))

    assert "Autres factures échues" in text and "FA-2026-0031" in text and fr("500.00") in text
    assert "Avoirs déduits" in text and "AV-2026-0003" in text and fr("-150.00") in text
    assert "Total des factures " + fr("1700.00") in text
    assert "Net à payer " + fr("1550.00") in text


def test_invoice_not_yet_due_reads_a_echoir() -> None:
    reminder = action([listed("FA-2026-0099", -5, "300.00", 1)], template="pre_due")

    text = pdf_text(statement_pdf(reminder, customer(), sender(), TODAY, "fr"))

    assert "FA-2026-0099" in text and "à échoir" in text


def test_formal_notice_states_interest_indemnity_legal_basis_and_deadline() -> None:
    """§7: per invoice, interest and the EUR 40 indemnity; the legal basis; the deadline."""
    notice = formal_notice()

    text = pdf_text(statement_pdf(notice, customer(), sender(), TODAY, "fr"))

    assert "Mise en demeure de payer" in text
    for inv in notice.invoices:
        assert inv.interest is not None and inv.interest > 0
        assert f"{inv.number} " in text
        assert fr(inv.open_amount) + " " + fr(inv.interest) + " " + fr("40.00") in text
    assert "L441-10" in text and "D441-5" in text
    assert "Indemnités forfaitaires pour frais de recouvrement (2 × " + fr("40.00") in text
    total = notice.net_due + notice.total_interest + Decimal("80.00")
    assert "Total réclamé " + fr(total) in text
    assert "Délai de paiement : 8 jours" in text


@pytest.mark.parametrize("language", ["fr", "en"])
def test_formal_notice_headings_too_wide_for_their_column_wrap_and_all_print(
    language: str,
) -> None:
    """The six columns of a formal notice are narrow: a heading such as "Jours de
    retard" takes two lines above its column, and no heading is lost."""
    text = pdf_text(statement_pdf(formal_notice(), customer(), sender(), TODAY, language))
    headings = {
        "fr": ["N° de facture", "Échéance", "Jours de", "retard", "Restant dû", "Pénalités"],
        "en": ["Invoice no.", "Due date", "Days", "overdue", "Amount due", "Interest"],
    }[language]
    for heading in headings:
        assert heading in text
    assert text.index(headings[-1]) < text.index(formal_notice().invoices[0].number)


def test_formal_notice_to_an_individual_claims_no_penalties() -> None:
    """§7: individuals get neither interest nor the indemnity."""
    notice = formal_notice()

    text = pdf_text(statement_pdf(notice, customer(kind="individual"), sender(), TODAY, "fr"))

    assert "Pénalités" not in text and "L441-10" not in text
    assert "Net à payer " + fr(notice.net_due) in text
    assert "Délai de paiement" in text


def test_indemnity_in_euros_is_shown_apart_on_a_foreign_currency_notice() -> None:
    """The EUR 40 is set in euros by law; a USD notice cannot add it to its total."""
    notice = formal_notice(currency="USD")

    text = pdf_text(statement_pdf(notice, customer(), sender(), TODAY, "fr"))

    assert "Total réclamé " + fr(notice.net_due + notice.total_interest, "USD") in text
    assert "en sus du total : 2 × " + fr("40.00") + ", soit " + fr("80.00") in text


def test_statement_of_the_engine_formal_notice_carries_its_invoices_and_amounts() -> None:
    """What the engine plans (§5, §7) is what the statement prints."""
    notice, who = engine_formal_notice()

    text = pdf_text(statement_pdf(notice, who, sender(), TODAY, "fr"))

    for inv in notice.invoices:
        assert inv.number in text
        assert fr(inv.open_amount) in text
        assert inv.interest is not None and fr(inv.interest) in text
    assert "AV-2026-0003" in text
    assert fr(notice.net_due) in text


def test_english_statement_uses_english_labels_and_formats() -> None:
    notice = formal_notice()

    text = pdf_text(statement_pdf(notice, customer(language="en"), sender(), TODAY, "en"))

    assert "Formal notice to pay" in text and "Invoice no." in text
    assert "€1,200.00" in text
    assert "French Commercial Code" in text and "L441-10" in text
    assert "Payment deadline: 8 days" in text


def test_french_text_is_set_in_the_standard_font_with_accents_and_the_euro_sign() -> None:
    """WinAnsi covers French: "€", "é", "â", "œ" print with nothing embedded."""
    data = statement_pdf(formal_notice(), customer(name="Cœur de Plâtrerie"), sender(), TODAY, "fr")

    text = pdf_text(data)
    assert "€" in text and "Échéance" in text and "Cœur de Plâtrerie" in text
    assert b"/BaseFont /Helvetica" in data and b"/FontFile2" not in data


@needs_dejavu
def test_text_beyond_the_standard_fonts_is_set_in_embedded_dejavu() -> None:
    """A Polish or Greek name needs a Unicode font: the statement embeds DejaVu."""
    who = customer(name="Łódź Księgarnia Ελληνικά")
    data = statement_pdf(formal_notice(), who, sender(), TODAY, "fr")

    text = pdf_text(data)
    assert "Łódź Księgarnia Ελληνικά" in text and "€" in text and "Échéance" in text
    assert b"DejaVuSans" in data and b"/FontFile2" in data


def test_without_dejavu_what_the_standard_fonts_lack_is_transliterated() -> None:
    """Without DejaVu the statement still prints: French is whole, other letters
    become "?"."""
    who = customer(name="Łódź Księgarnia")
    data = statement_pdf(formal_notice(), who, sender(), TODAY, "fr", unicode_font=False)

    text = pdf_text(data)
    assert "?\u00f3d? Ksi?garnia" in text
    assert "1 200,00 €" in text.replace("\u00a0", " ")
    assert "Relevé" in text or "Mise en demeure" in text
    assert "FA-2026-0042" in text


def test_statement_is_the_same_bytes_for_the_same_action_and_day() -> None:
    """Deterministic output: a resend attaches an identical file."""
    notice = formal_notice()

    first = statement_pdf(notice, customer(), sender(), TODAY, "fr")
    again = statement_pdf(notice, customer(), sender(), TODAY, "fr")

    assert first == again


def test_long_statement_runs_over_pages_without_losing_an_invoice() -> None:
    invoices = [listed(f"FA-2025-{n:04d}", 10 + n, f"{100 + n}.00") for n in range(90)]
    reminder = action(invoices)

    data = statement_pdf(reminder, customer(), sender(), TODAY, "fr")

    assert pdf_pages(data) > 1
    text = pdf_text(data)
    assert all(f"FA-2025-{n:04d}" in text for n in range(90))
    assert "page 2/" in text


def test_unsupported_language_is_rejected() -> None:
    with pytest.raises(ValueError, match="language"):
        statement_pdf(action(), customer(), sender(), TODAY, "de")


def test_rendered_formal_notice_prints_as_a_letter() -> None:
    """The letter channel prints the text core.texts renders, amounts included."""
    notice = formal_notice()
    rendered = render_action(notice, customer(), sender(), TODAY)

    data = letter_pdf(rendered.subject, rendered.body, sender(), TODAY, "fr")

    text = pdf_text(data)
    assert "Objet : mise en demeure de payer" in text
    for inv in notice.invoices:
        assert inv.number in text and fr(inv.open_amount) in text


def test_statement_with_credits_exceeding_invoices_owes_nothing() -> None:
    reminder = replace(
        action(
            [listed("FA-2026-0042", 12, "100.00")],
            credits=[Credit("AV-1", "AV-1", Decimal("300.00"))],
        ),
    )

    text = pdf_text(statement_pdf(reminder, customer(), sender(), TODAY, "fr"))

    assert "Net à payer " + fr("0.00") in text


def last_lines_of_pages(data: bytes) -> list[str]:
    """Each page's last line of text above its footer."""
    from io import BytesIO

    from pypdf import PdfReader

    last = []
    for page in PdfReader(BytesIO(data)).pages:
        lines = [line for line in (page.extract_text() or "").splitlines() if line.strip()]
        body = [line for line in lines if "page " not in line]
        last.append(body[-1] if body else "")
    return last


@pytest.mark.parametrize("invoices", range(18, 25))
def test_a_table_title_and_its_headings_never_end_a_page(invoices: int) -> None:
    """The "other overdue invoices" and "credit notes" tables start on the next page
    when their title, headings and a first row do not fit at the bottom of this one.
    From 18 to 24 invoices, one of the two starts at the bottom of the first page
    (a page holds 24 invoice rows under the letterhead)."""
    reminder = action(
        [listed(f"FA-2026-{n:04d}", 10 + n, "100.00") for n in range(invoices)],
        context=[ContextInvoice("FA-2025-0900", "FA-2025-0900", 90, Decimal("50.00"))],
        credits=[Credit("AV-2026-0003", "AV-2026-0003", Decimal("10.00"))],
    )

    data = statement_pdf(reminder, customer(), sender(), TODAY, "fr")

    for last in last_lines_of_pages(data)[:-1]:
        assert not last.startswith(("Autres factures échues", "Avoirs déduits", "N° de"))
