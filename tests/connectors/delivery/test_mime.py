"""The hand-built MIME bytes read back like the stdlib ``email`` package's message
(DESIGN §10: e-mail over SMTP; connectors/delivery/mime.py).

The reference is the message the ``email`` package builds (``EmailMessage`` and the
SMTP policy, what Relance sent before): both are parsed with the stdlib parser and must
give the same headers, the same tree of parts, the same decoded texts, file names and
attachment bytes.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import pytest
from delivery_builders import customer, formal_notice, message, sender
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors.delivery.message import Attachment, OutgoingMessage, text_to_html
from connectors.delivery.mime import address
from connectors.delivery.smtp import SmtpSettings, build_email
from connectors.delivery.statement import statement_pdf

NOW = datetime(2026, 3, 16, 9, 30, tzinfo=UTC)
FROM = "Dupont Frères – Comptabilité <compta@dupont-freres.fr>"
HEADERS = ("Subject", "Date", "Message-ID", "X-Relance-Key", "MIME-Version")
ADDRESS_HEADERS = ("From", "To", "Reply-To")


def reference(message: OutgoingMessage, smtp: SmtpSettings, now: datetime) -> bytes:
    """The message as the ``email`` package builds it (EmailMessage, SMTP policy)."""

    def addr(text: str) -> Address:
        name, spec = parseaddr(text)
        username, _, domain = spec.rpartition("@")
        return Address(display_name=name, username=username, domain=domain.encode("idna").decode())

    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = addr(smtp.from_address)
    msg["To"] = [addr(a) for a in message.to]
    if smtp.reply_to:
        msg["Reply-To"] = addr(smtp.reply_to)
    msg["Subject"] = message.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message.message_id
    msg["X-Relance-Key"] = message.key
    msg.set_content(message.body, subtype="plain", charset="utf-8", cte="quoted-printable")
    if message.html is not None:
        msg.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.mime.partition("/")
        msg.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return msg.as_bytes(policy=email.policy.SMTP)


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _text(value: str) -> str:
    # Line endings as a mail client shows them (the parser keeps the CRLF of the wire).
    return value.replace("\r\n", "\n")


def reading(data: bytes) -> dict[str, Any]:
    """What a mail client reads of a message: headers, then each part in order."""
    msg = parse(data)
    assert not msg.defects, msg.defects
    read: dict[str, Any] = {name: str(msg[name]) for name in HEADERS}
    # Spaces around a subject: the email package keeps some and drops others.
    read["Subject"] = read["Subject"].strip()
    for name in ADDRESS_HEADERS:
        header = msg[name]
        # A name as a client shows it, runs of spaces as one (the email package
        # collapses them, the hand-built header keeps the name as written).
        read[name] = (
            None
            if header is None
            else [(" ".join(a.display_name.split()), a.addr_spec) for a in header.addresses]
        )
    parts = []
    for part in msg.walk():
        assert not part.defects, part.defects
        entry: dict[str, Any] = {
            "type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "encoding": part.get("Content-Transfer-Encoding"),
            "disposition": part.get_content_disposition(),
            "filename": part.get_filename(),
        }
        if not part.is_multipart():
            content = part.get_content()
            entry["content"] = _text(content) if isinstance(content, str) else content
        parts.append(entry)
    read["parts"] = parts
    return read


def smtp_settings(**overrides: Any) -> SmtpSettings:
    fields: dict[str, Any] = {"host": "127.0.0.1", "security": "none", "from_address": FROM}
    fields.update(overrides)
    return SmtpSettings(**fields)


def assert_same_reading(outgoing: OutgoingMessage, smtp: SmtpSettings) -> bytes:
    built = build_email(outgoing, smtp, now=NOW)
    assert reading(built) == reading(reference(outgoing, smtp, NOW))
    return built


def test_a_reminder_with_html_and_statement_reads_like_the_email_package() -> None:
    """The daemon's e-mail shape: (plain | html) alternatives, then the statement PDF."""
    body = "Madame, Monsieur,\n\nVeuillez trouver ci-joint le relevé <à jour>.\n.\nFrom here"
    pdf = statement_pdf(formal_notice(), customer(), sender(), NOW.date(), "fr")
    outgoing = message(
        body=body,
        html=text_to_html(body),
        to=("compta@sgp.fr", "Direction Générale <dg@sgp.fr>"),
        attachments=(Attachment("relevé de compte.pdf", pdf),),
    )
    built = assert_same_reading(outgoing, smtp_settings(reply_to="Recouvrement <r@dupont.fr>"))

    assert reading(built)["parts"][-1]["content"] == pdf


