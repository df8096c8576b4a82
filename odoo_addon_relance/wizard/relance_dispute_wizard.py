from odoo import api, fields, models
from odoo.exceptions import UserError


class RelanceDisputeWizard(models.TransientModel):
    """Open or close a dispute on one or many invoices (form button or list action)."""

    _name = "relance.dispute.wizard"
    _description = "Open or close invoice disputes"

    move_ids = fields.Many2many("account.move", string="Invoices")
    mode = fields.Selection(
        [("open", "Open a dispute"), ("close", "Close the open disputes")],
        required=True,
        default="open",
    )
    reason_id = fields.Many2one("relance.dispute.reason")
    note = fields.Text()
    user_id = fields.Many2one("res.users", string="Owner", default=lambda self: self.env.user)
    date = fields.Date(required=True, default=fields.Date.context_today)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "account.move":
            values["move_ids"] = [(6, 0, self.env.context.get("active_ids", []))]
        return values

    def action_apply(self):
        self.ensure_one()
        if not self.move_ids:
            raise UserError(self.env._("Select at least one invoice."))
        if self.mode == "open":
            already = self.move_ids.filtered("relance_dispute_open")
            self.env["relance.dispute"].create(
                [
                    {
                        "move_id": move.id,
                        "reason_id": self.reason_id.id,
                        "note": self.note,
                        "opened": self.date,
                        "user_id": self.user_id.id,
                    }
                    for move in self.move_ids - already
                ]
            )
        else:
            self.move_ids.relance_dispute_ids.filtered(lambda d: not d.closed).action_close(
                self.date
            )
        return {"type": "ir.actions.act_window_close"}
