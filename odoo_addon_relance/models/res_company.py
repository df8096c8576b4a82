import json
import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)


class ResCompany(models.Model):
    _inherit = "res.company"

    relance_default_plan_id = fields.Many2one(
        "relance.plan",
        string="Default reminder plan",
        help="The plan of customers that no segment rule matches.",
    )
    relance_interest_mode = fields.Selection(
        [
            ("ecb_table", "ECB rate + 10 points (rate table shipped with Relance)"),
            ("ecb_manual", "ECB rate + 10 points (ECB rate typed below)"),
            ("contract", "Contract rate"),
        ],
        string="Late interest",
        default="ecb_table",
        required=True,
    )
    relance_ecb_rate = fields.Float(string="ECB rate (%)", digits=(6, 4))
    relance_late_interest_rate = fields.Float(
        string="Contract late interest rate (%)", digits=(6, 4)
    )
    relance_email_from = fields.Char(
        string="Reminders sender", help="The address reminders come from (default: the company's)."
    )
    relance_notice_deadline_days = fields.Integer(string="Formal notice deadline (days)", default=8)
    relance_last_run = fields.Date(readonly=True)
    relance_kpi_pending = fields.Boolean(
        string="KPIs to compute",
        readonly=True,
        help="The last run's KPI snapshot is still to be computed.",
    )

    def relance_run(self, today=None, dry_run=False):
        """Plan today's reminders with the Relance core and, unless ``dry_run``, execute
        them.  Returns a summary: {'actions': count, 'by_channel': {...}, ...}."""
        self.ensure_one()
        return self.env["relance.service"]._run(self, today=today, dry_run=dry_run)

    def relance_export_ledger(self, today=None):
        """The company's data as ``relance.ledger/1`` JSON text, built by the same builder
        as the run, so that `relance plan` outside Odoo plans the same actions.  JSON
        text rather than a structure: XML-RPC cannot carry the document's nulls."""
        self.ensure_one()
        service = self.env["relance.service"]
        return json.dumps(service._export(self, service._today(self, today)), ensure_ascii=False)

    @api.model
    def _cron_relance_run(self):
        """Every company's run; one company's configuration problem does not stop the
        others (it is logged, and the run of that company is rolled back)."""
        # Every company on purpose; a database holds a handful.
        for company in self.search([]):  # pylint: disable=no-search-all
            try:
                with self.env.cr.savepoint():
                    company.relance_run()
            except UserError as error:
                _logger.error("Relances: run of company %s failed: %s", company.name, error)

    def action_relance_run_now(self):
        self.ensure_one()
        result = self.relance_run()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Relances"),
                "message": self.env._(
                    "%(count)s reminder(s) executed, %(skipped)s skipped.",
                    count=result["actions"],
                    skipped=result.get("skipped", 0),
                ),
                "sticky": False,
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
