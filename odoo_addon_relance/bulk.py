"""Rows as PostgreSQL's COPY text format, for the journal's bulk writes.

A run writes thousands of journal lines; COPY is the cheapest way into PostgreSQL (no
statement to parse and plan, no literal per value).  This module imports nothing of
Odoo, so the encoding is tested in plain ``make test`` against the local server.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

NULL = "\\N"


def copy_value(value: Any) -> str:
    """One value as COPY's text format reads it.  ``None`` is NULL; Odoo's ``False``
    for "no value" must be turned into ``None`` by the caller, except in boolean
    columns, where it is false."""
    if value is None:
        return NULL
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        if "\\" in value:
            value = value.replace("\\", "\\\\")
        if "\n" in value or "\r" in value or "\t" in value:
            value = value.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
        return value
    # int, float, Decimal, date and datetime print as PostgreSQL reads them.
    return str(value)


def copy_text(rows: Iterable[Sequence[Any]]) -> str:
    """Rows as COPY ... FROM STDIN text: tab-separated, one line per row."""
    return "".join("\t".join(map(copy_value, row)) + "\n" for row in rows)
