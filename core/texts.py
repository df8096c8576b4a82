"""Reminder texts: sandboxed Jinja2 templates, Babel formatting (DESIGN.md section 8).

Every template id ships in French and English, as one file per (language, id) under
``core/templates/<language>/<id>.j2``.  A template renders to plain text; when its first
line starts with ``Subject:``, that line is the subject and the rest (after the blank
line) is the body.  Templates run in an immutable Jinja2 sandbox with strict undefined
variables, so a user-edited template can neither reach Python internals nor silently
print an empty value.

What a template sees (all plain data: strings, Decimals, dates, ints, lists and dicts):

- ``language``, ``today``, ``currency``
- ``sender``: name, email, phone, address, iban
- ``customer``: id, name, kind, is_company, emails, email (the first one), phone
- ``action``: plan, segment, step, channel, template, key, currency
- ``invoices`` (the reminded ones): id, number, step, due_date, days_overdue, open_amount,
  interest, indemnity; ``context_invoices`` (other overdue ones): id, number, due_date,
  days_overdue, open_amount; ``credits``: id, number, open_amount
- ``invoices_total``, ``context_total``, ``credits_total``, ``overdue_amount``,
  ``net_due``, ``max_days_overdue``
- late-payment amounts (formal notices to companies, DESIGN section 7): ``claim_penalties``,
  ``interest_rate`` (annual, as a fraction: 0.1215 is 12.15 %), ``total_interest``,
  ``total_indemnity``, ``indemnity_count``, ``indemnity_in_total``, ``total_claimed``,
  ``payment_deadline_days``, and ``legal_indemnity`` (the EUR 40 of D441-5, in
  ``indemnity_currency``) for the wording
- ``history``: earlier reminders to the customer (date, plan, channel, step, invoices),
  oldest first, when the caller passes them

Filters: ``money(amount, currency)``, ``date``, ``percent`` and ``days`` (a number of
days, "1 jour" / "3 jours"), each formatted for the template's language.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes
from babel.numbers import (
    format_currency,
    format_percent,
    get_currency_precision,
    get_decimal_symbol,
    get_group_symbol,
)
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core.actions import Action
from core.model import Customer, Reminder
from core.penalties import DEFAULT_PAYMENT_DEADLINE_DAYS, RECOVERY_INDEMNITY

SUPPORTED_LANGUAGES: tuple[str, ...] = ("fr", "en")

# Babel locale and date pattern per language.  English uses British conventions
# (22/11/2026, €1,234.56): day-first dates read the same way as the French ones.
_LOCALES: dict[str, str] = {"fr": "fr_FR", "en": "en_GB"}
_DATE_PATTERN = "dd/MM/yyyy"
_DAY_WORDS: dict[str, tuple[str, str]] = {"fr": ("jour", "jours"), "en": ("day", "days")}

# French law sets the recovery indemnity in euros (D441-5), whatever the invoice currency.
INDEMNITY_CURRENCY = "EUR"

_SUBJECT_PREFIX = "Subject:"
_TEMPLATE_SUFFIX = ".j2"
# Limits on what a user template may build: a reminder is a page of text.
_MAX_SEQUENCE_PRODUCT = 100_000
_MAX_EXPONENT = 100


@dataclass(frozen=True)
class Sender:
    """The company sending the reminders."""

    name: str
    email: str = ""
    phone: str = ""
    address: str = ""
    iban: str = ""
    language: str = "fr"


@dataclass(frozen=True)
class RenderedText:
    """A rendered message in plain text; ``subject`` is empty for an SMS."""

    template: str
    language: str
    subject: str
    body: str


class TemplateError(ValueError):
    """A template that cannot be used: bad syntax, undefined variable, sandbox violation,
    or a template id that exists in none of the languages looked in."""

    def __init__(self, message: str, *, template: str, language: str = "") -> None:
        self.template = template
        self.language = language
        self.message = message
        where = f"{language}/{template}" if language else template
        super().__init__(f"template '{where}': {message}")


# --------------------------------------------------------------------------- formatting


def _locale(language: str) -> str:
    try:
        return _LOCALES[language]
    except KeyError:
        raise ValueError(
            f"unsupported language '{language}' (expected one of {', '.join(SUPPORTED_LANGUAGES)})"
        ) from None


_NUMBER_TYPES = (Decimal, int, float)  # a tuple: isinstance on ``X | Y`` builds a union each call


def _decimal(value: object, what: str) -> Decimal:
    if type(value) is Decimal:  # nearly every amount: one check
        return value
    if isinstance(value, bool) or not isinstance(value, _NUMBER_TYPES):
        raise TypeError(f"{what} expects a number, got {type(value).__name__}")
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True, slots=True)
class _MoneyShape:
    """What Babel writes around the digits of one (locale, currency), read off once.

    Babel re-reads the locale's pattern and symbols on every call (about 40 µs);
    a run renders thousands of amounts.  Amounts that need no rounding are laid
    out from this shape; anything else goes through Babel itself.
    """

    digits: int
    group: str
    decimal: str
    positive: tuple[str, str]
    negative: tuple[str, str]
    signs: dict[int, str]  # str.translate table: Python's "," and "." to the locale's

    def apply(self, amount: Decimal) -> str | None:
        exponent = amount.as_tuple().exponent
        if not isinstance(exponent, int) or exponent < -self.digits:
            return None  # rounding (or NaN): Babel's own rules apply
        if amount.is_zero() and amount.is_signed():
            return None
        number = f"{abs(amount):,.{self.digits}f}".translate(self.signs)
        before, after = self.negative if amount < 0 else self.positive
        return f"{before}{number}{after}"


_MONEY_PROBES = ("0", "0.5", "7", "12.3", "999.99", "1000", "1234.5", "-1234.56", "1234567.89")


@lru_cache(maxsize=64)
def _money_shape(locale: str, currency: str) -> _MoneyShape | None:
    """The shape of Babel's output for this locale and currency; ``None`` if it has none
    (then every amount goes through Babel)."""
    digits = get_currency_precision(currency)
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    probe = Decimal(1234567) + Decimal(89) / 100
    inner = f"{probe:,.{digits}f}".translate({ord(","): group, ord("."): decimal})
    sides = []
    for value in (probe, -probe):
        parts = format_currency(value, currency, locale=locale).split(inner)
        if len(parts) != 2:
            return None
        sides.append((parts[0], parts[1]))
    signs = {ord(","): group, ord("."): decimal}
    shape = _MoneyShape(digits, group, decimal, sides[0], sides[1], signs)
    for text in _MONEY_PROBES:
        value = Decimal(text).quantize(Decimal(1).scaleb(-digits))
        if shape.apply(value) != format_currency(value, currency, locale=locale):
            return None
    return shape


def format_money(amount: Decimal, currency: str, language: str) -> str:
    """``1 234,56 €`` in French, ``€1,234.56`` in English (Babel, CLDR spacing)."""
    value = _decimal(amount, "money")
    locale = _locale(language)
    shape = _money_shape(locale, currency)
    text = shape.apply(value) if shape is not None else None
    return text if text is not None else format_currency(value, currency, locale=locale)


def format_date(d: date, language: str) -> str:
    """``22/11/2026`` in both languages (English follows the British day-first order)."""
    if not isinstance(d, date):
        raise TypeError(f"date expects a date, got {type(d).__name__}")
    _locale(language)  # an unsupported language is still an error
    # _DATE_PATTERN (dd/MM/yyyy) in Latin digits, the same in fr_FR and en_GB.
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"


def format_rate(rate: Decimal, language: str) -> str:
    """An annual rate given as a fraction: 0.1215 is ``12,15 %`` / ``12.15%``."""
    return format_percent(
        _decimal(rate, "percent"), locale=_locale(language), decimal_quantization=False
    )


def format_days(days: int, language: str) -> str:
    """A number of days, without sign: ``1 jour``, ``12 jours``, ``12 days``."""
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError(f"days expects a whole number, got {type(days).__name__}")
    singular, plural = _DAY_WORDS[language]
    count = abs(days)
    return f"{count} {singular if count == 1 else plural}"


# --------------------------------------------------------------------------- languages


@lru_cache(maxsize=256)
def _normalize_language(language: str | None) -> str:
    """'fr_FR', 'en-GB', 'FR' -> 'fr', 'en', 'fr'; '' for nothing."""
    if not language:
        return ""
    return re.split(r"[-_.@]", language.strip(), maxsplit=1)[0].lower()


def choose_language(customer_language: str | None, company_language: str = "fr") -> str:
    """The customer's language if we have texts in it, else the company's, else French."""
    for candidate in (customer_language, company_language):
        code = _normalize_language(candidate)
        if code in SUPPORTED_LANGUAGES:
            return code
    return "fr"


# --------------------------------------------------------------------------- templates


@cache
def _shipped_sources() -> dict[str, str]:
    """Every shipped template source, keyed ``"fr/reminder_1"``; read once."""
    root = resources.files("core.templates")
    sources: dict[str, str] = {}
    for language in SUPPORTED_LANGUAGES:
        for entry in (root / language).iterdir():
            if entry.name.endswith(_TEMPLATE_SUFFIX):
                name = f"{language}/{entry.name.removesuffix(_TEMPLATE_SUFFIX)}"
                sources[name] = entry.read_text(encoding="utf-8")
    return sources


def template_ids() -> frozenset[str]:
    """The shipped template ids (helper files such as ``_macros`` excluded)."""
    return frozenset(
        name.split("/", 1)[1]
        for name in _shipped_sources()
        if not name.split("/", 1)[1].startswith("_")
    )


def _load_shipped(name: str) -> str | None:
    # The loader behind {% import "fr/_macros" %} in the shipped templates.
    return _shipped_sources().get(name)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, also refusing to build huge strings, lists or numbers."""

    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        # ``invoice.number`` on the plain dicts of the data: the item, straight away.
        # Jinja tries the attribute first and takes the item on AttributeError; no key
        # of the data is the name of a dict attribute, so the result is the same, and
        # a run reads tens of thousands of them.
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _is_number(right) and abs(right) > _MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is too large (at most {_MAX_EXPONENT})")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(count, int)
                    and len(seq) * count > _MAX_SEQUENCE_PRODUCT
                ):
                    raise SecurityError(
                        f"result would be too long (at most {_MAX_SEQUENCE_PRODUCT} items)"
                    )
        return super().call_binop(context, operator, left, right)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


