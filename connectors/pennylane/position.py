"""The cursor the Pennylane source hands the runner: where each changelog was read up to.

A small JSON document (the runner stores it with the upserts, in one
transaction).  It holds timestamps only, never Pennylane's own cursors (those
are temporary and must not outlive one listing):

- ``customers`` / ``invoices``: the last ``processed_at`` read from each
  changelog (the next pull starts there; ``boundary`` lists the events at that
  very instant already handled, since ``start_date`` may be inclusive);
- ``litige``: invoices carrying the "Litige" category and the day Relance first
  saw it there; ``escalated``: those carrying "Contentieux" (category changes
  may emit no changelog event, so these sets are read on every pull and diffed);
- ``full_sync``: when the last full sync started, ``resync_reason`` why it
  happened (shown by ``relance status``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

__all__ = ["RETENTION", "Position"]

VERSION = 1
# Pennylane keeps changelog events four weeks; a position within an hour of that
# edge is treated as expired (the next call could cross it).
RETENTION = timedelta(weeks=4) - timedelta(hours=1)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Position:
    customers: datetime
    invoices: datetime
    full_sync: datetime
    resync_reason: str | None = None
    litige: dict[str, date] = field(default_factory=dict)
    escalated: frozenset[str] = frozenset()
    # Events at exactly the stored processed_at that were already handled: the
    # next read starts there (start_date may be inclusive) and skips them.
    boundary: dict[str, list[str]] = field(default_factory=dict)

    def oldest(self) -> datetime:
        return min(self.customers, self.invoices)

    def expired(self, now: datetime) -> bool:
        """Older than the changelogs' retention: only a full sync can catch up."""
        return now - self.oldest() > RETENTION

    def dump(self) -> str:
        return json.dumps(
            {
                "pennylane": VERSION,
                "customers": _iso(self.customers),
                "invoices": _iso(self.invoices),
                "full_sync": _iso(self.full_sync),
                "resync_reason": self.resync_reason,
                "litige": {k: v.isoformat() for k, v in sorted(self.litige.items())},
                "escalated": sorted(self.escalated),
                "boundary": self.boundary,
            },
            separators=(",", ":"),
        )

    @staticmethod
    def load(cursor: str | None) -> Position | None:
        """The position this source wrote, or ``None`` (nothing yet, or not ours: full sync)."""
        if not cursor:
            return None
        try:
            data = json.loads(cursor)
            if not isinstance(data, dict) or data.get("pennylane") != VERSION:
                return None
            return Position(
                customers=_moment(data["customers"]),
                invoices=_moment(data["invoices"]),
                full_sync=_moment(data["full_sync"]),
                resync_reason=data.get("resync_reason"),
                litige={str(k): date.fromisoformat(v) for k, v in data.get("litige", {}).items()},
                escalated=frozenset(str(i) for i in data.get("escalated", [])),
                boundary={str(k): [str(i) for i in v] for k, v in data.get("boundary", {}).items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
