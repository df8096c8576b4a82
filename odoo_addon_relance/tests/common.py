from datetime import date, timedelta

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

# A Tuesday, not a French public holiday: every plan may act.
TODAY = date(2026, 11, 24)


class RelanceCase(AccountTestInvoicingCommon):
    """A company on the shipped plans, one customer, and helpers to post invoices."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        # The accountant the account test case runs as also manages the reminders.
        cls.env.user.groups_id += cls.env.ref("odoo_addon_relance.group_relance_manager")
        cls.company.relance_default_plan_id = cls.env.ref("odoo_addon_relance.plan_standard")
        cls.collector = cls.env["res.users"].create(
            {
                "name": "Claire Collector",
                "login": "relance_collector",
                "email": "claire@example.com",
                "company_id": cls.company.id,
                "company_ids": [(6, 0, cls.company.ids)],
            }
        )
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Atelier Durand",
                "is_company": True,
                "email": "compta@durand.example",
                "mobile": "+33 6 12 34 56 78",
                "relance_collector_id": cls.collector.id,
            }
        )

    @classmethod
    def post_invoice(cls, partner, amount, days_overdue, company=None, move_type="out_invoice"):
        """An invoice of ``amount`` that is ``days_overdue`` days past due on TODAY."""
        company = company or cls.company
        due = TODAY - timedelta(days=days_overdue)
        move = (
            cls.env["account.move"]
            .with_company(company)
            .create(
                {
                    "move_type": move_type,
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "invoice_date": min(due - timedelta(days=30), TODAY),
                    "invoice_date_due": due,
                    "invoice_payment_term_id": False,
                    "invoice_line_ids": [
                        (
                            0,
                            0,
                            {
                                "name": "Service",
                                "quantity": 1,
                                "price_unit": amount,
                                "tax_ids": [(6, 0, [])],
                            },
                        )
                    ],
                }
            )
        )
        move.action_post()
        return move

    def run_relance(self, company=None, dry_run=False, day=TODAY):
        return (company or self.company).relance_run(today=day, dry_run=dry_run)

    def journal(self, partner=None):
        return self.env["relance.action"].search(
            [("partner_id", "=", (partner or self.customer).id)]
        )
