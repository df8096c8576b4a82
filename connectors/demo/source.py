"""The ``demo`` source: the generated demo ledger, living on day after day.

On ``start`` the ledger is ``generate_ledger(start, ...)``.  Every business
day after that, the simulation moves on by itself:

* payments come in: each open invoice is paid that day with a probability
  that follows its customer's habits, read from the customer's history in
  the generated ledger (how late it paid, on average, and whether it stopped
  paying): on-time payers settle within days of the due date, chronic late
  payers weeks later, customers who stopped paying hardly ever.  Some payments
  are partial; a promise to pay is usually kept on its date; disputed
  invoices are not paid while the dispute is open; escalated ones come in
  slowly, through the agency; open credit notes get applied now and then;
* new invoices (and a few credit notes) are issued, at the generated
  ledger's pace, to customers in proportion to their past activity, with
  their usual amounts, currency and payment terms, numbered on from the
  generated ones;
* now and then a dispute is opened on an open invoice, or an open one is
  closed.

Nothing happens on weekends and French public holidays.  Each day's events
come from a random stream seeded by ``(seed, day)`` and from the state the
day before, so the same seed and dates always give the same ledger, whatever
the days the source was pulled on.

The cursor is the last simulated day (ISO).  A pull simulates up to
``today`` (a fixed day or a ``clock``) and returns only the invoices that
changed since the cursor's day; without a cursor (or with one this
simulation cannot have written: before ``start``, after today, not a date)
it returns the whole ledger as a full snapshot.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from random import Random

from connectors.demo.generator import generate_ledger
from connectors.sources import Changes, Flag, SourceError
from core.calendar import is_business_day
from core.model import Dispute, Invoice, Ledger

__all__ = ["DemoSource"]

_ZERO = Decimal("0.00")
_CENT = Decimal("0.01")
_EURO = Decimal("1")
_NUMBER = re.compile(r"^(FA|AV)-(\d{4})-(\d+)$")

# Chance per day that an open invoice is paid, by how its customer pays:
# (before the due date, after it).  Average days late (amount-weighted) up to
# the bound picks the row; customers who stopped paying have their own.
_HABITS: tuple[tuple[float, float, float], ...] = (
    (3.0, 0.04, 0.30),  # on time
    (12.0, 0.01, 0.12),  # slightly late
    (25.0, 0.003, 0.06),  # late
    (math.inf, 0.0, 0.03),  # chronic late payer
)
_STOPPED = (0.0, 0.004)
_ESCALATED = 0.015  # through the collection agency
_LONG_OVERDUE_DAYS = 90
_LONG_OVERDUE_FACTOR = 0.3
_PROMISE_KEPT = 0.6
_PARTIAL = 0.1  # share of payments that are partial
_CREDIT_APPLIED = 0.02
_DISPUTE_OPENED = 0.25  # chance per business day
_DISPUTE_CLOSED = 0.3
_CREDIT_NOTE_SHARE = 0.04

_DISPUTE_REASONS = (
    ("Livraison incomplète", "Reliquat non reçu à ce jour."),
    ("Prix contesté", "Remise prévue au contrat non appliquée."),
    ("Marchandise endommagée", "Réserves portées sur le bon de livraison."),
    ("Facture en double", "Le client indique avoir déjà réglé cette prestation."),
    ("Bon de commande manquant", "Numéro de bon de commande exigé pour la mise en paiement."),
)


class DemoSource:
    """The demo ledger as a source that looks alive; see the module docstring."""

    name: str = "demo"

    def __init__(
        self,
        seed: int,
        customers: int,
        invoices: int,
        start: date,
        *,
        today: date | None = None,
        clock: Callable[[], date] | None = None,
        months: int = 12,
    ) -> None:
        if today is not None and clock is not None:
            raise ValueError("give either today or clock, not both")
        self.seed = seed
        self.customers = customers
        self.invoices = invoices
        self.start = start
        self.months = months
        self._clock: Callable[[], date] = (
            clock if clock is not None else (lambda: today) if today is not None else date.today
        )
        self._base: Ledger | None = None
        self._habits: _Habits | None = None
        self._sim: _Simulation | None = None

    def __repr__(self) -> str:
        return (
            f"DemoSource(seed={self.seed}, customers={self.customers}, "
            f"invoices={self.invoices}, start={self.start.isoformat()})"
        )

    def today(self) -> date:
        return self._clock()

    def pull(self, cursor: str | None) -> Changes:
        """The invoices changed since the cursor's day (all of them, without a cursor)."""
        today = self.today()
        since = _parse_day(cursor)
        if today < self.start:
            raise SourceError(
                f"the demo starts on {self.start}, after today ({today}): set 'start' earlier",
                kind="config",
                source=self.name,
            )
        if since is None or not self.start <= since <= today:
            sim = self._at(today)
            base = self._ledger()
            return Changes(
                customers=base.customers,
                invoices=list(sim.invoices.values()),
                reminders=base.reminders,
                cursor=today.isoformat(),
                full=True,
            )
        sim = self._at(since)
        changed = sim.advance_to(today)
        return Changes(
            invoices=[sim.invoices[invoice_id] for invoice_id in changed],
            cursor=today.isoformat(),
        )

    def refresh(self, invoice_ids: Sequence[str]) -> dict[str, Decimal]:
        """Open amounts as of today; an invoice the demo never issued is owed nothing."""
        sim = self._at(self.today())
        found = sim.invoices
        return {
            invoice_id: found[invoice_id].open_amount if invoice_id in found else _ZERO
            for invoice_id in invoice_ids
        }

    def push(self, flags: Sequence[Flag]) -> list[Flag]:
        """The demo has no accounting system to write into."""
        return []

    # ------------------------------------------------------------------ helpers

    def _ledger(self) -> Ledger:
        if self._base is None:
            self._base = generate_ledger(
                self.start,
                customers=self.customers,
                invoices=self.invoices,
                seed=self.seed,
                months=self.months,
            )
        return self._base

    def _at(self, day: date) -> _Simulation:
        """The simulation on ``day``: the one kept, moved on, or a new one from the start."""
        sim = self._sim
        if sim is None or sim.day > day:
            base = self._ledger()
            if self._habits is None:
                self._habits = _Habits(base, self.start, self.months)
            sim = self._sim = _Simulation(base, self._habits, self.seed, self.start)
        sim.advance_to(day)
        return sim


