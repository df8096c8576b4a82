"""Turn an already-parsed TOML config into validated plans, segments and settings (DESIGN §9).

No config means the shipped defaults.  A config's ``plans`` are added to the
shipped plans (one with a shipped plan's name replaces it); its ``segments``,
if any, replace the shipped segment list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import InputError
from core.penalties import DEFAULT_PAYMENT_DEADLINE_DAYS
from core.plans import Plan, Step, shipped_plans
from core.segments import (
    MANUAL_SEGMENT,
    ExpressionError,
    SegmentRule,
    compile_condition,
    shipped_segments,
)
from core.texts import TemplateError, compile_template


@dataclass(frozen=True)
class Config:
    plans: dict[str, Plan] = field(default_factory=shipped_plans)
    segments: tuple[SegmentRule, ...] = field(default_factory=lambda: tuple(shipped_segments()))
    ecb_rate: Decimal | None = None
    late_interest_rate: Decimal | None = None
    company_language: str = "fr"
    payment_deadline_days: int = DEFAULT_PAYMENT_DEADLINE_DAYS
    # User-edited templates, "fr/reminder_1" -> Jinja2 source.
    templates: Mapping[str, str] = field(default_factory=dict)
    # Who the reminders come from: name, email, phone, address, iban.
    sender: Mapping[str, str] = field(default_factory=dict)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class _StepIn(_Strict):
    offset: int
    channel: str
    template: str
    min_amount: Decimal | None = Field(default=None, ge=0)


class _PlanIn(_Strict):
    name: str = Field(min_length=1)
    steps: list[_StepIn] = Field(min_length=1)
    min_amount: Decimal = Field(default=Decimal(0), ge=0)
    cooldown_days: int = Field(default=5, ge=0)
    business_days_only: bool = True


class _SegmentIn(_Strict):
    name: str = Field(min_length=1)
    when: str
    plan: str = Field(min_length=1)


class _SenderIn(_Strict):
    name: str = "Votre fournisseur"
    email: str = ""
    phone: str = ""
    address: str = ""
    iban: str = ""


class _ConfigIn(_Strict):
    plans: list[_PlanIn] = Field(default_factory=list)
    segments: list[_SegmentIn] = Field(default_factory=list)
    ecb_rate: Decimal | None = None
    late_interest_rate: Decimal | None = None
    company_language: str = "fr"
    payment_deadline_days: int = Field(default=DEFAULT_PAYMENT_DEADLINE_DAYS, ge=1, le=365)
    templates: dict[str, dict[str, str]] = Field(default_factory=dict)
    sender: _SenderIn = Field(default_factory=_SenderIn)

    @field_validator("ecb_rate", "late_interest_rate", mode="before")
    @classmethod
    def _float_as_written(cls, value: Any) -> Any:
        # TOML gives 0.0215 as a float; keep the digits the user wrote.
        return repr(value) if isinstance(value, float) else value

    @field_validator("ecb_rate", "late_interest_rate")
    @classmethod
    def _a_fraction(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not 0 <= value < 1:
            raise ValueError(
                f"a yearly rate is written as a fraction between 0 and 1 (0.0215 for 2.15 %), "
                f"got {value}"
            )
        return value


def _record_and_field(data: Mapping[str, Any], loc: tuple[int | str, ...]) -> tuple[str, str]:
    if len(loc) >= 2 and isinstance(loc[1], int):
        section, index = str(loc[0]), loc[1]
        record = f"{section}[{index}]"
        try:
            name = data[section][index].get("name")
        except (KeyError, IndexError, TypeError, AttributeError):
            name = None
        if isinstance(name, str) and name:
            record += f" (name '{name}')"
        rest = loc[2:]
    else:
        record, rest = "config", loc
    parts: list[str] = []
    for item in rest:
        if isinstance(item, int) and parts:
            parts[-1] += f"[{item}]"
        else:
            parts.append(str(item))
    return record, ".".join(parts) or (str(loc[0]) if loc else "")


def _validation_problems(data: Mapping[str, Any], error: ValidationError) -> list[InputError]:
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        record, field_name = _record_and_field(data, loc)
        kind = item["type"]
        message = "unknown field" if kind == "extra_forbidden" else item["msg"]
        if kind == "value_error":
            # Our own validators' messages already say what was given.
            message = message.removeprefix("Value error, ")
        elif kind not in ("extra_forbidden", "missing"):
            message += f", got {item['input']!r}"
        problems.append(InputError(message, record=record, field=field_name))
    return problems


def _plan(raw: _PlanIn) -> Plan:
    return Plan(
        name=raw.name,
        steps=tuple(Step(s.offset, s.channel, s.template, s.min_amount) for s in raw.steps),
        min_amount=raw.min_amount,
        cooldown_days=raw.cooldown_days,
        business_days_only=raw.business_days_only,
    )


def config_problems(data: Mapping[str, Any], known_templates: frozenset[str]) -> list[InputError]:
    """Every problem of the config, for ``relance validate``."""
    try:
        build_config(data, known_templates)
    except _Problems as problems:
        return problems.items
    return []


class _Problems(Exception):
    def __init__(self, items: list[InputError]) -> None:
        super().__init__(str(items[0]))
        self.items = items


def load_config(data: Mapping[str, Any] | None, known_templates: frozenset[str]) -> Config:
    """Validate and convert; raise the first problem found as an ``InputError``."""
    try:
        return build_config(data or {}, known_templates)
    except _Problems as problems:
        raise problems.items[0] from None


def build_config(data: Mapping[str, Any], known_templates: frozenset[str]) -> Config:
    try:
        raw = _ConfigIn.model_validate(data)
    except ValidationError as error:
        raise _Problems(_validation_problems(data, error)) from None

    problems: list[InputError] = []
    overrides = {
        f"{lang}/{tid}": source
        for lang, by_id in raw.templates.items()
        for tid, source in by_id.items()
    }
    template_ids = known_templates | {key.split("/", 1)[1] for key in overrides}
    for key, source in overrides.items():
        language, template = key.split("/", 1)
        try:
            compile_template(source, key)
        except TemplateError as error:
            problems.append(
                InputError(error.message, record=f"templates.{language}", field=template)
            )

    plans = shipped_plans()
    seen: set[str] = set()
    for index, raw_plan in enumerate(raw.plans):
        record = f"plans[{index}] (name '{raw_plan.name}')"
        if raw_plan.name in seen:
            problems.append(
                InputError(f"duplicate plan name '{raw_plan.name}'", record=record, field="name")
            )
        seen.add(raw_plan.name)
        plan = _plan(raw_plan)
        for field_name, message in plan.problems():
            problems.append(InputError(message, record=record, field=field_name))
        for position, step in enumerate(plan.steps):
            if step.template not in template_ids:
                problems.append(
                    InputError(
                        f"unknown template '{step.template}' "
                        f"(known: {', '.join(sorted(template_ids))})",
                        record=record,
                        field=f"steps[{position}].template",
                    )
                )
        plans[plan.name] = plan

    segments: list[SegmentRule] = []
    for index, raw_segment in enumerate(raw.segments):
        record = f"segments[{index}] (name '{raw_segment.name}')"
        if raw_segment.name == MANUAL_SEGMENT:
            problems.append(
                InputError(
                    f"'{MANUAL_SEGMENT}' is reserved for customers with a manual plan",
                    record=record,
                    field="name",
                )
            )
        try:
            condition = compile_condition(raw_segment.when, raw_segment.name)
        except ExpressionError as error:
            problems.append(InputError(str(error), record=record, field="when"))
            continue
        if raw_segment.plan not in plans:
            problems.append(
                InputError(
                    f"unknown plan '{raw_segment.plan}' (known: {', '.join(sorted(plans))})",
                    record=record,
                    field="plan",
                )
            )
        segments.append(SegmentRule(raw_segment.name, condition, raw_segment.plan))

    if problems:
        raise _Problems(problems)
    return Config(
        plans=plans,
        segments=tuple(segments) if raw.segments else tuple(shipped_segments()),
        ecb_rate=raw.ecb_rate,
        late_interest_rate=raw.late_interest_rate,
        company_language=raw.company_language,
        payment_deadline_days=raw.payment_deadline_days,
        templates=overrides,
        sender=raw.sender.model_dump(),
    )
