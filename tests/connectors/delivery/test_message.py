"""Outgoing messages and their stable Message-ID (DESIGN §10: exactly once per action key)."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError, replace

import pytest
from delivery_builders import TODAY, customer, formal_notice, message, sender

from connectors.delivery.message import (
    Attachment,
    OutgoingMessage,
    message_for_action,
    message_id_for,
    text_to_html,
)
from core.texts import RenderedText, render_action

# RFC 5322 msg-id with a dot-atom left part and a domain right part.
MSG_ID = re.compile(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>")


def test_same_action_key_gives_the_same_message_id() -> None:
    """A resend after a crash carries the id of the first attempt."""
    first = message_id_for("3f9a1c0b7d2e4f60a1b2c3d4", "dupont-freres.fr")
    again = message_id_for("3f9a1c0b7d2e4f60a1b2c3d4", "dupont-freres.fr")

    assert first == again == "<relance.3f9a1c0b7d2e4f60a1b2c3d4@dupont-freres.fr>"


def test_different_actions_get_different_message_ids() -> None:
    assert message_id_for("aaaa", "dupont-freres.fr") != message_id_for("aaab", "dupont-freres.fr")


def test_two_companies_sharing_a_domain_get_different_ids_for_the_same_key() -> None:
    """Action keys are unique per company only; the scope keeps tenants apart."""
    a = message_id_for("3f9a1c0b", "cabinet-expert.fr", scope="client-a")
    b = message_id_for("3f9a1c0b", "cabinet-expert.fr", scope="client-b")

    assert a != b
    assert a == message_id_for("3f9a1c0b", "cabinet-expert.fr", scope="client-a")


@pytest.mark.parametrize("key", ["plain-key_1", "clé avec espaces", "a@b<c>", "x" * 200])
def test_any_key_gives_a_valid_rfc5322_message_id(key: str) -> None:
    assert MSG_ID.fullmatch(message_id_for(key, "dupont-freres.fr"))


def test_domain_is_lowercased_and_idna_encoded() -> None:
    assert message_id_for("k1", "Société.FR").endswith("@xn--socit-esab.fr>")


@pytest.mark.parametrize("domain", ["", "not a domain", "-bad-.fr", "a..fr"])
def test_invalid_domain_is_rejected(domain: str) -> None:
    with pytest.raises(ValueError, match="domain"):
        message_id_for("k1", domain)


def test_empty_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="key"):
        message_id_for("", "dupont-freres.fr")


def test_message_is_immutable_and_accepts_lists() -> None:
    outgoing = OutgoingMessage(
        key="k1",
        channel="email",
        company="dupont",
        customer_id="C1",
        to=["compta@sgp.fr"],  # type: ignore[arg-type]
        subject="s",
        body="b",
        message_id=message_id_for("k1", "dupont-freres.fr"),
        attachments=[("releve.pdf", b"%PDF-1.4", "application/pdf")],  # type: ignore[arg-type]
    )

    assert outgoing.to == ("compta@sgp.fr",)
    assert outgoing.attachments == (Attachment("releve.pdf", b"%PDF-1.4", "application/pdf"),)
    hash(outgoing)
    with pytest.raises(FrozenInstanceError):
        outgoing.subject = "changed"  # type: ignore[misc]


def test_repr_does_not_dump_attachments_or_html() -> None:
    outgoing = message(
        html="<p>" + "x" * 500 + "</p>", attachments=(Attachment("r.pdf", b"A" * 9999),)
    )

    text = repr(outgoing)
    assert "AAAA" not in text and "xxxx" not in text
    assert "<9999 bytes>" in text


def test_html_body_escapes_text_and_keeps_paragraphs() -> None:
    html = text_to_html("Bonjour <client>,\n\nLigne 1\nLigne 2 & fin", language="fr")

    assert '<html lang="fr">' in html
    assert "<p>Bonjour &lt;client&gt;,</p>" in html
    assert "<p>Ligne 1<br>\nLigne 2 &amp; fin</p>" in html


def test_message_for_an_email_action_goes_to_the_customer_addresses() -> None:
    who = customer(emails=("compta@sgp.fr", "dg@sgp.fr"))
    notice = formal_notice()
    rendered = render_action(notice, who, sender(), TODAY)

    outgoing = message_for_action(
        notice, who, rendered, company="dupont", domain="dupont-freres.fr"
    )

    assert outgoing.to == ("compta@sgp.fr", "dg@sgp.fr")
    assert outgoing.message_id == message_id_for(notice.key, "dupont-freres.fr", scope="dupont")
    assert outgoing.subject.startswith("Mise en demeure")
    assert outgoing.html is not None and "FA-2026-0042" in outgoing.html


def test_message_for_an_sms_action_goes_to_the_customer_phone() -> None:
    who = customer(phone="06 12 34 56 78")
    rendered = RenderedText(template="sms", language="fr", subject="", body="Rappel")
    sms = replace(formal_notice(), channel="sms", template="sms")

    outgoing = message_for_action(sms, who, rendered, company="dupont", domain="dupont-freres.fr")

    assert outgoing.to == ("06 12 34 56 78",)


def test_message_for_a_letter_has_no_electronic_recipient() -> None:
    rendered = RenderedText(template="reminder_2", language="fr", subject="s", body="b")
    letter = replace(formal_notice(), channel="letter", template="reminder_2")

    outgoing = message_for_action(
        letter, customer(), rendered, company="dupont", domain="dupont-freres.fr"
    )

    assert outgoing.to == ()
