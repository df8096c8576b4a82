import json
from datetime import timedelta

from odoo.tests import tagged

from core.config import load_config
from core.engine import journal_needed_from, plan
from core.ledger import load_ledger
from core.texts import format_date, template_ids

from .common import TODAY, RelanceCase


@tagged("post_install", "-at_install")
class TestJournalWindow(RelanceCase):
    """A run reads the journal of the longest cooldown (5 days on the shipped plans)
    and every reminder about an invoice still open; older reminders about invoices
    since paid change no plan, so the run leaves them out, and plans what the whole
    journal plans."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = {"is_company": True, "email": "compta@example.com"}
        cls.noticed = cls.customer
        cls.cooling = cls.env["res.partner"].create({"name": "Garage Martin", **company})
        cls.escalated = cls.env["res.partner"].create({"name": "Boulangerie Petit", **company})
        # Atelier Durand: 35 days late, its formal notice (step 5) went out 10 days ago.
        cls.notice_invoice = cls.post_invoice(cls.noticed, 2400, days_overdue=35)
        cls.journal_entry(
            cls.noticed, "notice-10-days-ago", 10, "formal_notice", 5, [cls.notice_invoice]
        )
        # Garage Martin: 15 days late; 3 days ago it was reminded of an invoice since paid.
        cls.post_invoice(cls.cooling, 900, days_overdue=15)
        cls.journal_entry(
            cls.cooling,
            "paid-3-days-ago",
            3,
            "email",
            2,
            [cls.paid_invoice(cls.cooling, 500, paid_days_ago=1)],
        )
        # Boulangerie Petit: 50 days late; 200 days ago it was reminded of an invoice
        # paid since.
        cls.post_invoice(cls.escalated, 1500, days_overdue=50)
        cls.journal_entry(
            cls.escalated,
            "paid-200-days-ago",
            200,
            "email",
            2,
            [cls.paid_invoice(cls.escalated, 700, paid_days_ago=150)],
        )

    @classmethod
    def paid_invoice(cls, partner, amount, paid_days_ago):
        move = cls.post_invoice(partner, amount, days_overdue=paid_days_ago + 20)
        cls.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=move.ids
        ).create({"payment_date": TODAY - timedelta(days=paid_days_ago)})._create_payments()
        return move

    @classmethod
    def journal_entry(cls, partner, key, days_ago, channel, step, moves):
        cls.env["relance.action"].sudo().create(
            {
                "company_id": cls.company.id,
                "partner_id": partner.id,
                "date": TODAY - timedelta(days=days_ago),
                "key": key,
                "plan": "standard",
                "step": step,
                "channel": channel,
                "line_ids": [(0, 0, {"move_id": m.id, "step": step}) for m in moves],
            }
        )

    def reminder_keys(self, planning):
        service = self.env["relance.service"]
        since = None
        if planning:
            config, _plans = service._build_config(self.company)
            since = journal_needed_from(config, TODAY)
        ledger = service._build_ledger(self.company, TODAY, journal_from=since)
        return {r.key for r in ledger.reminders}

    def test_the_run_leaves_out_old_reminders_about_paid_invoices(self):
        self.assertEqual(
            self.reminder_keys(planning=True), {"notice-10-days-ago", "paid-3-days-ago"}
        )
        self.assertEqual(
            self.reminder_keys(planning=False),
            {"notice-10-days-ago", "paid-3-days-ago", "paid-200-days-ago"},
        )

    def test_the_run_plans_what_the_whole_journal_plans(self):
        planned = self.run_relance(dry_run=True)
        whole = load_ledger(json.loads(self.company.relance_export_ledger(today=TODAY)))
        cli = plan(whole, load_config(None, template_ids()), TODAY)
        self.assertEqual(planned["keys"], [a.key for a in cli])
        # Durand's notice is done, Martin is in its cooldown: only Petit is escalated.
        self.assertEqual(
            [(a.customer_id, a.channel) for a in cli], [(str(self.escalated.id), "escalation")]
        )

    def test_a_longer_cooldown_widens_the_window(self):
        self.env.ref("odoo_addon_relance.plan_standard").cooldown_days = 250
        self.assertIn("paid-200-days-ago", self.reminder_keys(planning=True))
        self.assertEqual(self.run_relance(dry_run=True)["actions"], 0)

    def test_an_escalation_note_lists_the_reminders_outside_the_window(self):
        self.run_relance()
        note = self.journal(self.escalated).filtered(lambda a: a.channel == "escalation")
        old = format_date(TODAY - timedelta(days=200), "fr")
        self.assertIn(old, note.body)
