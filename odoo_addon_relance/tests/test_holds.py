from odoo.tests import tagged

from .common import TODAY, RelanceCase


@tagged("post_install", "-at_install")
class TestHolds(RelanceCase):
    """Disputes and promises hold only their own invoice (DESIGN §5.1)."""

    def listed(self):
        return self.journal().line_ids.move_id

    def test_open_dispute_suspends_only_its_invoice(self):
        disputed = self.post_invoice(self.customer, 1000, days_overdue=4)
        other = self.post_invoice(self.customer, 300, days_overdue=4)
        wizard = (
            self.env["relance.dispute.wizard"]
            .with_context(active_model="account.move", active_ids=disputed.ids)
            .create({"reason_id": self.env.ref("odoo_addon_relance.dispute_reason_price").id})
        )
        wizard.action_apply()
        self.assertTrue(disputed.relance_dispute_open)
        self.run_relance()
        self.assertEqual(self.listed(), other)

    def test_dispute_opening_and_closing_are_posted_on_invoice_and_customer(self):
        invoice = self.post_invoice(self.customer, 1000, days_overdue=4)
        dispute = self.env["relance.dispute"].create({"move_id": invoice.id, "note": "wrong qty"})
        dispute.action_close(TODAY)
        bodies = invoice.message_ids.mapped("body")
        self.assertTrue(any("Dispute opened" in b for b in bodies))
        self.assertTrue(any("Dispute closed" in b for b in bodies))
        partner_bodies = self.customer.message_ids.mapped("body")
        self.assertTrue(any(invoice.name in b and "Dispute opened" in b for b in partner_bodies))

    def test_closed_dispute_lets_reminders_resume(self):
        invoice = self.post_invoice(self.customer, 1000, days_overdue=4)
        self.env["relance.dispute"].create({"move_id": invoice.id}).action_close(TODAY)
        self.run_relance()
        self.assertEqual(self.listed(), invoice)

    def test_mass_dispute_action_from_the_list(self):
        first = self.post_invoice(self.customer, 100, days_overdue=4)
        second = self.post_invoice(self.customer, 200, days_overdue=4)
        moves = first | second
        self.env["relance.dispute.wizard"].with_context(
            active_model="account.move", active_ids=moves.ids
        ).create({}).action_apply()
        self.assertEqual(moves.mapped("relance_dispute_open"), [True, True])
        self.env["relance.dispute.wizard"].with_context(
            active_model="account.move", active_ids=moves.ids
        ).create({"mode": "close"}).action_apply()
        self.assertEqual(moves.mapped("relance_dispute_open"), [False, False])
        self.assertEqual(self.run_relance()["actions"], 1)

    def test_promise_on_an_invoice_holds_it_until_the_promised_date(self):
        promised = self.post_invoice(self.customer, 1000, days_overdue=4)
        other = self.post_invoice(self.customer, 300, days_overdue=4)
        promised.relance_promise_date = TODAY
        self.assertTrue(any("Promise to pay" in b for b in promised.message_ids.mapped("body")))
        self.assertTrue(
            any("Promise to pay" in b for b in self.customer.message_ids.mapped("body"))
        )
        self.run_relance()
        self.assertEqual(self.listed(), other)

    def test_customer_promise_holds_all_its_invoices(self):
        self.post_invoice(self.customer, 1000, days_overdue=4)
        self.customer.relance_promise_date = TODAY
        self.assertEqual(self.run_relance()["actions"], 0)

    def test_factored_invoice_is_never_reminded(self):
        factored = self.post_invoice(self.customer, 1000, days_overdue=4)
        other = self.post_invoice(self.customer, 300, days_overdue=4)
        factored.relance_factored = True
        self.run_relance()
        self.assertEqual(self.listed(), other)

    def test_excluded_customer_gets_nothing(self):
        self.post_invoice(self.customer, 1000, days_overdue=4)
        self.customer.relance_excluded = True
        self.assertEqual(self.run_relance()["actions"], 0)

    def test_open_credit_note_reduces_what_is_asked(self):
        self.post_invoice(self.customer, 1000, days_overdue=4)
        self.post_invoice(self.customer, 250, days_overdue=0, move_type="out_refund")
        self.run_relance()
        self.assertEqual(self.journal().net_due, 750.0)

    def test_customer_shows_its_segment_and_why(self):
        self.post_invoice(self.customer, 1000, days_overdue=4)
        self.assertEqual(self.customer.relance_segment, "default")
        self.assertIn('"rule": "default"', self.customer.relance_segment_explanation)
        key = self.env["res.partner.category"].create({"name": "Key account"})
        self.customer.category_id = key
        self.customer.invalidate_recordset()
        self.assertEqual(self.customer.relance_segment, "key_accounts")
        self.assertEqual(self.customer.relance_plan_code, "gentle")
