"""Reminder texts: default templates, locale formatting, the sandbox (DESIGN §7 and §8)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from babel.dates import format_date as format_babel_date
from babel.numbers import format_currency
from hypothesis import given
from hypothesis import strategies as st

from core.actions import Action, ActionInvoice, ContextInvoice, Credit
from core.model import Customer, Reminder, ReminderLine
from core.texts import (
    SUPPORTED_LANGUAGES,
    RenderedText,
    Sender,
    TemplateError,
    _template_data,
    choose_language,
    compile_template,
    format_date,
    format_money,
    reads_history,
    render_action,
    template_ids,
)

TODAY = date(2026, 11, 24)
SHIPPED = ("pre_due", "reminder_1", "reminder_2", "sms", "phone", "formal_notice", "escalation")
CHANNEL_OF = {
    "pre_due": "email",
    "reminder_1": "email",
    "reminder_2": "email",
    "sms": "sms",
    "phone": "phone",
    "formal_notice": "formal_notice",
    "escalation": "escalation",
}
SENDER = Sender(
    name="Atelier Martin SAS",
    email="compta@atelier-martin.fr",
    phone="04 72 00 00 00",
    address="12 rue des Forges, 69003 Lyon",
    iban="FR76 3000 4000 0500 0012 3456 789",
)


# --------------------------------------------------------------------------- builders


def plain(text: str) -> str:
    """Babel's French output uses (narrow) no-break spaces; compare with plain ones."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def customer(kind: str = "company", language: str | None = "fr") -> Customer:
    return Customer(
        id="C042",
        name="Dupont Matériaux SARL" if kind == "company" else "Jeanne Durand",
        kind=kind,
        emails=("compta@dupont-materiaux.fr",),
        phone="01 23 45 67 89",
        language=language,
    )


def listed(
    number: str,
    days_overdue: int,
    open_amount: str,
    *,
    step: int = 2,
    interest: str | None = None,
    indemnity: str | None = None,
) -> ActionInvoice:
    return ActionInvoice(
        id=f"id-{number}",
        number=number,
        step=step,
        days_overdue=days_overdue,
        open_amount=Decimal(open_amount),
        interest=None if interest is None else Decimal(interest),
        indemnity=None if indemnity is None else Decimal(indemnity),
    )


def action(
    template: str = "reminder_1",
    invoices: tuple[ActionInvoice, ...] | None = None,
    *,
    channel: str | None = None,
    currency: str = "EUR",
    context: tuple[ContextInvoice, ...] = (
        ContextInvoice("id-F2026-0171", "F2026-0171", 12, Decimal("200.00")),
    ),
    credits: tuple[Credit, ...] = (Credit("id-AV2026-007", "AV2026-007", Decimal("150.00")),),
    interest_rate: Decimal | None = None,
    payment_deadline_days: int | None = None,
) -> Action:
    """A realistic action: two listed invoices, one context invoice, one credit note."""
    if invoices is None:
        invoices = (listed("F2026-0142", 38, "1234.56"), listed("F2026-0150", 31, "480.00"))
    listed_total = sum((i.open_amount for i in invoices), Decimal(0))
    context_total = sum((c.open_amount for c in context), Decimal(0))
    credit_total = sum((c.open_amount for c in credits), Decimal(0))
    overdue = sum((i.open_amount for i in invoices if i.days_overdue > 0), Decimal(0))
    return Action(
        customer_id="C042",
        plan="standard",
        segment="default",
        step=max(i.step for i in invoices),
        channel=channel or CHANNEL_OF.get(template, "email"),
        template=template,
        key="k-test",
        priority=Decimal(1),
        currency=currency,
        overdue_amount=overdue + context_total,
        net_due=max(listed_total + context_total - credit_total, Decimal(0)),
        invoices=invoices,
        context=context,
        credits=credits,
        interest_rate=interest_rate,
        payment_deadline_days=payment_deadline_days,
    )


def realistic_action(template: str, kind: str = "company") -> Action:
    """What the engine would produce for this template id in the standard plan."""
    if template == "pre_due":
        return action(template, (listed("F2026-0190", -5, "860.00", step=1),))
    if template == "formal_notice":
        return formal_notice_action(kind)
    return action(template)


