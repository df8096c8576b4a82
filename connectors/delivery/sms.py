"""SMS through a provider: a small protocol, a file provider and an HTTP provider.

Every provider is idempotent per action key: the file provider by looking the key up in
its log, the HTTP provider by sending the key as the ``Idempotency-Key`` header, which
providers use to answer a repeated request with the first message instead of sending a
second one.

Numbers are normalised to E.164 before sending: French national numbers
(``06 12 34 56 78``) become ``+33612345678``; overseas departments keep their own
country code (``0692 …`` in La Réunion becomes ``+262692…``).  Texts are normalised to
plain spaces and quotes, so that a French amount (``1 234,56 €`` with narrow no-break
spaces) does not force the whole SMS into UCS-2, which halves the characters per part.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO, Protocol

import requests

from connectors.delivery.errors import DeliveryError, scrub

# French overseas numbers dialled nationally as 0 + 9 digits but with their own
# country code (ARCEP numbering plan): the first four national digits decide.
_OVERSEAS_PREFIXES: dict[str, str] = {
    "0590": "590",  # Guadeloupe, Saint-Martin, Saint-Barthélemy (fixed)
    "0690": "590",  # (mobile)
    "0691": "590",
    "0594": "594",  # Guyane (fixed)
    "0694": "594",  # (mobile)
    "0596": "596",  # Martinique (fixed)
    "0696": "596",  # (mobile)
    "0697": "596",
    "0262": "262",  # La Réunion (fixed)
    "0263": "262",
    "0692": "262",  # (mobile)
    "0693": "262",
    "0269": "262",  # Mayotte (fixed)
    "0639": "262",  # (mobile)
    "0508": "508",  # Saint-Pierre-et-Miquelon
}

# The GSM 03.38 alphabet (basic set and extension table): a text using only these fits
# 160 characters per single SMS, 153 per part; anything else switches to UCS-2 (70/67).
_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = "^{}\\[~]|€\f"
_SMS_TEXT = str.maketrans(
    {
        "\u00a0": " ",
        "\u202f": " ",
        "\u2009": " ",
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
    }
)


if sys.platform == "win32":  # pragma: no cover - no flock: one writer per file on Windows

    def _lock(fd: int) -> None:
        pass

    def _unlock(fd: int) -> None:
        pass

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def normalize_phone(number: str, *, default_country: str = "33") -> str:
    """``number`` in E.164 (``+33612345678``), or a permanent DeliveryError.

    National French numbers (10 digits starting with 0) get +33, or the overseas
    department's code; ``0033…`` and ``+33 (0)6…`` are understood; other international
    numbers are kept as they are, digits only.
    """
    raw = number.strip()
    text = re.sub(r"\(0\)", "", raw)
    text = re.sub(r"[\s.\-/()]", "", text)
    if text.startswith("00"):
        text = "+" + text[2:]
    if text.startswith("+"):
        digits = text[1:]
        if digits.startswith("330"):  # +33 0612…: a national 0 kept by mistake
            digits = "33" + digits[3:]
        if digits.isdigit() and 8 <= len(digits) <= 15 and not digits.startswith("0"):
            if digits.startswith("33") and len(digits) != 11:
                raise DeliveryError(False, f"invalid French phone number {number!r}")
            return "+" + digits
        raise DeliveryError(False, f"invalid phone number {number!r}")
    if text.isdigit() and len(text) == 10 and text.startswith("0") and text[1] != "0":
        country = _OVERSEAS_PREFIXES.get(text[:4], default_country)
        if country != "33":
            return f"+{country}{text[1:]}"
        return f"+33{text[1:]}"
    raise DeliveryError(False, f"invalid phone number {number!r} (expected 06 12 34 56 78 or +33…)")


def sms_text(text: str) -> str:
    """The text with typographic spaces, quotes and dashes made plain (GSM-friendly)."""
    return text.translate(_SMS_TEXT).strip()


def sms_parts(text: str) -> int:
    """How many SMS parts ``text`` takes (GSM-7: 160, then 153 per part; UCS-2: 70/67)."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        length = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
        single, part = 160, 153
    else:
        length = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
        single, part = 70, 67
    if length <= single:
        return 1
    return math.ceil(length / part)


class SmsProvider(Protocol):
    """Sends one SMS; idempotent per ``key`` (the action key); returns the provider's id."""

    def send(self, to: str, text: str, key: str) -> str: ...


# --------------------------------------------------------------------------- file


