"""Pennylane's error answers turned into ``SourceError``s that say what to fix.

Bodies vary (``{error, status}``, ``{message, code, field}``, ``{error, message,
details}``, plain text on 429): ``describe_body`` reads whatever is there.
Messages never carry the token.
"""

from __future__ import annotations

import json
import re
from typing import Any

from connectors.sources import ErrorKind, SourceError

__all__ = ["TOKEN_HELP", "PennylaneError", "describe_body", "error_for_status", "missing_scope"]

SOURCE = "pennylane"
TOKEN_HELP = "Pennylane › Settings › Connectivity › Developers"
_SCOPE = re.compile(r"scopes?\s*[\"'“]?([a-z_]+:[a-z_]+)", re.IGNORECASE)
_MAX_TEXT = 300


class PennylaneError(SourceError):
    """A ``SourceError`` that also knows the HTTP status (``None``: no answer at all).

    ``uncertain`` marks a write whose outcome is unknown (a 5xx or a timeout
    after the request left): the caller reads the resource back before
    deciding anything.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        status: int | None = None,
        retry_after: float | None = None,
        uncertain: bool = False,
    ) -> None:
        super().__init__(message, kind=kind, source=SOURCE, retry_after=retry_after)
        self.status = status
        self.uncertain = uncertain


def describe_body(text: str) -> str:
    """The human part of an error body, JSON or plain text, shortened."""
    text = text.strip()
    try:
        data: Any = json.loads(text) if text else None
    except ValueError:
        return text[:_MAX_TEXT]
    if isinstance(data, dict):
        parts: list[str] = []
        for key in ("error", "message", "details"):
            value = data.get(key)
            if isinstance(value, str) and value and value not in parts:
                parts.append(value)
            elif isinstance(value, dict | list) and value:
                parts.append(json.dumps(value, ensure_ascii=False)[:_MAX_TEXT])
        extra = [f"{key} {data[key]}" for key in ("code", "field") if data.get(key)]
        if extra:
            parts.append(f"({', '.join(extra)})")
        return " ".join(parts)[:_MAX_TEXT] if parts else text[:_MAX_TEXT]
    if isinstance(data, str):
        return data[:_MAX_TEXT]
    return text[:_MAX_TEXT]


def missing_scope(text: str) -> str | None:
    """The scope a 403 body names (``Access to this resource requires scope "x:all"``)."""
    match = _SCOPE.search(text)
    return match.group(1) if match else None


def error_for_status(
    status: int, body: str, what: str, *, retry_after: float | None = None
) -> PennylaneError:
    """The error for an answer ``status`` with ``body`` to the request ``what`` (``GET /me``)."""
    detail = describe_body(body)
    if status == 401:
        return PennylaneError(
            f"Pennylane refused the API token ({detail or 'unauthorized'}): it is wrong, "
            f"revoked or expired. Generate a new one in {TOKEN_HELP} and put it where the "
            f"source's token_env or token_file points",
            kind="config",
            status=status,
        )
    if status == 403:
        scope = missing_scope(detail) or missing_scope(body)
        named = f"the scope {scope}" if scope else "a scope this request needs"
        return PennylaneError(
            f"the API token lacks {named} ({what}: {detail or 'forbidden'}): add it to the "
            f"token in {TOKEN_HELP}, or generate a token with it",
            kind="config",
            status=status,
        )
    if status == 429:
        return PennylaneError(
            f"Pennylane's rate limit is still exceeded after several tries ({what}: "
            f"{detail or 'too many requests'}); the next cycle goes on",
            kind="transient",
            status=status,
            retry_after=retry_after,
        )
    if status >= 500:
        return PennylaneError(
            f"Pennylane answered {status} to {what} ({detail or 'server error'}); "
            f"the next cycle tries again",
            kind="transient",
            status=status,
            retry_after=retry_after,
        )
    if status == 422:
        return PennylaneError(
            f"Pennylane refused {what}: {detail or 'unprocessable'}", kind="data", status=status
        )
    return PennylaneError(
        f"Pennylane answered {status} to {what}: {detail or 'no detail'}",
        kind="data",
        status=status,
    )