def formal_notice_action(kind: str = "company", currency: str = "EUR", deadline: int = 8) -> Action:
    """The engine gives companies interest and the indemnity, individuals zeros and no rate."""
    company = kind == "company"
    return action(
        "formal_notice",
        (
            listed(
                "F2026-0142",
                38,
                "1234.56",
                step=5,
                interest="15.62" if company else "0.00",
                indemnity="40.00" if company else "0.00",
            ),
            listed(
                "F2026-0150",
                31,
                "480.00",
                step=5,
                interest="4.95" if company else "0.00",
                indemnity="40.00" if company else "0.00",
            ),
        ),
        currency=currency,
        interest_rate=Decimal("0.1215") if company else None,
        payment_deadline_days=deadline,
    )


def render(
    act: Action,
    cust: Customer | None = None,
    *,
    language: str | None = None,
    overrides: dict[str, str] | None = None,
    sender: Sender = SENDER,
    history: tuple[Reminder, ...] = (),
) -> RenderedText:
    return render_action(
        act,
        cust or customer(),
        sender,
        TODAY,
        language=language,
        overrides=overrides,
        history=history,
    )


# --------------------------------------------------------------------------- formatting


def test_french_money_groups_thousands_with_a_space_and_uses_a_decimal_comma() -> None:
    """DESIGN §8: amounts format per locale, `1 234,56 €` in French."""
    assert plain(format_money(Decimal("1234.56"), "EUR", "fr")) == "1 234,56 €"


def test_english_money_puts_the_symbol_first_with_a_decimal_point() -> None:
    """DESIGN §8: English amounts follow en_GB, `€1,234.56`."""
    assert format_money(Decimal("1234.56"), "EUR", "en") == "€1,234.56"


def test_other_currencies_are_named_unambiguously() -> None:
    """DESIGN §2: amounts carry their currency; a dollar amount never reads as euros."""
    assert plain(format_money(Decimal("1234.56"), "USD", "fr")) == "1 234,56 $US"
    assert format_money(Decimal("1234.56"), "USD", "en") == "US$1,234.56"


def test_money_always_shows_the_cents() -> None:
    """DESIGN §8: an amount with fewer decimals still prints to the cent."""
    assert plain(format_money(Decimal("40"), "EUR", "fr")) == "40,00 €"
    assert format_money(Decimal("0.5"), "EUR", "en") == "€0.50"


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False))
def test_french_money_keeps_every_digit(amount: Decimal) -> None:
    """DESIGN §2/§8: formatting never changes the amount, only its presentation."""
    text = plain(format_money(amount, "EUR", "fr"))
    digits = text.removesuffix(" €").replace(" ", "").replace(",", ".")
    assert Decimal(digits) == amount


@given(
    st.decimals(min_value=-(10**10), max_value=10**10, allow_nan=False, allow_infinity=False),
    st.sampled_from(["fr", "en"]),
    st.sampled_from(["EUR", "USD", "GBP", "CHF", "JPY"]),
)
def test_money_reads_exactly_as_babel_writes_it(amount: Decimal, language: str, cur: str) -> None:
    """The shape read off Babel once per locale and currency writes what Babel writes,
    rounding cases included (they go through Babel itself)."""
    locale = {"fr": "fr_FR", "en": "en_GB"}[language]
    assert format_money(amount, cur, language) == format_currency(amount, cur, locale=locale)


@given(st.dates(min_value=date(1000, 1, 1)), st.sampled_from(["fr", "en"]))
def test_dates_read_exactly_as_babel_writes_them(day: date, language: str) -> None:
    locale = {"fr": "fr_FR", "en": "en_GB"}[language]
    assert format_date(day, language) == format_babel_date(day, "dd/MM/yyyy", locale=locale)


def test_french_date_is_day_month_year() -> None:
    """DESIGN §8: dates format `22/11/2026` in French."""
    assert format_date(date(2026, 11, 22), "fr") == "22/11/2026"


def test_english_date_follows_the_british_day_first_order() -> None:
    """DESIGN §8: English dates use en_GB, so `22/11/2026` as well."""
    assert format_date(date(2026, 11, 22), "en") == "22/11/2026"


