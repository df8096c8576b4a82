from odoo import api, fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    relance_line_ids = fields.One2many("relance.action.line", "move_id", string="Reminders")
    relance_level = fields.Integer(
        string="Reminder level",
        compute="_compute_relance_level",
        store=True,
        help="The highest plan step already sent for this invoice.",
    )
    relance_level_date = fields.Date(
        string="Last reminder", compute="_compute_relance_level", store=True
    )
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
    relance_escalated = fields.Boolean(
        string="Escalated", copy=False, help="Handed over to collection: no more reminders."
    )
    relance_factored = fields.Boolean(
        string="Factored", copy=False, help="Sold to a factor, who collects it: never reminded."
    )

    @api.depends("relance_line_ids.step", "relance_line_ids.action_id.date")
    def _compute_relance_level(self):
        for move in self:
            lines = move.relance_line_ids
            move.relance_level = max(lines.mapped("step"), default=0)
            move.relance_level_date = max(lines.mapped("action_id.date"), default=False)

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
