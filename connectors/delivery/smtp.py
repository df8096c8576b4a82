"""E-mail over SMTP: one connection per batch, a stable Message-ID per action.

``SmtpDeliverer`` is a context manager: it connects on entry (TLS as configured, then
login), sends any number of messages over that one connection, and says goodbye on
exit.  Each SMTP failure becomes a ``DeliveryError``: 4xx replies and network trouble are
transient (retry later), 5xx replies and configuration faults (refused login, a server
without STARTTLS, a certificate that does not verify) are permanent.

The envelope is sent step by step (MAIL, RCPT, DATA) rather than with
``smtplib.send_message`` so that a connection found dead *before* the message was handed
over is reopened and the message sent once more, while one lost *during* DATA is
reported as ``maybe_delivered``: the outbox then looks the Message-ID up before any resend.
"""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr
from types import TracebackType
from typing import Literal

from connectors.delivery.errors import DeliveryError, scrub
from connectors.delivery.message import OutgoingMessage
from connectors.delivery.mime import address, address_header, build_message

log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "ssl"]
SECURITY_MODES: tuple[str, ...] = ("none", "starttls", "ssl")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
# A line of the message starting with "." gets another one (RFC 5321 section 4.5.2).
_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send e-mail.  The password never appears in ``repr`` or logs.

    ``from_address`` may carry a display name: ``"Dupont Frères <compta@dupont.fr>"``.
    ``ssl_context`` defaults to the system's trusted certificates (pass one built on
    your own CA for an internal relay).  ``max_messages_per_connection`` reopens the
    connection before servers that cap messages per session start refusing.
    """

    host: str
    from_address: str
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    reply_to: str | None = None
    max_messages_per_connection: int = 100
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(
                f"smtp security must be one of {', '.join(SECURITY_MODES)}, not {self.security!r}"
            )
        if not 0 < self.port < 65536:
            raise ValueError(f"smtp port must be between 1 and 65535, not {self.port}")
        if self.timeout <= 0:
            raise ValueError("smtp timeout must be positive")
        if self.max_messages_per_connection < 1:
            raise ValueError("smtp max_messages_per_connection must be at least 1")
        if not parseaddr(self.from_address)[1]:
            raise ValueError(f"smtp from_address {self.from_address!r} is not an address")
        if self.password and self.security == "none" and self.host not in _LOOPBACK:
            # A password in clear over the network: refuse rather than leak it.
            raise ValueError(
                "smtp security 'none' with a password is only allowed to localhost; "
                "use 'starttls' or 'ssl'"
            )

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class SmtpReceipt:
    """A message the server accepted, and any recipients it refused (others got it)."""

    message_id: str
    accepted: tuple[str, ...]
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


def build_email(
    message: OutgoingMessage,
    settings: SmtpSettings,
    *,
    now: datetime | None = None,
) -> bytes:
    """The MIME message as bytes (connectors/delivery/mime.py): text and, when given,
    HTML as alternatives, then attachments.

    Headers are encoded per RFC 2047 (``Subject: =?utf-8?q?Relanc=C3=A9e?=``) where
    they need it, attachment names per RFC 2231; every byte is 7-bit.
    """
    reply_to = settings.reply_to
    return build_message(
        message,
        from_header=address_header("From", settings.from_address),
        reply_to_header=address_header("Reply-To", reply_to) if reply_to else None,
        now=now or datetime.now(UTC),
    )


def _is_transient_code(code: int) -> bool:
    return 400 <= code < 500


class SmtpDeliverer:
    """Sends a batch of messages over one SMTP connection.

    ::

        with SmtpDeliverer(settings) as smtp:
            for message in batch:
                smtp.send(message)

    ``clock`` gives the ``Date`` header (tests pin it); ``smtp_factory`` is a seam for
    tests that need a fake connection.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        clock: Callable[[], datetime] | None = None,
        smtp_factory: Callable[[SmtpSettings], smtplib.SMTP] | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self._factory = smtp_factory or _open_smtp
        self._conn: smtplib.SMTP | None = None
        self._sent_on_connection = 0
        self.connections_opened = 0
        self.messages_sent = 0

    def __repr__(self) -> str:
        state = "open" if self._conn is not None else "closed"
        return f"SmtpDeliverer({self.settings.endpoint}, {state})"

    # ------------------------------------------------------------------ connection

    def __enter__(self) -> SmtpDeliverer:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Connect, secure and log in; a no-op when already connected."""
        if self._conn is not None:
            return
        self._conn = self._guard(lambda: self._connect(), "connect")
        self._sent_on_connection = 0
        self.connections_opened += 1

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        conn = self._factory(s)
        try:
            if conn.sock is not None:
                # The final dot goes out as its own small write after the message
                # (see _data): without this, Nagle's algorithm holds it back until
                # the server's delayed ACK, some 40 ms per message.
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo()
            if s.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise DeliveryError(
                        False,
                        f"SMTP server {s.endpoint} does not offer STARTTLS; "
                        "set security = 'ssl' or 'none' to match the server",
                    )
                conn.starttls(context=s.ssl_context or ssl.create_default_context())
                conn.ehlo()
            if s.username:
                conn.login(s.username, s.password or "")
        except BaseException:
            _quietly_close(conn)
            raise
        return conn

    def close(self) -> None:
        """Say QUIT and drop the connection; never raises."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            _quietly_close(conn)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            _quietly_close(conn)

    # ------------------------------------------------------------------ sending

    def send(
        self, message: OutgoingMessage, *, before_dot: Callable[[], None] | None = None
    ) -> SmtpReceipt:
        """Send one message; raise DeliveryError if the server did not take it.

        ``before_dot`` is called once the whole message is with the server but the
        final ``.`` is not: until that dot the server discards the message if the
        connection drops (RFC 5321 section 4.1.1.4), so a crash before this call
        delivered nothing.  The outbox records its send attempt there, which makes
        the window in which a message may have gone out unrecorded as narrow as
        SMTP allows: from the dot to the store's commit after the 250 reply.  If
        ``before_dot`` raises, the connection is dropped (the server discards the
        message) and the exception goes on."""
        data = build_email(message, self.settings, now=self._clock())
        sender = parseaddr(self.settings.from_address)[1]
        recipients = [address(addr).addr_spec for addr in message.to]
        if self._conn is not None and self._sent_on_connection >= (
            self.settings.max_messages_per_connection
        ):
            self.close()
        # A connection that died while idle is reopened once; nothing was handed over yet.
        for attempt in (1, 2):
            self.open()
            try:
                refused = self._envelope(sender, recipients, message.key)
                break
            except smtplib.SMTPServerDisconnected as exc:
                self._drop()
                if attempt == 2:
                    raise self._error(exc, "send") from exc
                log.info("SMTP connection to %s was closed; reconnecting", self.settings.endpoint)
        try:
            self._data(data, before_dot)
        except smtplib.SMTPResponseException as exc:
            self._reset()
            raise self._error(exc, f"send {message.key}") from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise DeliveryError(
                True,
                f"SMTP connection to {self.settings.endpoint} lost while sending "
                f"{message.message_id}: {self._clean(exc)}; it may have been delivered",
                maybe_delivered=True,
            ) from exc
        self._sent_on_connection += 1
        self.messages_sent += 1
        accepted = tuple(r for r in recipients if r not in refused)
        return SmtpReceipt(message.message_id, accepted, refused)

    def _data(self, data: bytes, before_dot: Callable[[], None] | None) -> None:
        """DATA, the dot-stuffed message, ``before_dot()``, then the final dot; raises
        on any reply but 354 to DATA and 250 to the dot (smtplib's ``data()`` leaves
        the final reply unchecked and has no hook before the dot)."""
        conn = self._require_conn()
        conn.putcmd("data")
        code, reply = conn.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        body = _DOT_AT_LINE_START.sub(b"..", data)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        conn.send(body)
        if before_dot is not None:
            try:
                before_dot()
            except BaseException:
                self._drop()  # no final dot: the server discards the message
                raise
        conn.send(b".\r\n")
        code, reply = conn.getreply()
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)

    def _require_conn(self) -> smtplib.SMTP:
        if self._conn is None:  # pragma: no cover - open() either connects or raises
            raise DeliveryError(True, f"not connected to {self.settings.endpoint}")
        return self._conn

    def _envelope(self, sender: str, recipients: list[str], key: str) -> dict[str, tuple[int, str]]:
        """MAIL FROM and RCPT TO; the refused recipients (raise if all are refused)."""
        conn = self._require_conn()
        try:
            conn.ehlo_or_helo_if_needed()
            code, reply = conn.mail(sender)
            if code == 421:  # "service closing": the idle connection was dropped
                raise smtplib.SMTPServerDisconnected(reply.decode("utf-8", "replace"))
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            refused: dict[str, tuple[int, str]] = {}
            for rcpt in recipients:
                code, reply = conn.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = (code, reply.decode("utf-8", "replace"))
            if len(refused) == len(recipients):
                transient = all(_is_transient_code(c) for c, _ in refused.values())
                self._reset()
                details = "; ".join(f"{r}: {c} {t}" for r, (c, t) in refused.items())
                raise DeliveryError(
                    transient,
                    f"SMTP server {self.settings.endpoint} refused every recipient of {key}: "
                    f"{self._clean(details)}",
                    code=max(c for c, _ in refused.values()),
                )
            return refused
        except smtplib.SMTPServerDisconnected:
            raise
        except smtplib.SMTPResponseException as exc:
            self._reset()
            raise self._error(exc, f"send {key}") from exc
        except OSError as exc:
            # The socket failed before DATA: same as a dead connection.
            raise smtplib.SMTPServerDisconnected(str(exc)) from exc

    def _reset(self) -> None:
        """RSET after a refused transaction, so the connection can carry the next message."""
        if self._conn is None:
            return
        try:
            self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    # ------------------------------------------------------------------ errors

    def _clean(self, value: object) -> str:
        return scrub(str(value), self.settings.password)

    def _guard(self, step: Callable[[], smtplib.SMTP], what: str) -> smtplib.SMTP:
        try:
            return step()
        except DeliveryError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            raise self._error(exc, what) from exc

    def _error(self, exc: BaseException, what: str) -> DeliveryError:
        """Our error for an smtplib/socket failure: transient or permanent, no secrets."""
        s = self.settings
        where = f"SMTP {what} ({s.endpoint})"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return DeliveryError(
                False,
                f"{where}: login refused for user {s.username!r} "
                f"({exc.smtp_code} {self._clean(_text(exc.smtp_error))}); "
                "check the SMTP username and password",
                code=exc.smtp_code,
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return DeliveryError(False, f"{where}: {self._clean(exc)}")
        if isinstance(exc, smtplib.SMTPResponseException):
            return DeliveryError(
                _is_transient_code(exc.smtp_code),
                f"{where}: server answered {exc.smtp_code} {self._clean(_text(exc.smtp_error))}",
                code=exc.smtp_code,
            )
        if isinstance(exc, ssl.SSLCertVerificationError):
            return DeliveryError(
                False,
                f"{where}: the server's TLS certificate does not verify: {exc.verify_message}",
            )
        if isinstance(exc, socket.gaierror):
            return DeliveryError(True, f"{where}: cannot resolve host {s.host!r}: {exc}")
        if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
            return DeliveryError(True, f"{where}: {type(exc).__name__}: {self._clean(exc)}")
        return DeliveryError(True, f"{where}: {self._clean(exc)}")  # pragma: no cover


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _open_smtp(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "ssl":
        return smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            timeout=settings.timeout,
            context=settings.ssl_context or ssl.create_default_context(),
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)


def _quietly_close(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        conn.close()
