"""Segment rules and their safe condition language (DESIGN §4)."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.segments import (
    METRIC_NAMES,
    Assignment,
    Condition,
    ExpressionError,
    SegmentRule,
    assign,
    compile_condition,
    shipped_segments,
)

# --------------------------------------------------------------------------- helpers

NUMERIC_METRICS = sorted(METRIC_NAMES - {"tags"})


def metrics(tags: frozenset[str] | set[str] = frozenset(), **values: object) -> dict[str, object]:
    """A full metric set: every numeric metric 0 unless given, and the tags."""
    result: dict[str, object] = {name: Decimal(0) for name in NUMERIC_METRICS}
    for name, value in values.items():
        assert name in METRIC_NAMES, name
        result[name] = Decimal(value) if isinstance(value, str) else value
    result["tags"] = frozenset(tags)
    return result


def holds(text: str, **values: object) -> bool:
    tags = values.pop("tags", frozenset())
    assert isinstance(tags, frozenset | set)
    return compile_condition(text, "test").evaluate(metrics(tags, **values))


def rule(name: str, when: str, plan: str) -> SegmentRule:
    return SegmentRule(name, compile_condition(when, name), plan)


# --------------------------------------------------------------------------- the language


def test_the_metric_names_are_exactly_those_of_the_design() -> None:
    """DESIGN §4: conditions may name the customer metrics, and only them."""
    assert (
        frozenset(
            {
                "outstanding",
                "overdue_amount",
                "max_days_overdue",
                "avg_days_late",
                "late_count",
                "dso",
                "open_disputes",
                "customer_age_days",
                "credit_usage",
                "tags",
            }
        )
        == METRIC_NAMES
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("outstanding < 1000", True),
        ("outstanding < 999.99", False),
        ("outstanding <= 999.99", True),
        ("outstanding > 999.98", True),
        ("outstanding > 999.99", False),
        ("outstanding >= 999.99", True),
        ("outstanding == 999.990", True),
        ("outstanding != 999.99", False),
        ("outstanding != 1000", True),
    ],
)
def test_each_comparison_compares_a_metric_with_a_decimal_literal(
    text: str, expected: bool
) -> None:
    """DESIGN §4: < <= > >= == != compare metric values with decimal literals exactly."""
    assert holds(text, outstanding="999.99") is expected


def test_a_literal_on_the_left_compares_the_same_way() -> None:
    """DESIGN §4: '60 < max_days_overdue' means the same as 'max_days_overdue > 60'."""
    assert holds("60 < max_days_overdue", max_days_overdue=61)
    assert not holds("60 < max_days_overdue", max_days_overdue=60)
    assert holds("60 >= max_days_overdue", max_days_overdue=60)


def test_an_integer_metric_compares_with_a_decimal_literal() -> None:
    """DESIGN §4: day counts may be ints; they compare natively with decimal literals."""
    assert holds("late_count >= 2.5", late_count=3)
    assert not holds("late_count > 3.0", late_count=3)
    assert holds("late_count == 3.00", late_count=3)


def test_two_metrics_can_be_compared() -> None:
    """DESIGN §4: a comparison may have a metric on both sides."""
    assert holds("overdue_amount >= outstanding", outstanding="500", overdue_amount="500")
    assert not holds("overdue_amount > outstanding", outstanding="500", overdue_amount="400")


def test_a_negative_literal_is_a_number() -> None:
    """DESIGN §4: a '-' right before a number literal is its sign, not arithmetic."""
    assert holds("customer_age_days > -1", customer_age_days=0)
    assert not holds("customer_age_days>-1", customer_age_days=-3)


def test_a_number_never_equals_a_string() -> None:
    """DESIGN §4: comparing a number with a string by == is false, by != true."""
    assert not holds("outstanding == '0'")
    assert holds("outstanding != '0'")
    assert not holds("1 == '1'")
    assert holds("'1' != 1")


def test_two_string_literals_compare_as_strings() -> None:
    """DESIGN §4: strings compare with strings; single and double quotes are the same."""
    assert holds("'a' == \"a\"")
    assert holds("'a' < 'b'")


def test_true_and_false_are_conditions_that_always_or_never_hold() -> None:
    """DESIGN §4: a rule written 'true' always matches, 'false' never does."""
    assert holds("true")
    assert holds("True")
    assert not holds("false")
    assert not holds("False")


def test_and_holds_only_when_both_sides_hold() -> None:
    """DESIGN §4: 'and' joins two conditions that must both hold."""
    text = "dso > 60 and late_count > 2"
    assert holds(text, dso=61, late_count=3)
    assert not holds(text, dso=61, late_count=2)
    assert not holds(text, dso=60, late_count=3)


def test_or_holds_when_either_side_holds() -> None:
    """DESIGN §4: 'or' joins two conditions, one of which must hold."""
    text = "dso > 60 or late_count > 2"
    assert holds(text, dso=61)
    assert holds(text, late_count=3)
    assert not holds(text)


def test_long_chains_of_and_and_or_hold_like_python() -> None:
    """DESIGN §4: any number of conditions can be joined by 'and' or by 'or'."""
    assert holds("dso >= 0 and late_count >= 0 and outstanding >= 0 and true")
    assert not holds("dso >= 0 and late_count >= 0 and outstanding >= 0 and false")
    assert holds("dso > 0 or late_count > 0 or outstanding > 0 or true")
    assert not holds("dso > 0 or late_count > 0 or outstanding > 0 or false")


def test_not_negates_a_condition() -> None:
    """DESIGN §4: 'not' inverts the condition that follows it."""
    assert holds("not dso > 60", dso=60)
    assert not holds("not dso > 60", dso=61)
    assert holds("not not true")


def test_and_binds_tighter_than_or() -> None:
    """DESIGN §4: 'a or b and c' reads as 'a or (b and c)'."""
    assert holds("true or false and false")
    assert not holds("(true or false) and false")


def test_not_binds_looser_than_a_comparison_and_tighter_than_and() -> None:
    """DESIGN §4: 'not dso > 1 and false' reads as '(not (dso > 1)) and false'."""
    assert not holds("not dso > 1 and false", dso=0)
    assert holds("not (dso > 1 and false)", dso=0)


def test_parentheses_override_precedence() -> None:
    """DESIGN §4: parentheses group conditions and values."""
    text = "(dso > 60 or late_count > 2) and outstanding > 1000"
    assert not holds(text, dso=61, outstanding="10")
    assert holds(text, dso=61, outstanding="1001")
    assert holds("((outstanding)) > (1000)", outstanding="1001")


def test_a_tag_in_tags_holds_when_the_customer_carries_it() -> None:
    """DESIGN §4: "'tag' in tags" tests the customer's tags, case-sensitively."""
    assert holds("'key_account' in tags", tags={"key_account", "public"})
    assert not holds("'key_account' in tags", tags={"Key_Account"})
    assert holds('"public" in tags', tags={"key_account", "public"})


