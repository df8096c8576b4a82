"""E-mail over SMTP against a real local server (aiosmtpd on 127.0.0.1), DESIGN §10."""

from __future__ import annotations

import email
import email.policy
import smtplib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from delivery_builders import TODAY, customer, formal_notice, message, pdf_text, plain, sender

from connectors.delivery.errors import DeliveryError
from connectors.delivery.message import Attachment, text_to_html
from connectors.delivery.smtp import SmtpDeliverer, SmtpSettings
from connectors.delivery.statement import statement_pdf
from core.texts import format_money

pytest.importorskip("aiosmtpd", reason="the SMTP tests run a local aiosmtpd server")

from smtp_support import (
    PASSWORD,
    USERNAME,
    LocalSmtpServers,
    SmtpServer,
    StartServer,
    free_port,
)

SENT_AT = datetime(2026, 3, 16, 9, 30, tzinfo=UTC)


@pytest.fixture
def smtp_server_factory(tmp_path: Path) -> Iterator[StartServer]:
    """Local SMTP servers for one test (see smtp_support.LocalSmtpServers.start)."""
    servers = LocalSmtpServers(tmp_path)
    yield servers.start
    servers.stop_all()


@pytest.fixture
def smtp_server(smtp_server_factory: StartServer) -> SmtpServer:
    """A plain local SMTP server (no TLS, no auth)."""
    return smtp_server_factory()


def settings_for(server: SmtpServer, **overrides: Any) -> SmtpSettings:
    fields: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "from_address": "Dupont Frères – Comptabilité <compta@dupont-freres.fr>",
        "timeout": 5.0,
    }
    fields.update(overrides)
    return SmtpSettings(**fields)