# --------------------------------------------------------------------------- language


@pytest.mark.parametrize(
    ("given", "expected"),
    [("fr", "fr"), ("en", "en"), ("fr_FR", "fr"), ("en-GB", "en"), ("FR", "fr"), ("EN_us", "en")],
)
def test_customer_language_is_used_when_supported(given: str, expected: str) -> None:
    """DESIGN §8: templates are chosen by customer language, whatever its spelling."""
    assert choose_language(given, "fr" if expected == "en" else "en") == expected


@pytest.mark.parametrize("customer_language", [None, "", "de", "es-ES"])
def test_unsupported_customer_language_falls_back_to_the_company_language(
    customer_language: str | None,
) -> None:
    """DESIGN §8: fallback is the company language."""
    assert choose_language(customer_language, "en_GB") == "en"


def test_french_is_the_last_resort() -> None:
    """DESIGN §8: with neither language supported, texts go out in French."""
    assert choose_language("de", "it") == "fr"


def test_render_picks_the_customer_language() -> None:
    """DESIGN §8: an English-speaking customer gets the English text."""
    text = render(action(), customer(language="en-GB"))
    assert text.language == "en"
    assert text.subject.startswith("Payment reminder")


def test_render_falls_back_to_the_sender_language() -> None:
    """DESIGN §8: a customer without a supported language gets the company's."""
    sender = Sender(name="Martin Ltd", language="en")
    text = render(action(), customer(language="de"), sender=sender)
    assert text.language == "en"


def test_escalation_note_is_written_in_the_company_language() -> None:
    """DESIGN §8 (decision): the escalation note is internal, so it follows the company."""
    text = render(action("escalation"), customer(language="en"))
    assert text.language == "fr"
    assert "Transmission au recouvrement" in text.subject


def test_an_explicit_unsupported_language_is_refused() -> None:
    """DESIGN §8: only languages with texts can be asked for."""
    with pytest.raises(TemplateError, match="unsupported language 'de'"):
        render(action(), language="de")


# --------------------------------------------------------------------------- shipped templates


def test_template_ids_are_the_default_plan_templates() -> None:
    """DESIGN §3/§8: every template id of the shipped plans has a default text."""
    assert template_ids() == frozenset(SHIPPED)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("template", SHIPPED)
def test_every_shipped_template_renders_in_each_language(template: str, language: str) -> None:
    """DESIGN §8: each default template lists the invoices, the context, the credits and the
    net amount due, formatted for the language."""
    act = realistic_action(template)
    text = render(act, language=language)

    assert text.template == template
    assert text.language == language
    assert (text.subject == "") == (template == "sms")
    body = plain(text.body)
    assert "{{" not in body and "{%" not in body
    assert plain(format_money(act.net_due, "EUR", language)) in body
    for inv in act.invoices:
        assert inv.number in body
    if template == "sms":
        return
    for inv in act.invoices:
        assert plain(format_money(inv.open_amount, "EUR", language)) in body
        due = date.fromordinal(TODAY.toordinal() - inv.days_overdue)
        assert format_date(due, language) in body
        assert f"{abs(inv.days_overdue)} " in body
    assert "F2026-0171" in body and plain(format_money(Decimal("200"), "EUR", language)) in body
    assert "AV2026-007" in body and plain(format_money(Decimal("150"), "EUR", language)) in body


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_sms_fits_in_320_characters(language: str) -> None:
    """DESIGN §8: an SMS stays short (two segments at most)."""
    text = render(action("sms"), language=language)
    assert text.subject == ""
    assert len(text.body) < 320
    assert "F2026-0142" in text.body and "F2026-0171" in text.body


def test_pre_due_message_announces_the_coming_due_date() -> None:
    """DESIGN §3: the pre-due step is a courteous heads-up before the due date."""
    body = plain(render(realistic_action("pre_due")).body)
    assert "Facture n° F2026-0190 : 860,00 € (à échéance le 29/11/2026, dans 5 jours)" in body
    assert "retard" not in body.split("Par ailleurs")[0]


