"""What Pennylane returns, parsed leniently: unknown fields ignored, optional ones may be absent.

Fields drift (``estimate`` became ``quote``, ``factur_x`` was added in 2026):
only what the connector reads is declared, and everything but ``id`` may be
missing or null.  Money is ``Decimal`` (Pennylane sends decimal strings).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from connectors.pennylane.errors import PennylaneError

__all__ = [
    "Category",
    "CategoryGroup",
    "ChangeEvent",
    "Contact",
    "PlCustomer",
    "PlInvoice",
    "parse",
]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Ref(_Lenient):
    id: int | None = None


class PlCustomer(_Lenient):
    id: int
    customer_type: str | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    emails: list[str] | None = None
    phone: str | None = None
    billing_language: str | None = None
    payment_conditions: str | None = None
    reference: str | None = None
    external_reference: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class Contact(_Lenient):
    id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    telephone_number: str | None = None
    mobile_number: str | None = None


class EInvoicing(_Lenient):
    status: str | None = None
    reason: str | None = None


class PlInvoice(_Lenient):
    id: int
    invoice_number: str | None = None
    label: str | None = None
    date: dt.date | None = None
    deadline: dt.date | None = None
    currency: str | None = None
    amount: Decimal | None = None
    currency_amount: Decimal | None = None
    remaining_amount_with_tax: Decimal | None = None
    paid: bool | None = None
    status: str | None = None
    draft: bool | None = None
    credit_note: bool | None = None
    customer: Ref | None = None
    credited_invoice: Ref | None = None
    e_invoicing: EInvoicing | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class ChangeEvent(_Lenient):
    id: int
    operation: str
    processed_at: dt.datetime


class CategoryGroup(_Lenient):
    id: int
    label: str | None = None
    name: str | None = None

    @property
    def title(self) -> str:
        return self.label or self.name or ""


class Category(_Lenient):
    id: int
    label: str | None = None
    weight: Decimal | None = None
    category_group: Ref | None = None

    @property
    def group_id(self) -> int | None:
        return None if self.category_group is None else self.category_group.id


M = TypeVar("M", bound=_Lenient)


def parse(model: type[M], item: Any, what: str) -> M:
    """One record, or a ``data`` error naming the record and the field that is wrong."""
    try:
        return model.model_validate(item)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(record)"
        ident = item.get("id") if isinstance(item, dict) else None
        raise PennylaneError(
            f"{what} id {ident}: field '{field}': {first['msg']}, got {first.get('input')!r}",
            kind="data",
        ) from None