def parsed(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def send_all(settings: SmtpSettings, *messages: Any) -> SmtpDeliverer:
    with SmtpDeliverer(settings, clock=lambda: SENT_AT) as smtp:
        for m in messages:
            smtp.send(m)
    return smtp


def test_message_carries_the_stable_message_id_and_date(smtp_server: SmtpServer) -> None:
    """The Message-ID header is the one derived from the action key (§10: exactly once)."""
    outgoing = message()
    send_all(settings_for(smtp_server), outgoing)

    received = parsed(smtp_server.handler.messages[0].data)
    assert received["Message-ID"] == outgoing.message_id
    assert received["X-Relance-Key"] == outgoing.key
    assert received["Date"].datetime == SENT_AT


def test_french_subject_is_encoded_and_reads_back_unchanged(smtp_server: SmtpServer) -> None:
    """Accents, the en dash and the narrow no-break space survive RFC 2047 encoding."""
    outgoing = message(subject="Relance : facture échue – 1\u202f200,00\u00a0€ à régler")
    send_all(settings_for(smtp_server), outgoing)

    raw = smtp_server.handler.messages[0].data
    subject_line = next(line for line in raw.split(b"\r\n") if line.startswith(b"Subject:"))
    assert b"=?utf-8?" in subject_line.lower()
    assert all(byte < 128 for byte in raw)  # 7-bit clean: any relay takes it
    assert parsed(raw)["Subject"] == outgoing.subject


def test_from_and_to_headers_and_envelope(smtp_server: SmtpServer) -> None:
    outgoing = message(to=("compta@sgp.fr", "Direction <dg@sgp.fr>"))
    send_all(settings_for(smtp_server), outgoing)

    got = smtp_server.handler.messages[0]
    assert got.mail_from == "compta@dupont-freres.fr"
    assert got.rcpt_tos == ["compta@sgp.fr", "dg@sgp.fr"]
    headers = parsed(got.data)
    assert headers["From"].addresses[0].display_name == "Dupont Frères – Comptabilité"
    assert [a.addr_spec for a in headers["To"].addresses] == ["compta@sgp.fr", "dg@sgp.fr"]


def test_text_and_html_are_alternatives_and_the_statement_is_attached(
    smtp_server: SmtpServer,
) -> None:
    """multipart/mixed: (text/plain | text/html) alternatives, then the PDF statement."""
    notice = formal_notice()
    pdf = statement_pdf(notice, customer(), sender(), TODAY, "fr")
    body = "Madame, Monsieur,\n\nVeuillez trouver ci-joint le relevé <à jour>."
    outgoing = message(
        body=body,
        html=text_to_html(body),
        attachments=(Attachment("relevé-de-compte.pdf", pdf, "application/pdf"),),
    )
    send_all(settings_for(smtp_server), outgoing)

    received = parsed(smtp_server.handler.messages[0].data)
    assert received.get_content_type() == "multipart/mixed"
    plain_part = received.get_body(preferencelist=("plain",))
    html_part = received.get_body(preferencelist=("html",))
    assert plain_part is not None and html_part is not None
    assert plain_part.get_content().replace("\r\n", "\n").rstrip("\n") == body
    assert "relevé &lt;à jour&gt;" in html_part.get_content()
    [attachment] = list(received.iter_attachments())
    assert attachment.get_filename() == "relevé-de-compte.pdf"
    assert attachment.get_content_type() == "application/pdf"
    content = attachment.get_content()
    assert content == pdf
    text = pdf_text(content)
    for inv in notice.invoices:
        assert inv.number in text
        assert plain(format_money(inv.open_amount, "EUR", "fr")) in text


def test_text_only_message_is_a_single_plain_part(smtp_server: SmtpServer) -> None:
    send_all(settings_for(smtp_server), message())

    received = parsed(smtp_server.handler.messages[0].data)
    assert received.get_content_type() == "text/plain"
    assert received.get_content_charset() == "utf-8"


def test_a_batch_goes_over_one_connection(smtp_server: SmtpServer) -> None:
    """One connection for N messages: the server sees a single client session."""
    batch = [message(key=f"key{n:04d}") for n in range(25)]
    smtp = send_all(settings_for(smtp_server), *batch)

    assert len(smtp_server.handler.messages) == 25
    assert len(smtp_server.handler.sessions) == 1
    assert smtp.connections_opened == 1


def test_connection_is_renewed_after_the_per_connection_cap(smtp_server: SmtpServer) -> None:
    """Servers that cap messages per session never see more than the cap."""
    batch = [message(key=f"key{n:04d}") for n in range(7)]
    smtp = send_all(settings_for(smtp_server, max_messages_per_connection=3), *batch)

    assert len(smtp_server.handler.messages) == 7
    assert len(smtp_server.handler.sessions) == 3
    assert smtp.connections_opened == 3


def test_connection_closed_by_the_server_while_idle_is_reopened(
    smtp_server_factory: StartServer,
) -> None:
    """An idle timeout on the server side costs a reconnection, not a failed message."""
    server = smtp_server_factory(timeout=0.3)
    with SmtpDeliverer(settings_for(server)) as smtp:
        smtp.send(message(key="first"))
        time.sleep(0.8)
        smtp.send(message(key="second"))

    assert [parsed(m.data)["X-Relance-Key"] for m in server.handler.messages] == [
        "first",
        "second",
    ]
    assert smtp.connections_opened == 2


def test_resending_the_same_action_keeps_its_message_id(smtp_server: SmtpServer) -> None:
    """A resend after a crash carries the same Message-ID, so it can be recognised."""
    send_all(settings_for(smtp_server), message(), message())

    ids = {parsed(m.data)["Message-ID"] for m in smtp_server.handler.messages}
    assert ids == {message().message_id}


def test_starttls_with_a_self_signed_certificate_and_login(
    smtp_server_factory: StartServer,
) -> None:
    """STARTTLS upgrades the connection before AUTH; the test trusts its own cert."""
    server = smtp_server_factory(tls="starttls", auth=True)
    settings = settings_for(
        server,
        security="starttls",
        username=USERNAME,
        password=PASSWORD,
        ssl_context=server.client_context(),
    )
    send_all(settings, message())

    assert len(server.handler.messages) == 1


def test_starttls_certificate_that_does_not_verify_is_permanent(
    smtp_server_factory: StartServer,
) -> None:
    """An untrusted certificate is a configuration fault: retrying will not fix it."""
    server = smtp_server_factory(tls="starttls")
    with pytest.raises(DeliveryError) as caught:
        send_all(settings_for(server, security="starttls"), message())

    assert caught.value.permanent
    assert "certificate" in str(caught.value)
    assert server.handler.messages == []


def test_implicit_tls_on_connect(smtp_server_factory: StartServer) -> None:
    """security = "ssl" speaks TLS from the first byte (port 465 style)."""
    server = smtp_server_factory(tls="ssl")
    send_all(settings_for(server, security="ssl", ssl_context=server.client_context()), message())

    assert len(server.handler.messages) == 1


def test_server_without_starttls_is_a_permanent_configuration_error(
    smtp_server: SmtpServer,
) -> None:
    with pytest.raises(DeliveryError) as caught:
        send_all(settings_for(smtp_server, security="starttls"), message())

    assert caught.value.permanent
    assert "STARTTLS" in str(caught.value)


def test_refused_login_is_permanent_and_never_shows_the_password(
    smtp_server_factory: StartServer,
) -> None:
    server = smtp_server_factory(tls="starttls", auth=True)
    wrong = "Wr0ng-" + PASSWORD
    settings = settings_for(
        server,
        security="starttls",
        username=USERNAME,
        password=wrong,
        ssl_context=server.client_context(),
    )
    with pytest.raises(DeliveryError) as caught:
        send_all(settings, message())

    error = caught.value
    assert error.permanent
    assert error.code == 535
    assert "login refused" in str(error) and USERNAME in str(error)
    for text in (str(error), repr(error), error.message, *map(str, error.args)):
        assert wrong not in text
    assert server.handler.messages == []


def test_password_is_not_in_the_settings_repr() -> None:
    settings = SmtpSettings(
        host="smtp.example.fr",
        from_address="compta@dupont-freres.fr",
        username="compta",
        password="hunter2-secret",
    )

    assert "hunter2-secret" not in repr(settings)
    assert "hunter2-secret" not in repr(SmtpDeliverer(settings))


def test_password_in_clear_is_refused_except_to_localhost() -> None:
    with pytest.raises(ValueError, match="starttls"):
        SmtpSettings(
            host="smtp.example.fr",
            from_address="compta@dupont-freres.fr",
            security="none",
            username="compta",
            password="secret",
        )


def test_temporary_recipient_refusal_is_transient(smtp_server_factory: StartServer) -> None:
    """A 4xx reply (mailbox busy, greylisting) means: try again later."""
    server = smtp_server_factory(refuse={"compta@sgp.fr": "450 Mailbox busy"})
    with pytest.raises(DeliveryError) as caught:
        send_all(settings_for(server), message())

    assert caught.value.transient
    assert caught.value.code == 450


def test_unknown_recipient_is_permanent(smtp_server_factory: StartServer) -> None:
    """A 5xx reply (no such user) will not change by retrying."""
    server = smtp_server_factory(refuse={"compta@sgp.fr": "550 No such user"})
    with pytest.raises(DeliveryError) as caught:
        send_all(settings_for(server), message())

    assert caught.value.permanent
    assert "No such user" in str(caught.value)


def test_a_refused_recipient_does_not_stop_the_others(smtp_server_factory: StartServer) -> None:
    server = smtp_server_factory(refuse={"old@sgp.fr": "550 No such user"})
    with SmtpDeliverer(settings_for(server)) as smtp:
        receipt = smtp.send(message(to=("old@sgp.fr", "compta@sgp.fr")))

    assert receipt.accepted == ("compta@sgp.fr",)
    assert receipt.refused["old@sgp.fr"][0] == 550
    assert server.handler.messages[0].rcpt_tos == ["compta@sgp.fr"]


def test_a_failed_message_leaves_the_connection_usable(smtp_server_factory: StartServer) -> None:
    """After a refused message the batch goes on over the same connection (RSET)."""
    server = smtp_server_factory(refuse={"old@sgp.fr": "550 No such user"})
    with SmtpDeliverer(settings_for(server)) as smtp:
        with pytest.raises(DeliveryError):
            smtp.send(message(key="bad", to=("old@sgp.fr",)))
        smtp.send(message(key="good"))

    assert len(server.handler.messages) == 1
    assert smtp.connections_opened == 1


def test_no_server_listening_is_transient() -> None:
    settings = SmtpSettings(
        host="127.0.0.1",
        port=free_port(),
        security="none",
        from_address="compta@dupont-freres.fr",
        timeout=2,
    )
    with pytest.raises(DeliveryError) as caught:
        send_all(settings, message())

    assert caught.value.transient


def test_message_without_address_is_permanent(smtp_server: SmtpServer) -> None:
    with pytest.raises(DeliveryError) as caught:
        send_all(settings_for(smtp_server), message(to=()))

    assert caught.value.permanent
    assert smtp_server.handler.messages == []


def test_internationalised_domain_is_sent_in_punycode(smtp_server: SmtpServer) -> None:
    send_all(settings_for(smtp_server), message(to=("compta@société.fr",)))

    assert smtp_server.handler.messages[0].rcpt_tos == ["compta@xn--socit-esab.fr"]


def test_non_ascii_mailbox_name_is_permanent(smtp_server: SmtpServer) -> None:
    """Mailboxes like "élodie@" need SMTPUTF8, which most relays refuse: fix the address."""
    with pytest.raises(DeliveryError) as caught:
        send_all(settings_for(smtp_server), message(to=("élodie@sgp.fr",)))

    assert caught.value.permanent
    assert smtp_server.handler.messages == []


class _DropsDuringData(smtplib.SMTP):
    """The connection dies as the final dot goes out: the server may have the message."""

    def send(self, s: Any) -> None:
        if s == b".\r\n":
            self.close()
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        super().send(s)


def test_connection_lost_during_data_is_reported_as_maybe_delivered(
    smtp_server: SmtpServer,
) -> None:
    """Once DATA started the outcome is unknown: transient, and flagged for a check
    by Message-ID before any resend (§10, exactly once)."""
    settings = settings_for(smtp_server)

    def factory(s: SmtpSettings) -> smtplib.SMTP:
        return _DropsDuringData(s.host, s.port, timeout=s.timeout)

    with (
        pytest.raises(DeliveryError) as caught,
        SmtpDeliverer(settings, smtp_factory=factory) as smtp,
    ):
        smtp.send(message())

    assert caught.value.transient
    assert caught.value.maybe_delivered
    assert message().message_id in str(caught.value)


def test_throughput_of_one_thousand_messages(smtp_server: SmtpServer, capsys: Any) -> None:
    """Measured, not asserted: messages per second to the local server, one connection."""
    batch = [message(key=f"bench{n:05d}") for n in range(1000)]
    settings = settings_for(smtp_server, max_messages_per_connection=1000)
    started = time.perf_counter()
    smtp = send_all(settings, *batch)
    elapsed = time.perf_counter() - started

    assert len(smtp_server.handler.messages) == 1000
    assert smtp.connections_opened == 1
    with capsys.disabled():
        print(f"\nSMTP: 1000 messages in {elapsed:.2f} s = {1000 / elapsed:.0f} messages/s")


def test_the_attempt_hook_runs_before_the_final_dot(smtp_server: SmtpServer) -> None:
    """§10 exactly once: ``before_dot`` runs with the whole message at the server and
    nothing delivered yet; the 250 comes after it."""
    seen: list[int] = []
    with SmtpDeliverer(settings_for(smtp_server), clock=lambda: SENT_AT) as smtp:
        smtp.send(message(), before_dot=lambda: seen.append(len(smtp_server.handler.messages)))
    assert seen == [0]
    assert len(smtp_server.handler.messages) == 1


def test_a_failing_attempt_hook_delivers_nothing(smtp_server: SmtpServer) -> None:
    """If the attempt cannot be recorded, the message must not go out: the
    connection is dropped before the dot and the server discards what it got."""

    def refuse() -> None:
        raise RuntimeError("store unavailable")

    with (
        pytest.raises(RuntimeError),
        SmtpDeliverer(settings_for(smtp_server), clock=lambda: SENT_AT) as smtp,
    ):
        smtp.send(message(), before_dot=refuse)
    with SmtpDeliverer(settings_for(smtp_server), clock=lambda: SENT_AT) as smtp:
        smtp.send(message(key="next"))
    assert [m.data.count(b"X-Relance-Key: next") for m in smtp_server.handler.messages] == [1]


def test_a_refusal_after_the_final_dot_is_an_error(smtp_server: SmtpServer) -> None:
    """A 5xx to the end of DATA means the server did not take the message."""
    smtp_server.handler.refuse_data = "554 5.6.0 Message rejected"
    with pytest.raises(DeliveryError) as caught:
        send_all(settings_for(smtp_server), message())
    assert caught.value.permanent