def test_subject_line_is_not_repeated_in_the_body() -> None:
    """DESIGN §8: a template's `Subject:` line becomes the subject, the rest the body."""
    text = render(action())
    assert text.subject == "Rappel de paiement – 2 factures – Atelier Martin SAS"
    assert "Subject:" not in text.body
    assert text.body.startswith("Bonjour,")


def test_reminder_2_recalls_late_payment_penalties_to_companies_only() -> None:
    """DESIGN §7: individuals get no interest or indemnity wording."""
    company = plain(render(action("reminder_2")).body)
    individual = plain(render(action("reminder_2"), customer("individual")).body)
    assert "L441-10" in company and "40,00 €" in company
    assert "L441-10" not in individual and "indemnité" not in individual


def test_escalation_note_summarises_the_reminder_history() -> None:
    """DESIGN §5.7/§8: the hand-over note lists what was already tried."""
    history = (
        Reminder(
            "C042",
            date(2026, 10, 20),
            "standard",
            "email",
            "k1",
            (ReminderLine("id-F2026-0142", 2),),
        ),
        Reminder(
            "C042",
            date(2026, 11, 3),
            "standard",
            "phone",
            "k2",
            (ReminderLine("id-F2026-0142", 4),),
        ),
        Reminder("C999", date(2026, 11, 4), "standard", "email", "k3", ()),
    )
    body = render(action("escalation"), history=history).body
    assert "- 20/10/2026 : e-mail, plan « standard », étape 2 (facture F2026-0142)" in body
    assert "- 03/11/2026 : appel, plan « standard », étape 4 (facture F2026-0142)" in body
    assert "04/11/2026" not in body


# --------------------------------------------------------------------------- formal notice


def test_formal_notice_to_a_company_claims_interest_and_indemnity_with_the_legal_basis() -> None:
    """DESIGN §7: a formal notice states interest, the EUR 40 indemnity per invoice, the
    legal basis, the rate, the total and the payment deadline."""
    text = render(formal_notice_action("company"))
    body = plain(text.body)
    assert text.subject == "Mise en demeure de payer – Atelier Martin SAS"
    assert "articles L441-10 et D441-5 du Code de commerce" in body
    assert "au taux annuel de 12,15 %" in body
    assert (
        "pénalités de retard : 15,62 € ; indemnité forfaitaire pour frais de recouvrement : 40,00 €"
        in body
    )
    assert "pénalités de retard : 4,95 €" in body
    assert "- pénalités de retard : 20,57 €" in body
    assert "- indemnités forfaitaires (2 × 40,00 €) : 80,00 €" in body
    # 1 234,56 + 480 + 200 (context) - 150 (credit) = 1 764,56; + 20,57 + 80 = 1 865,13
    assert "Total réclamé : 1 865,13 €" in body
    assert "mettons en demeure de nous régler la somme de 1 865,13 € sous 8 jours" in body
    assert "recouvrement" in body.split("sous 8 jours")[1]


def test_formal_notice_in_english_cites_the_french_commercial_code() -> None:
    """DESIGN §7/§8: the English notice carries the same claim and legal basis."""
    body = render(formal_notice_action("company"), language="en").body
    assert "Articles L441-10 and D441-5 of the French Commercial Code" in body
    assert "at the annual rate of 12.15%" in body
    assert "- fixed compensation (2 × €40.00): €80.00" in body
    assert "Total claimed: €1,865.13" in body
    assert "within 8 days" in body


def test_formal_notice_to_an_individual_claims_neither_interest_nor_indemnity() -> None:
    """DESIGN §7: individuals get neither interest nor the indemnity, nor their wording."""
    body = plain(render(formal_notice_action("individual"), customer("individual")).body)
    for word in ("pénalités", "indemnité", "L441-10", "D441-5", "taux"):
        assert word not in body
    assert "Total réclamé (avoirs déduits) : 1 764,56 €" in body
    assert "la somme de 1 764,56 € sous 8 jours" in body


def test_formal_notice_uses_the_configured_payment_deadline() -> None:
    """DESIGN §7: the payment deadline defaults to 8 days and follows the config."""
    body = render(formal_notice_action(deadline=15)).body
    assert "sous 15 jours" in body


