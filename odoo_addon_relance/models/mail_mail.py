from odoo import fields, models


class MailMail(models.Model):
    _inherit = "mail.mail"

    relance_action_id = fields.Many2one("relance.action", index="btree_not_null")
    relance_statement_attached = fields.Boolean()

    def _relance_attach_statements(self):
        """The statement of account goes with the reminder, rendered when the mail
        leaves the queue, so it shows the balance of that moment."""
        pending = self.filtered(lambda m: m.relance_action_id and not m.relance_statement_attached)
        if not pending:
            return
        report = self.env.ref("odoo_addon_relance.action_report_relance_statement")
        for mail in pending.sudo():
            action = mail.relance_action_id
            content, _kind = (
                self.env["ir.actions.report"].sudo()._render_qweb_pdf(report, [action.id])
            )
            attachment = (
                self.env["ir.attachment"]
                .sudo()
                .create(
                    {
                        "name": self.env._("Statement - %(name)s.pdf", name=action.partner_id.name),
                        "raw": content,
                        "res_model": "mail.message",
                        "res_id": mail.mail_message_id.id,
                        "mimetype": "application/pdf",
                    }
                )
            )
            mail.write({"attachment_ids": [(4, attachment.id)], "relance_statement_attached": True})

    def _send(self, *args, **kwargs):
        self._relance_attach_statements()
        return super()._send(*args, **kwargs)
