from odoo import api, fields, models
from odoo.exceptions import ValidationError

from core.model import CHANNELS
from core.texts import template_ids

from .. import mapping

CHANNEL_SELECTION = [
    ("email", "Email"),
    ("sms", "SMS"),
    ("letter", "Letter"),
    ("phone", "Phone call"),
    ("formal_notice", "Formal notice"),
    ("escalation", "Escalation"),
]
assert [code for code, _label in CHANNEL_SELECTION] == list(CHANNELS)


def _template_selection(_model):
    return [(tid, tid.replace("_", " ").capitalize()) for tid in sorted(template_ids())]


class RelancePlan(models.Model):
    _name = "relance.plan"
    _description = "Reminder plan"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(
        required=True,
        help="Technical name of the plan: segment rules and the reminder journal refer "
        "to it, and core's shipped plans use the same names.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", index=True, help="Leave empty to share the plan between companies."
    )
    step_ids = fields.One2many("relance.plan.step", "plan_id", string="Steps", copy=True)
    min_amount = fields.Float(
        string="Minimum amount",
        digits="Account",
        help="Below this net overdue amount, the customer gets no reminder.",
    )
    cooldown_days = fields.Integer(
        default=5, help="Minimum number of days between two reminders to one customer."
    )
    business_days_only = fields.Boolean(
        default=True, help="No reminder on Saturdays, Sundays and French public holidays."
    )

    _sql_constraints = [
        ("code_company_uniq", "unique(code, company_id)", "A plan code must be unique."),
    ]

    def _core_row(self):
        self.ensure_one()
        steps = self.step_ids.sorted(lambda s: (s.sequence, s.id))
        return mapping.PlanRow(
            code=self.code,
            steps=[
                {
                    "offset": s.offset,
                    "channel": s.channel,
                    "template": s.template,
                    "min_amount": s.min_amount or None,
                }
                for s in steps
            ],
            min_amount=self.min_amount,
            cooldown_days=self.cooldown_days,
            business_days_only=self.business_days_only,
        )

    @api.constrains("code", "min_amount", "cooldown_days", "step_ids")
    def _check_core_rules(self):
        for plan in self:
            problems = mapping.plan_problems(plan._core_row())
            if problems:
                raise ValidationError(self.env._("This plan is not valid: %s", problems[0]))


class RelancePlanStep(models.Model):
    _name = "relance.plan.step"
    _description = "Reminder plan step"
    _order = "plan_id, sequence, id"

    plan_id = fields.Many2one("relance.plan", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="plan_id.company_id", store=True)
    sequence = fields.Integer(default=10)
    offset = fields.Integer(required=True, help="Days after the due date (negative: before it).")
    channel = fields.Selection(CHANNEL_SELECTION, required=True, default="email")
    template = fields.Selection(
        _template_selection,
        string="Text",
        required=True,
        default="reminder_1",
        help="The Relance text used for this step (French or English, in the customer's language).",
    )
    mail_template_id = fields.Many2one(
        "mail.template",
        string="Email template",
        domain=[("model", "=", "relance.action")],
        help="For email steps; empty: the default reminder email.",
    )
    min_amount = fields.Float(
        string="Minimum amount",
        digits="Account",
        help="An invoice whose open amount is below it does not reach this step.",
    )

    @api.constrains("offset", "channel", "template", "min_amount", "sequence")
    def _check_plan(self):
        self.plan_id._check_core_rules()
