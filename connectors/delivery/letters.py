"""Letters as PDF files: one file per action, and one batch per day for printing.

A letter file is named ``<date>_<company>_<customer>_<key prefix>.pdf`` in the output
folder, for example ``2026-03-02_acme_c042_3f9a1c0b7d2e4f60.pdf``: sorted by name, a
day's letters come out together, grouped by company and customer.  Writing is
idempotent per action key: a second ``write`` of the same key (a resend after a crash,
another day's retry) returns the file already there and writes nothing.  Files are
written to a temporary name and renamed, so a crash never leaves half a letter that
would pass for a written one.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from connectors.delivery.errors import DeliveryError
from connectors.delivery.message import OutgoingMessage

KEY_PREFIX_LENGTH = 16
BATCH_PREFIX = "batch_"
_SLUG_MAX = 40


def slug(text: str, *, max_length: int = _SLUG_MAX) -> str:
    """``text`` as a file-name part: ASCII lowercase letters, digits and ``-``, never empty.

    ``_`` separates the parts of a letter's name, so it never appears in a slug.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return cleaned[:max_length].strip("-") or "x"


def merge_pdfs(parts: Sequence[bytes], *, duplex: bool = False) -> bytes:
    """The PDFs one after the other.  ``duplex`` pads each part to an even number of
    pages, so every letter starts on a new sheet when printed on both sides."""
    writer = PdfWriter()
    for part in parts:
        reader = PdfReader(io.BytesIO(part))
        writer.append(reader)
        if duplex and len(reader.pages) % 2 == 1:
            last = reader.pages[-1]
            writer.add_blank_page(
                width=float(last.mediabox.width), height=float(last.mediabox.height)
            )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LetterWriter:
    """Writes letters (one PDF per action) into ``output_dir`` and builds daily batches.

    ``today`` gives the date in a letter's name (the day it was written).
    """

    def __init__(self, output_dir: Path | str, *, today: Callable[[], date] = date.today) -> None:
        self.output_dir = Path(output_dir)
        self._today = today

    def __repr__(self) -> str:
        return f"LetterWriter({str(self.output_dir)!r})"

    def _stem_tail(self, message: OutgoingMessage) -> str:
        key = slug(message.key, max_length=KEY_PREFIX_LENGTH)
        return f"{slug(message.company)}_{slug(message.customer_id)}_{key}"

    def existing(self, message: OutgoingMessage) -> Path | None:
        """The letter already written for this message's action, if any (whatever its day)."""
        if not self.output_dir.is_dir():
            return None
        matches = sorted(self.output_dir.glob(f"*_{self._stem_tail(message)}.pdf"))
        return matches[0] if matches else None

    def write(self, message: OutgoingMessage, pdf_bytes: bytes) -> Path:
        """Write the letter of ``message``; the existing file if this action has one."""
        if not pdf_bytes.startswith(b"%PDF-"):
            raise DeliveryError(False, f"letter {message.key}: the content is not a PDF")
        already = self.existing(message)
        if already is not None:
            return already
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            path = self.output_dir / f"{self._today().isoformat()}_{self._stem_tail(message)}.pdf"
            _atomic_write(path, pdf_bytes)
        except OSError as exc:
            raise DeliveryError(
                True, f"letter {message.key}: cannot write to {self.output_dir}: {exc}"
            ) from exc
        return path

    def letters_of(self, day: date) -> list[Path]:
        """The day's letter files, in printing order (company, customer, key)."""
        if not self.output_dir.is_dir():
            return []
        return sorted(self.output_dir.glob(f"{day.isoformat()}_*.pdf"))

    def daily_batch(self, day: date, *, duplex: bool = False) -> Path | None:
        """One PDF with every letter written on ``day``, for printing; None if there are none.

        The batch (``batch_<date>.pdf``) is rebuilt from the letter files at each call, so
        running it twice gives the same file, and a letter added later is included.
        """
        letters = self.letters_of(day)
        if not letters:
            return None
        try:
            merged = merge_pdfs([p.read_bytes() for p in letters], duplex=duplex)
            path = self.output_dir / f"{BATCH_PREFIX}{day.isoformat()}.pdf"
            _atomic_write(path, merged)
        except OSError as exc:
            raise DeliveryError(
                True, f"letters of {day.isoformat()}: cannot write the batch: {exc}"
            ) from exc
        return path