@cache
def _environment(language: str) -> _Sandbox:
    """One sandbox per language: the filters format for that language."""
    env = _Sandbox(
        loader=jinja2.FunctionLoader(_load_shipped),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    filters: dict[str, Callable[..., str]] = {
        "money": lambda amount, currency: format_money(amount, currency, language),
        "date": lambda d: format_date(d, language),
        "percent": lambda rate: format_rate(rate, language),
        "days": lambda days: format_days(days, language),
    }
    env.filters.update(filters)
    return env


@dataclass(frozen=True)
class _Compiled:
    """A compiled template, and what its source reads: the names it loads (the
    variables it takes from the data, and its own), and the templates it imports
    (None for a name chosen at render time)."""

    template: jinja2.Template
    variables: frozenset[str]
    references: tuple[str | None, ...]


@lru_cache(maxsize=256)
def _compiled(language: str, name: str, source: str) -> _Compiled:
    """Compile ``source`` once per (language, name, source), or raise TemplateError."""
    env = _environment(language)
    template_id = name.split("/", 1)[-1]
    try:
        tree = env.parse(source, name=name, filename=name)
        # Read before compiling: the code generator folds constants in the tree.
        # Every name the source reads (a superset of what it takes from the data:
        # jinja2.meta's exact answer runs a second code generator, a third of a compile).
        variables = frozenset(
            node.name for node in tree.find_all(jinja2.nodes.Name) if node.ctx == "load"
        )
        references = tuple(jinja2.meta.find_referenced_templates(tree))
        code = env.compile(tree, name=name, filename=name)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"line {exc.lineno}: {exc.message}", template=template_id, language=language
        ) from exc
    template = env.template_class.from_code(env, code, env.make_globals(None))
    return _Compiled(template, variables, references)