def test_indemnity_stays_in_euros_when_the_invoices_are_in_another_currency() -> None:
    """DESIGN §7: the EUR 40 indemnity is never added to a total in another currency."""
    body = plain(render(formal_notice_action(currency="USD")).body)
    assert "Total réclamé : 1 785,13 $US, auquel s'ajoutent" in body
    assert "soit 80,00 €" in body


# --------------------------------------------------------------------------- sandbox


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ net_due.__class__ }}",
        "{{ '{0.__class__}'.format(net_due) }}",
        "{{ self._TemplateReference__context }}",
    ],
)
def test_sandbox_blocks_python_internals(source: str) -> None:
    """DESIGN §8: user-edited templates must not reach Python internals."""
    with pytest.raises(TemplateError, match="not allowed in a template"):
        render(action(), overrides={"fr/reminder_1": source})


def test_sandbox_refuses_to_change_the_data() -> None:
    """DESIGN §8: a template reads the action, it never modifies it."""
    with pytest.raises(TemplateError, match="unsafe"):
        render(action(), overrides={"fr/reminder_1": "{{ invoices.append(1) }}"})


@pytest.mark.parametrize(
    "source", ["{{ 'x' * 10000000 }}", "{{ 2 ** 1000000 }}", "{{ range(10**7)|list }}"]
)
def test_sandbox_refuses_to_build_huge_values(source: str) -> None:
    """DESIGN §8/§10: a user template cannot exhaust the daemon's memory."""
    with pytest.raises(TemplateError):
        render(action(), overrides={"fr/reminder_1": source})


def test_undefined_variable_is_an_error_naming_it() -> None:
    """DESIGN §8: a misspelt variable fails loudly instead of printing nothing."""
    with pytest.raises(TemplateError) as caught:
        render(action(), overrides={"fr/reminder_1": "Subject: x\n\nBonjour {{ custmer.name }}"})
    error = caught.value
    assert (error.template, error.language) == ("reminder_1", "fr")
    assert "line 3" in error.message and "'custmer' is undefined" in error.message


def test_syntax_error_in_an_override_is_reported_with_its_line() -> None:
    """DESIGN §8: a broken user template is reported with where it breaks."""
    with pytest.raises(TemplateError, match=r"template 'fr/reminder_1': line 2: "):
        render(action(), overrides={"fr/reminder_1": "Subject: x\n{% if %}"})


def test_compile_template_accepts_a_valid_template() -> None:
    """DESIGN §8: a user template is checked when the config is loaded."""
    compile_template("Subject: {{ sender.name }}\n\n{{ net_due|money(currency) }}", "fr/mine")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% for x in invoices %}", "line 1"),
        ("Subject: {{ net_due|nosuchfilter }}", "No filter named 'nosuchfilter'"),
    ],
)
def test_compile_template_rejects_a_broken_template(source: str, message: str) -> None:
    """DESIGN §8: syntax errors and unknown filters are caught before any reminder runs."""
    with pytest.raises(TemplateError, match=message) as caught:
        compile_template(source, "en/reminder_1")
    assert (caught.value.template, caught.value.language) == ("reminder_1", "en")


# --------------------------------------------------------------------------- overrides


def test_user_template_takes_precedence_over_the_shipped_one() -> None:
    """DESIGN §8: user-edited templates replace the defaults."""
    override = (
        "Subject: Relance {{ invoices|length }}\n\nMerci de régler {{ net_due|money(currency) }}."
    )
    text = render(action(), overrides={"fr/reminder_1": override})
    assert text.subject == "Relance 2"
    assert plain(text.body) == "Merci de régler 1 764,56 €."


def test_user_template_in_another_language_leaves_this_one_alone() -> None:
    """DESIGN §8: an override applies to its own language only."""
    text = render(action(), overrides={"en/reminder_1": "Subject: mine\n\nmine"})
    assert text.subject.startswith("Rappel de paiement")


