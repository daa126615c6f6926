"""The password policy, rule by rule."""

from __future__ import annotations

import pytest

from datameta.security.passwords import PasswordPolicy, password_problems

DEFAULT = PasswordPolicy()
GOOD = "Good-Password-1"


def test_a_password_meeting_every_rule_has_no_problems():
    assert password_problems(GOOD, DEFAULT) == []


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Sh0rt-pw", "at least 10 characters"),
        ("no-upper-case-1", "upper-case letter"),
        ("NO-LOWER-CASE-1", "lower-case letter"),
        ("No-Digits-Here", "digit"),
        ("NoPunctuation1", "punctuation character"),
    ],
)
def test_each_rule_is_reported_on_its_own(password, problem):
    problems = password_problems(password, DEFAULT)
    assert len(problems) == 1
    assert problem in problems[0]


def test_every_problem_is_reported_at_once():
    assert len(password_problems("abc", DEFAULT)) == 4  # length, upper, digit, punctuation


def test_the_minimum_length_comes_from_the_policy():
    policy = PasswordPolicy(min_length=20)
    assert password_problems(GOOD, policy) == ["The password must be at least 20 characters long."]
    assert password_problems(GOOD + "-long-enough", policy) == []


def test_counts_above_one_are_named_in_the_plural():
    policy = PasswordPolicy(min_digits=3, min_punctuation=2)
    problems = password_problems("Password-1", policy)
    assert "The password must contain at least 3 digits." in problems
    assert "The password must contain at least 2 punctuation characters." in problems


def test_a_rule_set_to_zero_is_switched_off():
    policy = PasswordPolicy(
        min_length=1, min_uppercase=0, min_lowercase=0, min_digits=0, min_punctuation=0
    )
    assert password_problems("x", policy) == []


def test_passwords_longer_than_bcrypt_reads_are_refused():
    assert any("72 bytes" in problem for problem in password_problems(GOOD + "a" * 60, DEFAULT))


def test_multibyte_characters_count_as_bytes_for_the_upper_limit():
    password = "Aa1-" + "é" * 35  # 39 characters, 74 bytes
    assert any("72 bytes" in problem for problem in password_problems(password, DEFAULT))


def test_control_characters_are_refused():
    assert any("control" in problem for problem in password_problems(GOOD + "\n", DEFAULT))


def test_letters_beyond_ascii_count_as_upper_and_lower_case():
    assert password_problems("Ärger-über-1", DEFAULT) == []


def test_spaces_are_allowed():
    assert password_problems("Good Password 1!", DEFAULT) == []
