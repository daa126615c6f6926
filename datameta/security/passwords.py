"""Password hashing with bcrypt."""

from __future__ import annotations

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
