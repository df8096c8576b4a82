"""What a delivery channel is handed: one rendered message per action (DESIGN.md section 10).

The Message-ID is derived from the action key, so the same action always carries the
same id: after a crash between "sent" and "marked sent", the outbox can recognise the
message in the delivery log instead of sending it twice.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from core.actions import Action
from core.model import Customer
from core.texts import RenderedText

PDF_MIME = "application/pdf"

# A key used as is in the Message-ID's left part: dot-atom characters only.
_SAFE_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DOMAIN_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class Attachment(NamedTuple):
    """A file attached to a message: ``(filename, content, mime)``."""

    filename: str
    content: bytes
    mime: str = PDF_MIME

    def __repr__(self) -> str:
        # The content can be megabytes: never print it.
        return f"Attachment({self.filename!r}, <{len(self.content)} bytes>, {self.mime!r})"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One action, rendered and addressed, ready for its channel.

    ``to`` holds e-mail addresses for e-mail, one phone number for an SMS or a phone
    task, and may be empty for a letter (the postal address is printed in the PDF).
    """

    key: str
    channel: str
    company: str
    customer_id: str
    to: tuple[str, ...]
    subject: str
    body: str
    message_id: str
    html: str | None = field(default=None, repr=False)
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self) -> None:
        # Accept lists from callers but keep the message hashable and immutable.
        if not isinstance(self.to, tuple):
            object.__setattr__(self, "to", tuple(self.to))
        if not isinstance(self.attachments, tuple):
            object.__setattr__(self, "attachments", tuple(Attachment(*a) for a in self.attachments))


def _domain(domain: str) -> str:
    """``domain`` lowercased and IDNA-encoded, or ValueError if it is not a host name."""
    text = domain.strip().rstrip(".").lower()
    try:
        ascii_domain = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"invalid Message-ID domain {domain!r}") from None
    labels = ascii_domain.split(".")
    if not text or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"invalid Message-ID domain {domain!r}")
    return ascii_domain


def message_id_for(key: str, domain: str, *, scope: str = "") -> str:
    """The RFC 5322 Message-ID of the action ``key``: the same key always gives the same id.

    ``domain`` is the sending domain (usually the From address's).  ``scope`` (the company)
    keeps two tenants that share a sending domain apart, since action keys are only
    unique within one company.  A key that is not a plain token is hashed.
    """
    if not key:
        raise ValueError("an action key is needed to derive a Message-ID")
    left = key if _SAFE_KEY.fullmatch(key) else hashlib.sha256(key.encode()).hexdigest()[:32]
    if scope:
        left = f"{hashlib.sha256(scope.encode()).hexdigest()[:8]}.{left}"
    return f"<relance.{left}@{_domain(domain)}>"


def text_to_html(text: str, *, language: str = "fr") -> str:
    """A plain-text reminder as a minimal HTML document: paragraphs and line breaks, escaped."""
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", text.strip()) if p.strip()]
    body = "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in p.splitlines()) + "</p>"
        for p in paragraphs
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{html.escape(language)}">\n'
        '<head><meta charset="utf-8"></head>\n'
        f'<body style="font-family: sans-serif; line-height: 1.4">\n{body}\n</body>\n</html>\n'
    )


def default_recipients(channel: str, customer: Customer) -> tuple[str, ...]:
    """Who the channel reaches: e-mail addresses for e-mail and formal notices (sent as
    e-mail with the statement attached), the phone number for SMS and phone tasks, and
    nobody for a letter (printed and posted)."""
    if channel in ("email", "formal_notice"):
        return tuple(customer.emails)
    if channel in ("sms", "phone"):
        return (customer.phone,) if customer.phone else ()
    return ()


def message_for_action(
    action: Action,
    customer: Customer,
    rendered: RenderedText,
    *,
    company: str,
    domain: str,
    to: Sequence[str] | None = None,
    attachments: Sequence[Attachment] = (),
    with_html: bool = True,
) -> OutgoingMessage:
    """The outgoing message of ``action``, from its rendered text (core.texts.render_action)."""
    return OutgoingMessage(
        key=action.key,
        channel=action.channel,
        company=company,
        customer_id=customer.id,
        to=tuple(to) if to is not None else default_recipients(action.channel, customer),
        subject=rendered.subject,
        body=rendered.body,
        message_id=message_id_for(action.key, domain, scope=company),
        html=text_to_html(rendered.body, language=rendered.language) if with_html else None,
        attachments=tuple(attachments),
    )
