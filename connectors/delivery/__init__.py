"""Delivery channels of the sync daemon (DESIGN.md section 10): e-mail over SMTP, SMS
through a provider, letters as PDF files, phone tasks as a worklist.

Each channel takes an already-rendered ``OutgoingMessage`` and either delivers it or
raises ``DeliveryError`` saying whether a retry can help.  Deciding *what* to send
(the engine) and *whether* it was already sent (the outbox) live elsewhere.
"""

from connectors.delivery.errors import DeliveryError
from connectors.delivery.message import Attachment, OutgoingMessage, message_id_for

__all__ = ["Attachment", "DeliveryError", "OutgoingMessage", "message_id_for"]
