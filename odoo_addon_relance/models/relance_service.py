"""The single service that turns Odoo records into a core Ledger and core's actions back
into records (STYLE.md, "Relance's shape").  Every rule lives in core; this model only
reads (set-based SQL), calls core and executes."""

import io
import json
import logging
import time
from datetime import timedelta

from markupsafe import escape
from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from core.collector import collector_paused
from core.engine import Planner, journal_needed_from
from core.errors import InputError
from core.metrics import compute_kpis, customer_metrics
from core.serialize import jsonable
from core.texts import Sender, TemplateError, reads_history, render_action

from .. import bulk, mapping

_logger = logging.getLogger(__name__)

HISTORY_DAYS = 365
DOCUMENT_CHANNELS = ("letter", "formal_notice")
REPORTS = {
    "letter": "odoo_addon_relance.action_report_relance_letter",
    "formal_notice": "odoo_addon_relance.action_report_relance_formal_notice",
}


def _int_array(ids):
    """Ids as one PostgreSQL array literal: a Python list becomes ``ARRAY[1, 2, ...]``,
    which the server parses element by element (13-27 ms for 10,000 ids, against 5)."""
    return SQL("%s::int4[]", "{" + ",".join(str(int(i)) for i in ids) + "}")


class RelanceService(models.AbstractModel):
    _name = "relance.service"
    _description = "Relance: ledger builder and executor"

    # ------------------------------------------------------------------ access

    def _check_run_rights(self, company):
        if self.env.su:
            return
        if not self.env.user.has_group("odoo_addon_relance.group_relance_user"):
            raise AccessError(self.env._("Only Relances users can plan or run reminders."))
        if company not in self.env.user.company_ids:
            raise AccessError(
                self.env._("You have no access to company %(company)s.", company=company.name)
            )

    # ------------------------------------------------------------------ reading

    def _invoice_rows(self, company, today, partner_ids=None):
        """Posted receivable entries that are open, or fully paid in the last year."""
        year_ago = today - timedelta(days=HISTORY_DAYS)
        partner_filter = (
            SQL(
                "AND l.move_id IN (SELECT id FROM account_move"
                " WHERE commercial_partner_id = ANY(%s))",
                list(partner_ids),
            )
            if partner_ids is not None
            else SQL()
        )
        self.env["account.move.line"].flush_model()
        self.env["account.move"].flush_model()
        self.env["account.partial.reconcile"].flush_model()
        self.env["res.partner"].flush_model(["relance_promise_date"])
        self.env["relance.action"].flush_model()
        self.env["relance.action.line"].flush_model()
        # The receivable accounts by id rather than through a join on their type: then
        # PostgreSQL estimates the lines from its statistics and hash-joins them to the
        # invoices (with the join it expected a few hundred rows, and looped over an
        # index ten thousand times).
        receivable = SQL(
            """
                l.company_id = %(company)s
            AND l.parent_state = 'posted'
            AND l.account_id = ANY(ARRAY(
                    SELECT id FROM account_account WHERE account_type = 'asset_receivable'))
            %(partner_filter)s
            """,
            company=company.id,
            partner_filter=partner_filter,
        )
        query = SQL(
            """
            WITH moves AS (
                SELECT l.move_id,
                       SUM(l.amount_currency) AS balance,
                       SUM(l.amount_residual_currency) AS residual,
                       COALESCE(MIN(l.date_maturity) FILTER (WHERE NOT l.reconciled),
                                MAX(l.date_maturity)) AS due_date,
                       BOOL_AND(l.reconciled) AS closed
                  FROM account_move_line l
                 WHERE %(receivable)s
                 GROUP BY l.move_id
            ),
            paid AS (
                SELECT move_id, MAX(max_date) AS paid_date
                  FROM (SELECT l.move_id, apr.max_date
                          FROM account_move_line l
                          JOIN account_partial_reconcile apr ON apr.debit_move_id = l.id
                         WHERE %(receivable)s
                        UNION ALL
                        SELECT l.move_id, apr.max_date
                          FROM account_move_line l
                          JOIN account_partial_reconcile apr ON apr.credit_move_id = l.id
                         WHERE %(receivable)s
                       ) AS partials
                 GROUP BY move_id
            )
            SELECT mv.move_id, m.commercial_partner_id AS partner_id, m.name, m.date,
                   m.invoice_date, mv.due_date, mv.balance, mv.residual,
                   cur.name AS currency, paid.paid_date,
                   GREATEST(m.relance_promise_date, p.relance_promise_date) AS promise_date,
                   m.relance_escalated_manual AS escalated,
                   m.relance_factored AS factored, mv.closed
              FROM moves mv
              JOIN account_move m ON m.id = mv.move_id
              JOIN res_partner p ON p.id = m.commercial_partner_id
              JOIN res_currency cur ON cur.id = m.currency_id
              LEFT JOIN paid ON paid.move_id = mv.move_id
             WHERE NOT mv.closed OR paid.paid_date > %(year_ago)s
             ORDER BY m.commercial_partner_id, mv.move_id
            """,
            receivable=receivable,
            year_ago=year_ago,
        )
        self.env.cr.execute(query)
        rows = self.env.cr.dictfetchall()
        # A journaled escalation marks its invoices escalated (account.move.relance_escalated).
        escalated = self._escalated_moves(company, [row["move_id"] for row in rows])
        for row in rows:
            row["escalated"] = row["escalated"] or row["move_id"] in escalated
        return rows

    def _escalated_moves(self, company, move_ids):
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT l.move_id
                  FROM relance_action_line l
                  JOIN relance_action a ON a.id = l.action_id
                 WHERE a.company_id = %s AND a.channel = 'escalation' AND a.state != 'skipped'
                   AND l.move_id = ANY(%s)
                """,
                company.id,
                _int_array(move_ids),
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def _customer_rows(self, company, partner_ids):
        partners = (
            self.env["res.partner"]
            .sudo()
            .with_company(company)
            .with_context(lang="en_US", active_test=False)
            .browse(partner_ids)
        )
        # Only the fields read below: a partner's prefetch reads every column, and
        # its computed and company-dependent fields cost a subquery each.
        partners.fetch(
            ["name", "is_company", "email", "relance_contact_id", "phone", "mobile", "lang",
             "category_id", "relance_excluded", "relance_plan_id", "credit_limit",
             "create_date"]
        )  # fmt: skip
        partners.relance_contact_id.fetch(["email"])
        partners.category_id.fetch(["name"])
        plan_codes = {p.id: p.code for p in self._plans(company)}
        rows = []
        for partner in partners:
            rows.append(
                {
                    "id": partner.id,
                    "name": partner.name,
                    "is_company": partner.is_company,
                    "email": partner.email,
                    "collection_email": partner.relance_contact_id.email,
                    "phone": partner.phone,
                    "mobile": partner.mobile,
                    "lang": partner.lang,
                    "tags": partner.category_id.mapped("name"),
                    "excluded": partner.relance_excluded,
                    "plan_code": plan_codes.get(partner.relance_plan_id.id),
                    "credit_limit": partner.credit_limit,
                    "create_date": partner.create_date,
                }
            )
        return rows

    def _dispute_rows(self, move_ids):
        disputes = (
            self.env["relance.dispute"]
            .sudo()
            .with_context(lang="en_US")
            .search_read(
                [("move_id", "in", move_ids)],
                ["move_id", "reason_id", "note", "opened", "closed"],
            )
        )
        return [
            {
                "id": d["id"],
                "move_id": d["move_id"][0],
                "reason": d["reason_id"][1] if d["reason_id"] else "",
                "note": d["note"],
                "opened": d["opened"],
                "closed": d["closed"] or None,
            }
            for d in disputes
        ]

    def _journal_rows(self, company, partner_ids=None, where=None):
        """The journal as the tuples mapping.reminders_from_rows reads, one per action
        and invoice; ``where`` narrows the actions."""
        self.env["relance.action"].flush_model()
        self.env["relance.action.line"].flush_model()
        partner_filter = (
            SQL("AND a.partner_id = ANY(%s)", list(partner_ids))
            if partner_ids is not None
            else SQL()
        )
        self.env.cr.execute(
            SQL(
                """
                SELECT a.key, a.partner_id, a.date, a.plan, a.channel, l.move_id, l.step
                  FROM relance_action a
                  LEFT JOIN relance_action_line l ON l.action_id = a.id
                 WHERE a.company_id = %s %s %s
                 ORDER BY a.id
                """,
                company.id,
                partner_filter,
                SQL("AND %s", where) if where is not None else SQL(),
            )
        )
        return self.env.cr.fetchall()

    def _build_ledger(self, company, today, partner_ids=None, journal_from=None):
        """The core ledger of the company on ``today``.  With ``journal_from``
        (core.engine.journal_needed_from), only the journal planning reads: the
        actions from that day on and those naming an invoice still open.  The rest,
        reminders about invoices since paid, changes no plan and is most of a
        journal that has run for months; the KPIs, the export and a customer's
        state read all of it."""
        invoices = self._invoice_rows(company, today, partner_ids)
        partners = list(dict.fromkeys(row["partner_id"] for row in invoices))
        where = None
        if journal_from is not None:
            # One set of ids (a union), not ``date >= x OR id IN (...)``: under an
            # OR, PostgreSQL may run the subquery once per action.
            where = SQL(
                "a.id IN (SELECT id FROM relance_action WHERE company_id = %s AND date >= %s"
                " UNION SELECT action_id FROM relance_action_line WHERE move_id = ANY(%s))",
                company.id,
                journal_from,
                _int_array(row["move_id"] for row in invoices if not row["closed"]),
            )
        return mapping.build_ledger(
            currency=company.currency_id.name,
            customers=self._customer_rows(company, partners),
            invoices=invoices,
            disputes=self._dispute_rows([row["move_id"] for row in invoices]),
            journal=self._journal_rows(company, partner_ids, where),
        )

    # ------------------------------------------------------------------ configuration

    def _plans(self, company):
        return (
            self.env["relance.plan"]
            .sudo()
            .search([("company_id", "in", (False, company.id))], order="sequence, id")
        )

    def _segments(self, company):
        return (
            self.env["relance.segment"]
            .sudo()
            .search([("company_id", "in", (False, company.id))], order="sequence, id")
        )

    def _build_config(self, company):
        plans = self._plans(company)
        # A company's own plan wins over a shared plan with the same code.
        by_code = {}
        for plan in plans.sorted(lambda p: bool(p.company_id)):
            by_code[plan.code] = plan
        rules = [(s.name, s.condition, s.plan_id.code) for s in self._segments(company)]
        default = company.relance_default_plan_id
        if default:
            rules.append(("default", "true", default.code))
        partner = company.partner_id
        settings = mapping.SettingsRow(
            ecb_rate=company.relance_ecb_rate
            if company.relance_interest_mode == "ecb_manual"
            else None,
            late_interest_rate=company.relance_late_interest_rate
            if company.relance_interest_mode == "contract"
            else None,
            language=partner.lang or self.env.lang,
            payment_deadline_days=company.relance_notice_deadline_days,
            sender={
                "name": company.name or "",
                "email": company.relance_email_from or company.email or "",
                "phone": company.phone or "",
                "address": ", ".join(
                    part
                    for part in (
                        partner.street,
                        " ".join(x for x in (partner.zip, partner.city) if x),
                    )
                    if part
                ),
                "iban": partner.bank_ids[:1].acc_number or "",
            },
        )
        try:
            return mapping.build_config(
                [p._core_row() for p in by_code.values()], rules, settings
            ), by_code
        except InputError as error:
            raise UserError(self.env._("Relances configuration problem: %s", error)) from error

    # ------------------------------------------------------------------ planning

    def _today(self, company, today=None):
        if today:
            return fields.Date.to_date(today)
        tz = company.partner_id.tz or self.env.user.tz or "Europe/Paris"
        return fields.Date.context_today(self.with_context(tz=tz))

    def _plan(self, company, today, partner_ids=None):
        """(ledger, config, plans by code, planner, actions) for one company and day."""
        config, plans = self._build_config(company)
        journal_from = journal_needed_from(config, today)
        ledger = self._build_ledger(company, today, partner_ids, journal_from)
        planner = Planner(ledger, config, today)
        return ledger, config, plans, planner, planner.run()

    def _kpis(self, company, today):
        # The whole journal and a year of paid invoices: as in a run, the cyclic
        # collector would walk the new objects again and again for nothing.
        with collector_paused():
            ledger = self._build_ledger(company, today)
            config, _plans = self._build_config(company)
            planner = Planner(ledger, config, today)
            return ledger, compute_kpis(ledger, today, planner.journal_segments())

    def _customer_state(self, company, partners, today):
        """Per partner id: (segment, explanation, metrics), computed by core."""
        ledger = self._build_ledger(company, today, partners.ids)
        config, _plans = self._build_config(company)
        planner = Planner(ledger, config, today)
        result = {}
        for customer in ledger.customers:
            assignment = planner.segment(customer)
            metrics = customer_metrics(customer, planner.index.history(customer.id), today)
            result[int(customer.id)] = (assignment, metrics)
        return ledger, planner, result

    # ------------------------------------------------------------------ running

    def _run(self, company, today=None, dry_run=False):
        self._check_run_rights(company)
        today = self._today(company, today)
        # A run allocates hundreds of thousands of short-lived objects (rows, texts,
        # values) in a process whose heap holds the whole registry: the cyclic
        # collector would walk that heap again and again for nothing.  Reference
        # counting frees everything as usual; the collector resumes after the run.
        with collector_paused():
            return self.sudo()._run_paused(company, today, dry_run)

    def _run_paused(self, company, today, dry_run):
        started = time.monotonic()
        ledger, config, plans, _planner, actions = self._plan(company, today)
        planned = time.monotonic()
        counts = {}
        for action in actions:
            counts[action.channel] = counts.get(action.channel, 0) + 1
        result = {
            "company_id": company.id,
            "today": today.isoformat(),
            "dry_run": bool(dry_run),
            "actions": len(actions),
            "by_channel": counts,
            "keys": [action.key for action in actions],
        }
        if dry_run or not actions:
            return result
        texts = self._render_texts(company, config, ledger, actions, today)
        rendered = time.monotonic()
        records = self._journal(company, today, plans, actions, texts)
        journaled = time.monotonic()
        result["skipped"] = self._execute(company, records, actions)
        executed = time.monotonic()
        company.sudo().write({"relance_last_run": today, "relance_kpi_pending": True})
        # The day's KPI snapshot is a job of its own, started right after this
        # transaction: reporting does not hold up the reminders (nor their lock).
        self.env.ref("odoo_addon_relance.ir_cron_relance_kpis")._trigger()
        _logger.info(
            "Relances: %s on %s: %d action(s) planned in %.2fs, texts in %.2fs, "
            "journaled in %.2fs, executed in %.2fs",
            company.name, today, len(actions), planned - started, rendered - planned,
            journaled - rendered, executed - journaled,
        )  # fmt: skip
        return result

    def _texts(self, sender, customer, action, today, history):
        try:
            return render_action(action, customer, sender, today, history=history)
        except TemplateError as error:
            raise UserError(self.env._("Relances text problem: %s", error)) from error

    def _text_history(self, company, config, ledger, actions, today):
        """The reminders the texts may list: the planning ledger's and, for the
        customers whose text lists their history (the escalation note), the older
        ones its journal window left out."""
        partner_ids = sorted(
            {int(action.customer_id) for action in actions if reads_history(action.template)}
        )
        if not partner_ids:
            return ledger.reminders
        # Their actions from before the window that name no open invoice (those that
        # do are in the ledger already).  The ledger's open invoices are a subset of
        # the window's: what both hold is dropped by key below.
        open_moves = _int_array(i.id for i in ledger.invoices if i.open_amount > 0)
        before = SQL(
            "a.date < %s AND NOT EXISTS (SELECT 1 FROM relance_action_line o"
            " WHERE o.action_id = a.id AND o.move_id = ANY(%s))",
            journal_needed_from(config, today),
            open_moves,
        )
        loaded = {reminder.key for reminder in ledger.reminders}
        older = mapping.reminders_from_rows(self._journal_rows(company, partner_ids, before))
        return [*ledger.reminders, *(r for r in older if r.key not in loaded)]

    def _render_texts(self, company, config, ledger, actions, today):
        """Each action's text, rendered by core in the customer's language."""
        customers = {c.id: c for c in ledger.customers}
        history = {}
        for reminder in self._text_history(company, config, ledger, actions, today):
            history.setdefault(reminder.customer_id, []).append(reminder)
        sender = Sender(**{**config.sender, "language": config.company_language})
        return [
            self._texts(sender, customers[a.customer_id], a, today, history.get(a.customer_id, ()))
            for a in actions
        ]

    def _journal(self, company, today, plans, actions, texts):
        """Write every action to the journal in one batch, before anything goes out."""
        currencies = {
            c.name: c.id
            for c in self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "in", list({a.currency for a in actions}))])
        }
        rows = []
        for action, text in zip(actions, texts, strict=True):
            rows.append(
                (
                    company.id,
                    int(action.customer_id),
                    today,
                    action.key,
                    action.plan,
                    plans[action.plan].id,
                    action.segment or None,
                    action.step,
                    action.channel,
                    action.template or None,
                    "queued" if action.channel in DOCUMENT_CHANNELS else "done",
                    currencies.get(action.currency),
                    action.overdue_amount,
                    action.net_due,
                    action.total_interest,
                    action.total_indemnity,
                    action.interest_rate * 100 if action.interest_rate is not None else 0,
                    today + timedelta(days=action.payment_deadline_days)
                    if action.payment_deadline_days
                    else None,
                    action.priority,
                    text.subject or None,
                    text.body or None,
                    text.language or None,
                    # jsonable only where json cannot go itself (amounts, dates):
                    # one pass over the explanation instead of a copy and a dump.
                    json.dumps(action.explanation, default=jsonable),
                )
            )
        return self._insert_journal(company, actions, rows)

    # Columns written by the journal's bulk insert, in the order of _journal's rows.
    _ACTION_COLUMNS = (
        "company_id", "partner_id", "date", "key", "plan", "plan_id", "segment", "step",
        "channel", "template", "state", "currency_id", "overdue_amount", "net_due",
        "total_interest", "total_indemnity", "interest_rate", "payment_deadline", "priority",
        "subject", "body", "language", "explanation",
    )  # fmt: skip
    _LINE_COLUMNS = (
        "action_id", "move_id", "step", "days_overdue", "open_amount", "interest", "indemnity",
    )  # fmt: skip

    def _copy_rows(self, model, columns, rows):
        """Many new records of ``model`` in one COPY (the ORM's create costs
        milliseconds per record, and a run journals thousands).  ``rows`` hold the
        values as the database stores them: None for no value."""
        if not rows:
            return
        records = self.env[model]
        if records._log_access:
            now, uid = fields.Datetime.now(), self.env.uid
            columns = (*columns, "create_uid", "create_date", "write_uid", "write_date")
            rows = [(*row, uid, now, uid, now) for row in rows]
        statement = SQL(
            "COPY %s (%s) FROM STDIN",
            SQL.identifier(records._table),
            SQL(", ").join(SQL.identifier(name) for name in columns),
        )
        self.env.cr.copy_expert(statement.code, io.StringIO(bulk.copy_text(rows)))

    def _insert_journal(self, company, actions, rows):
        """Write the journal: actions and their invoice lines.  Each invoice's reminder
        level and escalation are read from these lines (see account.move)."""
        self._copy_rows("relance.action", self._ACTION_COLUMNS, rows)
        # The ids by key (unique per company): no reliance on the order rows come back.
        self.env.cr.execute(
            SQL(
                "SELECT key, id FROM relance_action WHERE company_id = %s AND key = ANY(%s)",
                company.id,
                [action.key for action in actions],
            )
        )
        id_of = dict(self.env.cr.fetchall())
        action_ids = [id_of[action.key] for action in actions]
        self._copy_rows(
            "relance.action.line",
            self._LINE_COLUMNS,
            [
                (
                    action_id,
                    int(inv.id),
                    inv.step,
                    inv.days_overdue,
                    inv.open_amount,
                    inv.interest or 0,
                    inv.indemnity or 0,
                )
                for action_id, action in zip(action_ids, actions, strict=True)
                for inv in action.invoices
            ],
        )
        self.env["relance.action"].invalidate_model()
        self.env["relance.action.line"].invalidate_model()
        self.env["account.move"].invalidate_model(
            ["relance_level", "relance_level_date", "relance_line_ids", "relance_escalated"]
        )
        self.env["res.partner"].invalidate_model(["relance_action_ids"])
        return self.env["relance.action"].browse(action_ids)

    def _execute(self, company, records, actions):
        """Each channel, for all its actions at once.  Returns the number skipped."""
        # What the channels read, in one query: the explanation (JSON, decoded per
        # row) and the amounts are not needed again.
        records.fetch(
            ["channel", "partner_id", "plan_id", "step", "date", "state", "subject", "body",
             "overdue_amount", "currency_id", "company_id"]
        )  # fmt: skip
        by_channel = {}
        for record in records:
            by_channel.setdefault(record.channel, self.env["relance.action"])
            by_channel[record.channel] |= record
        for channel, group in by_channel.items():
            getattr(self, f"_execute_{channel}")(company, group)
        return len(records.filtered(lambda r: r.state == "skipped"))

    def _skip(self, records, reason):
        if records:
            _logger.info(
                "Relances: %d %s reminder(s) skipped: %s",
                len(records),
                records[0].channel,
                reason,
            )
            records.write({"state": "skipped", "skip_reason": reason})

    def _recipients(self, records):
        """Per action, the partner that receives it: the collection contact if any."""
        return {r.id: r.partner_id.relance_contact_id or r.partner_id for r in records}

    def _execute_email(self, company, records):
        recipients = self._recipients(records)
        no_address = records.filtered(lambda r: not recipients[r.id].email)
        self._skip(no_address, self.env._("no email address"))
        records -= no_address
        default = self.env.ref("odoo_addon_relance.mail_template_relance_reminder")
        steps = self._steps_of(records)
        by_template = {}
        for record in records:
            template = steps.get(record.id).mail_template_id if steps.get(record.id) else None
            template = template or default
            by_template.setdefault(template, self.env["relance.action"])
            by_template[template] |= record
        mail_vals = []
        order = []
        for template, group in by_template.items():
            values = template._generate_template(
                group.ids, ["subject", "body_html", "email_from", "reply_to"]
            )
            for record in group:
                rendered = values[record.id]
                recipient = recipients[record.id]
                mail_vals.append(
                    {
                        "subject": rendered.get("subject") or record.subject,
                        "body_html": rendered.get("body_html"),
                        "body": rendered.get("body_html"),
                        "email_from": rendered.get("email_from")
                        or company.relance_email_from
                        or company.email_formatted,
                        "reply_to": rendered.get("reply_to") or False,
                        "recipient_ids": [(4, recipient.id)],
                        "model": "res.partner",
                        "res_id": record.partner_id.id,
                        "record_name": record.partner_id.display_name,
                        "message_type": "email_outgoing",
                        "auto_delete": False,
                        "relance_action_id": record.id,
                    }
                )
                order.append(record)
        mails = self.env["mail.mail"].create(mail_vals)
        # One UPDATE for the whole batch: a write() per action costs milliseconds.
        self.env.cr.execute(
            SQL(
                "UPDATE relance_action AS a SET mail_id = v.mail_id, message_id = v.message_id"
                " FROM unnest(%s::int4[], %s::int4[], %s::int4[]) AS v(id, mail_id, message_id)"
                " WHERE a.id = v.id",
                [record.id for record in order],
                mails.ids,
                [mail.mail_message_id.id for mail in mails],
            )
        )
        records.invalidate_recordset(["mail_id", "message_id"])

    def _steps_of(self, records):
        steps = {}
        ordered = {}  # each plan's steps sorted once, not once per action
        for record in records:
            plan = record.plan_id
            if plan not in ordered:
                ordered[plan] = plan.step_ids.sorted(lambda s: (s.sequence, s.id))
            plan_steps = ordered[plan]
            if 0 < record.step <= len(plan_steps):
                steps[record.id] = plan_steps[record.step - 1]
        return steps

    def _execute_sms(self, company, records):
        if "sms.sms" not in self.env:
            self._skip(records, self.env._("the SMS module (sms) is not installed"))
            return
        recipients = self._recipients(records)
        no_number = records.filtered(
            lambda r: not (recipients[r.id].mobile or recipients[r.id].phone)
        )
        self._skip(no_number, self.env._("no phone number"))
        records -= no_number
        self.env["sms.sms"].create(
            [
                {
                    "number": recipients[r.id].mobile or recipients[r.id].phone,
                    "partner_id": recipients[r.id].id,
                    "body": r.body,
                    "state": "outgoing",
                }
                for r in records
            ]
        )

    def _responsible(self, record, company):
        partner = record.partner_id
        return partner.relance_collector_id or partner.user_id or self.env.user

    _ACTIVITY_COLUMNS = (
        "res_model_id", "res_model", "res_id", "res_name", "activity_type_id", "summary",
        "note", "date_deadline", "user_id", "user_tz", "automated", "active",
    )  # fmt: skip

    def _schedule(self, records, company, activity_xmlid, summary):
        """One activity per action on the customer, for its collector.  Written in one
        COPY: mail.activity's create() sanitizes and notifies record by record."""
        activity_type = self.env.ref(activity_xmlid)
        model_id = self.env["ir.model"]._get_id("res.partner")
        users = {record.id: self._responsible(record, company) for record in records}
        rows = [
            (
                model_id,
                "res.partner",
                record.partner_id.id,
                record.partner_id.display_name,
                activity_type.id,
                summary(record),
                str(escape(record.body or "")).replace("\n", "<br/>"),
                record.date,
                users[record.id].id,
                users[record.id].tz or None,
                True,
                True,
            )
            for record in records
        ]
        self._copy_rows("mail.activity", self._ACTIVITY_COLUMNS, rows)
        self.env["mail.activity"].invalidate_model()
        self.env["res.partner"].invalidate_model(["activity_ids"])
        by_user = {}
        for record in records:
            by_user.setdefault(users[record.id], self.env["relance.action"])
            by_user[users[record.id]] |= record
        for user, group in by_user.items():
            group.activity_user_id = user

    def _execute_phone(self, company, records):
        self._schedule(
            records,
            company,
            "mail.mail_activity_data_call",
            lambda r: self.env._("Reminder call: %(amount)s overdue", amount=r.overdue_amount),
        )

    def _execute_escalation(self, company, records):
        # The journaled escalation itself marks its invoices escalated (see
        # account.move.relance_escalated): nothing to write on thousands of invoices.
        self._schedule(
            records,
            company,
            "mail.mail_activity_data_todo",
            lambda r: self.env._(
                "Escalation: hand %(customer)s over to collection", customer=r.partner_id.name
            ),
        )

    def _execute_letter(self, company, records):
        """Letters and formal notices are rendered as PDF by a job right after the run."""
        self.env.ref("odoo_addon_relance.ir_cron_relance_documents")._trigger()

    _execute_formal_notice = _execute_letter

    def _render_documents(self, records):
        for record in records:
            report = self.env.ref(REPORTS[record.channel])
            content, _kind = self.env["ir.actions.report"]._render_qweb_pdf(report, [record.id])
            attachment = self.env["ir.attachment"].create(
                {
                    "name": f"{record.partner_id.name} - {record.subject or record.template}.pdf",
                    "raw": content,
                    "res_model": "res.partner",
                    "res_id": record.partner_id.id,
                    "mimetype": "application/pdf",
                }
            )
            message = record.partner_id.message_post(
                body=record.subject or record.template,
                attachment_ids=[attachment.id],
                subtype_xmlid="mail.mt_note",
            )
            record.write(
                {"state": "done", "attachment_id": attachment.id, "message_id": message.id}
            )

    # ------------------------------------------------------------------ export

    @api.model
    def _export(self, company, today):
        self._check_run_rights(company)
        ledger = self.sudo()._build_ledger(company, today)
        return mapping.ledger_document(ledger)
