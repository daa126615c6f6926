"""Secrets are random, and only their hashes are kept."""

from datameta.security.passwords import hash_password, verify_password
from datameta.security.tokens import TOKEN_ALPHABET, generate_token, hash_token, token_matches


def test_tokens_have_the_form_datameta_clients_expect():
    token = generate_token()
    assert len(token) == 64
    assert set(token) <= set(TOKEN_ALPHABET)


def test_tokens_do_not_repeat():
    assert len({generate_token() for _ in range(200)}) == 200


def test_a_token_matches_only_its_own_hash():
    token = generate_token()
    assert token_matches(token, hash_token(token))
    assert not token_matches(generate_token(), hash_token(token))


def test_passwords_verify_against_their_bcrypt_hash():
    pwhash = hash_password("Correct-Horse-1")
    assert pwhash.startswith("$2")
    assert verify_password("Correct-Horse-1", pwhash)
    assert not verify_password("correct-horse-1", pwhash)


def test_a_user_without_a_password_cannot_log_in():
    assert not verify_password("anything", None)


def test_overlong_passwords_do_not_match_by_their_first_72_bytes():
    pwhash = hash_password("A" * 72)
    assert not verify_password("A" * 72 + "tail", pwhash)
