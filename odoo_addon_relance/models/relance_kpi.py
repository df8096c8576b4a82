"""KPIs inside Odoo: core's metrics on the same ledger as the run, stored per day so
that pivot and graph views can group them (the numbers are those of `relance kpi`)."""

import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

from core.metrics import AGE_BUCKETS, age_bucket

from .relance_plan import CHANNEL_SELECTION

_logger = logging.getLogger(__name__)

BUCKET_SELECTION = [
    ("not_due", "Not due"),
    ("1_30", "1-30 days"),
    ("31_60", "31-60 days"),
    ("61_90", "61-90 days"),
    ("over_90", "Over 90 days"),
]
assert tuple(code for code, _label in BUCKET_SELECTION) == AGE_BUCKETS


AGED_COLUMNS = ("kpi_id", "company_id", "date", "partner_id", "bucket", "amount")


def _figure(value):
    return float(value) if value is not None else 0.0


class RelanceKpi(models.Model):
    _name = "relance.kpi"
    _description = "Receivables KPIs of a day"
    _order = "date desc, id desc"
    _rec_name = "date"

    company_id = fields.Many2one("res.company", required=True, index=True)
    date = fields.Date(required=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    receivables = fields.Monetary(aggregator="avg")
    overdue = fields.Monetary(aggregator="avg")
    dso_simple = fields.Float(string="DSO (simple)", digits=(16, 1), aggregator="avg")
    dso_countback = fields.Float(string="DSO (count-back)", digits=(16, 1), aggregator="avg")
    overdue_ratio = fields.Float(string="Overdue ratio (%)", digits=(16, 1), aggregator="avg")
    cei = fields.Float(string="CEI", digits=(16, 1), aggregator="avg")
    avg_days_to_pay = fields.Float(
        string="Days to pay after first reminder", digits=(16, 1), aggregator="avg"
    )
    avg_dispute_days = fields.Float(
        string="Days to resolve a dispute", digits=(16, 1), aggregator="avg"
    )
    aged_ids = fields.One2many("relance.kpi.aged", "kpi_id", string="Aged balance")
    effectiveness_ids = fields.One2many("relance.kpi.effectiveness", "kpi_id")

    _sql_constraints = [
        ("company_date_uniq", "unique(company_id, date)", "One KPI snapshot per day."),
    ]

    @api.model
    def _refresh(self, company, today):
        """Recompute the company's KPIs of the day with core, replacing that day's."""
        ledger, kpis = self.env["relance.service"]._kpis(company, today)
        self.search([("company_id", "=", company.id), ("date", "=", today)]).unlink()
        aged = {}
        t = today.toordinal()
        for invoice in ledger.invoices:
            if invoice.kind != "invoice" or not invoice.open_amount:
                continue
            bucket = age_bucket(t - invoice.due_date.toordinal())
            key = (int(invoice.customer_id), bucket)
            aged[key] = aged.get(key, 0) + invoice.open_amount
        overdue = sum(
            (amount for bucket, amount in kpis.aged_balance.items() if bucket != "not_due"),
        )
        kpi = self.create(
            {
                "company_id": company.id,
                "date": today,
                "receivables": float(kpis.receivables),
                "overdue": float(overdue),
                "dso_simple": _figure(kpis.dso_simple),
                "dso_countback": _figure(kpis.dso_countback),
                "overdue_ratio": _figure(kpis.overdue_ratio) * 100,
                "cei": _figure(kpis.cei),
                "avg_days_to_pay": _figure(kpis.avg_days_to_pay_after_first_reminder),
                "avg_dispute_days": _figure(kpis.avg_dispute_resolution_days),
                "effectiveness_ids": [
                    (
                        0,
                        0,
                        {
                            "plan": row["plan"],
                            "step": row["step"],
                            "channel": row["channel"],
                            "segment": row["segment"],
                            "reminders": row["reminders"],
                            "invoices": row["invoices"],
                            "paid_within_14_days": row["paid_within_14_days"],
                            "paid_share": _figure(row["paid_share"]) * 100,
                        },
                    )
                    for row in kpis.effectiveness
                ],
            }
        )
        # One row per customer and bucket: thousands on a large ledger, so one INSERT.
        self.env["relance.service"]._copy_rows(
            "relance.kpi.aged",
            AGED_COLUMNS,
            [
                (kpi.id, company.id, today, partner, bucket, float(amount))
                for (partner, bucket), amount in sorted(aged.items())
            ],
        )
        self.env["relance.kpi.aged"].invalidate_model()
        kpi.invalidate_recordset(["aged_ids"])
        return kpi

    @api.model
    def _cron_refresh(self):
        """The snapshot of each run's day, in the job a run starts when it ends.  Only
        right after the run: later, the ledger would have moved on from that day."""
        companies = self.env["res.company"].search([("relance_kpi_pending", "=", True)])
        for company in companies:
            # As the daily run does: one company's configuration problem is logged
            # and does not stop the others (nor come back tomorrow, for a stale day).
            try:
                with self.env.cr.savepoint():
                    self._refresh(company, company.relance_last_run)
            except UserError as error:
                _logger.error("Relances: KPIs of company %s failed: %s", company.name, error)
        companies.relance_kpi_pending = False

    @api.model
    def action_refresh(self):
        for company in self.env.companies:
            self.env["relance.service"]._check_run_rights(company)
            self.sudo()._refresh(company, self.env["relance.service"]._today(company))
        return {"type": "ir.actions.client", "tag": "reload"}


class RelanceKpiAged(models.Model):
    _name = "relance.kpi.aged"
    _description = "Aged balance per customer"
    _order = "kpi_id, partner_id, bucket"

    kpi_id = fields.Many2one("relance.kpi", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="kpi_id.company_id", store=True, index=True)
    date = fields.Date(related="kpi_id.date", store=True)
    currency_id = fields.Many2one(related="kpi_id.currency_id")
    partner_id = fields.Many2one("res.partner", string="Customer", index=True)
    bucket = fields.Selection(BUCKET_SELECTION, required=True)
    amount = fields.Monetary()


class RelanceKpiEffectiveness(models.Model):
    _name = "relance.kpi.effectiveness"
    _description = "Reminder effectiveness"
    _order = "kpi_id, plan, step, channel, segment"

    kpi_id = fields.Many2one("relance.kpi", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="kpi_id.company_id", store=True, index=True)
    date = fields.Date(related="kpi_id.date", store=True)
    plan = fields.Char()
    step = fields.Integer(aggregator=None)
    channel = fields.Selection(CHANNEL_SELECTION)
    segment = fields.Char()
    reminders = fields.Integer()
    invoices = fields.Integer()
    paid_within_14_days = fields.Integer()
    paid_share = fields.Float(string="Paid within 14 days (%)", digits=(16, 1), aggregator="avg")
