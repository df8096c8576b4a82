import json

from odoo import api, fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    relance_plan_id = fields.Many2one(
        "relance.plan",
        string="Reminder plan (manual)",
        help="Overrides the segment rules: this customer follows this plan.",
    )
    relance_excluded = fields.Boolean(
        string="Excluded from reminders", help="This customer never gets a reminder."
    )
    relance_contact_id = fields.Many2one(
        "res.partner",
        string="Collection contact",
        domain="[('commercial_partner_id', '=', commercial_partner_id), ('id', '!=', id)]",
        help="The contact of this company who receives the reminders.",
    )
    relance_collector_id = fields.Many2one(
        "res.users",
        string="Collector",
        help="Who calls and follows up this customer (default: the salesperson).",
    )
    relance_promise_date = fields.Date(
        string="Promise to pay (customer)",
        help="The customer promised to pay everything by this date: no reminder until then.",
    )
    relance_action_ids = fields.One2many("relance.action", "partner_id", string="Reminders sent")
    relance_dispute_ids = fields.One2many("relance.dispute", "partner_id", string="Disputes")
    relance_segment = fields.Char(string="Segment", compute="_compute_relance_state")
    relance_segment_explanation = fields.Text(
        string="Why this segment", compute="_compute_relance_state"
    )
    relance_plan_code = fields.Char(string="Plan followed", compute="_compute_relance_state")
    relance_outstanding = fields.Float(
        string="Outstanding", digits="Account", compute="_compute_relance_state"
    )
    relance_overdue = fields.Float(
        string="Overdue", digits="Account", compute="_compute_relance_state"
    )
    relance_max_days_overdue = fields.Integer(
        string="Max days overdue", compute="_compute_relance_state"
    )
    relance_avg_days_late = fields.Float(
        string="Average days late", digits=(16, 1), compute="_compute_relance_state"
    )
    relance_dso = fields.Float(
        string="DSO (days)", digits=(16, 1), compute="_compute_relance_state"
    )
    relance_open_disputes = fields.Integer(string="Open disputes", compute="_compute_relance_state")
    relance_action_count = fields.Integer(compute="_compute_relance_action_count")

    @api.depends_context("company")
    def _compute_relance_state(self):
        """Segment and metrics as core computes them today, for the current company."""
        company = self.env.company
        service = self.env["relance.service"]
        commercial = self.mapped("commercial_partner_id").filtered("id")
        state = {}
        if commercial:
            today = service._today(company)
            _ledger, _planner, state = service.sudo()._customer_state(company, commercial, today)
        for partner in self:
            found = state.get(partner.commercial_partner_id.id)
            if found is None:
                partner.update(
                    {
                        "relance_segment": False,
                        "relance_segment_explanation": False,
                        "relance_plan_code": False,
                        "relance_outstanding": 0.0,
                        "relance_overdue": 0.0,
                        "relance_max_days_overdue": 0,
                        "relance_avg_days_late": 0.0,
                        "relance_dso": 0.0,
                        "relance_open_disputes": 0,
                    }
                )
                continue
            assignment, metrics = found
            partner.update(
                {
                    "relance_segment": assignment.segment or False,
                    "relance_segment_explanation": json.dumps(
                        assignment.explanation, indent=2, ensure_ascii=False
                    ),
                    "relance_plan_code": assignment.plan or False,
                    "relance_outstanding": float(metrics["outstanding"]),
                    "relance_overdue": float(metrics["overdue_amount"]),
                    "relance_max_days_overdue": int(metrics["max_days_overdue"]),
                    "relance_avg_days_late": float(metrics["avg_days_late"]),
                    "relance_dso": float(metrics["dso"]),
                    "relance_open_disputes": int(metrics["open_disputes"]),
                }
            )

    @api.depends("relance_action_ids")
    def _compute_relance_action_count(self):
        counts = {
            partner.id: count
            for partner, count in self.env["relance.action"]._read_group(
                [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
            )
        }
        for partner in self:
            partner.relance_action_count = counts.get(partner.id, 0)

    def write(self, vals):
        result = super().write(vals)
        if vals.get("relance_promise_date"):
            for partner in self:
                partner.message_post(
                    body=self.env._(
                        "Promise to pay recorded: no reminder until %(date)s.",
                        date=partner.relance_promise_date,
                    ),
                    subtype_xmlid="mail.mt_note",
                )
        return result

    def action_relance_history(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "odoo_addon_relance.action_relance_action"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        return action
