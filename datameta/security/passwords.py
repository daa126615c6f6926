"""Password hashing with bcrypt, and the password policy."""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass

import bcrypt

# bcrypt looks only at the first 72 bytes; longer passwords are refused by the policy.
BCRYPT_MAX_BYTES = 72


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def verify_password(password: str, pwhash: str | None) -> bool:
    """True when ``password`` matches ``pwhash``; False for users without a password."""
    encoded = password.encode()
    if pwhash is None or len(encoded) > BCRYPT_MAX_BYTES:
        return False
    return bcrypt.checkpw(encoded, pwhash.encode())


@dataclass(frozen=True)
class PasswordPolicy:
    """What a new password needs; site admins set it in the application settings."""

    min_length: int = 10
    min_uppercase: int = 1
    min_lowercase: int = 1
    min_digits: int = 1
    min_punctuation: int = 1


def password_problems(password: str, policy: PasswordPolicy) -> list[str]:
    """Every way ``password`` falls short of ``policy``, as messages for the user."""
    problems = []
    if len(password) < policy.min_length:
        problems.append(f"The password must be at least {policy.min_length} characters long.")
    if len(password.encode()) > BCRYPT_MAX_BYTES:
        problems.append(f"The password must not be longer than {BCRYPT_MAX_BYTES} bytes.")
    if any(unicodedata.category(char).startswith("C") for char in password):
        problems.append("The password must not contain control characters.")
    counts = (
        (sum(char.isupper() for char in password), policy.min_uppercase, "upper-case letter"),
        (sum(char.islower() for char in password), policy.min_lowercase, "lower-case letter"),
        (sum(char.isdigit() for char in password), policy.min_digits, "digit"),
        (
            sum(char in string.punctuation for char in password),
            policy.min_punctuation,
            "punctuation character",
        ),
    )
    for found, needed, kind in counts:
        if found < needed:
            plural = "" if needed == 1 else "s"
            problems.append(f"The password must contain at least {needed} {kind}{plural}.")
    return problems
