from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import RelanceCase


@tagged("post_install", "-at_install")
class TestSecurity(RelanceCase):
    """Groups 'Relances: user' / 'Relances: manager', and companies kept apart."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.setup_other_company(name="Relance B")["company"]
        cls.company_b.relance_default_plan_id = cls.env.ref("odoo_addon_relance.plan_standard")
        cls.customer_b = cls.env["res.partner"].create(
            {"name": "Client of B", "is_company": True, "email": "b@example.com"}
        )
        base_groups = "account.group_account_invoice"
        cls.user = new_test_user(
            cls.env,
            login="relance_user_a",
            groups=f"{base_groups},odoo_addon_relance.group_relance_user",
            company_id=cls.company.id,
            company_ids=[(6, 0, cls.company.ids)],
        )
        cls.manager = new_test_user(
            cls.env,
            login="relance_manager_a",
            groups=f"{base_groups},odoo_addon_relance.group_relance_manager",
            company_id=cls.company.id,
            company_ids=[(6, 0, cls.company.ids)],
        )
        cls.outsider = new_test_user(
            cls.env, login="relance_outsider", groups=base_groups, company_id=cls.company.id
        )

    def test_user_reads_plans_but_cannot_edit_them(self):
        plan = self.env.ref("odoo_addon_relance.plan_standard").with_user(self.user)
        self.assertEqual(plan.code, "standard")
        with self.assertRaises(AccessError):
            plan.min_amount = 100

    def test_manager_edits_plans_and_rules(self):
        plan = self.env.ref("odoo_addon_relance.plan_standard").with_user(self.manager)
        plan.min_amount = 100
        self.env["relance.segment"].with_user(self.manager).create(
            {"name": "big", "condition": "outstanding > 1", "plan_id": plan.id}
        )
        self.assertEqual(plan.min_amount, 100)

    def test_user_runs_and_previews_reminders(self):
        self.post_invoice(self.customer, 500, days_overdue=4)
        result = self.company.with_user(self.user).relance_run(today="2026-11-24")
        self.assertEqual(result["actions"], 1)
        self.assertTrue(self.env["relance.action"].with_user(self.user).search([]))

    def test_user_without_relances_group_cannot_run(self):
        with self.assertRaises(AccessError):
            self.company.with_user(self.outsider).relance_run(dry_run=True)

    def test_user_of_company_a_cannot_run_company_b(self):
        with self.assertRaises(AccessError):
            self.company_b.with_user(self.user).relance_run(dry_run=True)

    def test_each_company_plans_only_its_own_invoices(self):
        mine = self.post_invoice(self.customer, 500, days_overdue=4)
        theirs = self.post_invoice(self.customer_b, 700, days_overdue=4, company=self.company_b)
        self.run_relance()
        self.assertEqual(self.env["relance.action"].search([]).line_ids.move_id, mine)
        self.run_relance(company=self.company_b)
        actions_b = self.env["relance.action"].search([("company_id", "=", self.company_b.id)])
        self.assertEqual(actions_b.line_ids.move_id, theirs)

    def test_user_of_company_a_never_sees_the_journal_of_company_b(self):
        self.post_invoice(self.customer_b, 700, days_overdue=4, company=self.company_b)
        self.run_relance(company=self.company_b)
        visible = self.env["relance.action"].with_user(self.user).search([])
        self.assertFalse(visible)
        self.assertTrue(self.env["relance.action"].search([("company_id", "=", self.company_b.id)]))
