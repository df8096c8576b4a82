"""The statement of account (relevé de compte) as a PDF, and letters printed from text.

The statement lists what one action asks for: the invoices reminded (number, due date,
days overdue, open amount), the other overdue invoices for context, the open credit
notes, and the net amount due.  For a formal notice to a company it adds, per invoice,
the late-payment interest and the EUR 40 recovery indemnity, with the legal basis
(Code de commerce L441-10, D441-5) and the payment deadline (DESIGN.md section 7).

Text is set in DejaVu Sans (a Unicode TrueType font, Debian ``fonts-dejavu-core``), so
"é", "€" and the narrow no-break spaces of French amounts print as they are.  Where the
font is missing, fpdf2's built-in Helvetica is used and the text transliterated to
Latin-1 (``€`` becomes ``EUR``).  The output is deterministic: the same action on the
same day gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal

from fpdf import FPDF
from fpdf.enums import Align, MethodReturnValue, TableBordersLayout
from fpdf.fonts import FontFace

from core.actions import Action
from core.model import Customer
from core.penalties import DEFAULT_PAYMENT_DEADLINE_DAYS, RECOVERY_INDEMNITY
from core.texts import INDEMNITY_CURRENCY, Sender, format_date, format_money, format_rate

# Where distributions install DejaVu (Debian/Ubuntu, Fedora, Arch, Alpine).
FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu-sans-fonts"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/share/fonts/dejavu"),
)
_REGULAR = "DejaVuSans.ttf"
_BOLD = "DejaVuSans-Bold.ttf"
_UNICODE_FAMILY = "DejaVu"
_CORE_FAMILY = "helvetica"

_PAGE_WIDTH = 180.0  # A4 (210 mm) minus 15 mm margins
_PAD = 1.5  # mm of horizontal padding in a table cell
_LINE_H = 5.5  # mm: a line of a table cell
_VPAD = 0.8  # mm of padding above and below it
_ROW_H = _LINE_H + 2 * _VPAD  # mm: a one-line table row
_TITLE_H = 6  # mm: the title line above a table
_GREY = (235, 235, 235)
ZERO = Decimal(0)

# Characters outside Latin-1 that reminders use, for the built-in font.
_LATIN1 = str.maketrans(
    {
        "€": "EUR",
        "\u202f": " ",  # narrow no-break space (French thousands separator)
        "\u2009": " ",
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u2022": "-",
        "œ": "oe",
        "Œ": "OE",
    }
)


@cache
def find_unicode_font(dirs: tuple[Path, ...] = FONT_DIRS) -> tuple[Path, Path] | None:
    """The DejaVu Sans regular and bold files, or None when not installed."""
    for folder in dirs:
        regular, bold = folder / _REGULAR, folder / _BOLD
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


# --------------------------------------------------------------------------- labels

_LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "statement": "Relevé de compte",
        "notice": "Mise en demeure de payer – relevé des sommes dues",
        "date": "Le {date}",
        "reference": "Référence : {key}",
        "customer": "Client",
        "account": "Compte client : {id}",
        "listed": "Factures concernées",
        "context": "Autres factures échues",
        "credits": "Avoirs déduits",
        "number": "N° de facture",
        "due_date": "Échéance",
        "days": "Jours de retard",
        "open": "Restant dû",
        "interest": "Pénalités",
        "indemnity": "Indemnité",
        "not_due": "à échoir",
        "credit_number": "N° d'avoir",
        "amount": "Montant",
        "invoices_total": "Total des factures",
        "credits_total": "Total des avoirs",
        "net_due": "Net à payer",
        "interest_total": "Pénalités de retard (taux annuel {rate})",
        "interest_total_contract": "Pénalités de retard",
        "indemnity_total": "Indemnités forfaitaires pour frais de recouvrement ({count} × {unit})",
        "indemnity_apart": "Indemnités forfaitaires pour frais de recouvrement, en euros, "
        "en sus du total : {count} × {unit}, soit {total}",
        "claimed": "Total réclamé",
        "legal": "Base légale : articles L441-10 et D441-5 du Code de commerce. Tout retard "
        "de paiement rend exigibles de plein droit des pénalités de retard, calculées sur "
        "le montant restant dû à compter du lendemain de l'échéance, et une indemnité "
        "forfaitaire pour frais de recouvrement de {unit} par facture.",
        "deadline": "Délai de paiement : {days} à compter de la réception de la présente "
        "mise en demeure.",
        "iban": "Règlement par virement : IBAN {iban}",
        "contact": "Contact : {contact}",
        "footer": "{title} – {date} – page {page}/{{nb}}",
        "letter_footer": "{sender} – page {page}/{{nb}}",
        "day": "jour",
        "days_unit": "jours",
    },
    "en": {
        "statement": "Statement of account",
        "notice": "Formal notice to pay – statement of amounts due",
        "date": "Date: {date}",
        "reference": "Reference: {key}",
        "customer": "Customer",
        "account": "Customer account: {id}",
        "listed": "Invoices concerned",
        "context": "Other overdue invoices",
        "credits": "Credit notes deducted",
        "number": "Invoice no.",
        "due_date": "Due date",
        "days": "Days overdue",
        "open": "Amount due",
        "interest": "Interest",
        "indemnity": "Indemnity",
        "not_due": "not yet due",
        "credit_number": "Credit note no.",
        "amount": "Amount",
        "invoices_total": "Total invoices",
        "credits_total": "Total credit notes",
        "net_due": "Net amount due",
        "interest_total": "Late-payment interest (annual rate {rate})",
        "interest_total_contract": "Late-payment interest",
        "indemnity_total": "Fixed recovery indemnities ({count} × {unit})",
        "indemnity_apart": "Fixed recovery indemnities, in euros, in addition to the "
        "total: {count} × {unit}, i.e. {total}",
        "claimed": "Total claimed",
        "legal": "Legal basis: French Commercial Code (Code de commerce), articles L441-10 "
        "and D441-5. Any late payment makes late-payment interest due as of right, on the "
        "amount outstanding from the day after the due date, together with a fixed "
        "indemnity for recovery costs of {unit} per invoice.",
        "deadline": "Payment deadline: {days} from receipt of this formal notice.",
        "iban": "Payment by bank transfer: IBAN {iban}",
        "contact": "Contact: {contact}",
        "footer": "{title} – {date} – page {page}/{{nb}}",
        "letter_footer": "{sender} – page {page}/{{nb}}",
        "day": "day",
        "days_unit": "days",
    },
}


def _heading_height(heading: Sequence[list[str]]) -> float:
    """The headings row's height (``heading``: each one's lines): one line, or as many
    as the tallest wraps to."""
    lines = max(len(text) for text in heading)
    return _ROW_H if lines == 1 else lines * _LINE_H + 2 * _VPAD


def _labels(language: str) -> dict[str, str]:
    try:
        return _LABELS[language]
    except KeyError:
        raise ValueError(
            f"unsupported statement language {language!r} (expected one of {', '.join(_LABELS)})"
        ) from None


# --------------------------------------------------------------------------- document


class _NeedsUnicode(Exception):
    """The document has text the PDF standard fonts cannot print: set it in DejaVu."""


# Spaces WinAnsi lacks, as the nearest it has.
_WINANSI_SPACES = str.maketrans({"\u202f": "\u00a0", "\u2009": " "})

FontMode = Literal["winansi", "unicode", "latin1"]


class _Document(FPDF):
    """An A4 page set with our font, margins and a page-numbered footer.

    ``mode`` picks the font: ``winansi`` is the PDF standard Helvetica, whose
    WinAnsi encoding covers French (accents, "€", "œ", typographic quotes) and
    needs nothing embedded, so it is some ten times faster to produce than an
    embedded TrueType subset (docs/performance.md, "Sync daemon"); text outside
    it raises ``_NeedsUnicode``.  ``unicode`` embeds DejaVu Sans (any script it
    has); ``latin1`` is Helvetica with what WinAnsi lacks transliterated, for
    hosts without DejaVu.
    """

    def __init__(self, *, title: str, author: str, footer: str, today: date, mode: FontMode):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._footer = footer
        self._mode = mode
        fonts = find_unicode_font() if mode == "unicode" else None
        if fonts is not None:
            self.add_font(_UNICODE_FAMILY, "", str(fonts[0]))
            self.add_font(_UNICODE_FAMILY, "B", str(fonts[1]))
            self._family = _UNICODE_FAMILY
        else:
            self._family = _CORE_FAMILY
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)
        self.alias_nb_pages()
        # Pinned metadata: the same input gives the same bytes.
        self.set_creation_date(datetime.combine(today, time(0), UTC))
        self.set_creator("Relance")
        self.set_producer("Relance")
        self.set_title(title)
        self.set_author(author)
        self.set_font(self._family, size=10)

    def t(self, text: str) -> str:
        """Text the current font can print.  The standard fonts take WinAnsi byte
        values, handed to fpdf as the Latin-1 characters of the same codes."""
        if self._family == _UNICODE_FAMILY:
            return text
        text = text.translate(_WINANSI_SPACES)
        try:
            return text.encode("cp1252").decode("latin-1")
        except UnicodeEncodeError:
            if self._mode == "winansi":
                raise _NeedsUnicode from None
        return text.translate(_LATIN1).encode("cp1252", "replace").decode("latin-1")

    def font(self, size: float = 10, bold: bool = False) -> None:
        self.set_font(self._family, style="B" if bold else "", size=size)

    def line_text(self, text: str, *, size: float = 10, bold: bool = False, h: float = 5) -> None:
        self.font(size, bold)
        printable = self.t(text)
        # A line that fits is a plain cell: multi_cell's line breaking costs ten times more.
        if "\n" not in printable and self.get_string_width(printable) < _PAGE_WIDTH - 2 * _PAD:
            self.cell(0, h, printable, new_x="LMARGIN", new_y="NEXT")
        else:
            self.multi_cell(0, h, printable, new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-12)
        self.font(8)
        self.set_text_color(110)
        self.cell(0, 5, self.t(self._footer.replace("{page}", str(self.page_no()))), align="C")
        self.set_text_color(0)

    def table_rows(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float],
        align: Sequence[str],
        *,
        title: str | None = None,
    ) -> None:
        """A table under its ``title``: both start on a new page when the title, the
        headings and a first row would not fit at the bottom of this one."""
        self.font(9, bold=True)
        heading = [self._lines(value, width) for value, width in zip(header, widths, strict=True)]
        self.font(9)
        needed = _heading_height(heading) + _ROW_H + (_TITLE_H if title else 0)
        if self.will_page_break(needed):
            self.add_page()
        if title:
            self.line_text(title, size=11, bold=True, h=_TITLE_H)
        self.font(9)
        if self._fits(heading, rows, widths):
            self._cell_table(heading, rows, widths, align)
            return
        with self.table(
            col_widths=tuple(widths),
            width=sum(widths),
            align=Align.L,
            text_align=tuple(align),
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            headings_style=FontFace(emphasis="BOLD", fill_color=_GREY),
            line_height=_LINE_H,
            padding=(_VPAD, _PAD),
            repeat_headings=1,
        ) as table:
            for values in (header, *rows):
                row = table.row()
                for value in values:
                    row.cell(self.t(value))
        self.ln(3)

    def _fits(
        self, heading: Sequence[list[str]], rows: Sequence[Sequence[str]], widths: Sequence[float]
    ) -> bool:
        """Whether every value fits on one line of its column (the common case); a
        heading (``heading``: each one's lines) may take up to three lines (the six
        columns of a formal notice)."""
        if any(len(lines) > 3 for lines in heading):
            return False
        for values in rows:
            for value, width in zip(values, widths, strict=True):
                if self.get_string_width(self.t(value)) > width - 2 * _PAD:
                    return False
        return True

    def _lines(self, value: str, width: float) -> list[str]:
        """``value`` broken into the lines of a column ``width`` wide (current font)."""
        text = self.t(value)
        if self.get_string_width(text) <= width - 2 * _PAD:
            return [text]
        lines = self.multi_cell(width, _LINE_H, text, dry_run=True, output=MethodReturnValue.LINES)
        assert isinstance(lines, list)
        return [str(line) for line in lines]

    def _cell_table(
        self,
        heading: Sequence[list[str]],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float],
        align: Sequence[str],
    ) -> None:
        """The table drawn cell by cell, as ``table()`` draws it (grey bold headings,
        lines between rows, headings repeated on a new page), when nothing wraps."""
        aligns = [Align.R if a == "RIGHT" else Align.L for a in align]
        self.set_fill_color(*_GREY)

        def heading_align(side: Align) -> Align:
            return Align.C if side == Align.R else side  # as table() sets its headings

        def headings() -> None:
            self.font(9, bold=True)
            if all(len(text) == 1 for text in heading):
                for (only,), width, side in zip(heading, widths, aligns, strict=True):
                    self.cell(width, _ROW_H, only, border="B", align=heading_align(side), fill=True)
                self.ln(_ROW_H)
            else:
                # Wrapped headings: the row as high as the tallest, each centred in it.
                height = _heading_height(heading)
                x, y = self.get_x(), self.get_y()
                for text, width, side in zip(heading, widths, aligns, strict=True):
                    self.set_xy(x, y)
                    self.cell(width, height, "", border="B", fill=True)
                    top = y + (height - len(text) * _LINE_H) / 2
                    for n, line in enumerate(text):
                        self.set_xy(x, top + n * _LINE_H)
                        self.cell(width, _LINE_H, line, align=heading_align(side))
                    x += width
                self.set_xy(self.l_margin, y + height)
            self.font(9)

        headings()
        for values in rows:
            if self.will_page_break(_ROW_H):
                self.add_page()
                headings()
            for value, width, side in zip(values, widths, aligns, strict=True):
                self.cell(width, _ROW_H, self.t(value), border="B", align=side)
            self.ln(_ROW_H)
        self.ln(3)

    def total_line(self, label: str, value: str, *, bold: bool = False) -> None:
        self.font(10, bold)
        self.cell(_PAGE_WIDTH - 45, 6, self.t(label), align="R")
        self.cell(45, 6, self.t(value), align="R", new_x="LMARGIN", new_y="NEXT")

    def pdf_bytes(self) -> bytes:
        return bytes(self.output())


# --------------------------------------------------------------------------- statement


@dataclass(frozen=True)
class _Claim:
    """What a formal notice claims on top of the net due (DESIGN section 7)."""

    penalties: bool
    interest: Decimal
    indemnity: Decimal
    indemnity_count: int
    indemnity_in_total: bool
    total: Decimal


def _claim(action: Action, customer: Customer) -> _Claim:
    # Same rule as the formal-notice text (core.texts): companies only, and only when the
    # engine computed the amounts.
    penalties = customer.kind != "individual" and any(
        inv.interest is not None or inv.indemnity is not None for inv in action.invoices
    )
    interest = action.total_interest if penalties else ZERO
    indemnity = action.total_indemnity if penalties else ZERO
    in_total = action.currency == INDEMNITY_CURRENCY
    return _Claim(
        penalties=penalties,
        interest=interest,
        indemnity=indemnity,
        indemnity_count=sum(1 for inv in action.invoices if inv.indemnity) if penalties else 0,
        indemnity_in_total=in_total,
        total=action.net_due + interest + (indemnity if in_total else ZERO),
    )


def _days_text(days: int, labels: dict[str, str]) -> str:
    return f"{days} {labels['day'] if days == 1 else labels['days_unit']}"


def _best_font(render: Callable[[FontMode], bytes], unicode_font: bool) -> bytes:
    """The document in the standard font if its text allows, else in DejaVu (or,
    without DejaVu or with ``unicode_font=False``, transliterated)."""
    try:
        return render("winansi")
    except _NeedsUnicode:
        pass
    if unicode_font and find_unicode_font() is not None:
        return render("unicode")
    return render("latin1")


def statement_pdf(
    action: Action,
    customer: Customer,
    sender: Sender,
    today: date,
    language: str,
    *,
    unicode_font: bool = True,
) -> bytes:
    """The statement of account for ``action`` as PDF bytes, in ``language`` (fr or en).

    ``unicode_font=False`` never embeds DejaVu (as when it is not installed): text
    the standard fonts lack is transliterated.
    """
    _labels(language)  # an unknown language fails here, once
    return _best_font(
        lambda mode: _statement(mode, action, customer, sender, today, language), unicode_font
    )


def _statement(
    mode: FontMode, action: Action, customer: Customer, sender: Sender, today: date, language: str
) -> bytes:
    labels = _labels(language)
    currency = action.currency
    is_notice = action.channel == "formal_notice"
    claim = _claim(action, customer)
    title = labels["notice" if is_notice else "statement"]

    def money(amount: Decimal, cur: str = currency) -> str:
        return format_money(amount, cur, language)

    def due(days_overdue: int) -> str:
        return format_date(today - timedelta(days=days_overdue), language)

    def days(days_overdue: int) -> str:
        return str(days_overdue) if days_overdue > 0 else labels["not_due"]

    doc = _Document(
        title=title,
        author=sender.name,
        footer=labels["footer"].format(
            title=title, date=format_date(today, language), page="{page}"
        ),
        today=today,
        mode=mode,
    )
    doc.set_lang(language)
    doc.add_page()

    # Sender, then the date and reference on the right.
    doc.line_text(sender.name, size=13, bold=True, h=6)
    for line in (*sender.address.splitlines(), sender.email, sender.phone):
        if line.strip():
            doc.line_text(line.strip(), size=9, h=4.5)
    doc.ln(4)
    doc.font(10)
    doc.cell(0, 5, doc.t(labels["date"].format(date=format_date(today, language))), align="R")
    doc.ln(5)
    doc.cell(0, 5, doc.t(labels["reference"].format(key=action.key)), align="R")
    doc.ln(8)

    # Customer.
    doc.line_text(labels["customer"], size=9, bold=True)
    doc.line_text(customer.name, size=11, bold=True, h=5.5)
    doc.line_text(labels["account"].format(id=customer.id), size=9)
    if customer.emails:
        doc.line_text(", ".join(customer.emails), size=9)
    doc.ln(5)

    doc.line_text(title, size=14, bold=True, h=7)
    doc.ln(2)

    # Invoices reminded.
    header = [labels["number"], labels["due_date"], labels["days"], labels["open"]]
    widths: list[float] = [55, 35, 35, 55]
    align = ["LEFT", "LEFT", "RIGHT", "RIGHT"]
    if claim.penalties:
        header += [labels["interest"], labels["indemnity"]]
        widths = [40, 27, 23, 32, 30, 28]
        align += ["RIGHT", "RIGHT"]
    rows: list[list[str]] = []
    for inv in action.invoices:
        row = [inv.number, due(inv.days_overdue), days(inv.days_overdue), money(inv.open_amount)]
        if claim.penalties:
            row += [
                money(inv.interest or ZERO),
                money(inv.indemnity or ZERO, INDEMNITY_CURRENCY),
            ]
        rows.append(row)
    doc.table_rows(header, rows, widths, align, title=labels["listed"])

    # Other overdue invoices, for context.
    if action.context:
        doc.table_rows(
            [labels["number"], labels["due_date"], labels["days"], labels["open"]],
            [
                [c.number, due(c.days_overdue), days(c.days_overdue), money(c.open_amount)]
                for c in action.context
            ],
            [55, 35, 35, 55],
            ["LEFT", "LEFT", "RIGHT", "RIGHT"],
            title=labels["context"],
        )

    # Open credit notes.
    credits_total = sum((c.open_amount for c in action.credits), ZERO)
    if action.credits:
        doc.table_rows(
            [labels["credit_number"], labels["amount"]],
            [[c.number, money(-c.open_amount)] for c in action.credits],
            [125, 55],
            ["LEFT", "RIGHT"],
            title=labels["credits"],
        )

    # Totals.
    invoices_total = sum((i.open_amount for i in action.invoices), ZERO) + sum(
        (c.open_amount for c in action.context), ZERO
    )
    doc.ln(1)
    doc.total_line(labels["invoices_total"], money(invoices_total))
    if action.credits:
        doc.total_line(labels["credits_total"], money(-credits_total))
    doc.total_line(labels["net_due"], money(action.net_due), bold=not claim.penalties)

    if claim.penalties:
        unit = format_money(RECOVERY_INDEMNITY, INDEMNITY_CURRENCY, language)
        rate_label = (
            labels["interest_total"].format(rate=format_rate(action.interest_rate, language))
            if action.interest_rate is not None
            else labels["interest_total_contract"]
        )
        doc.total_line(rate_label, money(claim.interest))
        if claim.indemnity_in_total:
            doc.total_line(
                labels["indemnity_total"].format(count=claim.indemnity_count, unit=unit),
                money(claim.indemnity),
            )
        doc.total_line(labels["claimed"], money(claim.total), bold=True)
        if not claim.indemnity_in_total:
            doc.ln(2)
            doc.line_text(
                labels["indemnity_apart"].format(
                    count=claim.indemnity_count,
                    unit=unit,
                    total=format_money(claim.indemnity, INDEMNITY_CURRENCY, language),
                ),
                size=9,
            )
        doc.ln(4)
        doc.line_text(labels["legal"].format(unit=unit), size=9, h=4.5)

    if is_notice:
        deadline = action.payment_deadline_days
        deadline = DEFAULT_PAYMENT_DEADLINE_DAYS if deadline is None else deadline
        doc.ln(2)
        doc.line_text(
            labels["deadline"].format(days=_days_text(deadline, labels)), size=10, bold=True
        )

    # How to pay and whom to ask.
    doc.ln(4)
    if sender.iban:
        doc.line_text(labels["iban"].format(iban=sender.iban), size=9)
    contact = " – ".join(x for x in (sender.email, sender.phone) if x)
    if contact:
        doc.line_text(labels["contact"].format(contact=contact), size=9)
    return doc.pdf_bytes()


# --------------------------------------------------------------------------- letters


def letter_pdf(
    subject: str,
    body: str,
    sender: Sender,
    today: date,
    language: str,
    *,
    unicode_font: bool = True,
) -> bytes:
    """A rendered reminder text (core.texts) printed as a letter, as PDF bytes.

    The shipped letter templates already carry the sender, addressee, date and "Objet"
    lines, so the body is set as it is; ``subject`` only names the document.
    """
    _labels(language)
    return _best_font(
        lambda mode: _letter(mode, subject, body, sender, today, language), unicode_font
    )


def _letter(
    mode: FontMode, subject: str, body: str, sender: Sender, today: date, language: str
) -> bytes:
    labels = _labels(language)
    doc = _Document(
        title=subject or sender.name,
        author=sender.name,
        footer=labels["letter_footer"].format(sender=sender.name, page="{page}"),
        today=today,
        mode=mode,
    )
    doc.set_lang(language)
    doc.add_page()
    doc.font(10.5)
    for paragraph in body.split("\n"):
        if paragraph.strip():
            doc.multi_cell(0, 5.2, doc.t(paragraph), new_x="LMARGIN", new_y="NEXT")
        else:
            doc.ln(3)
    return doc.pdf_bytes()
