"""How files and records must match, and which values must be unique, in one submission."""

from datameta.linting import NULL_BUT_MANDATORY, Column
from datameta.linting.submission import (
    ALREADY_SUBMITTED,
    FILE_NOT_PROVIDED,
    FILE_NOT_REFERENCED,
    NAME_TWICE_IN_FILES,
    NAME_TWICE_IN_METADATA,
    NO_DATA,
    NOT_A_STORED_DATE,
    NOT_UNIQUE_IN_SUBMISSION,
    NOT_UNIQUE_ON_SITE,
    FileFacts,
    Problem,
    SetFacts,
    association_problems,
    columns_read,
    stored_value_problems,
    uniqueness_problems,
)

READS = ["Reads"]


def file(key, name, uploaded=True, linked=False):
    return FileFacts(key, name, uploaded, linked)


def mset(key, reads=None, submitted=False, **values):
    return SetFacts(key, submitted, {"Reads": reads, **values})


def test_matching_files_and_records_have_no_problems():
    assert association_problems([mset(1, "a.fq")], [file("f", "a.fq")], READS) == []


def test_a_file_without_uploaded_content_is_refused():
    problems = association_problems([mset(1, "a.fq")], [file("f", "a.fq", uploaded=False)], READS)
    assert problems == [Problem("file", "f", NO_DATA)]


def test_files_and_sets_submitted_before_are_refused():
    problems = association_problems(
        [mset(1, "a.fq", submitted=True)], [file("f", "a.fq", linked=True)], READS
    )
    assert Problem("file", "f", ALREADY_SUBMITTED) in problems
    assert Problem("metadataset", 1, ALREADY_SUBMITTED) in problems


def test_two_files_with_one_name_are_both_reported():
    problems = association_problems(
        [mset(1, "a.fq")], [file("f", "a.fq"), file("g", "a.fq")], READS
    )
    assert problems == [
        Problem("file", "f", NAME_TWICE_IN_FILES),
        Problem("file", "g", NAME_TWICE_IN_FILES),
    ]


def test_two_records_naming_one_file_are_both_reported():
    problems = association_problems([mset(1, "a.fq"), mset(2, "a.fq")], [file("f", "a.fq")], READS)
    assert problems == [
        Problem("metadataset", 1, NAME_TWICE_IN_METADATA, "Reads"),
        Problem("metadataset", 2, NAME_TWICE_IN_METADATA, "Reads"),
    ]


def test_a_file_nobody_references_is_refused():
    problems = association_problems([mset(1, None)], [file("f", "a.fq")], READS)
    assert problems == [Problem("file", "f", FILE_NOT_REFERENCED)]


def test_a_referenced_file_must_be_provided_and_names_match_exactly():
    problems = association_problems([mset(1, "A.fq")], [file("f", "a.fq")], READS)
    assert Problem("metadataset", 1, FILE_NOT_PROVIDED, "Reads") in problems
    assert Problem("file", "f", FILE_NOT_REFERENCED) in problems


def test_metadata_without_files_may_be_submitted():
    assert association_problems([mset(1, None)], [], READS) == []


def test_stored_values_are_checked_again_against_current_rules():
    rules = [
        Column("SampleId", mandatory=True, pattern="S[0-9]+", pattern_description="S+digits"),
        Column("Date", datetime_format="%Y-%m-%d"),
    ]
    sets = [SetFacts(1, False, {"SampleId": None, "Date": "yesterday"})]
    assert stored_value_problems(rules, sets) == [
        Problem("metadataset", 1, NULL_BUT_MANDATORY, "SampleId"),
        Problem("metadataset", 1, NOT_A_STORED_DATE, "Date"),
    ]


def test_unique_values_may_not_repeat_within_the_submission():
    rules = [Column("SampleId", submission_unique=True)]
    sets = [SetFacts(1, False, {"SampleId": "S1"}), SetFacts(2, False, {"SampleId": "S1"})]
    assert uniqueness_problems(rules, sets, {}) == [
        Problem("metadataset", 1, NOT_UNIQUE_IN_SUBMISSION, "SampleId"),
        Problem("metadataset", 2, NOT_UNIQUE_IN_SUBMISSION, "SampleId"),
    ]


def test_site_unique_values_may_not_repeat_submitted_ones():
    rules = [Column("SampleId", submission_unique=True, site_unique=True)]
    sets = [SetFacts(1, False, {"SampleId": "S1"}), SetFacts(2, False, {"SampleId": "S2"})]
    assert uniqueness_problems(rules, sets, {"SampleId": {"S2"}}) == [
        Problem("metadataset", 2, NOT_UNIQUE_ON_SITE, "SampleId")
    ]


def test_empty_values_are_never_duplicates():
    rules = [Column("SampleId", submission_unique=True, site_unique=True)]
    sets = [SetFacts(1, False, {"SampleId": None}), SetFacts(2, False, {"SampleId": None})]
    assert uniqueness_problems(rules, sets, {}) == []


def test_only_the_values_some_rule_reads_are_needed():
    """A free column (no rule of its own, no file, not unique) can break no rule of a
    submission, whatever its value: its values need not be loaded."""
    columns = [
        Column("Free"),
        Column("Sample", mandatory=True),
        Column("Code", pattern="[A-Z]+"),
        Column("Date", datetime_format="%Y-%m-%d"),
        Column("Reads", is_file=True),
        Column("Run", submission_unique=True),
        Column("Tube", site_unique=True),
    ]
    assert [column.name for column in columns_read(columns)] == [
        "Sample",
        "Code",
        "Date",
        "Reads",
        "Run",
        "Tube",
    ]
    values = {"Free": "", "Sample": "S1", "Code": "AB", "Date": "2024-01-31T00:00:00"}
    assert stored_value_problems(columns[:1], [SetFacts(1, False, values)]) == []
