import json

from markupsafe import Markup
from odoo import api, fields, models

from .relance_plan import CHANNEL_SELECTION

# One paragraph of the text in the reminder email.
PARAGRAPH = Markup('<p style="margin: 0px 0px 12px 0px; white-space: pre-line;">%s</p>')

STATES = [
    ("queued", "Queued"),
    ("done", "Done"),
    ("skipped", "Skipped"),
]


class RelanceAction(models.Model):
    """The reminder journal: one row per executed action.  Core reads it back as its
    history, and the key is unique per company, so a reminder never goes out twice."""

    _name = "relance.action"
    _description = "Reminder (journal)"
    _order = "date desc, id desc"
    _check_company_auto = True
    _rec_name = "display_label"

    company_id = fields.Many2one("res.company", required=True, index=True)
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, ondelete="restrict"
    )
    date = fields.Date(required=True, index=True)
    key = fields.Char(required=True, readonly=True)
    plan = fields.Char(
        string="Plan code", required=True, help="The plan's code when the reminder went out."
    )
    plan_id = fields.Many2one("relance.plan", string="Reminder plan", ondelete="set null")
    segment = fields.Char()
    step = fields.Integer()
    channel = fields.Selection(CHANNEL_SELECTION, required=True)
    template = fields.Char(string="Text")
    state = fields.Selection(STATES, required=True, default="done", index=True)
    skip_reason = fields.Char()
    currency_id = fields.Many2one("res.currency")
    overdue_amount = fields.Monetary()
    net_due = fields.Monetary(string="Net due")
    total_interest = fields.Monetary(string="Late interest")
    total_indemnity = fields.Monetary(string="Recovery indemnities")
    interest_rate = fields.Float(digits=(6, 4), help="Annual rate, as a percentage.")
    payment_deadline = fields.Date()
    priority = fields.Float(digits=(16, 2))
    subject = fields.Char()
    body = fields.Text(help="The text as the customer reads it.")
    body_html = fields.Html(
        string="Text (HTML)",
        compute="_compute_body_html",
        sanitize=False,
        help="The text as paragraphs, for email templates.",
    )
    email_from = fields.Char(compute="_compute_email_from", help="The reminders' sender.")
    language = fields.Char()
    explanation = fields.Json()
    explanation_text = fields.Text(compute="_compute_explanation_text")
    line_ids = fields.One2many("relance.action.line", "action_id", string="Invoices")
    mail_id = fields.Many2one("mail.mail", string="Email", ondelete="set null")
    message_id = fields.Many2one("mail.message", ondelete="set null")
    activity_user_id = fields.Many2one("res.users", string="Assigned to")
    attachment_id = fields.Many2one("ir.attachment", string="Document", ondelete="set null")
    display_label = fields.Char(compute="_compute_display_label")

    _sql_constraints = [
        (
            "key_company_uniq",
            "unique(company_id, key)",
            "This reminder was already recorded: the same reminder never goes out twice.",
        ),
    ]

    @api.depends("explanation")
    def _compute_explanation_text(self):
        for action in self:
            action.explanation_text = (
                json.dumps(action.explanation, indent=2, ensure_ascii=False)
                if action.explanation
                else ""
            )

    @api.depends("body")
    def _compute_body_html(self):
        for action in self:
            paragraphs = (action.body or "").split("\n\n")
            action.body_html = Markup("").join(PARAGRAPH % paragraph for paragraph in paragraphs)

    @api.depends("company_id.relance_email_from", "company_id.email_formatted")
    def _compute_email_from(self):
        for action in self:
            company = action.company_id
            action.email_from = company.relance_email_from or company.email_formatted

    def mail_allowed_qweb_expressions(self):
        # What the shipped reminder email reads: a template made only of these is
        # rendered by Odoo without compiling QWeb for each mail.
        return (
            *super().mail_allowed_qweb_expressions(),
            "object.subject",
            "object.body_html",
            "object.email_from",
            "object.partner_id.lang",
        )

    @api.depends("partner_id", "plan", "step", "channel", "date")
    def _compute_display_label(self):
        labels = dict(CHANNEL_SELECTION)
        for action in self:
            action.display_label = (
                f"{action.partner_id.display_name} · {action.plan} {action.step} · "
                f"{labels.get(action.channel, action.channel)} · {action.date}"
            )

    def _statement_moves(self):
        """The customer's open invoices and credit notes, for the statement of account."""
        self.ensure_one()
        return self.env["account.move"].search(
            [
                ("commercial_partner_id", "=", self.partner_id.id),
                ("company_id", "=", self.company_id.id),
                ("state", "=", "posted"),
                ("move_type", "in", ("out_invoice", "out_refund", "out_receipt")),
                ("payment_state", "in", ("not_paid", "partial")),
            ],
            order="invoice_date_due, id",
        )

    @api.model
    def _cron_render_documents(self, limit=200):
        """Letters and formal notices queued by a run get their PDF, attached to the
        customer's chatter."""
        queued = self.search(
            [("state", "=", "queued"), ("channel", "in", ("letter", "formal_notice"))],
            limit=limit,
            order="id",
        )
        self.env["relance.service"]._render_documents(queued)
        if len(queued) == limit:
            self.env.ref("odoo_addon_relance.ir_cron_relance_documents")._trigger()
        return len(queued)


class RelanceActionLine(models.Model):
    _name = "relance.action.line"
    _description = "Invoice in a reminder"
    _order = "action_id, move_id"
    # A run writes thousands of lines at once and nothing edits them afterwards: who
    # and when are the action's, and every extra foreign key is a check per row.
    _log_access = False

    action_id = fields.Many2one("relance.action", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="action_id.company_id")
    move_id = fields.Many2one("account.move", string="Invoice", required=True, index=True)
    step = fields.Integer(required=True, help="The plan step the invoice had reached.")
    days_overdue = fields.Integer()
    currency_id = fields.Many2one(related="action_id.currency_id")
    open_amount = fields.Monetary()
    interest = fields.Monetary(string="Late interest")
    indemnity = fields.Monetary(string="Recovery indemnity")
