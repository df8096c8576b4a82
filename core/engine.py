"""What is due today (DESIGN.md section 5): a pure function of (ledger, config, today).

The engine only computes.  Sending, journaling and write-back belong to
whoever executes the actions (the daemon or the Odoo addon); once an action
is recorded with ``record``, re-planning the same day yields nothing for it.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from core.actions import Action, ActionInvoice, ContextInvoice, Credit
from core.calendar import is_business_day
from core.collector import collector_paused
from core.config import Config
from core.errors import InputError
from core.index import (
    NO_PAYMENTS,
    CandidateRow,
    LedgerIndex,
    PaidSummary,
    Reminded,
    ledger_index,
)
from core.metrics import customer_metrics
from core.model import ZERO, Customer, Invoice, Ledger, Reminder, ReminderLine
from core.penalties import late_interest, late_interest_rate, recovery_indemnity
from core.plans import Plan
from core.segments import Assignment, assign

THIRTY = Decimal(30)


def action_key(customer_id: str, plan: str, pairs: Iterable[tuple[str, int]]) -> str:
    """Stable hash of (customer, plan, sorted (invoice id, step) pairs) (DESIGN §5.6)."""
    text = "\x1f".join([customer_id, plan, *(f"{iid}\x1e{step}" for iid, step in sorted(pairs))])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class _History:
    """A customer's whole history, fetched from the index only if iterated."""

    __slots__ = ("customer_id", "index")

    def __init__(self, index: LedgerIndex, customer_id: str) -> None:
        self.index, self.customer_id = index, customer_id

    def __iter__(self) -> Iterator[Invoice]:
        return iter(self.index.history(self.customer_id))


def is_candidate(inv: Invoice, today: date) -> bool:
    """An invoice that may be reminded: open, undisputed, not escalated, factored or promised."""
    return (
        inv.kind == "invoice"
        and inv.open_amount > 0
        and (inv.dispute is None or inv.dispute.closed is not None)
        and not inv.escalated
        and not inv.factored
        and (inv.promise_date is None or inv.promise_date < today)
    )


def reached_step(plan: Plan, offsets: Sequence[int], days: int, open_amount: Decimal) -> int:
    """The last step whose offset <= days; 0 when none, or when that step's own
    minimum exceeds the invoice's open amount (DESIGN §5.2)."""
    index = bisect_right(offsets, days)
    if index == 0:
        return 0
    minimum = plan.steps[index - 1].min_amount
    if minimum is not None and minimum > open_amount:
        return 0
    return index


def check_manual_plans(ledger: Ledger, config: Config) -> None:
    """A customer's manual plan must name a known plan."""
    for index, customer in enumerate(ledger.customers):
        if customer.plan is not None and customer.plan not in config.plans:
            raise InputError(
                f"unknown plan '{customer.plan}' (known: {', '.join(sorted(config.plans))})",
                record=f"customers[{index}] (id '{customer.id}')",
                field="plan",
            )


def metric_names(config: Config) -> frozenset[str]:
    """The metrics the segment rules read."""
    return frozenset().union(*(rule.condition.names for rule in config.segments))


def segment_of(
    customer: Customer,
    invoices: Iterable[Invoice],
    config: Config,
    today: date,
    open_invoices: Sequence[Invoice] | None = None,
    paid: PaidSummary | None = None,
    names: frozenset[str] | None = None,
) -> Assignment:
    if customer.plan:
        return assign(config.segments, {}, customer.plan)
    if names is None:
        names = metric_names(config)
    metrics = customer_metrics(
        customer, invoices, today, open_invoices=open_invoices, names=names, paid_summary=paid
    )
    return assign(config.segments, metrics, customer.plan)


