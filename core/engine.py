"""What is due today (DESIGN.md section 5): a pure function of (ledger, config, today).

The engine only computes.  Sending, journaling and write-back belong to
whoever executes the actions (the daemon or the Odoo addon); once an action
is recorded with ``record``, re-planning the same day yields nothing for it.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from core.actions import Action, ActionInvoice, ContextInvoice, Credit
from core.calendar import is_business_day
from core.config import Config
from core.errors import InputError
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


@dataclass
class LedgerIndex:
    """The ledger arranged for the engine: built once, read per customer."""

    invoices_by_customer: dict[str, list[Invoice]]
    done_steps: dict[tuple[str, str], int]
    last_reminder: dict[str, date]
    customers: dict[str, Customer] = field(default_factory=dict)

    @classmethod
    def build(cls, ledger: Ledger) -> LedgerIndex:
        by_customer: dict[str, list[Invoice]] = defaultdict(list)
        for inv in ledger.invoices:
            by_customer[inv.customer_id].append(inv)
        done: dict[tuple[str, str], int] = {}
        last: dict[str, date] = {}
        for reminder in ledger.reminders:
            for line in reminder.invoices:
                slot = (line.invoice_id, reminder.plan)
                if line.step > done.get(slot, 0):
                    done[slot] = line.step
            known = last.get(reminder.customer_id)
            if known is None or reminder.date > known:
                last[reminder.customer_id] = reminder.date
        return cls(dict(by_customer), done, last, {c.id: c for c in ledger.customers})


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
                record=f"customers[{index}] (id '{customer.id}')", field="plan")


def segment_of(customer: Customer, invoices: Sequence[Invoice], config: Config,
               today: date) -> Assignment:
    metrics = {} if customer.plan else customer_metrics(customer, invoices, today)
    return assign(config.segments, metrics, customer.plan)


@dataclass
class _Gate:
    """Why a customer's due reminder does not go out today (None: it does)."""

    reason: str | None