def _parse_day(cursor: str | None) -> date | None:
    if not cursor:
        return None
    try:
        return date.fromisoformat(cursor)
    except ValueError:
        return None


class _Habits:
    """What the generated ledger says about each customer: how it pays and what it buys."""

    def __init__(self, base: Ledger, start: date, months: int) -> None:
        weight: dict[str, Decimal] = {}
        late: dict[str, Decimal] = {}
        last_paid: dict[str, date] = {}
        long_overdue: set[str] = set()
        self.amounts: dict[str, list[Decimal]] = {}
        self.latest: dict[str, Invoice] = {}
        # One entry per invoice issued: drawing from it follows each customer's activity.
        self.bag: list[str] = []
        for inv in base.invoices:
            cid = inv.customer_id
            if inv.kind != "invoice":
                continue
            self.bag.append(cid)
            self.amounts.setdefault(cid, []).append(inv.amount)
            self.latest[cid] = inv  # invoices come in issue order
            if inv.paid_date is not None:
                weight[cid] = weight.get(cid, _ZERO) + inv.amount
                days = max(0, (inv.paid_date - inv.due_date).days)
                late[cid] = late.get(cid, _ZERO) + inv.amount * days
                if cid not in last_paid or inv.paid_date > last_paid[cid]:
                    last_paid[cid] = inv.paid_date
            elif inv.open_amount and (start - inv.due_date).days > 60:
                long_overdue.add(cid)
        self.pay: dict[str, tuple[float, float]] = {}
        for customer in base.customers:
            cid = customer.id
            paid_lately = cid in last_paid and (start - last_paid[cid]).days <= 45
            if cid in long_overdue and not paid_lately:
                self.pay[cid] = _STOPPED
                continue
            average = float(late[cid] / weight[cid]) if weight.get(cid) else 0.0
            for bound, before, after in _HABITS:
                if average <= bound:
                    self.pay[cid] = (before, after)
                    break
        self.stopped = frozenset(cid for cid, habit in self.pay.items() if habit == _STOPPED)
        business_days = max(1, round(months * 365 / 12 * 5 / 7) - 10)
        self.daily_invoices = len(self.bag) / business_days