def test_a_tag_not_in_tags_holds_when_the_customer_lacks_it() -> None:
    """DESIGN §4: "'tag' not in tags" is the negation of "'tag' in tags"."""
    assert holds("'vip' not in tags", tags={"public"})
    assert not holds("'vip' not in tags", tags={"vip"})
    assert holds("not 'vip' in tags", tags=set())


def test_a_condition_reports_the_metrics_it_uses() -> None:
    """DESIGN §4: a condition knows which metrics it reads, to explain an assignment."""
    condition = compile_condition("avg_days_late > 20 or 'x' in tags or 1 < dso", "r")
    assert condition.names == frozenset({"avg_days_late", "tags", "dso"})
    assert compile_condition("true", "r").names == frozenset()


def test_a_missing_metric_is_a_key_error_naming_it() -> None:
    """DESIGN §4: evaluating needs the metrics the condition reads."""
    condition = compile_condition("dso > 1", "r")
    with pytest.raises(KeyError, match="dso"):
        condition.evaluate({"outstanding": Decimal(1)})


def test_compiling_the_same_text_gives_equal_conditions() -> None:
    """DESIGN §4: a condition is a value, identified by its text."""
    assert compile_condition("dso > 1", "a") == compile_condition("dso > 1", "b")
    assert isinstance(compile_condition("dso > 1", "a"), Condition)


