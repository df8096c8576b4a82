from datetime import timedelta

from lxml import html
from odoo.tests import tagged
from odoo.tools import mute_logger
from psycopg2 import IntegrityError

from .common import TODAY, RelanceCase


@tagged("post_install", "-at_install")
class TestRunChannels(RelanceCase):
    """Each channel's action is executed inside Odoo and journaled (DESIGN §5)."""

    def test_email_is_queued_with_the_text_and_the_statement_at_send_time(self):
        invoice = self.post_invoice(self.customer, 1200, days_overdue=4)
        result = self.run_relance()
        self.assertEqual(result["actions"], 1)
        action = self.journal()
        self.assertEqual(
            (action.channel, action.template, action.state), ("email", "reminder_1", "done")
        )
        mail = action.mail_id
        self.assertEqual(mail.state, "outgoing", "queued, not sent during the run")
        self.assertEqual(mail.recipient_ids, self.customer)
        self.assertIn(invoice.name, mail.body_html)
        self.assertEqual((mail.model, mail.res_id), ("res.partner", self.customer.id))
        mail._relance_attach_statements()
        self.assertEqual(len(mail.attachment_ids), 1)
        self.assertIn(self.customer.name, mail.attachment_ids.name)
        self.assertEqual(invoice.relance_level, 2)
        self.assertEqual(invoice.relance_level_date, TODAY)

    def test_email_is_the_customers_text_in_the_customers_language(self):
        """DESIGN §8: each customer reads the reminder in their language, paragraph by
        paragraph as core wrote it, and the mail is on the customer's chatter."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["odoo_addon_relance"], ["fr_FR"], overwrite=True
        )
        self.customer.lang = "fr_FR"
        self.company.name = "Martin & Fils <SAS>"  # signs the text: escaped in the mail
        english = self.env["res.partner"].create(
            {
                "name": "Smith & Sons Ltd",
                "is_company": True,
                "email": "ap@smith.example",
                "lang": "en_US",
            }
        )
        self.post_invoice(self.customer, 1200, days_overdue=4)
        self.post_invoice(english, 800, days_overdue=4)
        self.run_relance()
        footers = {
            "fr": "Votre relevé de compte est joint.",
            "en": "Your statement of account is attached.",
        }
        for partner, language in ((self.customer, "fr"), (english, "en")):
            action = self.journal(partner)
            mail = action.mail_id
            self.assertEqual(action.language, language)
            self.assertEqual(mail.subject, action.subject)
            paragraphs = [p.text_content() for p in html.fromstring(mail.body_html).iter("p")]
            self.assertEqual(paragraphs[:-1], action.body.split("\n\n"))
            self.assertEqual(paragraphs[-1].strip(), footers[language])
            self.assertEqual(mail.mail_message_id, action.message_id)
            self.assertEqual(
                (action.message_id.model, action.message_id.res_id), ("res.partner", partner.id)
            )
            self.assertIn(action.message_id, partner.message_ids)
            self.assertIn("Martin &amp; Fils &lt;SAS&gt;", mail.body_html)

    def test_shipped_email_template_is_rendered_without_compiling_qweb_per_mail(self):
        """The shipped template reads only the fields relance.action allows, so Odoo
        renders it without a QWeb compilation per mail (a run queues hundreds)."""
        template = self.env.ref("odoo_addon_relance.mail_template_relance_reminder")
        self.assertFalse(template._has_unsafe_expression())

    def test_email_goes_to_the_collection_contact(self):
        contact = self.env["res.partner"].create(
            {"name": "Payables", "parent_id": self.customer.id, "email": "ap@durand.example"}
        )
        self.customer.relance_contact_id = contact
        self.post_invoice(self.customer, 500, days_overdue=4)
        self.run_relance()
        self.assertEqual(self.journal().mail_id.recipient_ids, contact)

    def test_customer_without_email_is_skipped_with_the_reason(self):
        self.customer.email = False
        self.post_invoice(self.customer, 500, days_overdue=4)
        self.run_relance()
        action = self.journal()
        self.assertEqual(action.state, "skipped")
        self.assertEqual(action.skip_reason, "no email address")
        self.assertFalse(action.mail_id)

    def test_phone_step_is_an_activity_for_the_collector(self):
        self.post_invoice(self.customer, 900, days_overdue=22)
        self.run_relance()
        action = self.journal()
        self.assertEqual(action.channel, "phone")
        activity = self.env["mail.activity"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", self.customer.id)]
        )
        self.assertEqual(activity.activity_type_id, self.env.ref("mail.mail_activity_data_call"))
        self.assertEqual(activity.user_id, self.collector)

    def test_phone_falls_back_to_the_salesperson(self):
        salesperson = self.env["res.users"].create(
            {"name": "Sam Sales", "login": "relance_sales", "company_id": self.company.id}
        )
        self.customer.write({"relance_collector_id": False, "user_id": salesperson.id})
        self.post_invoice(self.customer, 900, days_overdue=22)
        self.run_relance()
        self.assertEqual(self.journal().activity_user_id, salesperson)

    def test_formal_notice_is_a_pdf_on_the_customer_with_interest_and_indemnity(self):
        invoice = self.post_invoice(self.customer, 1000, days_overdue=32)
        self.run_relance()
        action = self.journal()
        self.assertEqual((action.channel, action.state), ("formal_notice", "queued"))
        line = action.line_ids
        # ECB 2.15 % + 10 points = 12.15 %, 32 days on 1,000 (core.penalties).
        self.assertAlmostEqual(line.interest, 10.65)
        self.assertEqual(line.indemnity, 40.0)
        self.assertEqual(line.move_id, invoice)
        self.env["relance.action"]._cron_render_documents()
        self.assertEqual(action.state, "done")
        self.assertEqual(action.attachment_id.res_model, "res.partner")
        self.assertEqual(action.attachment_id.res_id, self.customer.id)
        self.assertIn(action.attachment_id, action.message_id.attachment_ids)
        html = action.attachment_id.raw.decode()
        self.assertIn("L441-10", html)
        self.assertIn("D441-5", html)

    def test_letter_step_renders_a_letter(self):
        plan = self.env["relance.plan"].create(
            {
                "name": "Letters",
                "code": "letters",
                "step_ids": [(0, 0, {"offset": 5, "channel": "letter", "template": "reminder_2"})],
            }
        )
        self.customer.relance_plan_id = plan
        self.post_invoice(self.customer, 700, days_overdue=6)
        self.run_relance()
        action = self.journal()
        self.assertEqual((action.channel, action.segment), ("letter", "manual"))
        self.env["relance.action"]._cron_render_documents()
        self.assertEqual(action.state, "done")
        self.assertTrue(action.attachment_id.raw)

    def test_escalation_marks_the_invoices_and_notifies_the_collector(self):
        invoice = self.post_invoice(self.customer, 800, days_overdue=50)
        self.run_relance()
        self.assertEqual(self.journal().channel, "escalation")
        self.assertTrue(invoice.relance_escalated)
        activity = self.env["mail.activity"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", self.customer.id)]
        )
        self.assertEqual(activity.user_id, self.collector)
        self.assertEqual(activity.activity_type_id, self.env.ref("mail.mail_activity_data_todo"))

    def test_sms_goes_through_the_sms_module(self):
        self.customer.relance_plan_id = self.env.ref("odoo_addon_relance.plan_strict")
        self.post_invoice(self.customer, 600, days_overdue=8)
        self.run_relance()
        action = self.journal()
        self.assertEqual(action.channel, "sms")
        if "sms.sms" in self.env:
            sms = self.env["sms.sms"].search([("partner_id", "=", self.customer.id)])
            self.assertEqual(sms.state, "outgoing")
            self.assertEqual(sms.body, action.body)
        else:
            self.assertEqual(action.state, "skipped")
            self.assertIn("sms", action.skip_reason)

    def test_rerunning_the_same_day_sends_nothing_twice(self):
        self.post_invoice(self.customer, 1200, days_overdue=4)
        self.assertEqual(self.run_relance()["actions"], 1)
        self.assertEqual(self.run_relance()["actions"], 0)
        self.assertEqual(len(self.journal()), 1)
        self.assertEqual(len(self.env["mail.mail"].search([("relance_action_id", "!=", False)])), 1)

    def test_the_same_key_cannot_be_journaled_twice(self):
        self.post_invoice(self.customer, 1200, days_overdue=4)
        self.run_relance()
        action = self.journal()
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            action.sudo().copy({"key": action.key})

    def test_preview_lists_the_actions_without_sending_anything(self):
        self.post_invoice(self.customer, 1200, days_overdue=4)
        preview = self.env["relance.preview"].create({"date": TODAY})
        self.assertEqual(len(preview.line_ids), 1)
        line = preview.line_ids
        self.assertEqual((line.partner_id, line.channel, line.step), (self.customer, "email", 2))
        self.assertIn('"reached": 2', line.explanation)
        self.assertIn('"rule": "default"', line.explanation)
        self.assertFalse(self.journal())
        self.assertEqual(self.run_relance(dry_run=True)["actions"], 1)
        self.assertFalse(self.journal())

    def test_invoice_shows_its_level_and_next_step(self):
        invoice = self.post_invoice(self.customer, 1200, days_overdue=4)
        self.run_relance()
        invoice.invalidate_recordset()
        self.assertEqual(invoice.relance_level, 2)
        # Next: step 3 of the standard plan, 10 days after the due date.
        self.assertTrue(invoice.relance_next_step.startswith("3 · email (reminder_2)"))
        self.assertEqual(invoice.relance_next_date, invoice.invoice_date_due + timedelta(days=10))
        reminded = self.env["account.move"].search([("relance_level", ">", 0)])
        self.assertIn(invoice, reminded)
