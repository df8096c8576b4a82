"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, optionally with STARTTLS,
SMTPS or authentication, recording every message and the session it came in."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, Session

HOST = "127.0.0.1"
USERNAME = "relance"
PASSWORD = "s3cr3t-Pa55word!"


@dataclass
class Received:
    peer: Any
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class RecordingHandler:
    """Keeps every message and the peers (client address and port) it came from."""

    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply
    refuse_data: str = ""  # the reply to the end of DATA instead of 250, if set

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.refuse_data:
            return self.refuse_data
        content = envelope.original_content or b""
        self.messages.append(
            Received(session.peer, envelope.mail_from or "", list(envelope.rcpt_tos), content)
        )
        return "250 Message accepted for delivery"

    @property
    def sessions(self) -> set[Any]:
        return {m.peer for m in self.messages}


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler
    ca_file: Path | None = None

    def client_context(self) -> ssl.SSLContext:
        assert self.ca_file is not None
        return ssl.create_default_context(cafile=str(self.ca_file))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def authenticator(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        getattr(auth_data, "login", None) == USERNAME.encode()
        and getattr(auth_data, "password", None) == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost, signed by itself (cert file, key file)."""
    crypto = pytest.importorskip("cryptography", reason="cryptography builds the test cert")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relance-test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


StartServer = Callable[..., SmtpServer]


class LocalSmtpServers:
    """Starts aiosmtpd servers on free local ports; ``stop_all`` stops them.

    ``tls="starttls"`` offers STARTTLS (required before AUTH), ``tls="ssl"`` speaks TLS
    from the first byte; ``auth=True`` accepts only USERNAME / PASSWORD; ``refuse`` maps
    recipients to the reply that refuses them; other options go to aiosmtpd's SMTP.
    """

    def __init__(self, cert_dir: Path) -> None:
        self.cert_dir = cert_dir
        self.controllers: list[Controller] = []

    def start(
        self,
        *,
        tls: str = "none",
        auth: bool = False,
        refuse: dict[str, str] | None = None,
        **server_options: Any,
    ) -> SmtpServer:
        recorder = RecordingHandler(refuse=refuse or {})
        port = free_port()
        kwargs: dict[str, Any] = dict(server_options)
        ca_file = None
        if tls != "none":
            cert_file, key_file = self_signed_certificate(self.cert_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert_file, key_file)
            ca_file = cert_file
            if tls == "starttls":
                kwargs.update(tls_context=context, require_starttls=True)
            else:
                kwargs.update(ssl_context=context)
        if auth:
            kwargs.update(authenticator=authenticator, auth_require_tls=tls != "none")
        controller = Controller(recorder, hostname=HOST, port=port, server_hostname=HOST, **kwargs)
        controller.start()
        self.controllers.append(controller)
        return SmtpServer(HOST, port, recorder, ca_file)

    def stop_all(self) -> None:
        for controller in self.controllers:
            controller.stop()
        self.controllers.clear()
