"""The value rules, one case each: the same code checks API records and sample-sheet rows."""

import pytest

from datameta.linting import (
    EMPTY_BUT_MANDATORY,
    NOT_A_DATE,
    NOT_EXPECTED,
    NOT_SPECIFIED,
    NULL_BUT_MANDATORY,
    Column,
    InvalidPattern,
    LintError,
    compile_pattern,
    datetime_format_problem,
    duplicated_values,
    lint_record,
    render_value,
    vocabulary,
)

SAMPLE = Column("SampleId", mandatory=True, pattern="S[0-9]+", pattern_description="S then digits")
DATE = Column("Date", datetime_format="%Y-%m-%d")
NOTE = Column("Note")
RULES = [SAMPLE, DATE, NOTE]


def errors_of(record, rules=RULES):
    return lint_record(rules, record).errors


def test_a_valid_record_has_no_errors_and_dates_are_stored_as_iso():
    result = lint_record(RULES, {"SampleId": "S12", "Date": "2021-03-04", "Note": "x"})
    assert result.ok
    assert result.values == {"SampleId": "S12", "Date": "2021-03-04T00:00:00", "Note": "x"}


def test_a_missing_mandatory_field_is_reported():
    assert errors_of({"Date": "2021-03-04"}) == [LintError("SampleId", NOT_SPECIFIED)]


def test_a_null_mandatory_field_is_reported():
    assert errors_of({"SampleId": None}) == [LintError("SampleId", NULL_BUT_MANDATORY)]


def test_an_empty_string_counts_as_empty_for_mandatory_fields():
    assert errors_of({"SampleId": ""}) == [LintError("SampleId", EMPTY_BUT_MANDATORY)]


def test_missing_optional_fields_are_stored_as_null():
    assert lint_record(RULES, {"SampleId": "S1"}).values == {
        "SampleId": "S1",
        "Date": None,
        "Note": None,
    }


def test_an_empty_optional_value_is_stored_as_null():
    assert lint_record(RULES, {"SampleId": "S1", "Note": ""}).values["Note"] is None


def test_the_regular_expression_must_match_the_whole_value():
    assert errors_of({"SampleId": "S12x"}) == [LintError("SampleId", "S then digits")]
    assert errors_of({"SampleId": "xS12"}) == [LintError("SampleId", "S then digits")]


def test_without_a_description_the_message_names_the_pattern():
    rule = Column("Code", pattern="[A-Z]{3}")
    [error] = errors_of({"Code": "abc"}, [rule])
    assert error.message == "The value does not match the required format ([A-Z]{3})."


def test_a_date_that_does_not_fit_the_format_is_reported():
    assert errors_of({"SampleId": "S1", "Date": "04.03.2021"}) == [LintError("Date", NOT_A_DATE)]


def test_unknown_fields_are_reported():
    assert errors_of({"SampleId": "S1", "Tisue": "liver"}) == [LintError("Tisue", NOT_EXPECTED)]


def test_all_problems_are_reported_at_once():
    fields = {error.field for error in errors_of({"Date": "never", "Extra": 1})}
    assert fields == {"SampleId", "Date", "Extra"}


@pytest.mark.parametrize(("value", "stored"), [(5, "5"), (2.5, "2.5"), (True, "true")])
def test_json_numbers_and_booleans_are_stored_as_text(value, stored):
    assert lint_record([NOTE], {"Note": value}).values["Note"] == stored


def test_dates_are_shown_in_the_columns_format():
    assert render_value(DATE, "2021-03-04T00:00:00") == "2021-03-04"
    assert render_value(NOTE, "as is") == "as is"


def test_a_catastrophic_pattern_is_answered():
    # Backtracking engines take ages here; RE2's time is linear in the input.
    # How long it takes is measured by benchmarks/bench_hostile_input.py.
    rule = Column("X", pattern="(a+)+$")
    assert [error.field for error in lint_record([rule], {"X": "a" * 50_000 + "b"}).errors] == ["X"]
    assert lint_record([rule], {"X": "a" * 50_000}).ok


@pytest.mark.parametrize("pattern", ["(", "(a)\\1", "(?=a)a"])
def test_patterns_re2_cannot_run_are_refused_with_a_reason(pattern):
    with pytest.raises(InvalidPattern, match="not valid"):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    ("fmt", "ok"), [("%Y-%m-%d", True), ("%d.%m.%Y %H:%M", True), ("plain", False), ("%Q", False)]
)
def test_datetime_formats_are_checked(fmt, ok):
    assert (datetime_format_problem(fmt) is None) is ok


def test_duplicated_values_are_found_per_column_ignoring_empty_ones():
    records = {
        1: {"SampleId": "S1", "Note": ""},
        2: {"SampleId": "S1", "Note": ""},
        3: {"SampleId": "S2", "Note": None},
    }
    assert sorted(duplicated_values(records, ["SampleId", "Note"])) == [
        (1, "SampleId"),
        (2, "SampleId"),
    ]


# A fixed list of values: the form the admin page's list helper writes


@pytest.mark.parametrize(
    ("pattern", "values"),
    [
        ("^(liver|heart)$", ["liver", "heart"]),
        ("(f|m)", ["f", "m"]),
        ("^(single)$", ["single"]),
        (r"^(a\.b|c\|d|e\(f\)|x y|ü)$", ["a.b", "c|d", "e(f)", "x y", "ü"]),
        ("^(a|a|b)$", ["a", "b"]),
    ],
)
def test_a_pattern_listing_literal_values_is_a_vocabulary(pattern, values):
    assert vocabulary(pattern) == values


@pytest.mark.parametrize(
    "pattern",
    [None, "", "S[0-9]+", "^(a|b+)$", r"^(\d|x)$", "^(a|)$", "^(a|b)c$", "a|b", "^(a.b)$"],
)
def test_any_other_pattern_is_no_vocabulary(pattern):
    assert vocabulary(pattern) is None


def test_a_vocabulary_allows_exactly_its_values():
    pattern = r"^(a\.b|c)$"
    assert all(compile_pattern(pattern).fullmatch(value) for value in vocabulary(pattern))
    assert compile_pattern(pattern).fullmatch("axb") is None