# --------------------------------------------------------------------------- rejected conditions


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("__class__", 1, "unknown name '__class__'"),
        ("().__class__", 2, "expected a value"),
        ("outstanding.__class__", 12, "attribute access"),
        ("open('x')", 1, "calls are not allowed"),
        ("__import__('os')", 1, "calls are not allowed"),
        ("lambda: 1", 1, "'lambda' is not allowed"),
        ("outstanding + 1", 13, "arithmetic"),
        ("outstanding - 1", 13, "arithmetic"),
        ("x[0]", 1, "unknown name 'x'"),
        ("outstanding[0]", 12, "indexing"),
        ("outstanding if 1 else 2", 13, "'if' is not allowed"),
        ("(x := 1)", 2, "unknown name 'x'"),
        ("(outstanding := 1)", 14, "assignment"),
        ("'a' * 10", 5, "arithmetic"),
        ("9" * 40, 1, "longer than 30 digits"),
        ("dso > " + "1" * 20 + "." + "1" * 11, 7, "longer than 30 digits"),
        ("(" * 200, 51, "nested more than 50 levels"),
        ("not " * 60 + "true", 201, "nested more than 50 levels"),
        ("foo", 1, "unknown name 'foo'"),
        ("", 1, "empty"),
        ("   ", 1, "empty"),
        ("outstanding > 1 1", 17, "unexpected '1'"),
        ("'key_account in tags", 1, "unterminated string"),
        ("dso > 'abc", 7, "unterminated string"),
        ("outstanding is 1", 13, "'is' is not allowed"),
        ("dso = 1", 5, "use '=='"),
        ("dso > 1 && true", 9, "'&' is not allowed"),
        ("{}", 1, "unexpected character"),
        ("dso > 1e5", 7, "not a number"),
        ("dso > 1.", 8, "decimal point"),
        ("dso > 1_000", 7, "not a number"),
        ("dso > ٣", 7, "unexpected character"),
        ("None", 1, "'None' is not allowed"),
        ("import os", 1, "'import' is not allowed"),
        ("__builtins__", 1, "unknown name"),
        ("globals()", 1, "calls are not allowed"),
        ("tags.pop()", 5, "attribute access"),
        ("'a' in 'abc'", 8, "expected 'tags' after 'in'"),
        ("outstanding in tags", 1, "quoted tag"),
        ("'a' in (tags)", 8, "expected 'tags' after 'in'"),
        ("dso > 1 or", 11, "ends where a value was expected"),
        ("(dso > 1", 9, "expected ')'"),
        ("dso > 1)", 8, "unexpected ')'"),
        ("f'{dso}'", 1, "unknown name 'f'"),
        ("dso > 1; true", 8, "unexpected character ';'"),
        ("dso > 1, true", 8, "unexpected character ','"),
        ("\\x41", 1, "unexpected character"),
    ],
)
def test_escape_attempts_and_malformed_conditions_fail_to_compile(
    text: str, column: int, fragment: str
) -> None:
    """DESIGN §4: anything but the safe language is rejected at load, with rule and column."""
    with pytest.raises(ExpressionError) as caught:
        compile_condition(text, "risky")
    error = caught.value
    assert error.rule == "risky"
    assert error.text == text
    assert error.column == column
    assert fragment in error.message
    assert str(error).startswith(f"segment 'risky': {error.message} at column {column} in: ")


def test_the_error_message_names_rule_column_and_text() -> None:
    """DESIGN §4: a bad condition is reported with the rule name and the offending text."""
    with pytest.raises(ExpressionError) as caught:
        compile_condition("avg_days_late > 20 and foo", "risky")
    assert str(caught.value) == (
        "segment 'risky': unknown name 'foo' at column 24 in: avg_days_late > 20 and foo"
    )


def test_a_misspelt_metric_gets_a_suggestion() -> None:
    """DESIGN §4: an unknown name suggests the metric the user probably meant."""
    with pytest.raises(ExpressionError, match="did you mean 'overdue_amount'"):
        compile_condition("overdue_amont > 0", "r")


def test_an_expression_error_is_a_value_error_that_survives_pickling() -> None:
    """DESIGN §4: the config error is an ordinary ValueError carrying its details."""
    with pytest.raises(ValueError) as caught:
        compile_condition("foo", "r")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(copy, ExpressionError)
    assert (copy.rule, copy.text, copy.column, copy.message) == (
        "r",
        "foo",
        1,
        "unknown name 'foo'",
    )