class Planner:
    """Plans a whole ledger for one day.  Holds only what is derived once per run."""

    def __init__(self, ledger: Ledger, config: Config, today: date) -> None:
        self.ledger = ledger
        self.config = config
        self.today = today
        self.index = LedgerIndex.build(ledger)
        self.offsets = {name: [s.offset for s in plan.steps] for name, plan in config.plans.items()}
        self.business_day = is_business_day(today)
        self.rate = late_interest_rate(today, ecb_rate=config.ecb_rate,
                                       contract_rate=config.late_interest_rate)

    def segment(self, customer: Customer) -> Assignment:
        invoices = self.index.invoices_by_customer.get(customer.id, [])
        return segment_of(customer, invoices, self.config, self.today)

    def run(self) -> list[Action]:
        actions: list[Action] = []
        for customer in self.ledger.customers:
            if customer.excluded:
                continue
            invoices = self.index.invoices_by_customer.get(customer.id)
            if invoices:
                actions.extend(self.plan_customer(customer, invoices))
        actions.sort(key=lambda a: (-a.priority, a.customer_id, a.currency))
        return actions

    def plan_customer(self, customer: Customer, invoices: list[Invoice]) -> list[Action]:
        today = self.today
        candidates = [inv for inv in invoices if is_candidate(inv, today)]
        if not candidates:
            return []
        assignment = segment_of(customer, invoices, self.config, today)
        if assignment.plan is None:
            return []
        plan = self.config.plans[assignment.plan]
        offsets = self.offsets[plan.name]
        t = today.toordinal()
        done_steps = self.index.done_steps

        by_currency: dict[str, list[tuple[Invoice, int, int]]] = defaultdict(list)
        any_needed = False
        for inv in candidates:
            days = t - inv.due_date.toordinal()
            reached = reached_step(plan, offsets, days, inv.open_amount)
            needed = reached > done_steps.get((inv.id, plan.name), 0)
            any_needed |= needed
            by_currency[inv.currency].append((inv, days, reached if needed else 0))
        if not any_needed:
            return []

        actions = []
        for currency, rows in by_currency.items():
            action = self._action(customer, invoices, plan, assignment, currency, rows)
            if action is not None:
                actions.append(action)
        return actions

    def gate(self, customer: Customer, plan: Plan, net_overdue: Decimal, pre_due_only: bool) -> _Gate:
        """The checks of DESIGN §5.4, in order; the first that stops the reminder is returned."""
        last = self.index.last_reminder.get(customer.id)
        if last is not None and (self.today - last).days < plan.cooldown_days:
            return _Gate(f"cooldown: last reminder on {last.isoformat()}, "
                         f"{plan.cooldown_days} days must pass")
        if plan.business_days_only and not self.business_day:
            return _Gate("not a business day")
        if not pre_due_only:
            if net_overdue <= 0:
                return _Gate(f"nothing owed: net overdue {net_overdue}")
            if net_overdue < plan.min_amount:
                return _Gate(f"net overdue {net_overdue} below the plan minimum {plan.min_amount}")
        return _Gate(None)

    def _action(self, customer: Customer, invoices: list[Invoice], plan: Plan,
                assignment: Assignment, currency: str,
                rows: list[tuple[Invoice, int, int]]) -> Action | None:
        needed = [(inv, days, step) for inv, days, step in rows if step]
        if not needed:
            return None
        overdue = sum((inv.open_amount for inv, days, _ in rows if days > 0), ZERO)
        credit_notes = sorted(
            (inv for inv in invoices
             if inv.kind == "credit_note" and inv.open_amount > 0 and inv.currency == currency),
            key=lambda inv: inv.id)
        credits_total = sum((c.open_amount for c in credit_notes), ZERO)
        net_overdue = overdue - credits_total
        pre_due_only = all(plan.steps[step - 1].is_pre_due for _, _, step in needed)
        if self.gate(customer, plan, net_overdue, pre_due_only).reason is not None:
            return None

        top = max(step for _, _, step in needed)
        top_step = plan.steps[top - 1]
        needed.sort(key=lambda row: row[0].id)
        listed_ids = {inv.id for inv, _, _ in needed}
        context = sorted(
            ((inv, days) for inv, days, _ in rows if days > 0 and inv.id not in listed_ids),
            key=lambda row: row[0].id)
        formal = top_step.channel == "formal_notice"
        company = customer.kind == "company"
        listed = tuple(self._listed(inv, days, step, formal, company) for inv, days, step in needed)

        total = sum((inv.open_amount for inv, _, _ in needed), ZERO)
        total += sum((inv.open_amount for inv, _ in context), ZERO)
        net_due = max(total - credits_total, ZERO)
        worst = max((days for _, days, _ in rows if days > 0), default=0)
        priority = overdue * (1 + Decimal(worst) / THIRTY)
        pairs = [(inv.id, step) for inv, _, step in needed]
        return Action(
            customer_id=customer.id,
            plan=plan.name,
            segment=assignment.segment,
            step=top,
            channel=top_step.channel,
            template=top_step.template,
            key=action_key(customer.id, plan.name, pairs),
            priority=priority,
            currency=currency,
            overdue_amount=overdue,
            net_due=net_due,
            invoices=listed,
            context=tuple(ContextInvoice(inv.id, inv.number, days, inv.open_amount)
                          for inv, days in context),
            credits=tuple(Credit(c.id, c.number, c.open_amount) for c in credit_notes),
            explanation={
                "segment": assignment.explanation,
                "plan": plan.name,
                "step": {"index": top, "offset": top_step.offset, "channel": top_step.channel},
                "invoices": [
                    {"id": inv.id, "days_overdue": days, "reached": step,
                     "done": self.index.done_steps.get((inv.id, plan.name), 0)}
                    for inv, days, step in needed
                ],
                "net_overdue": str(net_overdue),
            },
            interest_rate=self.rate if formal and company else None,
            payment_deadline_days=self.config.payment_deadline_days if formal else None,
        )

    def _listed(self, inv: Invoice, days: int, step: int, formal: bool,
                company: bool) -> ActionInvoice:
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
        invoices = self.index.invoices_by_customer.get(customer.id, [])
        metrics = customer_metrics(customer, invoices, today)
        result: dict[str, Any] = {
            "customer_id": customer.id, "name": customer.name, "today": today.isoformat(),
            "excluded": customer.excluded, "metrics": metrics,
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
            done = self.index.done_steps.get((inv.id, plan.name), 0)
            rows.append({
                "id": inv.id, "number": inv.number, "currency": inv.currency,
                "due_date": inv.due_date.isoformat(), "days_overdue": days,
                "open_amount": inv.open_amount, "reached": reached, "done": done,
                "why": self._why(inv, plan, days, reached, done),
            })
        result["invoices"] = rows
        actions = self.plan_customer(customer, invoices)
        result["actions"] = actions
        if not actions and any(r["why"].startswith("needs") for r in rows):
            result["verdict"] = self._blocked_reason(customer, invoices, plan)
        else:
            result["verdict"] = (f"{len(actions)} action(s) today" if actions
                                 else "nothing needs a reminder today")
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
            return (f"step {index} needs at least {plan.steps[index - 1].min_amount} "
                    f"open, invoice has {inv.open_amount}")
        if reached <= done:
            return f"step {reached} reached and already done"
        step = plan.steps[reached - 1]
        return f"needs step {reached} ({step.channel}, {step.template}); done step {done}"

    def _blocked_reason(self, customer: Customer, invoices: list[Invoice], plan: Plan) -> str:
        for currency in sorted({inv.currency for inv in invoices}):
            rows = [inv for inv in invoices if inv.currency == currency]
            overdue = sum((inv.open_amount for inv in rows if is_candidate(inv, self.today)
                           and inv.due_date < self.today), ZERO)
            credits = sum((inv.open_amount for inv in rows
                           if inv.kind == "credit_note" and inv.open_amount > 0), ZERO)
            gate = self.gate(customer, plan, overdue - credits, pre_due_only=False)
            if gate.reason:
                return f"due but held today ({currency}): {gate.reason}"
        return "due but held today"


def plan(ledger: Ledger, config: Config, today: date) -> list[Action]:
    """Every action due today, highest priority first (DESIGN §5)."""
    check_manual_plans(ledger, config)
    return Planner(ledger, config, today).run()


def record(action: Action, today: date) -> Reminder:
    """The journal entry for an executed action: its invoices' done steps become their reached steps."""
    return Reminder(
        customer_id=action.customer_id,
        date=today,
        plan=action.plan,
        channel=action.channel,
        key=action.key,
        invoices=tuple(ReminderLine(i.id, i.step) for i in action.invoices),
    )
