from odoo import api, fields, models


class RelanceDisputeReason(models.Model):
    _name = "relance.dispute.reason"
    _description = "Dispute reason"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", index=True)


class RelanceDispute(models.Model):
    """A customer's objection to an invoice: while open, the invoice is never reminded."""

    _name = "relance.dispute"
    _description = "Invoice dispute"
    _order = "opened desc, id desc"
    _check_company_auto = True

    move_id = fields.Many2one(
        "account.move",
        string="Invoice",
        required=True,
        ondelete="cascade",
        index=True,
        check_company=True,
    )
    partner_id = fields.Many2one(
        "res.partner",
        related="move_id.commercial_partner_id",
        store=True,
        string="Customer",
        index=True,
    )
    company_id = fields.Many2one(related="move_id.company_id", store=True, index=True)
    reason_id = fields.Many2one("relance.dispute.reason", check_company=True)
    note = fields.Text()
    opened = fields.Date(required=True, default=fields.Date.context_today)
    closed = fields.Date()
    user_id = fields.Many2one(
        "res.users", string="Owner", default=lambda self: self.env.user, index=True
    )
    state = fields.Selection(
        [("open", "Open"), ("closed", "Closed")], compute="_compute_state", store=True
    )

    @api.depends("closed")
    def _compute_state(self):
        for dispute in self:
            dispute.state = "closed" if dispute.closed else "open"

    def _describe(self):
        self.ensure_one()
        reason = self.reason_id.name or self.env._("no reason given")
        return f"{reason}: {self.note}" if self.note else reason

    def _post_on_invoice_and_customer(self, body):
        for dispute in self:
            move, partner = dispute.move_id, dispute.partner_id
            move.message_post(body=body(dispute), subtype_xmlid="mail.mt_note")
            partner.message_post(
                body=self.env._("%(invoice)s: %(text)s", invoice=move.name, text=body(dispute)),
                subtype_xmlid="mail.mt_note",
            )

    @api.model_create_multi
    def create(self, vals_list):
        disputes = super().create(vals_list)
        disputes._post_on_invoice_and_customer(
            lambda d: self.env._(
                "Dispute opened (%(reason)s): reminders on this invoice are suspended.",
                reason=d._describe(),
            )
        )
        return disputes

    def action_close(self, day=None):
        opened = self.filtered(lambda d: not d.closed)
        opened.write({"closed": day or fields.Date.context_today(self)})
        opened._post_on_invoice_and_customer(
            lambda d: self.env._(
                "Dispute closed (%(reason)s): reminders on this invoice resume.",
                reason=d._describe(),
            )
        )
        return True
