from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    relance_default_plan_id = fields.Many2one(
        related="company_id.relance_default_plan_id", readonly=False
    )
    relance_interest_mode = fields.Selection(
        related="company_id.relance_interest_mode", readonly=False
    )
    relance_ecb_rate = fields.Float(related="company_id.relance_ecb_rate", readonly=False)
    relance_late_interest_rate = fields.Float(
        related="company_id.relance_late_interest_rate", readonly=False
    )
    relance_email_from = fields.Char(related="company_id.relance_email_from", readonly=False)
    relance_notice_deadline_days = fields.Integer(
        related="company_id.relance_notice_deadline_days", readonly=False
    )
