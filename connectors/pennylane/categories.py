"""Reminder state written into Pennylane as analytic categories of one user-made group.

The group (say "Relance") is created by the user in Pennylane: the API cannot
create groups.  ``ensure_catalog`` (``relance pennylane setup``) creates the
missing labels in it: "Litige", "Relance 1" … "Relance N", "Mise en demeure",
"Contentieux".  An invoice then carries at most one level label (the reminder
step reached: "Relance k" up to ``levels``, "Mise en demeure" beyond), plus
"Litige" while disputed and "Contentieux" once escalated.

Pennylane's ``PUT /customer_invoices/{id}/categories`` replaces the whole set
and wants the weights of each group to sum to 1.  So every write reads the
current set first, keeps the categories of other groups exactly as they are
(weights included), and shares our group's weight equally among the labels it
then holds (the user's own labels in that group included).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from connectors.pennylane.client import PennylaneClient, filter_param
from connectors.pennylane.errors import PennylaneError
from connectors.pennylane.models import Category, CategoryGroup, parse
from connectors.sources import Flag

__all__ = [
    "CONTENTIEUX",
    "LITIGE",
    "MISE_EN_DEMEURE",
    "Catalog",
    "ensure_catalog",
    "find_group",
    "labels",
    "load_catalog",
    "push_flags",
    "shares",
]

log = logging.getLogger("relance.pennylane")

LITIGE = "Litige"
MISE_EN_DEMEURE = "Mise en demeure"
CONTENTIEUX = "Contentieux"
WRITE_TRIES = 3
_STEP = Decimal("0.0001")


def level_labels(levels: int) -> list[str]:
    return [*(f"Relance {k}" for k in range(1, levels + 1)), MISE_EN_DEMEURE]


def labels(levels: int) -> list[str]:
    """Every label Relance uses, in the order setup creates them."""
    return [LITIGE, *level_labels(levels), CONTENTIEUX]


def level_label(step: int, levels: int) -> str:
    return f"Relance {step}" if step <= levels else MISE_EN_DEMEURE


@dataclass
class Catalog:
    """Our group and the ids of the labels it holds."""

    group: CategoryGroup
    ids: dict[str, int] = field(default_factory=dict)  # label -> category id

    def missing(self, levels: int) -> list[str]:
        return [label for label in labels(levels) if label not in self.ids]

    def label_of(self, category_id: int) -> str | None:
        for label, ident in self.ids.items():
            if ident == category_id:
                return label
        return None


def find_group(client: PennylaneClient, name: str) -> CategoryGroup | None:
    """The category group named ``name`` (case and surrounding spaces ignored), or by its id."""
    wanted = name.strip().casefold()
    for page in client.pages("/category_groups"):
        for item in page:
            group = parse(CategoryGroup, item, "category group")
            if group.title.strip().casefold() == wanted or str(group.id) == name.strip():
                return group
    return None


def group_categories(client: PennylaneClient, group: CategoryGroup) -> list[Category]:
    found: list[Category] = []
    query = {"filter": filter_param(("category_group_id", "eq", group.id))}
    for page in client.pages("/categories", query):
        found.extend(parse(Category, item, "category") for item in page)
    return found


def load_catalog(client: PennylaneClient, group_name: str) -> Catalog | None:
    """Our group and its labels; ``None`` when the group does not exist (yet)."""
    group = find_group(client, group_name)
    if group is None:
        return None
    catalog = Catalog(group)
    for category in group_categories(client, group):
        if category.label:
            catalog.ids.setdefault(category.label.strip(), category.id)
    return catalog


def ensure_catalog(
    client: PennylaneClient, group_name: str, levels: int
) -> tuple[Catalog, list[str]]:
    """Create the missing labels in the group; return the catalog and the labels created.

    A create whose answer was lost is checked by reading the group again: a
    label is never created twice.
    """
    catalog = load_catalog(client, group_name)
    if catalog is None:
        raise PennylaneError(
            f"there is no category group '{group_name}' in Pennylane: create it in Pennylane "
            f"(Analytics › Categories › new group; the API cannot create groups), or set the "
            f"source's category_group to an existing group",
            kind="config",
        )
    created: list[str] = []
    for label in catalog.missing(levels):
        catalog.ids[label] = _create(client, catalog, label)
        created.append(label)
    return catalog, created


def _create(client: PennylaneClient, catalog: Catalog, label: str) -> int:
    body = {"label": label, "category_group_id": catalog.group.id}
    for _ in range(WRITE_TRIES):
        try:
            answer = client.request("POST", "/categories", body=body)
            return parse(Category, answer.data, "category").id
        except PennylaneError as error:
            if not error.uncertain:
                raise
            log.warning("category create uncertain label=%r: reading back", label)
            again = load_catalog(client, catalog.group.title or str(catalog.group.id))
            if again is not None and label in again.ids:
                return again.ids[label]
    raise PennylaneError(
        f"could not create the category '{label}': Pennylane did not answer", kind="transient"
    )


# -- weights ---------------------------------------------------------------------------------


def shares(count: int) -> list[str]:
    """``count`` weights of at most 4 decimals summing exactly to 1 (the last takes the rest)."""
    if count <= 0:
        return []
    part = (Decimal(1) / count).quantize(_STEP, rounding=ROUND_DOWN)
    weights = [part] * (count - 1)
    weights.append(Decimal(1) - sum(weights, Decimal(0)))
    return [format(w.normalize(), "f") for w in weights]


def merged_body(
    current: Sequence[Category], catalog: Catalog, ours: Iterable[str], levels: int
) -> list[dict[str, Any]]:
    """The full category set to PUT: other groups as they are, our group shared equally."""
    group_id = catalog.group.id
    body = [
        {"id": c.id, "weight": format(c.weight if c.weight is not None else Decimal(1), "f")}
        for c in current
        if c.group_id != group_id
    ]
    ours_ids = set(catalog.ids.values())
    in_group = sorted({c.id for c in current if c.group_id == group_id and c.id not in ours_ids})
    order = {label: index for index, label in enumerate(labels(levels))}
    in_group += [catalog.ids[label] for label in sorted(ours, key=lambda x: order.get(x, 0))]
    body += [
        {"id": ident, "weight": w} for ident, w in zip(in_group, shares(len(in_group)), strict=True)
    ]
    return body


# -- pushing flags ---------------------------------------------------------------------------


def apply(flags: Iterable[Flag], current: set[str], levels: int) -> set[str]:
    """Our labels on an invoice once these flags are applied to ``current``."""
    result = set(current)
    for flag in flags:
        if flag.kind == "reminder_level":
            result -= set(level_labels(max(levels, _step(flag) or 0)))
            step = _step(flag)
            if step:
                result.add(level_label(step, levels))
        elif flag.kind == "dispute":
            (result.add if flag.value not in (None, False, "") else result.discard)(LITIGE)
        elif flag.kind == "escalated":
            (result.add if bool(flag.value) else result.discard)(CONTENTIEUX)
    return result


def _step(flag: Flag) -> int | None:
    value = flag.value
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _read(client: PennylaneClient, invoice_id: int) -> list[Category]:
    data = client.get(f"/customer_invoices/{invoice_id}/categories")
    items = data.get("items", []) if isinstance(data, dict) else data
    return [parse(Category, item, "invoice category") for item in items or []]


def _ours(current: Iterable[Category], catalog: Catalog) -> set[str]:
    found = {catalog.label_of(c.id) for c in current}
    return {label for label in found if label is not None}


def push_flags(
    client: PennylaneClient, catalog: Catalog, flags: Sequence[Flag], levels: int
) -> list[Flag]:
    """Write the flags, one read and (when something changes) one write per invoice.

    Returns the flags whose state Pennylane now holds; drafts and invoices
    Pennylane no longer has are skipped, with the reason logged.
    """
    by_invoice: dict[str, list[Flag]] = {}
    for flag in flags:
        by_invoice.setdefault(flag.ref, []).append(flag)
    missing = set(catalog.missing(levels))
    written: list[Flag] = []
    for ref, group in by_invoice.items():
        if not ref.isdigit():
            log.warning("push skipped invoice=%s reason=not a Pennylane invoice id", ref)
            continue
        absent = sorted(apply(group, set(), levels) & missing)
        if absent:
            raise PennylaneError(
                f"the category group '{catalog.group.title}' lacks {', '.join(absent)}: "
                f"run `relance pennylane setup --config ...` once",
                kind="config",
            )
        if _write_one(client, catalog, int(ref), group, levels):
            written.extend(group)
    return written


def _write_one(
    client: PennylaneClient, catalog: Catalog, invoice_id: int, flags: Sequence[Flag], levels: int
) -> bool:
    try:
        current = _read(client, invoice_id)
    except PennylaneError as error:
        if error.status == 404:
            log.warning("push skipped invoice=%d reason=no longer in Pennylane", invoice_id)
            return False
        raise
    wanted = apply(flags, _ours(current, catalog), levels)
    if wanted == _ours(current, catalog) and _group_sums_to_one(current, catalog):
        return True  # already so (a previous write whose answer was lost, or a no-op)
    body = merged_body(current, catalog, wanted, levels)
    for _ in range(WRITE_TRIES):
        try:
            client.request("PUT", f"/customer_invoices/{invoice_id}/categories", body=body)
            return True
        except PennylaneError as error:
            if error.status == 422 and "draft" in error.message.lower():
                log.warning(
                    "push skipped invoice=%d reason=draft invoice (Pennylane takes categories "
                    "on finalized invoices only)",
                    invoice_id,
                )
                return False
            if not error.uncertain:
                raise
            log.warning("category write uncertain invoice=%d: reading back", invoice_id)
            if _ours(_read(client, invoice_id), catalog) == wanted:
                return True
    raise PennylaneError(
        f"could not write the categories of invoice {invoice_id}: Pennylane did not answer; "
        f"the next cycle tries again",
        kind="transient",
    )


def _group_sums_to_one(current: Sequence[Category], catalog: Catalog) -> bool:
    weights = [c.weight for c in current if c.group_id == catalog.group.id]
    return not weights or sum((w or Decimal(0) for w in weights), Decimal(0)) == 1