@pytest.mark.parametrize("with_html", [False, True])
@pytest.mark.parametrize("attachments", [0, 1, 2])
def test_every_shape_reads_like_the_email_package(with_html: bool, attachments: int) -> None:
    files = tuple(
        Attachment(name, bytes(range(256)) * 40, mime)
        for name, mime in [("releve.pdf", "application/pdf"), ("notes.txt", "text/plain")][
            :attachments
        ]
    )
    outgoing = message(html=text_to_html(message().body) if with_html else None, attachments=files)
    assert_same_reading(outgoing, smtp_settings())


def test_headers_are_seven_bit_and_lines_stay_short() -> None:
    """Any relay takes the message: ASCII only, header lines within 78 characters
    (long subjects and names are folded), CRLF line ends."""
    outgoing = message(
        subject="Relance : factures " + ", ".join(f"FA-2026-{n:04d} échue" for n in range(12)),
        to=tuple(f"Comptabilité fournisseurs n°{n} <compta{n}@sgp.fr>" for n in range(5)),
    )
    built = assert_same_reading(outgoing, smtp_settings())

    assert all(byte < 128 for byte in built)
    head = built.split(b"\r\n\r\n", 1)[0]
    assert b"\n" not in head.replace(b"\r\n", b"")
    assert max(len(line) for line in head.split(b"\r\n")) <= 78


def test_a_body_holding_a_boundary_line_stays_one_part() -> None:
    """Quoted-printable never carries "==" and base64 never "-": no boundary can
    appear in a part, whatever the text says."""
    first = build_email(message(html="<p>x</p>"), smtp_settings(), now=NOW)
    boundary_line = next(line for line in first.split(b"\r\n") if line.startswith(b"--===="))
    outgoing = message(body=f"avant\n{boundary_line.decode()}\napres", html="<p>x</p>")
    assert_same_reading(outgoing, smtp_settings())


def test_a_resend_is_the_same_bytes_but_for_the_date() -> None:
    """Same action, same Message-ID and boundaries: only the Date header differs."""
    outgoing = message(html="<p>x</p>", attachments=(Attachment("releve.pdf", b"%PDF-1.4"),))
    first = build_email(outgoing, smtp_settings(), now=NOW)
    later = build_email(outgoing, smtp_settings(), now=datetime(2026, 3, 17, 8, 0, tzinfo=UTC))
    date = b"Date: " + format_datetime(NOW).encode()
    later_date = b"Date: Tue, 17 Mar 2026 08:00:00 +0000"
    assert first.replace(date, later_date) == later


def test_long_non_ascii_file_name_is_split_into_rfc_2231_sections() -> None:
    name = "relevé de compte – " + "é" * 60 + ".pdf"
    outgoing = message(attachments=(Attachment(name, b"%PDF-1.4"),))
    built = assert_same_reading(outgoing, smtp_settings())
    assert b"filename*0*=utf-8''" in built and b"filename*1*=" in built


def test_each_rfc_2231_section_decodes_on_its_own() -> None:
    """A client may decode the sections one by one: none cuts a character's bytes."""
    import re
    from urllib.parse import unquote_to_bytes

    for pad in range(4):
        name = "x" * pad + "relevé – " + "é" * 40 + "€" * 20 + ".pdf"
        outgoing = message(attachments=(Attachment(name, b"%PDF-1.4"),))
        built = assert_same_reading(outgoing, smtp_settings()).decode("ascii")
        sections = re.findall(r"filename\*\d+\*=([^;\s]+)", built)
        assert len(sections) > 1
        decoded = [unquote_to_bytes(s.removeprefix("utf-8''")).decode() for s in sections]
        assert "".join(decoded) == name


def test_an_invalid_address_is_a_permanent_error() -> None:
    from connectors.delivery.errors import DeliveryError

    for bad in ("not an address", "élodie@sgp.fr", "@sgp.fr"):
        with pytest.raises(DeliveryError) as caught:
            address(bad)
        assert caught.value.permanent


def test_a_name_like_an_encoded_word_stays_literal() -> None:
    """A customer named "=?utf-8?q?...?=" is shown as written, not decoded (the email
    package sends such a name as is, and a client then decodes it)."""
    outgoing = message(to=("=?utf-8?q?Banque_de_France?= <x@sgp.fr>",))
    [to] = parse(build_email(outgoing, smtp_settings(), now=NOW))["To"].addresses
    assert to.display_name == "=?utf-8?q?Banque_de_France?="


