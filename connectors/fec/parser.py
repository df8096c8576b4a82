"""Read a FEC (Fichier des Écritures Comptables, LPF art. A47 A-1) into a ``Ledger``.

The FEC is the legal export every French accounting package can produce: one
line per accounting entry line, 18 columns, a header line naming them, fields
separated by tabs or ``|``, dates ``YYYYMMDD``, amounts with a decimal comma
(a dot is accepted too).

What Relance reads from it (the rules, in accounting words):

* Customer lines are those of the customer accounts (``CompteNum`` starting
  with ``411``, or the prefixes given).  The customer is the auxiliary account
  (``CompAuxNum``), or the account itself when there is none; its name is
  ``CompAuxLib``, else ``CompteLib``.
* Lines are grouped by customer and piece (``PieceRef``; ``JournalCode`` and
  ``EcritureNum`` when it is empty).  A piece with debit lines is an invoice
  for their total; its issue date is ``PieceDate`` (else ``EcritureDate``) and,
  as the FEC carries no due date, it is due ``default_payment_days`` later.
  Credit lines of a piece without debit lines are a credit note when booked in
  a sales journal (a journal that uses sales accounts 70x, or one named in
  ``sales_journals``) and a payment otherwise.
* Lettering (``EcritureLet``) says what is settled.  Lines sharing a lettering
  code (per customer) that balance are settled, on ``DateLet`` (else the
  latest date of the group).  A lettering group that does not balance is a
  partial lettering: what is left is still open, on the latest lines of the
  side that exceeds (the oldest invoices are settled first).  Unlettered lines
  stay open: an invoice is open for its unlettered balance (a payment booked
  under the invoice's own piece reference counts against it).
* A payment left open (unlettered, or the excess of a lettering) is an open
  credit of the customer (kind ``credit_note``), which the engine nets against
  what is overdue; it is never assigned to an invoice by guess.  Settled
  payments are not records of their own.  Credit notes are kept, open or
  settled.
* ``Montantdevise``/``Idevise`` give the currency of a piece when all its
  lines carry the same foreign currency: its amounts are then in that
  currency (an open part of a lettering is converted pro rata, rounded
  half-up to the cent).
* Invoice ids are ``<customer>/<piece>`` (unique and stable from one export to
  the next); numbers are the piece references.

A malformed file raises one ``InputError`` naming the file, the line number
and the column; nothing is returned.  See docs/daemon.md for the source.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from core.errors import InputError
from core.ledger import CURRENCY_CODE
from core.model import Customer, Invoice, Ledger

__all__ = ["FEC_COLUMNS", "parse_fec", "parse_fec_bytes"]

FEC_COLUMNS: tuple[str, ...] = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)
BOOK_CURRENCY = "EUR"  # a FEC is kept in euros

_AMOUNT = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)$")
_DATE = re.compile(r"^\d{8}$")
_ZERO = Decimal("0.00")
_CENT = Decimal("0.01")
_ZEROS = frozenset({"", "0", "0,00", "0.00", "0,0", "0.0", "0,000", "0.000"})
# The separators a FEC may use: how to name them in a message, plural and singular.
_SEPARATORS = {"\t": ("tabs", "tab"), "|": ("'|'", "'|'")}


def parse_fec(
    path: str | os.PathLike[str],
    *,
    default_payment_days: int = 30,
    encoding: str | None = None,
    sales_journals: Iterable[str] | None = None,
    accounts: Iterable[str] = ("411",),
) -> Ledger:
    """The customers and invoices of a FEC file (see the module docstring for the rules).

    ``encoding`` ``None`` reads UTF-8, else Windows-1252 (a superset of
    Latin-1's letters, with € and œ), else Latin-1.
    """
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise InputError(f"cannot read the file: {error.strerror or error}", file=file) from None
    return parse_fec_bytes(
        data,
        file=file,
        default_payment_days=default_payment_days,
        encoding=encoding,
        sales_journals=sales_journals,
        accounts=accounts,
    )


def parse_fec_bytes(
    data: bytes,
    *,
    file: str | None = None,
    default_payment_days: int = 30,
    encoding: str | None = None,
    sales_journals: Iterable[str] | None = None,
    accounts: Iterable[str] = ("411",),
) -> Ledger:
    """``parse_fec`` on the bytes of the file; ``file`` names it in errors."""
    if default_payment_days < 0:
        raise ValueError("default_payment_days must not be negative")
    text = _decode(data, encoding, file)
    reader = _Reader(file, tuple(accounts))
    reader.read(_lines(text))
    sales = _sales_journals(sales_journals, reader)
    return _Builder(reader, sales, timedelta(days=default_payment_days)).ledger()


# --------------------------------------------------------------------------- accounts
#
# What a source needs to parse again only the customer accounts whose lines
# changed (connectors/fec/source.py): a customer's invoices depend only on its
# own lines (pieces and lettering are per customer), on the header and on the
# sales journals; every other line is checked on its own.


# What a line of the file is (``Tracked.kinds``): a customer line's ``Kind``, a
# sales line's journal (a line of a 70x account), ``False`` for any other line.
# A customer line's kind: its customer, piece, lettering code, its issue date if
# it counts (``None`` for a line of no amount, which the reader skips) and the
# customer name it gives.
Kind = tuple[str, str, str, date | None, str]
Kinds = dict[str, Kind | str | bool]


class Tracked:
    """A whole file parsed, with what reading its accounts again needs.

    ``kinds``: each line's kind (see ``Kind``).  ``groups``: each customer's
    lines, in file order.  ``renamed``: some invoice id was given a ``~line``
    suffix (ids that collide), which depends on line numbers: not incremental."""

    __slots__ = ("groups", "header", "kinds", "ledger", "renamed", "sales")

    def __init__(
        self,
        ledger: Ledger,
        header: str,
        sales: frozenset[str],
        kinds: Kinds,
        groups: dict[str, list[str]],
        renamed: bool,
    ) -> None:
        self.ledger = ledger
        self.header = header
        self.sales = sales
        self.kinds = kinds
        self.groups = groups
        self.renamed = renamed


def _sales_journals(named: Iterable[str] | None, reader: _Reader) -> frozenset[str]:
    """The journals named in the settings, else those the file uses with 70x accounts."""
    if named is not None:
        return frozenset(j.strip() for j in named)
    return frozenset(reader.sales_journals)


def parse_fec_tracked(
    text: str,
    *,
    file: str | None,
    default_payment_days: int,
    sales_journals: Iterable[str] | None,
    accounts: tuple[str, ...],
) -> Tracked:
    """``parse_fec_bytes`` on the decoded text, keeping each line's kind and each
    customer's lines (``Tracked``)."""
    reader = _Reader(file, accounts, track={})
    reader.read(_lines(text))
    sales = _sales_journals(sales_journals, reader)
    builder = _Builder(reader, sales, timedelta(days=default_payment_days))
    ledger = builder.ledger()
    header = next(_lines(text))[1]
    return Tracked(ledger, header, sales, reader.kinds, reader.groups, builder.renamed)


def parse_fec_lines(
    header: str,
    lines: Iterable[str],
    *,
    file: str | None,
    default_payment_days: int,
    sales: frozenset[str],
    accounts: tuple[str, ...],
) -> tuple[Ledger, bool]:
    """The customers and invoices of some lines of a file of this header, the file's
    sales journals being ``sales``; and whether an id was renamed (see ``Tracked``).
    The line numbers of an error are those of this selection, not of the file."""
    reader = _Reader(file, accounts)
    reader.read(enumerate((header, *lines), start=1))
    builder = _Builder(reader, sales, timedelta(days=default_payment_days))
    return builder.ledger(), builder.renamed


def read_kinds(
    header: str, lines: Iterable[str], kinds: Kinds, *, file: str | None, accounts: tuple[str, ...]
) -> None:
    """Check some lines of a file of this header (an ``InputError`` if one is
    malformed, numbered in this selection) and add their kinds to ``kinds``."""
    reader = _Reader(file, accounts, track=kinds)
    reader.read(enumerate((header, *lines), start=1))


def customer_record(customer: str, lines: Iterable[str], kinds: Kinds) -> Customer | None:
    """The customer a full parse gives for these lines (all of its lines, in file
    order), from their kinds; ``None`` if none of them counts."""
    name: str | None = None
    created: date | None = None
    for line in lines:
        kind = kinds[line]
        assert isinstance(kind, tuple)
        issue = kind[3]
        if issue is None:
            continue
        if name is None:
            name = kind[4]
        if created is None or issue < created:
            created = issue
    return None if name is None else Customer(id=customer, name=name, created=created)


def decode_fec(data: bytes, encoding: str | None, file: str | None) -> str:
    """The text of a FEC's bytes as ``parse_fec_bytes`` reads it."""
    return _decode(data, encoding, file)


# --------------------------------------------------------------------------- text


def _decode(data: bytes, encoding: str | None, file: str | None) -> str:
    if encoding is not None:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise InputError(
                f"not {encoding} text (byte {error.start}); set the right 'encoding'",
                file=file,
                record=f"line {line}",
            ) from None
        except LookupError:
            raise InputError(f"unknown text encoding {encoding!r}", file=file) from None
    for candidate in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) without its end of line; only ``\\n`` ends a line
    (``str.splitlines`` would also split on characters Latin-1 labels may hold)."""
    start = 0
    number = 1
    end = len(text)
    while start < end:
        stop = text.find("\n", start)
        if stop < 0:
            stop = end
        line = text[start:stop]
        yield number, line[:-1] if line.endswith("\r") else line
        start = stop + 1
        number += 1


# --------------------------------------------------------------------------- lines


class _Line:
    """One customer-account line, and what the lettering leaves open of it."""

    __slots__ = (
        "currency",
        "currency_net",
        "customer",
        "entry_date",
        "issue_date",
        "journal",
        "letter",
        "letter_date",
        "net",
        "number",
        "open",
        "piece",
        "settled_on",
    )

    def __init__(
        self,
        number: int,
        customer: str,
        piece: str,
        journal: str,
        entry_date: date,
        issue_date: date,
        net: Decimal,
        currency: str | None,
        currency_net: Decimal | None,
        letter: str,
        letter_date: date | None,
    ) -> None:
        self.number = number
        self.customer = customer
        self.piece = piece
        self.journal = journal
        self.entry_date = entry_date
        self.issue_date = issue_date
        self.net = net  # debit - credit, in euros
        self.currency = currency  # a foreign currency, with the signed amount in it
        self.currency_net = currency_net
        self.letter = letter
        self.letter_date = letter_date
        self.open = net  # the part still open (signed), once lettering is applied
        self.settled_on: date | None = None


class _Reader:
    """Checks every line of the file and keeps the customer-account lines."""

    def __init__(
        self, file: str | None, accounts: tuple[str, ...], *, track: Kinds | None = None
    ) -> None:
        self.file = file
        self.accounts = accounts
        # With ``track``: each line's kind added to it, and each customer's lines.
        self.track = track is not None
        self.kinds: Kinds = {} if track is None else track
        self.groups: dict[str, list[str]] = {}
        self.lines: list[_Line] = []
        self.names: dict[str, str] = {}
        self.sales_journals: set[str] = set()
        self._dates: dict[str, date] = {}
        self._amounts: dict[str, Decimal] = {}

    def error(self, number: int, column: str | None, message: str) -> InputError:
        return InputError(message, file=self.file, record=f"line {number}", field=column)

    def read(self, lines: Iterator[tuple[int, str]]) -> None:
        """Check the numbered lines of a file (the header first) and keep its
        customer lines (with ``track``, each line's kind and each customer's lines)."""
        header = next(lines, None)
        if header is None or not header[1].strip():
            raise self.error(
                1,
                None,
                "the first line must be the header naming the FEC columns "
                f"({', '.join(FEC_COLUMNS)}), separated by tabs or '|'",
            )
        separator, columns, trailing = self._header(header[1])
        width = len(columns)
        at = {name.lower(): position for position, name in enumerate(columns)}
        i_journal, _, i_num, i_date, i_account, i_account_name, i_aux, i_aux_name = (
            at[c.lower()] for c in FEC_COLUMNS[:8]
        )
        i_piece, i_piece_date, _, i_debit, i_credit, i_letter, i_letter_date, i_valid = (
            at[c.lower()] for c in FEC_COLUMNS[8:16]
        )
        i_fx_amount, i_fx = at["montantdevise"], at["idevise"]
        accounts = self.accounts
        day, dates = self._date, self._dates
        money, amounts = self._amount, self._amounts
        track, kinds, groups = self.track, self.kinds, self.groups
        for number, line in lines:
            if not line.strip():
                if track:
                    kinds[line] = False
                continue
            fields = line.split(separator)
            if len(fields) != width:
                if trailing and len(fields) == width + 1 and not fields[-1].strip():
                    fields.pop()  # a separator at the end of the line, as in the header
                else:
                    raise self._width_error(number, fields, columns, separator)
            account = fields[i_account].strip()
            journal = fields[i_journal].strip()
            # The usual values are looked up (dates and amounts repeat); the
            # readers check, convert and remember the others.
            text = fields[i_date]
            entry_date = dates.get(text) or day(text, number, "EcritureDate", required=True)
            assert entry_date is not None
            text = fields[i_piece_date]
            piece_date = dates.get(text) or day(text, number, "PieceDate")
            text = fields[i_letter_date]
            letter_date = dates.get(text) or day(text, number, "DateLet")
            text = fields[i_valid]
            if text not in dates:
                day(text, number, "ValidDate")
            text = fields[i_debit]
            debit = amounts.get(text) or money(text, number, "Debit")
            text = fields[i_credit]
            net = debit - (amounts.get(text) or money(text, number, "Credit"))
            fx_text = fields[i_fx_amount].strip()
            fx_amount = money(fx_text, number, "Montantdevise") if fx_text else None
            currency = fields[i_fx].strip().upper()
            if currency and not CURRENCY_CODE.fullmatch(currency):
                raise self.error(
                    number,
                    "Idevise",
                    f"expected an ISO 4217 currency code such as 'USD', got {fields[i_fx]!r}",
                )
            if not account:
                raise self.error(number, "CompteNum", "is required (the account number)")
            if account.startswith("70"):
                self.sales_journals.add(journal)
            ours = account.startswith(accounts)
            if not ours:
                if track:
                    kinds[line] = journal if account.startswith("70") else False
                continue
            aux = fields[i_aux].strip()
            customer = aux or account
            piece = fields[i_piece].strip() or f"{journal}-{fields[i_num].strip()}"
            if track:
                name = (fields[i_aux_name].strip() if aux else "") or fields[i_account_name].strip()
                kinds[line] = (
                    customer,
                    piece,
                    fields[i_letter].strip(),
                    (piece_date or entry_date) if net else None,
                    name or customer,
                )
                group = groups.get(customer)
                if group is None:
                    groups[customer] = [line]
                else:
                    group.append(line)
            if not net:
                continue
            if customer not in self.names:
                name = (fields[i_aux_name].strip() if aux else "") or fields[i_account_name].strip()
                self.names[customer] = name or customer
            foreign = bool(currency) and currency != BOOK_CURRENCY and bool(fx_amount)
            self.lines.append(
                _Line(
                    number,
                    customer,
                    piece,
                    journal,
                    entry_date,
                    piece_date or entry_date,
                    net,
                    currency if foreign else None,
                    (abs(fx_amount) if net > 0 else -abs(fx_amount))
                    if foreign and fx_amount is not None
                    else None,
                    fields[i_letter].strip(),
                    letter_date,
                )
            )

    def _header(self, line: str) -> tuple[str, list[str], bool]:
        """The separator, the column names, and whether lines end with a separator."""
        counts = {sep: line.count(sep) for sep in _SEPARATORS}
        separator = max(counts, key=lambda sep: counts[sep])
        if not counts[separator]:
            raise self.error(
                1,
                None,
                "the first line must be the header naming the FEC columns "
                f"({', '.join(FEC_COLUMNS)}), separated by tabs or '|'",
            )
        columns = [name.strip() for name in line.split(separator)]
        trailing = not columns[-1]
        if trailing:
            columns.pop()  # a separator at the end of the line
        seen: set[str] = set()
        for name in columns:
            if name.lower() in seen:
                raise self.error(1, name, f"column '{name}' appears twice in the header")
            seen.add(name.lower())
        for name in FEC_COLUMNS:
            if name.lower() not in seen:
                raise self.error(
                    1,
                    name,
                    f"the header has no column '{name}' "
                    f"(a FEC has the columns {', '.join(FEC_COLUMNS)})",
                )
        return separator, columns, trailing

    def _width_error(
        self, number: int, fields: list[str], columns: list[str], separator: str
    ) -> InputError:
        if len(fields) < len(columns):
            missing = columns[len(fields)]
            return self.error(
                number,
                missing,
                f"expected {len(columns)} fields separated by {_SEPARATORS[separator][0]}, "
                f"got {len(fields)}: the line ends before column '{missing}'",
            )
        return self.error(
            number,
            None,
            f"expected {len(columns)} fields separated by {_SEPARATORS[separator][0]}, "
            f"got {len(fields)} (is there a {_SEPARATORS[separator][1]} inside a label?)",
        )

    def _date(self, text: str, number: int, column: str, *, required: bool = False) -> date | None:
        """The date of a field (remembered by its text); ``None`` when empty."""
        value = text.strip()
        if not value:
            if required:
                raise self.error(number, column, "is required (a date YYYYMMDD)")
            return None
        if not _DATE.match(value):
            raise self.error(number, column, f"expected a date YYYYMMDD, got {text!r}")
        try:
            parsed = date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            raise self.error(number, column, f"not a valid date: {text!r}") from None
        self._dates[text] = parsed
        return parsed

    def _amount(self, text: str, number: int, column: str) -> Decimal:
        """The amount of a field (remembered by its text); zero when empty."""
        value = text.strip()
        if value in _ZEROS:
            return _ZERO
        if not _AMOUNT.match(value):
            raise self.error(
                number, column, f"expected an amount such as 1234,56 or 1234.56, got {text!r}"
            )
        # Two decimals at least, as money is shown ("1200" -> "1200.00"); never rounded.
        value = value.replace(",", ".")
        point = value.find(".")
        if point < 0:
            value += ".00"
        elif len(value) - point < 3:
            value += "0" * (3 - (len(value) - point))
        amount = self._amounts[text] = Decimal(value)
        return amount


# --------------------------------------------------------------------------- ledger


class _Builder:
    """Applies the lettering and turns pieces into invoices and credits."""

    def __init__(self, reader: _Reader, sales: frozenset[str], terms: timedelta) -> None:
        self.reader = reader
        self.sales = sales
        self.terms = terms
        self.renamed = False  # an id was given a line number (ids that collide)

    def ledger(self) -> Ledger:
        lines = self.reader.lines
        self._apply_lettering(lines)
        pieces: dict[tuple[str, str], list[_Line]] = {}
        for line in lines:
            pieces.setdefault((line.customer, line.piece), []).append(line)
        invoices: list[Invoice] = []
        ids: set[str] = set()
        for (customer, piece), group in pieces.items():
            for invoice in self._records(customer, piece, group):
                if invoice.id in ids:  # only if ids themselves hold a '/'
                    invoice.id = f"{invoice.id}~{group[0].number}"
                    self.renamed = True
                ids.add(invoice.id)
                invoices.append(invoice)
        first_seen: dict[str, date] = {}
        for line in lines:
            seen = first_seen.get(line.customer)
            if seen is None or line.issue_date < seen:
                first_seen[line.customer] = line.issue_date
        customers = [
            Customer(id=customer, name=name, created=first_seen.get(customer))
            for customer, name in self.reader.names.items()
        ]
        return Ledger(currency=BOOK_CURRENCY, customers=customers, invoices=invoices)

    @staticmethod
    def _apply_lettering(lines: list[_Line]) -> None:
        letters: dict[tuple[str, str], list[_Line]] = {}
        for line in lines:
            if line.letter:
                letters.setdefault((line.customer, line.letter), []).append(line)
        for group in letters.values():
            dates = [line.letter_date for line in group if line.letter_date is not None]
            settled_on = max(dates) if dates else max(line.entry_date for line in group)
            left = sum((line.net for line in group), _ZERO)
            for line in group:
                line.open = _ZERO
                line.settled_on = settled_on
            if not left:
                continue
            # Partial lettering: what is left stays on the latest lines of the side
            # that exceeds, so the oldest are the ones settled.
            side = [line for line in group if (line.net > 0) == (left > 0)]
            side.sort(key=lambda line: (line.entry_date, line.number), reverse=True)
            remaining = abs(left)
            for line in side:
                part = min(abs(line.net), remaining)
                line.open = part if left > 0 else -part
                remaining -= part
                if not remaining:
                    break

    def _records(self, customer: str, piece: str, group: list[_Line]) -> list[Invoice]:
        debits = [line for line in group if line.net > 0]
        credits = [line for line in group if line.net < 0]
        open_net = sum((line.open for line in group), _ZERO)
        out: list[Invoice] = []
        if debits:
            own, other, sign, kind = debits, credits, 1, "invoice"
        else:
            own, other, sign, kind = credits, debits, -1, "credit_note"
            is_credit_note = any(line.journal in self.sales for line in credits)
            if not is_credit_note and open_net >= 0:
                return out  # a payment fully lettered: it only settles invoices
        amount = sum((abs(line.net) for line in own), _ZERO)
        open_amount = min(amount, max(_ZERO, sign * open_net))
        excess = max(_ZERO, -sign * open_net)
        issue = min(line.issue_date for line in own)
        currency, amount_fx, open_fx = self._currency(own, group, amount, open_amount, sign)
        paid: date | None = None
        if not open_amount:
            ends = [line.settled_on for line in group if line.settled_on is not None]
            ends += [line.entry_date for line in other]
            paid = max(ends) if ends else issue
        out.append(
            Invoice(
                id=f"{customer}/{piece}",
                customer_id=customer,
                number=piece,
                kind=kind,
                issue_date=issue,
                due_date=issue + self.terms if kind == "invoice" else issue,
                amount=amount_fx,
                open_amount=open_fx,
                currency=currency,
                paid_date=paid,
            )
        )
        if excess and kind == "invoice":
            # Paid more than invoiced under the same reference: the rest is a credit.
            when = max(line.entry_date for line in credits)
            out.append(
                Invoice(
                    id=f"{customer}/{piece}/excess",
                    customer_id=customer,
                    number=piece,
                    kind="credit_note",
                    issue_date=when,
                    due_date=when,
                    amount=excess,
                    open_amount=excess,
                    currency=BOOK_CURRENCY,
                )
            )
        return out

    @staticmethod
    def _currency(
        own: list[_Line], group: list[_Line], amount: Decimal, open_amount: Decimal, sign: int
    ) -> tuple[str, Decimal, Decimal]:
        """The piece's currency and its amount and open amount in it."""
        currencies = {line.currency for line in own}
        if len(currencies) != 1 or None in currencies:
            return BOOK_CURRENCY, amount, open_amount
        currency = next(iter(currencies))
        assert currency is not None
        amount_fx = sum((abs(line.currency_net or _ZERO) for line in own), _ZERO)
        if not open_amount:
            return currency, amount_fx, _ZERO
        if open_amount == amount:
            return currency, amount_fx, amount_fx
        if all(line.currency == currency for line in group if line.open):
            # Each open part in the currency of its own line.
            open_fx = sign * sum(
                (
                    (line.currency_net or _ZERO) * line.open / line.net
                    for line in group
                    if line.open
                ),
                _ZERO,
            )
        else:
            open_fx = amount_fx * open_amount / amount
        open_fx = open_fx.quantize(_CENT, rounding=ROUND_HALF_UP)
        return currency, amount_fx, min(amount_fx, max(_ZERO, open_fx))
