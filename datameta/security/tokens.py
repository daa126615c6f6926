"""Secret tokens (API keys, password and upload links): random, stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

TOKEN_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 64  # about 381 bits, in the 64-character form DataMeta clients expect


def generate_token() -> str:
    """A new random token of 64 characters [A-Za-z0-9] from the system CSPRNG."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Compare a presented token with a stored hash in constant time."""
    return hmac.compare_digest(hash_token(token), stored_hash)