def test_a_long_unbroken_name_is_split_between_characters() -> None:
    """RFC 2047: encoded words of at most 75 characters, each holding whole characters;
    a decoder joins them without the folding space (email.header does)."""
    name = "Ébénisterie" + "é" * 40 + "€𐀀"
    built = build_email(message(to=(f'"{name}" <x@sgp.fr>',)), smtp_settings(), now=NOW)
    head = built.split(b"\r\n\r\n", 1)[0].decode("ascii")
    to = re.search(r"\r\nTo:(.*?)\r\n(?! )", head, re.S)
    assert to is not None
    lines = to.group(0).strip("\r\n").split("\r\n")
    words = to.group(1).replace("\r\n", "").split()
    assert words[-1] == "<x@sgp.fr>" and len(words) > 2
    assert all(len(w) <= 75 for w in words) and all(len(line) <= 78 for line in lines)
    assert str(make_header(decode_header(" ".join(words[:-1])))) == name


# Text a template or a ledger could hold on one line: any character but line breaks.
# (The email package refuses a header holding any line boundary of str.splitlines.)
LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
line_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters=LINE_BREAKS), max_size=120
)
# A name is words separated by single spaces, each short enough for one encoded word
# (a longer one is split between characters, which the stdlib parser reads with a
# space inserted: test_a_long_unbroken_name_is_split_between_characters).  A name
# that looks like an encoded word is left out: the email package writes it unencoded,
# so it reads back decoded (test_a_name_like_an_encoded_word_stays_literal).
name_words = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Z")), min_size=1, max_size=4
) | st.from_regex(r"[A-Za-z0-9À-ÿ&.,'()!-]{1,8}", fullmatch=True)
names = st.lists(name_words, max_size=8).map(" ".join).filter(lambda s: "=?" not in s)
body_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=400)
local_parts = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}", fullmatch=True).filter(
    lambda s: ".." not in s and not s.endswith(".")
)
domains = st.sampled_from(["sgp.fr", "dupont-freres.fr", "société.fr", "mail.example.com"])


@st.composite
def recipients(draw: st.DrawFn) -> str:
    name = draw(names)
    spec = f"{draw(local_parts)}@{draw(domains)}"
    if not name.strip():
        return spec
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{spec}>'


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=line_text,
    body=body_text,
    to=st.lists(recipients(), min_size=1, max_size=3),
    from_name=names,
    with_html=st.booleans(),
    filename=names.filter(lambda s: s.strip() != ""),
)
@example(
    subject="Relance : facture échue – 1\u202f200,00\u00a0€ à régler",
    body=".\n..\r\nFrom me  \n\t\r\n=?utf-8?q?x?=",
    to=['"Dupont, Frères" <a@sgp.fr>'],
    from_name="Dupont & Fils (compta)",
    with_html=True,
    filename="relevé.pdf",
)
def test_any_text_reads_back_like_the_email_package(
    subject: str,
    body: str,
    to: list[str],
    from_name: str,
    with_html: bool,
    filename: str,
) -> None:
    """Whatever a template, a customer name or a file name holds, a mail client reads
    the same message from the hand-built bytes as from the email package's."""
    quoted = from_name.replace("\\", "\\\\").replace('"', '\\"')
    smtp = smtp_settings(from_address=f'"{quoted}" <compta@dupont-freres.fr>')
    outgoing = message(
        subject=subject,
        body=body,
        to=tuple(to),
        html=text_to_html(body) if with_html else None,
        attachments=(Attachment(filename, b"%PDF-1.4\n\x00\xff" * 30),),
    )
    built = build_email(outgoing, smtp, now=NOW)
    ours, theirs = reading(built), reading(reference(outgoing, smtp, NOW))
    # Addresses are compared with those given: with long non-ASCII names the email
    # package splits a name between two characters (the parser reads a space there)
    # and can even encode the comma between two addresses, which loses the second.
    given = [address(a) for a in (smtp.from_address, *to)]
    read = [a for h in ("From", "To") for a in ours.pop(h)]
    assert read == [(" ".join(a.display_name.split()), a.addr_spec) for a in given]
    for name in ADDRESS_HEADERS:
        theirs.pop(name)
    ours.pop("Reply-To")
    assert ours == theirs
    assert str(parse(built)["Subject"]) == subject  # exactly, spaces included
