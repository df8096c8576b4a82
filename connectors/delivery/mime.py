"""The MIME bytes of an e-mail, written directly (RFC 5322, 2045-2047, 2231).

The stdlib ``email`` package builds a tree of header objects and folds each one through
its header registry; for a reminder that cost about 2 ms of CPU, more than everything
else the runner does for the message.  What Relance sends has one fixed shape, so it is
written here in one pass:

- headers: From, To, Reply-To, Subject, Date, Message-ID, X-Relance-Key, MIME-Version;
  a display name or subject with anything but printable ASCII is encoded as RFC 2047
  ``=?utf-8?q?...?=`` words (an ASCII word of a subject stays readable), lines folded
  before 78 characters;
- the text (and the HTML alternative) in UTF-8, quoted-printable;
- attachments in base64, their file name as ``filename="..."`` when it is plain ASCII,
  else RFC 2231 ``filename*=utf-8''...`` (split into numbered sections when long).

Every line ends with CRLF and every byte is 7-bit, so any relay takes the message.
The part boundaries are derived from the Message-ID: quoted-printable never holds
``==`` and base64 never holds ``-``, so a boundary line cannot occur in a part.
``tests/connectors/delivery/test_mime.py`` checks that the stdlib parser reads these
bytes back to the same headers and parts as the ``email`` package's own message.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from email.headerregistry import Address
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from urllib.parse import quote

from connectors.delivery.errors import DeliveryError
from connectors.delivery.message import Attachment, OutgoingMessage

CRLF = b"\r\n"
# RFC 5322 section 2.1.1: lines SHOULD be no longer than 78 characters.
_LINE = 78
# An encoded word is at most 75 characters (RFC 2047 section 2); ours at most 63, so
# that the first one fits on the header's line after "X-Relance-Key: " (a value folded
# right after the colon would read back with a leading space).
_WORD_PREFIX = "=?utf-8?q?"
_WORD_ROOM = 63 - len(_WORD_PREFIX) - 2
# Characters a Q-encoded word may carry as they are, in a phrase too (RFC 2047 section 5(3)).
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_BYTE = [chr(b) if b in _Q_SAFE else f"={b:02X}" for b in range(256)]
_Q_BYTE[0x20] = "_"
# A display name that needs neither quoting nor encoding: atoms separated by single spaces.
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+( [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
# A subject word kept as it is: printable ASCII that cannot be taken for an encoded word.
_PLAIN_WORD = re.compile(r"[!-~]{1,60}")
# Parameter value characters that need no percent-encoding (RFC 2231 attribute-char).
_ATTR_SAFE = "!#$&+-.^_`|~"
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def address(text: str) -> Address:
    """``text`` ("Name <user@domain>" or "user@domain") as an address; a permanent
    DeliveryError when it cannot be sent as is (the domain is IDNA-encoded)."""
    name, addr = parseaddr(text)
    username, _, domain = addr.rpartition("@")
    if not username or not domain:
        raise DeliveryError(False, f"invalid e-mail address {text!r}")
    if not username.isascii():
        # An internationalised mailbox needs SMTPUTF8, which most relays still refuse.
        raise DeliveryError(False, f"e-mail address {text!r} is not ASCII (SMTPUTF8 unsupported)")
    try:
        return Address(display_name=name, username=username, domain=domain.encode("idna").decode())
    except (ValueError, TypeError, UnicodeError) as exc:
        raise DeliveryError(False, f"invalid e-mail address {text!r}: {exc}") from exc


def _q(text: str) -> str:
    return "".join(_Q_BYTE[b] for b in text.encode("utf-8"))


def _q_words(text: str) -> list[str]:
    """``text`` as Q-encoded words of at most 75 characters, split after a space where
    the words allow (a decoder drops the white space between two encoded words, and
    the stdlib parser keeps it in a display name: a space carried inside the word
    reads right either way), else between two characters (RFC 2047 section 5: never
    inside one)."""
    pieces = [w + " " for w in text.split(" ")]
    pieces[-1] = pieces[-1][:-1]
    words: list[str] = []
    current = ""
    for piece in pieces:
        encoded = _q(piece)
        if len(current) + len(encoded) <= _WORD_ROOM:
            current += encoded
            continue
        if current:
            words.append(current)
            current = ""
        if len(encoded) <= _WORD_ROOM:
            current = encoded
            continue
        for char in piece:  # a word longer than an encoded word: split between characters
            encoded = _q(char)
            if len(current) + len(encoded) > _WORD_ROOM:
                words.append(current)
                current = ""
            current += encoded
    if current:
        words.append(current)
    return [f"{_WORD_PREFIX}{w}?=" for w in words]


def _fold(name: str, tokens: Sequence[str]) -> bytes:
    """The header line ``name: tokens...``, the tokens separated by single spaces and
    folded (CRLF before a space) so that lines stay within 78 characters where the
    tokens allow.  Unfolding gives back the tokens joined by spaces."""
    lines: list[str] = []
    line = head = f"{name}:"
    for token in tokens:
        if line and line != head and len(line) + 1 + len(token) > _LINE:
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return "\r\n".join(lines).encode("ascii") + CRLF


def _unstructured_tokens(text: str) -> list[str]:
    """The tokens of an unstructured header value (Subject, X-Relance-Key).

    Words of printable ASCII stay as they are, runs of other words become encoded
    words whose spaces are inside them (a decoder drops the space between two encoded
    words, not the one between an encoded and a plain word).  Text with tabs, line
    breaks, leading, trailing or repeated spaces is encoded whole."""
    if not text:
        return []
    words = text.split(" ")
    if "" in words or not all(w.isprintable() for w in words):
        return _q_words(text)
    tokens: list[str] = []
    run: list[str] = []
    for word in words:
        if _PLAIN_WORD.fullmatch(word) and "=?" not in word:
            if run:
                tokens.extend(_q_words(" ".join(run)))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens.extend(_q_words(" ".join(run)))
    return tokens


def _address_tokens(addr: Address) -> list[str]:
    """One address as header tokens: the display name (as atoms, a quoted string or
    encoded words) and ``<addr-spec>``, or the bare addr-spec when there is no name."""
    # Spaces around a name mean nothing (the stdlib parser drops them too).
    name = addr.display_name.strip()
    spec = addr.addr_spec
    if not name:
        return [spec]
    if len(name) > 60 or "=?" in name:
        tokens = _q_words(name)
    elif _ATOMS.fullmatch(name):
        tokens = name.split(" ")
    elif name.isascii() and name.isprintable():
        tokens = ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']
    else:
        tokens = _q_words(name)
    return [*tokens, f"<{spec}>"]


def _address_list(name: str, addresses: Sequence[Address]) -> bytes:
    tokens: list[str] = []
    for index, addr in enumerate(addresses):
        parts = _address_tokens(addr)
        if index < len(addresses) - 1:
            parts[-1] += ","
        tokens.extend(parts)
    return _fold(name, tokens)


@lru_cache(maxsize=64)
def address_header(name: str, text: str) -> bytes:
    """The From or Reply-To header line of ``text``, built once per batch."""
    return _address_list(name, [address(text)])


def _text_part(text: str, subtype: str) -> bytes:
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    if not lines.endswith("\n"):
        lines += "\n"
    encoded = binascii.b2a_qp(lines.encode("utf-8"), istext=True).replace(b"\n", CRLF)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii") + encoded


def _disposition(filename: str) -> bytes:
    """``Content-Disposition: attachment`` with the file name: quoted when it is plain
    ASCII, else RFC 2231 UTF-8 with percent-encoding, in numbered sections if long."""
    if filename.isascii() and filename.isprintable() and len(filename) <= 60:
        quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
        return _fold("Content-Disposition", ["attachment;", f'filename="{quoted}"'])
    value = "utf-8''" + quote(filename, safe=_ATTR_SAFE)
    if len(value) <= 60:
        return _fold("Content-Disposition", ["attachment;", f"filename*={value}"])
    # Sections break between characters, never inside one's percent-escapes: a
    # client may decode each section on its own.
    sections: list[str] = []
    section = "utf-8''"
    for char in filename:
        escaped = quote(char, safe=_ATTR_SAFE)
        if len(section) + len(escaped) > 60:
            sections.append(section)
            section = ""
        section += escaped
    sections.append(section)
    tokens = ["attachment;"]
    for n, section in enumerate(sections):
        tail = ";" if n < len(sections) - 1 else ""
        tokens.append(f"filename*{n}*={section}{tail}")
    return _fold("Content-Disposition", tokens)


def _attachment_part(attachment: Attachment) -> bytes:
    maintype, _, subtype = attachment.mime.partition("/")
    content_type = f"{maintype or 'application'}/{subtype or 'octet-stream'}".lower()
    if not _TOKEN.fullmatch(content_type.replace("/", "")):
        raise DeliveryError(False, f"attachment {attachment.filename!r}: bad type {content_type!r}")
    data = binascii.b2a_base64(attachment.content, newline=False)
    body = CRLF.join(data[i : i + 76] for i in range(0, len(data), 76))
    return (
        f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\n".encode("ascii")
        + _disposition(attachment.filename)
        + CRLF
        + body
        + CRLF
    )


def _multipart(subtype: str, boundary: str, parts: Sequence[bytes]) -> tuple[bytes, bytes]:
    """(the Content-Type header line, the body) of a multipart of ``parts``."""
    header = f'Content-Type: multipart/{subtype};\r\n boundary="{boundary}"\r\n'.encode("ascii")
    delimiter = f"--{boundary}\r\n".encode("ascii")
    body = b"".join(delimiter + part + CRLF for part in parts)
    return header, body + f"--{boundary}--\r\n".encode("ascii")


def build_message(
    message: OutgoingMessage,
    *,
    from_header: bytes,
    reply_to_header: bytes | None,
    now: datetime,
) -> bytes:
    """The whole message, headers and body, as it goes after DATA (before dot-stuffing).

    ``from_header`` and ``reply_to_header`` are header lines from ``address_header``.
    """
    if not message.to:
        raise DeliveryError(False, f"message {message.key}: no e-mail address to send to")
    head = [
        from_header,
        _address_list("To", [address(a) for a in message.to]),
    ]
    if reply_to_header is not None:
        head.append(reply_to_header)
    if not message.message_id.isascii() or not message.message_id.isprintable():
        raise DeliveryError(False, f"message {message.key}: bad Message-ID {message.message_id!r}")
    head += [
        _fold("Subject", _unstructured_tokens(message.subject)),
        f"Date: {format_datetime(now)}\r\nMessage-ID: {message.message_id}\r\n".encode("ascii"),
        _fold("X-Relance-Key", _unstructured_tokens(message.key)),
        b"MIME-Version: 1.0\r\n",
    ]
    text = _text_part(message.body, "plain")
    if message.html is None and not message.attachments:
        return b"".join(head) + text
    seed = hashlib.sha256(message.message_id.encode("ascii")).hexdigest()[:19]
    content = text
    if message.html is not None:
        header, body = _multipart(
            "alternative", f"===============a{seed}==", [text, _text_part(message.html, "html")]
        )
        content = header + CRLF + body
    if message.attachments:
        parts = [content, *(_attachment_part(a) for a in message.attachments)]
        header, body = _multipart("mixed", f"===============m{seed}==", parts)
        return b"".join(head) + header + CRLF + body
    return b"".join(head) + content
