"""A fake Pennylane Company API v2 on 127.0.0.1, enforcing the contract of
/work/shared/reference/pennylane_api.md (see docs/pennylane.md for what is assumed).

What it enforces: Bearer tokens and their scopes (401, 403 naming the scope),
cursor pagination (``limit`` 1-100, 1-1000 on changelogs, same ``limit`` on
every page, opaque cursors, 400 on a bad one), the JSON ``filter`` parameter
(documented fields and operators only), the rate limit per token (fixed
windows; ``ratelimit-*`` headers on every answer; 429 with ``retry-after`` and
a plain-text body), changelogs (``start_date`` or ``cursor``, not both; events
kept four weeks, an older ``start_date`` is a 422), category weights (strings of
at most 4 decimals, summing to 1 per group; drafts refused with a 422), and the
documented error bodies.

Tests drive it through Python methods (the accountant's side: ``add_invoice``,
``update_invoice``, ``set_categories``, ``advance``) and inject faults with
``fail_next``.  Not part of the product: only tests and the bench use it.
"""

from __future__ import annotations

import base64
import bisect
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ALL_SCOPES = (
    "customers:all",
    "customer_invoices:all",
    "categories:all",
)
RETENTION = timedelta(weeks=4)
WEIGHT = re.compile(r"^(0(\.\d{1,4})?|1(\.0{1,4})?)$")
OPERATORS = {"eq", "not_eq", "lt", "lteq", "gt", "gteq", "in", "not_in", "start_with"}
COMPARE = ("lt", "lteq", "gt", "gteq", "eq", "not_eq", "in", "not_in")
FILTERS: dict[str, dict[str, tuple[str, ...]]] = {
    "customer_invoices": {
        "id": COMPARE,
        "date": COMPARE,
        "customer_id": COMPARE,
        "invoice_number": ("eq", "not_eq", "in", "not_in"),
        "draft": ("eq",),
        "credit_note": ("eq",),
        "external_reference": ("eq",),
        "category_id": ("in",),
    },
    "customers": {
        "id": COMPARE,
        "customer_type": ("eq", "not_eq"),
        "name": ("start_with", "eq"),
        "external_reference": ("start_with", "eq", "not_eq", "in", "not_in"),
        "reg_no": ("eq", "not_eq", "in", "not_in"),
        "emails": ("in",),
    },
    "categories": {
        "id": COMPARE,
        "label": ("start_with", "eq", "in"),
        "category_group_id": COMPARE,
        "analytical_code": ("eq",),
    },
}


class Refusal(Exception):
    """An error answer: status, JSON (or text) body, extra headers."""

    def __init__(
        self, status: int, body: Any, headers: dict[str, str] | None = None, text: bool = False
    ) -> None:
        super().__init__(status)
        self.status, self.body, self.headers, self.text = status, body, headers or {}, text


def _error(status: int, message: str) -> Refusal:
    return Refusal(status, {"error": message, "status": status})


def _bad(message: str, code: str, field: str | None = None) -> Refusal:
    body: dict[str, Any] = {"message": message, "code": code}
    if field:
        body["field"] = field
    return Refusal(400, body)


@dataclass
class Fault:
    status: int
    count: int
    path: str | None = None  # a path prefix; None: any
    method: str | None = None
    retry_after: int = 1


@dataclass
class Event:
    id: int
    operation: str
    processed_at: datetime


@dataclass
class Token:
    scopes: tuple[str, ...]
    expired: bool = False
    window_start: float = 0.0
    used: int = 0


@dataclass
class Logged:
    method: str
    path: str
    status: int
    query: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