def test_an_overlong_condition_is_rejected_before_parsing() -> None:
    """DESIGN §4: a condition longer than 1000 characters is refused outright."""
    text = " or ".join(["dso > 1"] * 200)
    with pytest.raises(ExpressionError, match="longer than 1000 characters") as caught:
        compile_condition(text, "r")
    assert caught.value.column == 1001
    assert len(str(caught.value)) < 1200


def test_fifty_levels_of_parentheses_are_allowed() -> None:
    """DESIGN §4: nesting is limited to 50 levels, and 50 is still fine."""
    assert holds("(" * 50 + "dso > 1" + ")" * 50, dso=2)


def test_a_thirty_digit_literal_is_allowed() -> None:
    """DESIGN §4: number literals are limited to 30 digits, and 30 is still fine."""
    assert not holds("outstanding > " + "9" * 30, outstanding="1")
    assert holds("outstanding < " + "9" * 15 + "." + "9" * 15, outstanding="1")


def test_chained_comparisons_are_rejected() -> None:
    """DESIGN §4: 'a < b < c' is refused; conditions are joined with 'and'."""
    with pytest.raises(ExpressionError, match="chained comparisons") as caught:
        compile_condition("0 < dso < 30", "r")
    assert caught.value.column == 9


def test_a_tag_test_cannot_be_chained_with_a_comparison() -> None:
    """DESIGN §4: "'a' in tags == true" is a chain too, and refused."""
    with pytest.raises(ExpressionError, match="chained comparisons"):
        compile_condition("'a' in tags == true", "r")


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("outstanding < 'a'", 13, "cannot compare the metric 'outstanding' with the string 'a'"),
        ("'a' >= dso", 5, "cannot compare the string 'a' with the metric 'dso'"),
        ("1 < 'a'", 3, "cannot compare the number 1 with the string 'a'"),
    ],
)
def test_ordering_a_string_against_a_number_is_rejected(
    text: str, column: int, fragment: str
) -> None:
    """DESIGN §4: < <= > >= between a string and a number fail when the config is loaded."""
    with pytest.raises(ExpressionError) as caught:
        compile_condition(text, "r")
    assert caught.value.column == column
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("outstanding", 1, "expected a condition, found the metric 'outstanding'"),
        ("1", 1, "expected a condition, found the number 1"),
        ("'vip'", 1, "expected a condition, found the string 'vip'"),
        ("tags", 1, "'tags' can only be used"),
        ("tags == 'vip'", 1, "'tags' can only be used"),
        ("dso > 1 and outstanding", 13, "expected a condition"),
        ("not dso", 5, "expected a condition"),
        ("true == 1", 1, "true and false cannot be compared"),
        ("(dso > 1) == true", 2, "a condition cannot be compared"),
    ],
)
def test_a_bare_value_is_not_a_condition(text: str, column: int, fragment: str) -> None:
    """DESIGN §4: a condition is a comparison, a tag test or true/false, not a bare value."""
    with pytest.raises(ExpressionError) as caught:
        compile_condition(text, "r")
    assert caught.value.column == column
    assert fragment in caught.value.message


# --------------------------------------------------------------------------- assignment


def test_shipped_segments_are_key_accounts_risky_default_in_that_order() -> None:
    """DESIGN §4: the default segments and their plans."""
    shipped = shipped_segments()
    assert [(r.name, r.condition.text, r.plan) for r in shipped] == [
        ("key_accounts", "'key_account' in tags", "gentle"),
        ("risky", "avg_days_late > 20 or max_days_overdue > 60", "strict"),
        ("default", "true", "standard"),
    ]
    shipped.clear()
    assert len(shipped_segments()) == 3


def test_a_key_account_follows_the_gentle_plan() -> None:
    """DESIGN §4: a customer tagged key_account is in key_accounts, even when late."""
    result = assign(
        shipped_segments(),
        metrics({"key_account", "public"}, avg_days_late=Decimal("40"), max_days_overdue=90),
        None,
    )
    assert result == Assignment(
        "key_accounts",
        "gentle",
        {
            "rule": "key_accounts",
            "when": "'key_account' in tags",
            "metrics": {"tags": ["key_account", "public"]},
        },
    )


