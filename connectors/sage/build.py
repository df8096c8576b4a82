"""The ``sage100`` source from the settings ``company.source_options()`` hands over."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from connectors.sage.source import Sage100Source, SageOptions, WriteBack
from connectors.settings import Sage100Source as Sage100Settings
from connectors.sources import SourceError

__all__ = ["options_from_settings", "sage_source"]


def options_from_settings(settings: Sage100Settings) -> SageOptions:
    write = settings.write_back
    return SageOptions(
        url=settings.url,
        password=settings.password.get_secret_value() if settings.password else None,
        accounts=settings.accounts,
        currency=settings.currency,
        overlap_minutes=settings.overlap_minutes,
        full_every_hours=settings.full_every_hours,
        paid_days=settings.paid_days,
        opening_journals=settings.opening_journals,
        contact_functions=settings.contact_functions,
        history_plan=settings.history_plan,
        history_step_offset=settings.history_step_offset,
        write_back=WriteBack(write.reminder_level, write.dispute, write.escalated),
    )


def sage_source(options: Mapping[str, Any], company: str) -> Sage100Source:
    """Validated like the config file's source table (same model, same words)."""
    try:
        settings = Sage100Settings.model_validate({**options, "kind": "sage100"})
    except ValidationError as error:
        item = error.errors()[0]
        key = ".".join(str(part) for part in item["loc"])
        raise SourceError(
            f"company '{company}', source 'sage100', setting '{key}': {item['msg']}",
            kind="config",
            source="sage100",
        ) from None
    return Sage100Source(options_from_settings(settings))