def _money(value: Decimal | str | int) -> str:
    return format(Decimal(str(value)).quantize(Decimal("0.01")), "f")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakePennylane:
    """The server's state and rules; ``serve()`` puts it on 127.0.0.1 in a thread."""

    def __init__(self, *, limit: int = 25, window: float = 5.0) -> None:
        self.lock = threading.RLock()
        self.rate_limit, self.window = limit, window
        self.offset = timedelta()
        self.tokens: dict[str, Token] = {}
        self.company = {"id": 4242, "name": "Atelier Martin SAS", "reg_no": "512345678"}
        self.customers: dict[int, dict[str, Any]] = {}
        self.contacts: dict[int, list[dict[str, Any]]] = {}
        self.invoices: dict[int, dict[str, Any]] = {}
        self.groups: dict[int, dict[str, Any]] = {}
        self.categories: dict[int, dict[str, Any]] = {}
        self.invoice_categories: dict[int, list[tuple[int, str]]] = {}
        self.events: dict[str, list[Event]] = {"customers": [], "customer_invoices": []}
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self.category_events = False  # does a category change emit an invoice event? [L]
        self._next_id = 1000
        self._server: ThreadingHTTPServer | None = None

    # -- the accountant's side (Python API for tests) ----------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        """Move the server's calendar (retention, Date header); rate windows use real time."""
        with self.lock:
            self.offset += delta

    def token(self, value: str, scopes: tuple[str, ...] = ALL_SCOPES) -> str:
        self.tokens[value] = Token(scopes)
        return value

    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    def _emit(self, resource: str, ident: int, operation: str) -> None:
        self.events[resource].append(Event(ident, operation, self.now()))

    def add_group(self, label: str) -> int:
        ident = self.new_id()
        self.groups[ident] = {"id": ident, "label": label}
        return ident

    def add_category(self, group_id: int, label: str) -> int:
        ident = self.new_id()
        now = _iso(self.now())
        self.categories[ident] = {
            "id": ident,
            "label": label,
            "direction": None,
            "analytical_code": None,
            "category_group": {"id": group_id},
            "created_at": now,
            "updated_at": now,
        }
        return ident

    def category_id(self, label: str) -> int:
        return next(c["id"] for c in self.categories.values() if c["label"] == label)

    def add_customer(self, name: str, *, emit: bool = True, **fields: Any) -> int:
        with self.lock:
            ident = fields.pop("id", None) or self.new_id()
            kind = fields.pop("customer_type", "company")
            now = _iso(self.now())
            record: dict[str, Any] = {
                "id": ident,
                "customer_type": kind,
                "name": name,
                "emails": [],
                "phone": None,
                "billing_language": "fr_FR",
                "payment_conditions": "30_days",
                "reference": None,
                "notes": None,
                "external_reference": f"ext-{ident}",
                "ledger_account": {"id": 5521},
                "contacts": {"url": f"/api/external/v2/customers/{ident}/contacts"},
                "created_at": now,
                "updated_at": now,
                "some_field_added_in_2027": {"anything": True},
            }
            if kind == "company":
                record.update({"vat_number": None, "reg_no": None})
            record.update(fields)
            self.customers[ident] = record
            self.contacts.setdefault(ident, [])
            if emit:
                self._emit("customers", ident, "insert")
            return int(ident)

    def update_customer(self, ident: int, **fields: Any) -> None:
        with self.lock:
            self.customers[ident].update(fields, updated_at=_iso(self.now()))
            self._emit("customers", ident, "update")

    def add_contact(self, customer_id: int, email: str, **fields: Any) -> None:
        self.contacts[customer_id].append(
            {
                "id": self.new_id(),
                "first_name": fields.get("first_name", "Paul"),
                "last_name": fields.get("last_name", "Durand"),
                "role": fields.get("role"),
                "email": email,
                "telephone_number": fields.get("telephone_number"),
                "mobile_number": fields.get("mobile_number"),
            }
        )

    def add_invoice(
        self,
        customer_id: int,
        amount: str,
        *,
        issued: date,
        deadline: date | None,
        remaining: str | None = None,
        emit: bool = True,
        **fields: Any,
    ) -> int:
        with self.lock:
            ident = fields.pop("id", None) or self.new_id()
            remaining = amount if remaining is None else remaining
            credit_note = bool(fields.pop("credit_note", False))
            sign = "-" if credit_note else ""
            now = _iso(self.now())
            record: dict[str, Any] = {
                "id": ident,
                "invoice_number": fields.pop("invoice_number", f"F-{ident}"),
                "label": f"Facture {ident}",
                "date": issued.isoformat(),
                "deadline": deadline.isoformat() if deadline else None,
                "currency": "EUR",
                "exchange_rate": "1.0",
                "amount": sign + _money(amount),
                "currency_amount": sign + _money(amount),
                "currency_amount_before_tax": _money(Decimal(amount) / Decimal("1.2")),
                "tax": "0.00",
                "remaining_amount_with_tax": sign + _money(remaining),
                "remaining_amount_without_tax": None,
                "paid": Decimal(remaining) == 0,
                "status": None,
                "draft": False,
                "customer": {"id": customer_id, "url": f"/customers/{customer_id}"},
                "credited_invoice": None,
                "e_invoicing": None,
                "public_file_url": "https://example.invalid/pdf",
                "factur_x": False,
                "categories": {"url": f"/customer_invoices/{ident}/categories"},
                "created_at": now,
                "updated_at": now,
            }
            record.update(fields)
            if credit_note:
                record["status"] = "credit_note"
            if record["status"] is None:
                record["status"] = self._status(record)
            self.invoices[ident] = record
            if emit:
                self._emit("customer_invoices", ident, "insert")
            return int(ident)

    def _status(self, record: dict[str, Any]) -> str:
        if record["draft"]:
            return "draft"
        remaining = Decimal(record["remaining_amount_with_tax"])
        if remaining == 0:
            return "paid"
        if remaining < Decimal(record["amount"]):
            return "partially_paid"
        deadline = record["deadline"]
        return (
            "late" if deadline and date.fromisoformat(deadline) < self.now().date() else "upcoming"
        )

    def update_invoice(self, ident: int, **fields: Any) -> None:
        with self.lock:
            record = self.invoices[ident]
            if "remaining" in fields:
                remaining = fields.pop("remaining")
                record["remaining_amount_with_tax"] = _money(remaining)
                record["paid"] = Decimal(remaining) == 0
                record["status"] = self._status(record)
            record.update(fields, updated_at=_iso(self.now()))
            self._emit("customer_invoices", ident, "update")

    def delete_invoice(self, ident: int) -> None:
        with self.lock:
            del self.invoices[ident]
            self.invoice_categories.pop(ident, None)
            self._emit("customer_invoices", ident, "delete")

    def set_categories(self, invoice_id: int, weights: list[tuple[int, str]]) -> None:
        """What an accountant does in Pennylane's UI (no weight checks there)."""
        with self.lock:
            self.invoice_categories[invoice_id] = list(weights)
            if self.category_events:
                self._emit("customer_invoices", invoice_id, "update")

    def labels_of(self, invoice_id: int) -> dict[str, str]:
        return {
            self.categories[c]["label"]: w for c, w in self.invoice_categories.get(invoice_id, [])
        }

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        path: str | None = None,
        method: str | None = None,
        retry_after: int = 1,
    ) -> None:
        self.faults.append(Fault(status, count, path, method, retry_after))

    def requests_to(self, prefix: str) -> list[Logged]:
        return [r for r in self.log if r.path.startswith(prefix)]

    # -- serving -----------------------------------------------------------------------

    def serve(self) -> str:
        """Start on a free port of 127.0.0.1; return the base URL (…/api/external/v2)."""
        fake = self

        class Handler(_Handler):
            server_state = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/external/v2"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- the rules ---------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str], bool]:
        """One request -> (status, body, headers, body is text)."""
        parts = urlsplit(raw_path)
        path = parts.path.removeprefix("/api/external/v2")
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        extra: dict[str, str] = {}
        status = 500
        try:
            token = self._authenticate(headers.get("authorization", ""))
            extra = self._rate(token)
            self._fault(method, path)
            status, data = self._route(method, path, query, body, token)
            return status, data, extra, False
        except Refusal as refusal:
            status = refusal.status
            return refusal.status, refusal.body, {**extra, **refusal.headers}, refusal.text
        finally:
            with self.lock:
                self.log.append(Logged(method, path, status, query))

    def _authenticate(self, header: str) -> Token:
        value = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        token = self.tokens.get(value)
        if token is None:
            raise _error(401, "Unauthorized: invalid or missing API token")
        if token.expired:
            raise _error(401, "The access token expired")
        return token

    def _rate(self, token: Token) -> dict[str, str]:
        with self.lock:
            now = time.time()
            start = math.floor(now / self.window) * self.window
            if token.window_start != start:
                token.window_start, token.used = start, 0
            reset = start + self.window
            token.used += 1
            left = self.rate_limit - token.used
            headers = {
                "ratelimit-limit": str(self.rate_limit),
                "ratelimit-remaining": str(max(left, 0)),
                "ratelimit-reset": str(math.ceil(reset)),
            }
            if left < 0:
                wait = max(math.ceil(reset - now), 1)
                raise Refusal(
                    429,
                    f"Rate limit exceeded. Please retry in {wait} seconds.",
                    {**headers, "retry-after": str(wait)},
                    text=True,
                )
            return headers

    def _fault(self, method: str, path: str) -> None:
        with self.lock:
            for fault in self.faults:
                if fault.count <= 0:
                    continue
                if fault.path is not None and not path.startswith(fault.path):
                    continue
                if fault.method is not None and fault.method != method:
                    continue
                fault.count -= 1
                if fault.status == 429:
                    raise Refusal(
                        429,
                        f"Rate limit exceeded. Please retry in {fault.retry_after} seconds.",
                        {"retry-after": str(fault.retry_after)},
                        text=True,
                    )
                raise Refusal(fault.status, {"error": "Internal Server Error"})

    @staticmethod
    def _scope(token: Token, resource: str, write: bool) -> None:
        needed = f"{resource}:all" if write else f"{resource}:readonly"
        granted = set(token.scopes)
        if f"{resource}:all" in granted or (not write and needed in granted):
            return
        raise _error(403, f'Access to this resource requires scope "{needed}"')

    def _route(
        self, method: str, path: str, query: dict[str, str], body: bytes, token: Token
    ) -> tuple[int, Any]:
        segments = [s for s in path.split("/") if s]
        with self.lock:
            if segments == ["me"] and method == "GET":
                return 200, {
                    "user": {"id": 1, "first_name": "Marie", "last_name": "Martin"},
                    "company": self.company,
                    "scopes": list(token.scopes),
                }
            if segments and segments[0] == "changelogs" and len(segments) == 2:
                resource = segments[1]
                if resource not in self.events:
                    raise _error(404, "Not Found")
                self._scope(token, resource, write=False)
                return 200, self._changelog(resource, query)
            if segments[:1] == ["customers"]:
                self._scope(token, "customers", write=method != "GET")
                return self._customers(method, segments[1:], query)
            if segments[:1] == ["customer_invoices"]:
                self._scope(token, "customer_invoices", write=method != "GET")
                return self._invoices(method, segments[1:], query, body)
            if segments[:1] in (["categories"], ["category_groups"]):
                self._scope(token, "categories", write=method != "GET")
                return self._categories(method, segments, query, body)
        raise _error(404, "Not Found")

    # -- listing -----------------------------------------------------------------------

    def _limit(self, query: dict[str, str], maximum: int) -> int:
        raw = query.get("limit", "20")
        try:
            limit = int(raw)
        except ValueError:
            raise _bad(f"limit must be an integer, got {raw!r}", "ValidateError", "limit") from None
        if limit > maximum:
            raise _bad(f"limit must be at most {maximum}", "MoreThanMaximum", "limit")
        if limit < 1:
            raise _bad("limit must be at least 1", "ValidateError", "limit")
        return limit

    def _conditions(
        self, resource: str, query: dict[str, str]
    ) -> list[Callable[[dict[str, Any]], bool]]:
        raw = query.get("filter")
        if raw is None:
            return []
        try:
            conditions = json.loads(raw)
        except ValueError:
            raise _bad("filter is not valid JSON", "ValidateError", "filter") from None
        if not isinstance(conditions, list):
            raise _bad("filter must be an array", "ValidateError", "filter")
        allowed = FILTERS[resource]
        tests: list[Callable[[dict[str, Any]], bool]] = []
        for item in conditions:
            if not isinstance(item, dict) or set(item) != {"field", "operator", "value"}:
                raise _bad("each filter needs field, operator and value", "NotExistRequiredKey")
            name, operator, value = item["field"], item["operator"], item["value"]
            if name not in allowed:
                raise _bad(f"unknown filter field {name!r}", "NotEnumInclude", "filter")
            if operator not in allowed[name]:
                raise _bad(f"operator {operator!r} not allowed on {name!r}", "NotEnumInclude")
            if operator in ("in", "not_in"):
                if not isinstance(value, list):
                    raise _bad(f"{operator} takes an array", "ValidateError", "filter")
                if len(value) > 100:
                    raise _bad("at most 100 values", "MoreThanMaximum", "filter")
            tests.append(_predicate(resource, name, operator, value, self))
        return tests

    def _page(
        self,
        resource: str,
        records: dict[int, dict[str, Any]],
        query: dict[str, str],
        *,
        shape: Callable[[dict[str, Any]], dict[str, Any]] = lambda r: r,
    ) -> dict[str, Any]:
        limit = self._limit(query, 100)
        if resource not in FILTERS and "filter" in query:
            raise _bad(f"this endpoint takes no filter ({resource})", "NotExistPropertyDefinition")
        tests = self._conditions(resource, query) if resource in FILTERS else []
        sort = query.get("sort", "-id")
        if sort not in ("id", "-id"):
            raise _bad(f"unsupported sort {sort!r}", "NotEnumInclude", "sort")
        descending = sort == "-id"
        ids = sorted(records)
        after = _read_cursor(query.get("cursor"), limit, resource)
        if descending:
            ids.reverse()
            start = 0 if after is None else bisect.bisect_left([-i for i in ids], -after + 1)
        else:
            start = 0 if after is None else bisect.bisect_right(ids, after)
        items: list[dict[str, Any]] = []
        last: int | None = None
        more = False
        for ident in ids[start:]:
            record = records[ident]
            if all(test(record) for test in tests):
                if len(items) == limit:
                    more = True
                    break
                items.append(shape(record))
                last = ident
        return {
            "items": items,
            "has_more": more,
            "next_cursor": _cursor(last, limit, resource) if more and last is not None else None,
        }

    def _changelog(self, resource: str, query: dict[str, str]) -> dict[str, Any]:
        limit = self._limit(query, 1000)
        now = self.now()
        events = [e for e in self.events[resource] if e.processed_at >= now - RETENTION]
        self.events[resource] = events
        if "start_date" in query and "cursor" in query:
            raise _bad("give start_date or cursor, not both", "NotOneOf")
        if "cursor" in query:
            begin = (_read_cursor(query["cursor"], limit, f"changelog:{resource}") or 0) + 1
        elif "start_date" in query:
            try:
                since = datetime.fromisoformat(query["start_date"].replace("Z", "+00:00"))
            except ValueError:
                raise _bad(
                    "start_date is not RFC 3339", "InvalidDateFormat", "start_date"
                ) from None
            if since.tzinfo is None:
                raise _bad("start_date needs a time zone", "InvalidDateFormat", "start_date")
            if since < now - RETENTION:
                raise _error(422, "start_date must be within the last 4 weeks")
            begin = next((n for n, e in enumerate(events) if e.processed_at >= since), len(events))
        else:
            begin = 0
        chunk = events[begin : begin + limit]
        more = begin + limit < len(events)
        items = [
            {
                "id": e.id,
                "operation": e.operation,
                "processed_at": _iso(e.processed_at),
                "updated_at": _iso(e.processed_at),
                "created_at": _iso(e.processed_at),
            }
            for e in chunk
        ]
        last = begin + len(chunk) - 1
        return {
            "items": items,
            "has_more": more,
            "next_cursor": _cursor(last, limit, f"changelog:{resource}") if more else None,
        }

    # -- resources ---------------------------------------------------------------------

    def _customers(self, method: str, rest: list[str], query: dict[str, str]) -> tuple[int, Any]:
        if method != "GET":
            raise _error(404, "Not Found")
        if not rest:
            return 200, self._page("customers", self.customers, query)
        ident = _int(rest[0])
        if ident not in self.customers:
            raise _error(404, "Not Found")
        if rest[1:] == ["contacts"]:
            contacts = {c["id"]: c for c in self.contacts.get(ident, [])}
            return 200, self._page("contacts", contacts, query)
        if len(rest) == 1:
            return 200, self.customers[ident]
        raise _error(404, "Not Found")

    def _invoices(
        self, method: str, rest: list[str], query: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        if not rest and method == "GET":
            return 200, self._page("customer_invoices", self.invoices, query)
        ident = _int(rest[0]) if rest else None
        if ident is None or ident not in self.invoices:
            raise _error(404, "Not Found")
        if len(rest) == 1 and method == "GET":
            return 200, self.invoices[ident]
        if rest[1:] == ["categories"]:
            if method == "GET":
                return 200, self._invoice_categories(ident)
            if method == "PUT":
                return 200, self._put_categories(ident, body)
        raise _error(404, "Not Found")

    def _invoice_categories(self, ident: int) -> list[dict[str, Any]]:
        if self.invoices[ident]["draft"]:
            return []
        return [
            {**self.categories[c], "weight": w} for c, w in self.invoice_categories.get(ident, [])
        ]

    def _put_categories(self, ident: int, body: bytes) -> list[dict[str, Any]]:
        if self.invoices[ident]["draft"]:
            raise _error(422, "This endpoint is not applicable for draft invoices")
        try:
            items = json.loads(body or b"null")
        except ValueError:
            raise _bad("body is not JSON", "ValidateError") from None
        if not isinstance(items, list):
            raise _bad("body must be an array of {id, weight}", "ValidateError")
        sums: dict[int, Decimal] = {}
        chosen: list[tuple[int, str]] = []
        for item in items:
            if not isinstance(item, dict) or set(item) != {"id", "weight"}:
                raise _bad("each category needs id and weight", "NotExistRequiredKey")
            weight = item["weight"]
            if not isinstance(weight, str) or not WEIGHT.match(weight):
                raise _bad(
                    f"weight must be a string from 0 to 1 with at most 4 decimals, got {weight!r}",
                    "ValidateError",
                    "weight",
                )
            category = self.categories.get(item["id"])
            if category is None:
                raise _error(422, f"Category {item['id']} does not exist")
            group = category["category_group"]["id"]
            sums[group] = sums.get(group, Decimal(0)) + Decimal(weight)
            chosen.append((item["id"], weight))
        for group, total in sums.items():
            if total != 1:
                raise _error(
                    422,
                    f"The weights of the categories of group {group} must sum to 1, got {total}",
                )
        self.invoice_categories[ident] = chosen
        if self.category_events:
            self._emit("customer_invoices", ident, "update")
        return self._invoice_categories(ident)

    def _categories(
        self, method: str, segments: list[str], query: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        if segments == ["category_groups"] and method == "GET":
            return 200, self._page("category_groups", self.groups, query)
        if len(segments) == 3 and segments[0] == "category_groups" and segments[2] == "categories":
            group = _int(segments[1])
            if group not in self.groups:
                raise _error(404, "Not Found")
            members = {
                i: c for i, c in self.categories.items() if c["category_group"]["id"] == group
            }
            return 200, self._page("category_members", members, query)
        if segments == ["categories"] and method == "GET":
            return 200, self._page("categories", self.categories, query)
        if segments == ["categories"] and method == "POST":
            try:
                data = json.loads(body or b"null")
            except ValueError:
                raise _bad("body is not JSON", "ValidateError") from None
            if (
                not isinstance(data, dict)
                or not data.get("label")
                or "category_group_id" not in data
            ):
                raise _bad("label and category_group_id are required", "NotExistRequiredKey")
            group = data["category_group_id"]
            if group not in self.groups:
                raise _error(422, f"Category group {group} does not exist")
            if any(
                c["label"] == data["label"] and c["category_group"]["id"] == group
                for c in self.categories.values()
            ):
                raise _error(409, f"A category labelled {data['label']!r} already exists")
            ident = self.add_category(group, data["label"])
            return 201, self.categories[ident]
        raise _error(404, "Not Found")


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _cursor(last: int | None, limit: int, kind: str) -> str:
    raw = json.dumps({"after": last, "limit": limit, "kind": kind}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_cursor(cursor: str | None, limit: int, kind: str) -> int | None:
    if cursor is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        after, used, used_kind = int(data["after"]), int(data["limit"]), data["kind"]
    except (ValueError, KeyError, TypeError):
        raise _bad("invalid cursor", "ValidateError", "cursor") from None
    if used_kind != kind:
        raise _bad("this cursor belongs to another listing", "ValidateError", "cursor")
    if used != limit:
        raise _bad("keep the same limit on every page of a listing", "ValidateError", "limit")
    return after


def _predicate(
    resource: str, name: str, operator: str, value: Any, fake: FakePennylane
) -> Callable[[dict[str, Any]], bool]:
    def read(record: dict[str, Any]) -> Any:
        if name == "customer_id":
            return (record.get("customer") or {}).get("id")
        if name == "category_group_id":
            return record["category_group"]["id"]
        return record.get(name)

    if name == "category_id":
        wanted = {int(v) for v in value}
        return lambda r: any(c in wanted for c, _ in fake.invoice_categories.get(r["id"], []))
    if name in ("draft", "credit_note"):
        flag = str(value).lower() == "true"
        if name == "credit_note":
            return lambda r: (r.get("status") == "credit_note") == flag
        return lambda r: bool(r.get("draft")) == flag
    if name == "emails":
        return lambda r: any(e in value for e in r.get("emails") or [])

    def norm(v: Any) -> Any:
        return int(v) if name in ("id", "customer_id", "category_group_id") else v

    if operator == "in":
        values = {norm(v) for v in value}
        return lambda r: read(r) in values
    if operator == "not_in":
        values = {norm(v) for v in value}
        return lambda r: read(r) not in values
    if operator == "start_with":
        return lambda r: str(read(r) or "").startswith(str(value))
    target = norm(value)
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda a, b: a == b,
        "not_eq": lambda a, b: a != b,
        "lt": lambda a, b: a is not None and a < b,
        "lteq": lambda a, b: a is not None and a <= b,
        "gt": lambda a, b: a is not None and a > b,
        "gteq": lambda a, b: a is not None and a >= b,
    }
    compare = ops[operator]
    return lambda r: compare(read(r), target)


class _Handler(BaseHTTPRequestHandler):
    server_state: FakePennylane
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read FakePennylane.log

    def date_time_string(self, timestamp: float | None = None) -> str:
        return format_datetime(self.server_state.now(), usegmt=True)

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, data, extra, is_text = self.server_state.handle(
            self.command, self.path, headers, body
        )
        if is_text:
            payload = str(data).encode()
            kind = "text/plain; charset=utf-8"
        else:
            payload = b"" if status == 204 else json.dumps(data).encode()
            kind = "application/json"
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(payload)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


def serve_fake(**kwargs: Any) -> Iterator[tuple[FakePennylane, str]]:
    """A generator for pytest fixtures: the fake and its base URL; stopped afterwards."""
    fake = FakePennylane(**kwargs)
    url = fake.serve()
    try:
        yield fake, url
    finally:
        fake.stop()


def main() -> None:
    """Serve a small ledger for trying the commands by hand (the README's output comes from it):

    python tests/connectors/pennylane/pennylane_fake.py   # prints the base URL and token
    """
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from sync_support import small_ledger

    fake = FakePennylane()
    token = fake.token("demo-token")
    small_ledger(fake, date.today())
    fake.add_group("Relance")
    url = fake.serve()
    print(f"fake Pennylane at {url} (token {token}); Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