def test_new_template_id_in_the_company_language_serves_every_customer() -> None:
    """DESIGN §3/§8: a plan may name its own template; written in the company language,
    it is used for customers of other languages too."""
    text = render(
        action("relance_amicale"),
        customer(language="en"),
        overrides={
            "fr/relance_amicale": "Subject: Petit rappel\n\nSolde : {{ net_due|money(currency) }}"
        },
    )
    assert (text.language, text.subject) == ("fr", "Petit rappel")


def test_unknown_template_id_names_the_id_and_the_languages_looked_in() -> None:
    """DESIGN §3/§8: a template id with no text anywhere is an error, not a generic text."""
    with pytest.raises(TemplateError, match="no template 'relance_amicale' in languages en, fr"):
        render(action("relance_amicale"), customer(language="en"))


def test_helper_files_are_not_template_ids() -> None:
    """DESIGN §8: the shared macros are not a message one can send."""
    with pytest.raises(TemplateError, match="no template '_macros'"):
        render(action("_macros"))


@pytest.mark.parametrize(
    ("language", "overdue", "coming"),
    [
        ("fr", "38 jours de retard", "à échéance le"),
        ("en", "38 days overdue", "due"),
    ],
)
def test_formal_notice_words_an_invoice_not_yet_due_as_coming_due(
    language: str, overdue: str, coming: str
) -> None:
    """§5.5, §7: a formal notice lists every invoice that needs a reminder, including one
    that has only reached its pre-due step (due in 2 days): it is not "overdue" and carries
    no interest or indemnity line."""
    base = formal_notice_action()
    not_due = listed("F2026-0199", -2, "900.00", step=1, interest="0.00", indemnity="0.00")
    act = action(
        "formal_notice",
        (base.invoices[0], not_due),
        interest_rate=base.interest_rate,
        payment_deadline_days=8,
    )
    text = plain(render(act, customer(language=language), language=language).body)
    line = next(ln for ln in text.splitlines() if "F2026-0199" in ln)
    assert coming in line
    assert "retard" not in line and "overdue" not in line
    assert overdue in text
    following = text.splitlines()[text.splitlines().index(line) + 1]
    assert "0,00" not in following and "0.00" not in following


def _dicts(value: object) -> list[dict[str, object]]:
    if isinstance(value, dict):
        return [value, *(d for v in value.values() for d in _dicts(v))]
    if isinstance(value, list):
        return [d for v in value for d in _dicts(v)]
    return []


def test_no_key_of_the_template_data_hides_a_dict_attribute() -> None:
    """The sandbox reads ``invoice.number`` as the dict item first; Jinja's own order
    (attribute, then item) gives the same value only while no key is the name of a
    dict attribute such as ``items`` or ``keys``."""
    history = (Reminder("C042", date(2026, 10, 20), "standard", "email", "k1", ()),)
    data = _template_data(formal_notice_action(), customer(), SENDER, TODAY, "fr", history)
    keys = {key for d in _dicts(data) for key in d}
    assert {"invoices", "customer", "history", "number", "due_date"} <= keys
    assert not keys & set(dir(dict))


def test_dict_methods_stay_reachable_from_a_template() -> None:
    """Only keys are read first: a template may still call a dict's methods."""
    source = "{{ customer.keys()|list|length > 3 }} {{ sender.get('name') }}"
    text = render(action("reminder_1"), overrides={"fr/reminder_1": source})
    assert text.body == f"True {SENDER.name}"


def test_only_the_escalation_note_of_the_shipped_texts_lists_the_history() -> None:
    assert [t for t in sorted(template_ids()) if reads_history(t)] == ["escalation"]


def test_an_override_that_lists_the_history_reads_it() -> None:
    override = {"en/reminder_1": "{% for r in history %}{{ r.date|date }}{% endfor %}"}
    assert reads_history("reminder_1", override)
    assert not reads_history("reminder_1")


def test_history_read_in_an_imported_macro_counts() -> None:
    overrides = {
        "fr/_history": "{% macro listed() %}{{ history|length }}{% endmacro %}",
        "fr/reminder_2": '{% import "fr/_history" as h with context %}{{ h.listed() }}',
    }
    assert reads_history("reminder_2", overrides)
    assert not reads_history("reminder_2", {"fr/_history": overrides["fr/_history"]})
