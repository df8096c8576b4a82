from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .. import mapping


class RelanceSegment(models.Model):
    """A segment rule: the first rule whose condition holds gives the customer's plan."""

    _name = "relance.segment"
    _description = "Customer segment rule"
    _order = "sequence, id"
    _check_company_auto = True

    sequence = fields.Integer(default=10)
    name = fields.Char(required=True, help="The segment's name, shown on customers.")
    condition = fields.Char(
        required=True,
        default="true",
        help="An expression over the customer metrics, e.g. "
        "\"avg_days_late > 20 or 'key_account' in tags\". Metrics: outstanding, "
        "overdue_amount, max_days_overdue, avg_days_late, late_count, dso, open_disputes, "
        "customer_age_days, credit_usage, tags (the partner's tags, lower case, "
        "spaces as underscores).",
    )
    plan_id = fields.Many2one("relance.plan", required=True, check_company=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", index=True, help="Leave empty to apply the rule in every company."
    )

    @api.constrains("name", "condition")
    def _check_condition(self):
        for rule in self:
            problem = mapping.segment_problem(rule.name, rule.condition or "")
            if problem:
                raise ValidationError(self.env._("This segment rule is not valid: %s", problem))
