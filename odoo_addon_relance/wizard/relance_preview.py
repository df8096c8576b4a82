import json

from odoo import api, fields, models

from ..models.relance_plan import CHANNEL_SELECTION


class RelancePreview(models.TransientModel):
    """Dry run: every action that would go out today, with its explanation."""

    _name = "relance.preview"
    _description = "Reminders preview (dry run)"

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    date = fields.Date(required=True, default=fields.Date.context_today)
    line_ids = fields.One2many("relance.preview.line", "preview_id", readonly=True)
    action_count = fields.Integer(compute="_compute_action_count")

    @api.depends("line_ids")
    def _compute_action_count(self):
        for preview in self:
            preview.action_count = len(preview.line_ids)

    @api.model_create_multi
    def create(self, vals_list):
        previews = super().create(vals_list)
        for preview in previews:
            preview._fill()
        return previews

    def _fill(self):
        self.ensure_one()
        service = self.env["relance.service"]
        service._check_run_rights(self.company_id)
        _ledger, _config, _plans, _planner, actions = service.sudo()._plan(
            self.company_id, self.date
        )
        numbers = dict(
            self.env["account.move"]
            .sudo()
            .browse({int(i.id) for a in actions for i in a.invoices})
            .mapped(lambda m: (m.id, m.name))
        )
        self.line_ids = [
            (
                0,
                0,
                {
                    "partner_id": int(action.customer_id),
                    "plan": action.plan,
                    "segment": action.segment,
                    "step": action.step,
                    "channel": action.channel,
                    "template": action.template,
                    "key": action.key,
                    "currency": action.currency,
                    "overdue_amount": float(action.overdue_amount),
                    "net_due": float(action.net_due),
                    "priority": float(action.priority),
                    "invoices": ", ".join(
                        f"{numbers.get(int(i.id), i.number)} ({self.env._('step')} {i.step}, "
                        f"{i.days_overdue} d)"
                        for i in action.invoices
                    ),
                    "explanation": json.dumps(
                        action.explanation, indent=2, ensure_ascii=False, default=str
                    ),
                },
            )
            for action in actions
        ]

    def action_refresh(self):
        self.line_ids.unlink()
        self._fill()
        return self._reopen()

    def action_run(self):
        self.ensure_one()
        return self.company_id.action_relance_run_now()

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }


class RelancePreviewLine(models.TransientModel):
    _name = "relance.preview.line"
    _description = "Reminder that would go out"
    _order = "priority desc, id"

    preview_id = fields.Many2one("relance.preview", required=True, ondelete="cascade")
    partner_id = fields.Many2one("res.partner", string="Customer")
    plan = fields.Char()
    segment = fields.Char()
    step = fields.Integer()
    channel = fields.Selection(CHANNEL_SELECTION)
    template = fields.Char(string="Text")
    key = fields.Char()
    currency = fields.Char()
    overdue_amount = fields.Float(digits="Account")
    net_due = fields.Float(string="Net due", digits="Account")
    priority = fields.Float(digits=(16, 2))
    invoices = fields.Char()
    explanation = fields.Text()