class Planner:
    """Plans a whole ledger for one day.  Holds only what is derived once per run."""

    def __init__(self, ledger: Ledger, config: Config, today: date) -> None:
        self.ledger = ledger
        self.config = config
        self.today = today
        self.index = ledger_index(ledger)
        self.offsets = {name: [s.offset for s in plan.steps] for name, plan in config.plans.items()}
        self.business_day = is_business_day(today)
        self.rate = late_interest_rate(
            today, ecb_rate=config.ecb_rate, contract_rate=config.late_interest_rate
        )
        # Customer-level gates that hold under every plan let the run skip a
        # customer before computing its metrics; the result is the same.
        plans = config.plans.values()
        self._min_cooldown = min((p.cooldown_days for p in plans), default=0)
        self._closed_under_every_plan = not self.business_day and all(
            p.business_days_only for p in plans
        )
        self._assignments: dict[str, Assignment] = {}
        self._offset_items = list(self.offsets.items())
        self._min_first_offset = min((o[0] for o in self.offsets.values() if o), default=0)
        self._metric_names = metric_names(config)

    def segment(self, customer: Customer) -> Assignment:
        """The customer's segment and plan today (computed once per run)."""
        found = self._assignments.get(customer.id)
        if found is None:
            found = segment_of(
                customer,
                _History(self.index, customer.id),
                self.config,
                self.today,
                self.index.open_by_customer.get(customer.id, []),
                # A customer without paid invoices has an empty summary, not a walk
                # of the history.
                self.index.paid_summary.get(customer.id, NO_PAYMENTS),
                self._metric_names,
            )
            self._assignments[customer.id] = found
        return found

    def journal_segments(self) -> dict[str, str]:
        """Today's segment of every customer in the journal (for reminder effectiveness)."""
        customers = {c.id: c for c in self.ledger.customers}
        with collector_paused():
            return {
                cid: self.segment(customers[cid]).segment
                for cid in self.index.last_reminder
                if cid in customers
            }

    def run(self) -> list[Action]:
        with collector_paused():
            return self._run()

    def _run(self) -> list[Action]:
        actions: list[Action] = []
        if self._closed_under_every_plan:
            return actions
        candidates = self.index.candidates()
        open_by_customer = self.index.open_by_customer
        t, min_cooldown = self.today.toordinal(), self._min_cooldown
        last_reminder = self.index.last_reminder
        for customer in self.ledger.customers:
            if customer.excluded:
                continue
            rows = candidates.get(customer.id)
            if rows is None:
                # No open invoice that could be reminded: nothing is due.
                continue
            last = last_reminder.get(customer.id)
            if last is not None and t - last.toordinal() < min_cooldown:
                continue
            for outcome in self._plan_rows(customer, open_by_customer[customer.id], rows):
                if isinstance(outcome, Action):
                    actions.append(outcome)
        actions.sort(key=lambda a: (-a.priority, a.customer_id, a.currency))
        return actions

    def plan_customer(self, customer: Customer, open_invoices: list[Invoice]) -> list[Action | str]:
        """The customer's actions today, or for each currency with a due reminder held
        back, the reason it is held (a string).  ``open_invoices``: the customer's
        invoices and credit notes with an open amount."""
        rows = self.index.candidates().get(customer.id)
        return self._plan_rows(customer, open_invoices, rows) if rows else []

    def _plan_rows(
        self, customer: Customer, open_invoices: list[Invoice], own: list[CandidateRow]
    ) -> list[Action | str]:
        """plan_customer, from the customer's candidate rows (LedgerIndex.candidates)."""
        t = self.today.toordinal()
        # One pass: the promise test of DESIGN §5.1 (the rest of it is in the rows),
        # each candidate's days, and whether anything is due under some plan (when
        # no plan has anything due, nothing goes out whatever the segment, so
        # metrics are not computed).
        candidates: list[tuple[Invoice, int, Reminded | None]] = []
        due_somewhere = customer.plan is not None
        min_first = self._min_first_offset
        for inv, due, promise, record in own:
            if promise >= t:
                continue
            days = t - due
            candidates.append((inv, days, record))
            if not due_somewhere:
                if record is None:
                    # Nothing done yet: due once the earliest first step is reached.
                    due_somewhere = days >= min_first
                    continue
                for name, offsets in self._offset_items:
                    reached = bisect_right(offsets, days)
                    if reached and reached > record.done.get(name, 0):
                        due_somewhere = True
                        break
        if not due_somewhere:
            return []
        assignment = self.segment(customer)
        if assignment.plan is None:
            return []
        plan = self.config.plans[assignment.plan]
        offsets = self.offsets[plan.name]
        first_offset = offsets[0]
        name = plan.name

        by_currency: dict[str, list[tuple[Invoice, int, int, int]]] = {}
        any_needed = False
        for inv, days, record in candidates:
            step = 0
            done = 0 if record is None else record.done.get(name, 0)
            if days >= first_offset:
                reached = reached_step(plan, offsets, days, inv.open_amount)
                if reached > done:
                    step = reached
                    any_needed = True
            rows = by_currency.get(inv.currency)
            if rows is None:
                by_currency[inv.currency] = [(inv, days, step, done)]
            else:
                rows.append((inv, days, step, done))
        if not any_needed:
            return []

        outcomes: list[Action | str] = []
        for currency, rows in by_currency.items():
            outcome = self._action(customer, open_invoices, plan, assignment, currency, rows)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def gate(
        self, customer: Customer, plan: Plan, net_overdue: Decimal, pre_due_only: bool
    ) -> str | None:
        """Why a due reminder is held today (DESIGN §5.4), or None when it goes out."""
        last = self.index.last_reminder.get(customer.id)
        if last is not None and (self.today - last).days < plan.cooldown_days:
            return (
                f"cooldown: last reminder on {last.isoformat()}, "
                f"{plan.cooldown_days} days must pass"
            )
        if plan.business_days_only and not self.business_day:
            return "not a business day"
        if not pre_due_only:
            if net_overdue <= 0:
                return f"nothing owed: net overdue {net_overdue}"
            if net_overdue < plan.min_amount:
                return f"net overdue {net_overdue} below the plan minimum {plan.min_amount}"
        return None

    def _action(
        self,
        customer: Customer,
        open_invoices: list[Invoice],
        plan: Plan,
        assignment: Assignment,
        currency: str,
        rows: list[tuple[Invoice, int, int, int]],
    ) -> Action | str | None:
        """The action for one currency (rows: candidate, days overdue, needed step or 0,
        done step), or why it is held today, or None when nothing needs a reminder."""
        needed = [row for row in rows if row[2]]
        if not needed:
            return None
        overdue = sum((row[0].open_amount for row in rows if row[1] > 0), ZERO)
        credit_notes = sorted(
            (
                inv
                for inv in open_invoices
                if inv.kind == "credit_note" and inv.currency == currency
            ),
            key=lambda inv: inv.id,
        )
        credits_total = sum((c.open_amount for c in credit_notes), ZERO)
        net_overdue = overdue - credits_total
        pre_due_only = all(plan.steps[row[2] - 1].is_pre_due for row in needed)
        held = self.gate(customer, plan, net_overdue, pre_due_only)
        if held is not None:
            return f"{currency}: {held}"

        top = max(row[2] for row in needed)
        top_step = plan.steps[top - 1]
        needed.sort(key=lambda row: row[0].id)
        context = sorted(
            (row for row in rows if row[1] > 0 and not row[2]), key=lambda row: row[0].id
        )
        formal = top_step.channel == "formal_notice"
        company = customer.kind == "company"
        listed = tuple(
            self._listed(inv, days, step, formal, company) for inv, days, step, _ in needed
        )
        total = sum((row[0].open_amount for row in needed), ZERO)
        total += sum((row[0].open_amount for row in context), ZERO)
        net_due = max(total - credits_total, ZERO)
        worst = max((row[1] for row in rows if row[1] > 0), default=0)
        priority = overdue * (1 + Decimal(worst) / THIRTY)
        return Action(
            customer_id=customer.id,
            plan=plan.name,
            segment=assignment.segment,
            step=top,
            channel=top_step.channel,
            template=top_step.template,
            key=action_key(customer.id, plan.name, [(row[0].id, row[2]) for row in needed]),
            priority=priority,
            currency=currency,
            overdue_amount=overdue,
            net_due=net_due,
            invoices=listed,
            context=tuple(
                ContextInvoice(inv.id, inv.number, days, inv.open_amount)
                for inv, days, _, _ in context
            ),
            credits=tuple(Credit(c.id, c.number, c.open_amount) for c in credit_notes),
            explanation={
                "segment": assignment.explanation,
                "plan": plan.name,
                "step": {"index": top, "offset": top_step.offset, "channel": top_step.channel},
                "invoices": [
                    {"id": inv.id, "days_overdue": days, "reached": step, "done": done}
                    for inv, days, step, done in needed
                ],
                "net_overdue": str(net_overdue),
            },
            interest_rate=self.rate if formal and company else None,
            payment_deadline_days=self.config.payment_deadline_days if formal else None,
        )

    def _listed(
        self, inv: Invoice, days: int, step: int, formal: bool, company: bool
    ) -> ActionInvoice:
        if not formal:
            return ActionInvoice(inv.id, inv.number, step, days, inv.open_amount)
        if company:
            interest = late_interest(inv.open_amount, self.rate, days)
            indemnity = recovery_indemnity(days)
        else:
            interest = indemnity = Decimal("0.00")
        return ActionInvoice(inv.id, inv.number, step, days, inv.open_amount, interest, indemnity)

    def explain(self, customer: Customer) -> dict[str, Any]:
        """Segment, metrics, plan, and for each open invoice its reached/done step and
        why it does or does not fire today."""
        today = self.today
        invoices = self.index.history(customer.id)
        metrics = customer_metrics(customer, invoices, today)
        result: dict[str, Any] = {
            "customer_id": customer.id,
            "name": customer.name,
            "today": today.isoformat(),
            "excluded": customer.excluded,
            "metrics": metrics,
        }
        if customer.excluded:
            result["verdict"] = "excluded: no reminder at all"
            return result
        assignment = assign(self.config.segments, metrics, customer.plan)
        result["segment"] = assignment.segment
        result["segment_explanation"] = assignment.explanation
        result["plan"] = assignment.plan
        if assignment.plan is None:
            result["verdict"] = "no segment rule matched: no plan, no reminder"
            return result
        plan = self.config.plans[assignment.plan]
        offsets = self.offsets[plan.name]
        last = self.index.last_reminder.get(customer.id)
        result["last_reminder"] = last.isoformat() if last else None
        rows = []
        for inv in sorted(invoices, key=lambda i: i.id):
            if inv.kind != "invoice" or inv.open_amount <= 0:
                continue
            days = (today - inv.due_date).days
            reached = reached_step(plan, offsets, days, inv.open_amount)
            done = self.index.done_step(inv.id, plan.name)
            rows.append(
                {
                    "id": inv.id,
                    "number": inv.number,
                    "currency": inv.currency,
                    "due_date": inv.due_date.isoformat(),
                    "days_overdue": days,
                    "open_amount": inv.open_amount,
                    "reached": reached,
                    "done": done,
                    "why": self._why(inv, plan, days, reached, done),
                }
            )
        result["invoices"] = rows
        open_invoices = self.index.open_by_customer.get(customer.id, [])
        outcomes = self.plan_customer(customer, open_invoices) if open_invoices else []
        actions = [o for o in outcomes if isinstance(o, Action)]
        held = [o for o in outcomes if isinstance(o, str)]
        result["actions"] = actions
        verdicts = [f"{len(actions)} action(s) today"] if actions else []
        verdicts += [f"due but held today ({reason})" for reason in held]
        result["verdict"] = "; ".join(verdicts) or "nothing needs a reminder today"
        return result

    def _why(self, inv: Invoice, plan: Plan, days: int, reached: int, done: int) -> str:
        today = self.today
        if inv.dispute is not None and inv.dispute.closed is None:
            return f"in dispute ({inv.dispute.reason or 'no reason given'}): never reminded"
        if inv.escalated:
            return "escalated: handed over, no more reminders"
        if inv.factored:
            return "factored: the factor collects"
        if inv.promise_date is not None and inv.promise_date >= today:
            return f"promise to pay until {inv.promise_date.isoformat()}: on hold"
        if reached == 0:
            index = bisect_right([s.offset for s in plan.steps], days)
            if index == 0:
                return f"first step at day {plan.steps[0].offset}, invoice at day {days}"
            return (
                f"step {index} needs at least {plan.steps[index - 1].min_amount} "
                f"open, invoice has {inv.open_amount}"
            )
        if reached <= done:
            return f"step {reached} reached and already done"
        step = plan.steps[reached - 1]
        return f"needs step {reached} ({step.channel}, {step.template}); done step {done}"


def journal_needed_from(config: Config, today: date) -> date:
    """The first day of the journal that planning ``today`` reads, beyond the
    reminders naming an open invoice.  Of the journal, planning reads the done step
    of each open invoice and each customer's last reminder, which holds reminders
    back only while it is younger than the plan's cooldown.  So the reminders dated
    from this day on, with those naming an invoice still open, plan exactly as the
    whole journal does; a reader may leave the others out (months of reminders
    about invoices since paid).  The KPIs and the texts' history read them all."""
    longest = max((p.cooldown_days for p in config.plans.values()), default=0)
    return today - timedelta(days=longest + 1)


def plan(ledger: Ledger, config: Config, today: date) -> list[Action]:
    """Every action due today, highest priority first (DESIGN §5)."""
    check_manual_plans(ledger, config)
    return Planner(ledger, config, today).run()


def record(action: Action, today: date) -> Reminder:
    """The journal entry for an executed action.

    Once recorded, each listed invoice's done step is its reached step.
    """
    return Reminder(
        customer_id=action.customer_id,
        date=today,
        plan=action.plan,
        channel=action.channel,
        key=action.key,
        invoices=tuple(ReminderLine(i.id, i.step) for i in action.invoices),
    )
