"""Time-based one-time passwords (TOTP) as the second factor.

The shared secret is stored encrypted (Fernet, key from the settings), so a copy
of the database alone does not let anyone produce codes.
"""

from __future__ import annotations

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken


def new_secret() -> str:
    return pyotp.random_base32()


def encrypt_secret(secret: str, key: str) -> bytes:
    return Fernet(key.encode()).encrypt(secret.encode())


def decrypt_secret(encrypted: bytes, key: str) -> str | None:
    """The secret, or None when it cannot be decrypted (e.g. after a key change)."""
    try:
        return Fernet(key.encode()).decrypt(encrypted).decode()
    except InvalidToken:
        return None


def verify_code(secret: str, code: str) -> bool:
    """True for the current code, or the one just before or after (clock drift)."""
    code = code.strip().replace(" ", "")
    return code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_code_svg(uri: str) -> str:
    """An inline SVG QR code of ``uri``, made on the server so the secret never leaves it."""
    # No fixed size: the page scales it through CSS (the SVG keeps its viewBox).
    return segno.make(uri, error="m").svg_inline(omitsize=True, dark="#000", light="#fff")
