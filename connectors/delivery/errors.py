"""The one error every delivery channel raises (STYLE.md, "Habits")."""

from __future__ import annotations


class DeliveryError(Exception):
    """A message that was not delivered, and whether trying again can help.

    ``transient``: a later attempt may succeed (4xx SMTP replies, connection errors,
    HTTP 429 and 5xx); otherwise the message will fail the same way until someone fixes
    the address, the account or the configuration.  ``retry_after`` is the wait, in
    seconds, the server asked for, if it said.  ``maybe_delivered`` is set when the
    connection broke after the message was handed over, so the outcome is unknown: the
    outbox checks the channel (stable Message-ID, idempotency key) before any resend.
    The message never contains a password or an API key.
    """

    def __init__(
        self,
        transient: bool,
        message: str,
        *,
        retry_after: float | None = None,
        code: int | None = None,
        maybe_delivered: bool = False,
    ) -> None:
        self.transient = transient
        self.message = message
        self.retry_after = retry_after
        self.code = code
        self.maybe_delivered = maybe_delivered
        text = message
        if retry_after is not None:
            text = f"{text} (retry after {retry_after:g} s)"
        super().__init__(text)

    @property
    def permanent(self) -> bool:
        return not self.transient

    def __repr__(self) -> str:
        kind = "transient" if self.transient else "permanent"
        return f"DeliveryError({kind}, {str(self)!r})"


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with every secret replaced by ``***`` (servers may echo what they got)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
