"""Reminder plans (scénarios de relance), DESIGN.md section 3."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.model import CHANNELS


@dataclass(frozen=True, slots=True)
class Step:
    """One step: fires ``offset`` days after the due date (negative: before it)."""

    offset: int
    channel: str
    template: str
    min_amount: Decimal | None = None

    @property
    def is_pre_due(self) -> bool:
        return self.offset < 0


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    steps: tuple[Step, ...]
    min_amount: Decimal = Decimal(0)
    cooldown_days: int = 5
    business_days_only: bool = True

    def problems(self) -> list[tuple[str, str]]:
        """Every (field, message) that makes this plan invalid; empty when it is fine."""
        found: list[tuple[str, str]] = []
        if not self.name:
            found.append(("name", "a plan needs a name"))
        if not self.steps:
            found.append(("steps", "a plan needs at least one step"))
        # Field paths index arrays from 0, like every other path in messages.
        for index, step in enumerate(self.steps):
            where = f"steps[{index}]"
            if step.channel not in CHANNELS:
                found.append(
                    (
                        f"{where}.channel",
                        f"unknown channel '{step.channel}' (expected one of {', '.join(CHANNELS)})",
                    )
                )
            if not step.template:
                found.append((f"{where}.template", "a step needs a template id"))
            if step.min_amount is not None and step.min_amount < 0:
                found.append((f"{where}.min_amount", "must not be negative"))
            if index > 0 and step.offset <= self.steps[index - 1].offset:
                found.append(
                    (
                        f"{where}.offset",
                        f"offsets must strictly increase "
                        f"({self.steps[index - 1].offset} then {step.offset})",
                    )
                )
        if self.min_amount < 0:
            found.append(("min_amount", "must not be negative"))
        if self.cooldown_days < 0:
            found.append(("cooldown_days", "must not be negative"))
        return found


def _steps(*spec: tuple[int, str, str]) -> tuple[Step, ...]:
    return tuple(Step(offset, channel, template) for offset, channel, template in spec)


def shipped_plans() -> dict[str, Plan]:
    """The three plans Relance ships; a config plan with the same name replaces one."""
    return {
        "standard": Plan(
            "standard",
            _steps(
                (-5, "email", "pre_due"),
                (3, "email", "reminder_1"),
                (10, "email", "reminder_2"),
                (20, "phone", "phone"),
                (30, "formal_notice", "formal_notice"),
                (45, "escalation", "escalation"),
            ),
        ),
        "gentle": Plan(
            "gentle",
            _steps(
                (5, "email", "reminder_1"),
                (15, "email", "reminder_2"),
                (30, "phone", "phone"),
                (60, "phone", "phone"),
            ),
        ),
        "strict": Plan(
            "strict",
            _steps(
                (-7, "email", "pre_due"),
                (1, "email", "reminder_1"),
                (7, "sms", "sms"),
                (12, "phone", "phone"),
                (20, "formal_notice", "formal_notice"),
                (30, "escalation", "escalation"),
            ),
        ),
    }