def compile_template(source: str, name: str) -> None:
    """Check a user-edited template (syntax, known filters); raise TemplateError if bad.

    ``name`` is the override key, e.g. ``"fr/reminder_1"``; the language before the slash
    picks the formatting, French when it is missing or unsupported.
    """
    language = _normalize_language(name.split("/", 1)[0]) if "/" in name else ""
    _compiled(language if language in SUPPORTED_LANGUAGES else "fr", name, source)


def reads_history(template_id: str, overrides: Mapping[str, str] | None = None) -> bool:
    """Whether the text ``template_id`` lists the customer's earlier reminders (reads
    ``history``) in any language, itself or through a template it imports.  A caller
    then gathers the journal of only the customers whose text lists it."""
    if overrides:
        return _reads_history(template_id, {**_shipped_sources(), **overrides})
    return _shipped_reads_history(template_id)


@cache
def _shipped_reads_history(template_id: str) -> bool:
    return _reads_history(template_id, _shipped_sources())


def _reads_history(template_id: str, sources: Mapping[str, str]) -> bool:
    pending = [f"{language}/{template_id}" for language in SUPPORTED_LANGUAGES]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        source = sources.get(name)
        if name in seen or source is None:
            continue
        seen.add(name)
        language = name.split("/", 1)[0]
        try:
            # Compiled as rendering will (and cached for it): the source is parsed once.
            compiled = _compiled(
                language if language in SUPPORTED_LANGUAGES else "fr", name, source
            )
        except TemplateError:
            return True  # rendering reports it; until then, assume the worst
        if "history" in compiled.variables or None in compiled.references:
            return True  # None: a template chosen at render time may read anything
        pending.extend(name for name in compiled.references if name is not None)
    return False