class _Simulation:
    """The ledger on ``day``, moved on one day at a time."""

    def __init__(self, base: Ledger, habits: _Habits, seed: int, start: date) -> None:
        self.habits = habits
        self.seed = seed
        self.day = start
        self.invoices: dict[str, Invoice] = {inv.id: inv for inv in base.invoices}
        # Ordered sets (dicts) of ids, so that every day visits them in the same order.
        self.open: dict[str, None] = {}
        self.open_credits: dict[str, None] = {}
        self.disputed: dict[str, None] = {}
        for inv in base.invoices:
            if not inv.open_amount or inv.factored:
                continue
            if inv.kind == "credit_note":
                self.open_credits[inv.id] = None
                continue
            self.open[inv.id] = None
            if inv.has_open_dispute:
                self.disputed[inv.id] = None
        self.numbers: dict[tuple[str, int], int] = {}
        for inv in base.invoices:
            match = _NUMBER.match(inv.number)
            if match:
                key = (match[1], int(match[2]))
                self.numbers[key] = max(self.numbers.get(key, 0), int(match[3]))

    def advance_to(self, day: date) -> dict[str, None]:
        """Simulate each day after ``self.day`` up to ``day``; the ids changed, in order."""
        changed: dict[str, None] = {}
        while self.day < day:
            self.day += timedelta(days=1)
            if is_business_day(self.day):
                for invoice_id in self._simulate_day():
                    changed[invoice_id] = None
        return changed

    def _simulate_day(self) -> list[str]:
        day = self.day
        rng = Random(f"relance-demo/{self.seed}/{day.isoformat()}")
        changed = self._payments(rng, day)
        changed += self._credits_applied(rng, day)
        changed += self._disputes(rng, day)
        changed += self._new_invoices(rng, day)
        return changed

    def _set(self, inv: Invoice) -> None:
        self.invoices[inv.id] = inv

    def _payments(self, rng: Random, day: date) -> list[str]:
        pay = self.habits.pay
        out: list[str] = []
        for invoice_id in list(self.open):
            inv = self.invoices[invoice_id]
            if invoice_id in self.disputed:
                continue
            before, after = pay.get(inv.customer_id, _HABITS[0][1:])
            overdue = (day - inv.due_date).days
            if inv.promise_date is not None and 0 <= (day - inv.promise_date).days <= 1:
                chance = max(after, _PROMISE_KEPT)
            elif inv.escalated:
                chance = _ESCALATED
            elif overdue < -10:
                chance = 0.0
            elif overdue < 0:
                chance = before
            else:
                chance = after * (_LONG_OVERDUE_FACTOR if overdue > _LONG_OVERDUE_DAYS else 1.0)
            draw = rng.random()
            if draw >= chance:
                continue
            open_amount = inv.open_amount
            if rng.random() < _PARTIAL and open_amount >= 100:
                part = Decimal(str(round(rng.uniform(0.3, 0.7), 2))) * open_amount
                paid = max(_EURO, part.quantize(_EURO, rounding=ROUND_DOWN))
                self._set(replace(inv, open_amount=(open_amount - paid).quantize(_CENT)))
            else:
                self._set(replace(inv, open_amount=_ZERO, paid_date=day))
                del self.open[invoice_id]
            out.append(invoice_id)
        return out

    def _credits_applied(self, rng: Random, day: date) -> list[str]:
        out: list[str] = []
        for invoice_id in list(self.open_credits):
            if rng.random() < _CREDIT_APPLIED:
                inv = self.invoices[invoice_id]
                self._set(replace(inv, open_amount=_ZERO, paid_date=day))
                del self.open_credits[invoice_id]
                out.append(invoice_id)
        return out

    def _disputes(self, rng: Random, day: date) -> list[str]:
        out: list[str] = []
        if self.disputed and rng.random() < _DISPUTE_CLOSED:
            invoice_id = _pick(rng, self.disputed)
            inv = self.invoices[invoice_id]
            assert inv.dispute is not None
            self._set(replace(inv, dispute=replace(inv.dispute, closed=day)))
            del self.disputed[invoice_id]
            out.append(invoice_id)
        if rng.random() < _DISPUTE_OPENED:
            candidates = [
                invoice_id
                for invoice_id in self.open
                if invoice_id not in self.disputed
                and not self.invoices[invoice_id].escalated
                and self.invoices[invoice_id].dispute is None
            ]
            if candidates:
                invoice_id = _pick(rng, candidates)
                reason, note = _DISPUTE_REASONS[rng.randrange(len(_DISPUTE_REASONS))]
                self._set(replace(self.invoices[invoice_id], dispute=Dispute(reason, day, note)))
                self.disputed[invoice_id] = None
                if invoice_id not in out:
                    out.append(invoice_id)
        return out

    def _new_invoices(self, rng: Random, day: date) -> list[str]:
        habits = self.habits
        if not habits.bag:
            return []
        rate = habits.daily_invoices
        count = max(0, round(rng.gauss(rate, math.sqrt(rate))))
        out: list[str] = []
        for _ in range(count):
            cid = habits.bag[rng.randrange(len(habits.bag))]
            if cid in habits.stopped:  # little new business for those who stopped paying
                cid = habits.bag[rng.randrange(len(habits.bag))]
            latest = habits.latest[cid]
            usual = habits.amounts[cid][rng.randrange(len(habits.amounts[cid]))]
            factor = Decimal(str(round(math.exp(rng.gauss(0.0, 0.3)), 3)))
            is_credit = rng.random() < _CREDIT_NOTE_SHARE
            if is_credit:
                factor *= Decimal("0.2")
            amount = max(Decimal("15.00"), (usual * factor).quantize(_CENT))
            prefix = "AV" if is_credit else "FA"
            key = (prefix, day.year)
            self.numbers[key] = number = self.numbers.get(key, 0) + 1
            ident = f"{prefix}-{day.year}-{number:06d}"
            terms = latest.due_date - latest.issue_date
            inv = Invoice(
                id=ident,
                customer_id=cid,
                number=ident,
                kind="credit_note" if is_credit else "invoice",
                issue_date=day,
                due_date=day if is_credit else day + terms,
                amount=amount,
                open_amount=amount,
                currency=latest.currency,
            )
            self._set(inv)
            (self.open_credits if is_credit else self.open)[ident] = None
            out.append(ident)
        return out


def _pick(rng: Random, ids: Iterable[str]) -> str:
    items = list(ids)
    return items[rng.randrange(len(items))]