def test_a_customer_paying_late_on_average_is_risky() -> None:
    """DESIGN §4: avg_days_late above 20 makes a customer risky (strict plan)."""
    result = assign(shipped_segments(), metrics(avg_days_late=Decimal("25.3")), None)
    assert (result.segment, result.plan) == ("risky", "strict")
    assert result.explanation["metrics"] == {"avg_days_late": "25.3", "max_days_overdue": "0"}


def test_a_customer_with_an_invoice_over_60_days_overdue_is_risky() -> None:
    """DESIGN §4: max_days_overdue above 60 makes a customer risky (strict plan)."""
    result = assign(shipped_segments(), metrics(max_days_overdue=61), None)
    assert (result.segment, result.plan) == ("risky", "strict")
    assert result.explanation["metrics"] == {"avg_days_late": "0", "max_days_overdue": "61"}


def test_a_customer_at_the_risky_thresholds_stays_in_default() -> None:
    """DESIGN §4: exactly 20 days late on average and 60 days overdue is not risky."""
    result = assign(
        shipped_segments(), metrics(avg_days_late=Decimal("20.00"), max_days_overdue=60), None
    )
    assert result == Assignment(
        "default", "standard", {"rule": "default", "when": "true", "metrics": {}}
    )


def test_a_manual_plan_wins_over_every_rule() -> None:
    """DESIGN §4: a customer's manual plan override wins (segment 'manual')."""
    result = assign(shipped_segments(), metrics({"key_account"}, max_days_overdue=90), "strict")
    assert result == Assignment("manual", "strict", {"rule": "manual", "plan": "strict"})


def test_an_empty_manual_plan_is_no_override() -> None:
    """DESIGN §4: a blank manual plan leaves the customer to the rules."""
    result = assign(shipped_segments(), metrics(), "")
    assert (result.segment, result.plan) == ("default", "standard")


def test_the_first_matching_rule_wins() -> None:
    """DESIGN §4: rules are tried in order; the first whose condition holds gives the plan."""
    rules = [
        rule("small", "outstanding < 100", "soft"),
        rule("late", "max_days_overdue > 30", "strict"),
        rule("everyone", "true", "standard"),
    ]
    result = assign(rules, metrics(outstanding="50", max_days_overdue=45), None)
    assert (result.segment, result.plan) == ("small", "soft")
    result = assign(rules, metrics(outstanding="500", max_days_overdue=45), None)
    assert (result.segment, result.plan) == ("late", "strict")


def test_no_matching_rule_gives_no_plan() -> None:
    """DESIGN §4: without a catch-all rule, a customer may match no segment."""
    result = assign([rule("late", "max_days_overdue > 30", "strict")], metrics(), None)
    assert result == Assignment("", None, {"rule": None, "reason": "no segment rule matched"})


def test_the_explanation_lists_the_used_metrics_in_order_of_appearance() -> None:
    """DESIGN §4: the explanation carries the rule and the values of the metrics it reads."""
    rules = [rule("watch", "credit_usage > 0.8 and ('x' not in tags or dso > 45)", "strict")]
    result = assign(
        rules,
        metrics({"b", "a"}, credit_usage=Decimal("0.95"), dso=Decimal("1E+2")),
        None,
    )
    assert result.explanation == {
        "rule": "watch",
        "when": "credit_usage > 0.8 and ('x' not in tags or dso > 45)",
        "metrics": {"credit_usage": "0.95", "tags": ["a", "b"], "dso": "100"},
    }
    used = result.explanation["metrics"]
    assert isinstance(used, dict)
    assert list(used) == ["credit_usage", "tags", "dso"]


def test_the_explanation_shows_an_unread_missing_metric_as_none() -> None:
    """DESIGN §4: a metric skipped by short-circuit and absent from the input is shown as None."""
    rules = [rule("vip", "'vip' in tags or dso > 45", "gentle")]
    result = assign(rules, {"tags": frozenset({"vip"})}, None)
    assert result.explanation["metrics"] == {"tags": ["vip"], "dso": None}


# --------------------------------------------------------------------------- properties


@dataclass(frozen=True)
class Generated:
    text: str
    precedence: int  # 1 or, 2 and, 3 not, 4 comparison or atom
    oracle: Callable[[Mapping[str, Any]], bool]


TAG_POOL = ["key_account", "vip", "public", "Late payer"]
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}

numbers = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False)