# Exceptions a (user) template can raise while rendering; all become TemplateError.
_RENDER_ERRORS = (
    jinja2.TemplateError,
    ArithmeticError,
    AttributeError,
    LookupError,
    RecursionError,
    TypeError,
    ValueError,
)


def _render(template: jinja2.Template, name: str, language: str, data: dict[str, Any]) -> str:
    template_id = name.split("/", 1)[-1]
    try:
        return template.render(data)
    except _RENDER_ERRORS as exc:
        message = str(getattr(exc, "message", None) or exc) or type(exc).__name__
        if isinstance(exc, SecurityError):
            message = f"not allowed in a template: {message}"
        line = _template_line(exc, name)
        if line is not None:
            message = f"line {line}: {message}"
        raise TemplateError(message, template=template_id, language=language) from exc


def _template_line(exc: BaseException, name: str) -> int | None:
    """The line of template ``name`` where rendering failed (Jinja rewrites tracebacks)."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == name:
            line = lineno
    return line


def _split_subject(text: str) -> tuple[str, str]:
    first, _, rest = text.partition("\n")
    if first.startswith(_SUBJECT_PREFIX):
        subject, body = first.removeprefix(_SUBJECT_PREFIX).strip(), rest
    else:
        subject, body = "", text
    # Conditional blocks may leave runs of blank lines: keep at most one.
    body = re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", body).strip("\n").rstrip()
    return subject, body


# --------------------------------------------------------------------------- rendering


def _template_data(
    action: Action,
    customer: Customer,
    sender: Sender,
    today: date,
    language: str,
    history: Iterable[Reminder],
) -> dict[str, Any]:
    """The plain data a template sees: nothing with methods worth calling."""
    currency = action.currency
    day = today.toordinal()  # a due date is today - days_overdue (DESIGN section 5.2)
    invoices = [
        {
            "id": inv.id,
            "number": inv.number,
            "step": inv.step,
            "due_date": date.fromordinal(day - inv.days_overdue),
            "days_overdue": inv.days_overdue,
            "open_amount": inv.open_amount,
            "interest": inv.interest,
            "indemnity": inv.indemnity,
        }
        for inv in action.invoices
    ]
    context_invoices = [
        {
            "id": ctx.id,
            "number": ctx.number,
            "due_date": date.fromordinal(day - ctx.days_overdue),
            "days_overdue": ctx.days_overdue,
            "open_amount": ctx.open_amount,
        }
        for ctx in action.context
    ]
    credits = [
        {"id": c.id, "number": c.number, "open_amount": c.open_amount} for c in action.credits
    ]

    is_company = customer.kind != "individual"
    # DESIGN section 7: interest and the indemnity are claimed from companies only, and
    # only when the engine computed them (formal notices).
    claim_penalties = is_company and any(
        inv.interest is not None or inv.indemnity is not None for inv in action.invoices
    )
    zero = Decimal(0)
    total_interest = action.total_interest if claim_penalties else zero
    total_indemnity = action.total_indemnity if claim_penalties else zero
    indemnity_count = sum(1 for inv in action.invoices if inv.indemnity) if claim_penalties else 0
    indemnity_in_total = currency == INDEMNITY_CURRENCY
    total_claimed = (
        action.net_due + total_interest + (total_indemnity if indemnity_in_total else zero)
    )
    deadline = action.payment_deadline_days
    numbers = {inv.id: inv.number for inv in action.invoices}
    numbers.update({ctx.id: ctx.number for ctx in action.context})

    return {
        "language": language,
        "today": today,
        "currency": currency,
        "sender": {
            "name": sender.name,
            "email": sender.email,
            "phone": sender.phone,
            "address": sender.address,
            "iban": sender.iban,
        },
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "kind": customer.kind,
            "is_company": is_company,
            "emails": list(customer.emails),
            "email": customer.emails[0] if customer.emails else "",
            "phone": customer.phone or "",
        },
        "action": {
            "plan": action.plan,
            "segment": action.segment,
            "step": action.step,
            "channel": action.channel,
            "template": action.template,
            "key": action.key,
            "currency": currency,
        },
        "invoices": invoices,
        "context_invoices": context_invoices,
        "credits": credits,
        "invoices_total": sum((inv.open_amount for inv in action.invoices), zero),
        "context_total": sum((ctx.open_amount for ctx in action.context), zero),
        "credits_total": sum((c.open_amount for c in action.credits), zero),
        "overdue_amount": action.overdue_amount,
        "net_due": action.net_due,
        "max_days_overdue": max(
            (*(i.days_overdue for i in action.invoices), *(c.days_overdue for c in action.context)),
            default=0,
        ),
        "claim_penalties": claim_penalties,
        "interest_rate": action.interest_rate if claim_penalties else None,
        "total_interest": total_interest,
        "total_indemnity": total_indemnity,
        "indemnity_count": indemnity_count,
        "indemnity_currency": INDEMNITY_CURRENCY,
        "legal_indemnity": RECOVERY_INDEMNITY,
        "indemnity_in_total": indemnity_in_total,
        "total_claimed": total_claimed,
        "payment_deadline_days": DEFAULT_PAYMENT_DEADLINE_DAYS if deadline is None else deadline,
        "history": [
            {
                "date": r.date,
                "plan": r.plan,
                "channel": r.channel,
                "step": r.step,
                "invoices": [numbers.get(line.invoice_id, line.invoice_id) for line in r.invoices],
            }
            for r in sorted(history, key=lambda r: r.date)
            if r.customer_id == customer.id
        ],
    }


def _language_chain(
    action: Action, customer: Customer, sender: Sender, language: str | None
) -> list[str]:
    """Languages to look for the template in, best first."""
    company = choose_language(None, sender.language)
    if language is not None:
        first = _normalize_language(language)
        if first not in SUPPORTED_LANGUAGES:
            raise TemplateError(
                f"unsupported language '{language}' "
                f"(expected one of {', '.join(SUPPORTED_LANGUAGES)})",
                template=action.template,
            )
    elif action.channel == "escalation":
        # An escalation is an internal hand-over note: written in the company's language.
        first = company
    else:
        first = choose_language(customer.language, sender.language)
    return list(dict.fromkeys((first, company, "fr")))


def render_action(
    action: Action,
    customer: Customer,
    sender: Sender,
    today: date,
    *,
    language: str | None = None,
    overrides: Mapping[str, str] | None = None,
    history: Sequence[Reminder] = (),
) -> RenderedText:
    """Render the action's template for this customer.

    The language is ``language`` if given, else the customer's (company's for an
    escalation note), falling back to the company language then French when the template
    exists in none of the earlier ones.  ``overrides`` (user-edited templates keyed
    ``"fr/reminder_1"``) take precedence over the shipped ones and run in the same sandbox.
    ``history`` (the journal) feeds the escalation note's summary of earlier reminders.
    """
    template_id = action.template
    chain = _language_chain(action, customer, sender, language)
    shipped = _shipped_sources()
    for lang in chain:
        name = f"{lang}/{template_id}"
        source = (overrides or {}).get(name, shipped.get(name))
        if source is None or template_id.startswith("_"):
            continue
        template = _compiled(lang, name, source).template
        data = _template_data(action, customer, sender, today, lang, history)
        subject, body = _split_subject(_render(template, name, lang, data))
        return RenderedText(template=template_id, language=lang, subject=subject, body=body)
    raise TemplateError(
        f"no template '{template_id}' in languages {', '.join(chain)}", template=template_id
    )
