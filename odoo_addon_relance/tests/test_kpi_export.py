import json
from decimal import Decimal

from odoo.tests import tagged

from core.config import load_config
from core.engine import Planner, plan
from core.ledger import load_ledger
from core.metrics import compute_kpis
from core.texts import template_ids

from .common import TODAY, RelanceCase


@tagged("post_install", "-at_install")
class TestKpiAndExport(RelanceCase):
    """Export and KPIs read the same ledger as the run: numbers equal the CLI's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        other = cls.env["res.partner"].create(
            {"name": "Garage Martin", "is_company": True, "email": "g@example.com"}
        )
        for partner, amount, days in (
            (cls.customer, 1200, 4),
            (cls.customer, 800, 22),
            (cls.customer, 400, -3),
            (other, 3000, 35),
            (other, 150, 50),
        ):
            cls.post_invoice(partner, amount, days)

    def exported(self):
        return load_ledger(json.loads(self.company.relance_export_ledger(today=TODAY)))

    def test_addon_plans_exactly_what_relance_plan_plans_on_the_export(self):
        planned = self.run_relance(dry_run=True)
        cli = plan(self.exported(), load_config(None, template_ids()), TODAY)
        self.assertEqual(planned["keys"], [a.key for a in cli])
        self.assertEqual(len(cli), 2)

    def test_export_after_a_run_carries_the_journal(self):
        self.run_relance()
        ledger = self.exported()
        self.assertEqual(len(ledger.reminders), 2)
        self.assertEqual(plan(ledger, load_config(None, template_ids()), TODAY), [])

    def run_then_kpi_job(self):
        """A run, then the KPI job it starts when it ends."""
        self.run_relance()
        self.env["relance.kpi"]._cron_refresh()
        return self.env["relance.kpi"].search([("company_id", "=", self.company.id)])

    def test_an_executing_run_starts_the_kpi_job(self):
        job = self.env.ref("odoo_addon_relance.ir_cron_relance_kpis")

        def triggers():
            return self.env["ir.cron.trigger"].search_count([("cron_id", "=", job.id)])

        before = triggers()
        self.run_relance(dry_run=True)
        self.assertEqual(triggers(), before)
        self.run_relance()
        self.assertEqual(triggers(), before + 1)
        self.assertTrue(self.company.relance_kpi_pending)

    def test_the_kpi_job_snapshots_the_runs_day_once(self):
        kpi = self.run_then_kpi_job()
        self.assertEqual(kpi.date, TODAY)
        self.assertFalse(self.company.relance_kpi_pending)
        kpi.unlink()
        self.env["relance.kpi"]._cron_refresh()  # the daily call, with no run since
        self.assertFalse(self.env["relance.kpi"].search([("company_id", "=", self.company.id)]))

    def test_a_configuration_problem_is_logged_and_clears_the_pending_snapshot(self):
        self.run_relance()
        # The default plan archived after the run: the configuration names a plan
        # that no longer exists, and the KPIs cannot be computed.
        self.env.ref("odoo_addon_relance.plan_standard").active = False
        with self.assertLogs("odoo.addons.odoo_addon_relance", level="ERROR") as logged:
            self.env["relance.kpi"]._cron_refresh()
        self.assertIn("KPIs of company", logged.output[0])
        self.assertFalse(self.company.relance_kpi_pending)
        self.assertFalse(self.env["relance.kpi"].search([("company_id", "=", self.company.id)]))

    def test_kpis_equal_cores_kpis_on_the_exported_ledger(self):
        kpi = self.run_then_kpi_job()
        ledger = self.exported()
        config = load_config(None, template_ids())
        expected = compute_kpis(ledger, TODAY, Planner(ledger, config, TODAY).journal_segments())
        self.assertEqual(kpi.date, TODAY)
        self.assertAlmostEqual(kpi.receivables, float(expected.receivables))
        self.assertAlmostEqual(kpi.dso_countback, float(expected.dso_countback), places=1)
        self.assertAlmostEqual(kpi.overdue_ratio, float(expected.overdue_ratio * 100), places=1)
        by_bucket = {}
        for row in kpi.aged_ids:
            by_bucket[row.bucket] = by_bucket.get(row.bucket, 0) + row.amount
        for bucket, amount in expected.aged_balance.items():
            self.assertAlmostEqual(by_bucket.get(bucket, 0.0), float(amount))
        self.assertEqual(expected.aged_balance["31_60"], Decimal("3150.00"))

    def test_effectiveness_rows_per_step_channel_and_segment(self):
        kpi = self.run_then_kpi_job()
        rows = {(r.plan, r.step, r.channel, r.segment): r.reminders for r in kpi.effectiveness_ids}
        expected = {
            ("standard", 4, "phone", "default"): 1,
            ("standard", 6, "escalation", "default"): 1,
        }
        self.assertEqual(rows, expected)
