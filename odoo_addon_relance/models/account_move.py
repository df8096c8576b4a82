from odoo import api, fields, models
from odoo.tools import SQL


class AccountMove(models.Model):
    _inherit = "account.move"

    relance_line_ids = fields.One2many("relance.action.line", "move_id", string="Reminders")
    # Read from the journal rather than stored on the invoice: a run journals
    # thousands of invoices, and each UPDATE of account_move rewrites its many indexes.
    relance_level = fields.Integer(
        string="Reminder level",
        compute="_compute_relance_level",
        search="_search_relance_level",
        help="The highest plan step already sent for this invoice.",
    )
    relance_level_date = fields.Date(string="Last reminder", compute="_compute_relance_level")
    relance_next_step = fields.Char(string="Next reminder", compute="_compute_relance_next")
    relance_next_date = fields.Date(string="Next reminder on", compute="_compute_relance_next")
    relance_dispute_ids = fields.One2many("relance.dispute", "move_id", string="Disputes")
    relance_dispute_open = fields.Boolean(
        string="In dispute", compute="_compute_relance_dispute", store=True, index=True
    )
    relance_dispute_reason_id = fields.Many2one(
        "relance.dispute.reason", string="Dispute reason", compute="_compute_relance_dispute_reason"
    )
    relance_promise_date = fields.Date(
        string="Promise to pay",
        copy=False,
        help="The customer promised to pay this invoice by this date: no reminder until then.",
    )
    relance_escalated_manual = fields.Boolean(
        string="Escalated by hand", copy=False, help="Handed over to collection by a user."
    )
    relance_escalated = fields.Boolean(
        string="Escalated",
        compute="_compute_relance_escalated",
        inverse="_inverse_relance_escalated",
        search="_search_relance_escalated",
        help="Handed over to collection (by a user, or by an escalation step of a run): "
        "no more reminders.",
    )
    relance_factored = fields.Boolean(
        string="Factored", copy=False, help="Sold to a factor, who collects it: never reminded."
    )

    def _journal_summary(self):
        """Per move: (highest step, last date, escalated by a run), in one query."""
        summary = {}
        if self.ids:
            self.env["relance.action.line"].flush_model()
            self.env["relance.action"].flush_model()
            self.env.cr.execute(
                SQL(
                    """
                    SELECT l.move_id, MAX(l.step), MAX(a.date),
                           BOOL_OR(a.channel = 'escalation' AND a.state != 'skipped')
                      FROM relance_action_line l
                      JOIN relance_action a ON a.id = l.action_id
                     WHERE l.move_id = ANY(%s)
                     GROUP BY l.move_id
                    """,
                    self.ids,
                )
            )
            summary = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        return summary

    @api.depends("relance_line_ids")
    def _compute_relance_level(self):
        summary = self._journal_summary()
        for move in self:
            level, day, _escalated = summary.get(move.id, (0, False, False))
            move.relance_level, move.relance_level_date = level, day

    def _search_relance_level(self, operator, value):
        if operator not in ("=", "!=", ">", ">=", "<", "<=") or not isinstance(value, int):
            return NotImplemented
        self.env.cr.execute(
            SQL("SELECT move_id FROM relance_action_line GROUP BY move_id HAVING MAX(step) > 0")
        )
        reminded = [row[0] for row in self.env.cr.fetchall()]
        # Only "reminded" (> 0) and "never reminded" (= 0) are asked by the views.
        positive = (operator, value) in ((">", 0), (">=", 1), ("!=", 0))
        return [("id", "in" if positive else "not in", reminded)]

    @api.depends("relance_escalated_manual", "relance_line_ids")
    def _compute_relance_escalated(self):
        summary = self._journal_summary()
        for move in self:
            by_run = summary.get(move.id, (0, False, False))[2]
            move.relance_escalated = move.relance_escalated_manual or bool(by_run)

    def _inverse_relance_escalated(self):
        for move in self:
            move.relance_escalated_manual = move.relance_escalated

    def _search_relance_escalated(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            return NotImplemented
        self.env.cr.execute(
            SQL(
                """
                SELECT l.move_id FROM relance_action_line l
                  JOIN relance_action a ON a.id = l.action_id
                 WHERE a.channel = 'escalation' AND a.state != 'skipped'
                """
            )
        )
        by_run = [row[0] for row in self.env.cr.fetchall()]
        domain = ["|", ("relance_escalated_manual", "=", True), ("id", "in", by_run)]
        return domain if (operator == "=") == value else ["!", *domain]

    @api.depends("relance_dispute_ids.closed")
    def _compute_relance_dispute(self):
        for move in self:
            move.relance_dispute_open = any(not d.closed for d in move.relance_dispute_ids)

    @api.depends("relance_dispute_ids.closed", "relance_dispute_ids.reason_id")
    def _compute_relance_dispute_reason(self):
        for move in self:
            open_disputes = move.relance_dispute_ids.filtered(lambda d: not d.closed)
            move.relance_dispute_reason_id = open_disputes[:1].reason_id

    @api.depends_context("company")
    def _compute_relance_next(self):
        """Next step and its date, from core's plan for the customer (as of today)."""
        service = self.env["relance.service"].sudo()
        values = {}
        receivables = self.filtered(
            lambda m: m.state == "posted" and m.move_type in ("out_invoice", "out_receipt")
        )
        for company in receivables.company_id:
            moves = receivables.filtered(lambda m, c=company: m.company_id == c)
            today = service._today(company)
            _ledger, planner, state = service._customer_state(
                company, moves.commercial_partner_id, today
            )
            config = planner.config
            for move in moves:
                found = state.get(move.commercial_partner_id.id)
                if not found or not found[0].plan or move.payment_state in ("paid", "in_payment"):
                    continue
                plan = config.plans[found[0].plan]
                done = planner.index.done_step(str(move.id), plan.name)
                if done >= len(plan.steps):
                    continue
                step = plan.steps[done]
                due = move.invoice_date_due or move.date
                values[move.id] = (
                    f"{done + 1} · {step.channel} ({step.template}) · {plan.name}",
                    fields.Date.add(due, days=step.offset),
                )
        for move in self:
            move.relance_next_step, move.relance_next_date = values.get(move.id, (False, False))

    def write(self, vals):
        result = super().write(vals)
        if vals.get("relance_promise_date"):
            for move in self:
                body = self.env._(
                    "Promise to pay recorded for %(invoice)s: no reminder until %(date)s.",
                    invoice=move.name,
                    date=move.relance_promise_date,
                )
                move.message_post(body=body, subtype_xmlid="mail.mt_note")
                move.commercial_partner_id.message_post(body=body, subtype_xmlid="mail.mt_note")
        return result

    def action_relance_dispute(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": "relance.dispute.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"active_model": "account.move", "active_ids": self.ids},
        }