@st.composite
def operands(draw: st.DrawFn) -> tuple[str, Callable[[Mapping[str, Any]], Any]]:
    if draw(st.booleans()):
        name = draw(st.sampled_from(NUMERIC_METRICS))
        return name, lambda m: m[name]
    value = draw(numbers)
    return str(value), lambda m: value


@st.composite
def comparisons(draw: st.DrawFn) -> Generated:
    (left, lf), (right, rf) = draw(operands()), draw(operands())
    op = draw(st.sampled_from(sorted(OPS)))
    compare = OPS[op]
    return Generated(f"{left} {op} {right}", 4, lambda m: compare(lf(m), rf(m)))


@st.composite
def tag_tests(draw: st.DrawFn) -> Generated:
    tag = draw(st.sampled_from(TAG_POOL))
    quote = draw(st.sampled_from(["'", '"']))
    if draw(st.booleans()):
        return Generated(f"{quote}{tag}{quote} not in tags", 4, lambda m: tag not in m["tags"])
    return Generated(f"{quote}{tag}{quote} in tags", 4, lambda m: tag in m["tags"])


constants = st.sampled_from(["true", "false", "True", "False"]).map(
    lambda word: Generated(word, 4, lambda m: word.lower() == "true")
)


def wrap(item: Generated, minimum: int) -> str:
    return item.text if item.precedence >= minimum else f"({item.text})"


def extend(children: st.SearchStrategy[Generated]) -> st.SearchStrategy[Generated]:
    def negate(a: Generated) -> Generated:
        return Generated(f"not {wrap(a, 3)}", 3, lambda m: not a.oracle(m))

    def both(pair: tuple[Generated, Generated]) -> Generated:
        a, b = pair
        return Generated(f"{wrap(a, 2)} and {wrap(b, 3)}", 2, lambda m: a.oracle(m) and b.oracle(m))

    def either(pair: tuple[Generated, Generated]) -> Generated:
        a, b = pair
        return Generated(f"{wrap(a, 1)} or {wrap(b, 2)}", 1, lambda m: a.oracle(m) or b.oracle(m))

    def grouped(a: Generated) -> Generated:
        return Generated(f"({a.text})", 4, a.oracle)

    return st.one_of(
        children.map(negate),
        st.tuples(children, children).map(both),
        st.tuples(children, children).map(either),
        children.map(grouped),
    )


conditions = st.recursive(st.one_of(comparisons(), tag_tests(), constants), extend, max_leaves=12)

metric_sets = st.fixed_dictionaries(
    {
        **{name: st.one_of(numbers, st.integers(-1000, 1000)) for name in NUMERIC_METRICS},
        "tags": st.frozensets(st.sampled_from(TAG_POOL)),
    }
)


@settings(max_examples=300)
@given(conditions, metric_sets)
def test_well_formed_conditions_compile_and_evaluate_to_a_bool(
    generated: Generated, values: dict[str, Any]
) -> None:
    """DESIGN §4: any condition of the language compiles and evaluates to the expected bool."""
    condition = compile_condition(generated.text, "generated")
    result = condition.evaluate(values)
    assert isinstance(result, bool)
    assert result == generated.oracle(values)


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_any_text_compiles_or_fails_with_an_expression_error(text: str) -> None:
    """DESIGN §4: whatever the config holds, compiling fails only with ExpressionError."""
    try:
        condition = compile_condition(text, "fuzz")
    except ExpressionError as error:
        assert 1 <= error.column <= len(text) + 1
    else:
        assert isinstance(condition.evaluate(metrics({"vip"})), bool)


TOKEN_SOUP = [
    "dso",
    "tags",
    "'vip'",
    "1.5",
    "-2",
    "<",
    "==",
    "!=",
    "and",
    "or",
    "not",
    "in",
    "(",
    ")",
    "true",
    ".",
    "+",
    "[",
    "__class__",
    '"a"',
]


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(TOKEN_SOUP),
        max_size=12,
    )
)
def test_any_sequence_of_tokens_compiles_or_fails_with_an_expression_error(
    words: list[str],
) -> None:
    """DESIGN §4: token soup never escapes the language: a condition or an ExpressionError."""
    text = " ".join(words)
    try:
        condition = compile_condition(text, "fuzz")
    except ExpressionError as error:
        assert 1 <= error.column <= len(text) + 1
    else:
        assert isinstance(condition.evaluate(metrics({"vip"})), bool)