class FileSmsProvider:
    """Writes each SMS as one JSON line in ``path`` instead of sending it (demo, tests,
    or a gateway that picks the file up).  A key already in the file is not written again;
    the lines are appended under an exclusive lock, so several workers may share the file.
    """

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self._clock = clock or (lambda: datetime.now(UTC))

    def __repr__(self) -> str:
        return f"FileSmsProvider({str(self.path)!r})"

    def _find(self, handle: BinaryIO, key: str) -> str | None:
        handle.seek(0)
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a torn line from a crash: ignore it
            if isinstance(record, dict) and record.get("key") == key:
                return str(record.get("id", ""))
        return None

    def sent_id(self, key: str) -> str | None:
        """The id of the SMS already written for ``key``, if any."""
        if not self.path.exists():
            return None
        with self.path.open("rb") as handle:
            return self._find(handle, key)

    def send(self, to: str, text: str, key: str) -> str:
        number = normalize_phone(to)
        body = sms_text(text)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as handle:
                _lock(handle.fileno())
                try:
                    found = self._find(handle, key)
                    if found is not None:
                        return found
                    message_id = f"file-{key}"
                    record = {
                        "id": message_id,
                        "key": key,
                        "to": number,
                        "text": body,
                        "parts": sms_parts(body),
                        "at": self._clock().isoformat(),
                    }
                    line = json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"
                    end = handle.seek(0, os.SEEK_END)
                    if end > 0:
                        handle.seek(end - 1)
                        if handle.read(1) != b"\n":
                            line = b"\n" + line  # close a line torn by a crash
                    handle.write(line)
                    handle.flush()
                    os.fsync(handle.fileno())
                    return message_id
                finally:
                    _unlock(handle.fileno())
        except OSError as exc:
            raise DeliveryError(True, f"SMS {key}: cannot write to {self.path}: {exc}") from exc


# --------------------------------------------------------------------------- HTTP

# Statuses a later attempt may get past: timeout, conflict with a request in flight
# under the same idempotency key, too early, rate limited, server errors.
_TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HttpSmsProvider:
    """Posts each SMS as JSON to ``base_url + endpoint``.

    Request: ``POST`` with ``{"to": "+336…", "text": "…", "sender": "ACME"}``, headers
    ``Authorization: Bearer <api_key>`` and ``Idempotency-Key: <action key>``.  Response:
    a 2xx with a JSON object whose ``id_field`` is the provider's message id.  A non-2xx
    answer raises DeliveryError: transient for 408/409/425/429 and 5xx (with the
    ``Retry-After`` the provider gave), permanent for the other 4xx.  The API key never
    appears in ``repr`` or in errors.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        sender: str,
        *,
        endpoint: str = "/sms",
        id_field: str = "id",
        timeout: float = 15.0,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ValueError(f"SMS provider URL must start with https://, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.sender = sender
        self.endpoint = "/" + endpoint.lstrip("/")
        self.id_field = id_field
        self.timeout = timeout
        self._session = session or requests.Session()
        self._clock = clock or (lambda: datetime.now(UTC))

    def __repr__(self) -> str:
        return f"HttpSmsProvider({self.url!r}, sender={self.sender!r})"

    @property
    def url(self) -> str:
        return self.base_url + self.endpoint

    def _clean(self, text: str) -> str:
        return scrub(text, self._api_key)

    def send(self, to: str, text: str, key: str) -> str:
        payload = {"to": normalize_phone(to), "text": sms_text(text), "sender": self.sender}
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Idempotency-Key": key,
            "Accept": "application/json",
        }
        try:
            response = self._session.post(
                self.url, json=payload, headers=headers, timeout=self.timeout
            )
        except requests.Timeout as exc:
            # The provider may have the message: the idempotency key makes a retry safe.
            raise DeliveryError(
                True,
                f"SMS {key}: no answer from {self.url} within {self.timeout:g} s",
                maybe_delivered=True,
            ) from exc
        except requests.RequestException as exc:
            raise DeliveryError(
                True, f"SMS {key}: cannot reach {self.url}: {self._clean(str(exc))}"
            ) from exc
        status = response.status_code
        if not 200 <= status < 300:
            transient = status in _TRANSIENT_STATUSES or status >= 500
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now=self._clock())
            snippet = self._clean(response.text[:200].strip())
            raise DeliveryError(
                transient,
                f"SMS {key}: {self.url} answered {status} {response.reason or ''}".rstrip()
                + (f": {snippet}" if snippet else ""),
                code=status,
                retry_after=retry_after if transient else None,
            )
        try:
            body = response.json()
            message_id = body[self.id_field]
        except (ValueError, KeyError, TypeError) as exc:
            # Accepted (2xx) but unreadable: do not send again, record what we know.
            raise DeliveryError(
                False,
                f"SMS {key}: {self.url} accepted the message ({status}) but its answer "
                f"has no {self.id_field!r}",
                code=status,
                maybe_delivered=True,
            ) from exc
        return str(message_id)
