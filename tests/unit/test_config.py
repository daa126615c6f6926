"""Settings are parsed once, from the ini file and DATAMETA_* environment overrides."""

from pathlib import Path

import pytest

from datameta.config import (
    SPECS,
    ConfigurationError,
    env_name,
    parse_bool,
    parse_settings,
    settings_table_markdown,
)

MINIMAL = {
    "sqlalchemy.url": "postgresql+psycopg2://u@h/db",
    "datameta.memcached.servers": "127.0.0.1:11211",
    "datameta.session.secret": "x" * 32,
    "datameta.storage.s3.endpoint_url": "http://127.0.0.1:9000",
    "datameta.storage.s3.bucket": "b",
    "datameta.storage.s3.access_key": "a",
    "datameta.storage.s3.secret_key": "s",
    "datameta.public_url": "https://datameta.example.org",
}
ROOT = Path(__file__).resolve().parents[2]


def test_environment_names_follow_the_keys():
    assert env_name("datameta.smtp.host") == "DATAMETA_SMTP_HOST"
    assert env_name("datameta.site_id_prefix.users") == "DATAMETA_SITE_ID_PREFIX_USERS"
    assert env_name("sqlalchemy.url") == "DATAMETA_SQLALCHEMY_URL"


def test_minimal_settings_fill_in_the_defaults():
    settings = parse_settings(MINIMAL, environ={})
    assert settings.memcached_servers == (("127.0.0.1", 11211),)
    assert settings.site_ids["metadatasets"].prefix == "DMR-"
    assert settings.site_ids["files"].digits == 8
    assert settings.apikey_max_expiration_days == 30
    assert settings.s3.public_endpoint_url == "http://127.0.0.1:9000"
    assert settings.files_upload_via_app is False


def test_the_environment_overrides_the_ini_file():
    settings = parse_settings(
        MINIMAL,
        environ={
            "DATAMETA_SQLALCHEMY_URL": "postgresql+psycopg2://other/db",
            "DATAMETA_SITE_ID_DIGITS_USERS": "5",
            "DATAMETA_FILES_UPLOAD_VIA_APP": "true",
        },
    )
    assert settings.sqlalchemy_url == "postgresql+psycopg2://other/db"
    assert settings.site_ids["users"].digits == 5
    assert settings.files_upload_via_app is True


def test_a_missing_setting_is_named_with_its_variable():
    ini = {key: value for key, value in MINIMAL.items() if key != "datameta.session.secret"}
    with pytest.raises(
        ConfigurationError, match=r"datameta\.session\.secret.*DATAMETA_SESSION_SECRET"
    ):
        parse_settings(ini, environ={})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("datameta.session.secret", "too-short"),
        ("datameta.memcached.servers", "no-port"),
        ("datameta.smtp.port", "seventy"),
        ("datameta.smtp.tls", "maybe"),
        ("datameta.site_id_digits.files", "0"),
        ("datameta.session.cookie_secure", "perhaps"),
        ("datameta.storage.s3.endpoint_url", "ftp://x"),
        ("datameta.tfa.encrypt_key", "not-a-fernet-key"),
    ],
)
def test_an_invalid_setting_is_named(key, value):
    with pytest.raises(ConfigurationError, match=key.replace(".", r"\.")):
        parse_settings({**MINIMAL, key: value}, environ={})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        *((word, True) for word in ("true", "yes", "on", "1", " TRUE ", "Yes")),
        *((word, False) for word in ("false", "no", "off", "0", "", " False ")),
    ],
)
def test_yes_and_no_words_read_as_booleans(text, value):
    assert parse_bool(text) is value


@pytest.mark.parametrize("text", ["maybe", "2", "tru", "y"])
def test_any_other_word_is_not_a_boolean(text):
    with pytest.raises(ValueError, match="true or false"):
        parse_bool(text)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigurationError) as raised:
        parse_settings({}, environ={})
    for key in ("sqlalchemy.url", "datameta.session.secret", "datameta.storage.s3.bucket"):
        assert key in str(raised.value)


def test_without_a_public_url_the_app_refuses_to_start():
    ini = {key: value for key, value in MINIMAL.items() if key != "datameta.public_url"}
    with pytest.raises(ConfigurationError) as raised:
        parse_settings(ini, environ={})
    message = str(raised.value)
    assert "datameta.public_url (env DATAMETA_PUBLIC_URL) is required" in message
    assert "links in mails" in message


def test_links_may_follow_the_request_only_when_the_site_says_so():
    ini = {key: value for key, value in MINIMAL.items() if key != "datameta.public_url"}
    settings = parse_settings({**ini, "datameta.links_from_request": "true"}, environ={})
    assert settings.public_url == ""
    assert settings.links_from_request is True


def test_the_public_url_loses_a_trailing_slash():
    settings = parse_settings({**MINIMAL, "datameta.public_url": "https://x.example/dm/"}, {})
    assert settings.public_url == "https://x.example/dm"


@pytest.mark.parametrize(
    "url", ["datameta.example.org", "https://", "https://x.example/?a=1", "https://x.example/#top"]
)
def test_a_public_url_must_be_a_plain_site_address(url):
    with pytest.raises(ConfigurationError, match=r"datameta\.public_url"):
        parse_settings({**MINIMAL, "datameta.public_url": url}, environ={})


def production_ini_settings() -> dict:
    from pyramid.paster import get_appsettings

    return dict(get_appsettings(str(ROOT / "production.ini")))


# What production passes in the environment, but for the public address.
PRODUCTION_ENV = {
    "DATAMETA_SQLALCHEMY_URL": "postgresql+psycopg2://u@h/db",
    "DATAMETA_MEMCACHED_SERVERS": "memcached:11211",
    "DATAMETA_SESSION_SECRET": "y" * 40,
    "DATAMETA_STORAGE_S3_ENDPOINT_URL": "http://s3:8333",
    "DATAMETA_STORAGE_S3_BUCKET": "datameta",
    "DATAMETA_STORAGE_S3_ACCESS_KEY": "a",
    "DATAMETA_STORAGE_S3_SECRET_KEY": "s",
}


def test_production_refuses_to_start_without_the_public_url():
    with pytest.raises(ConfigurationError, match=r"DATAMETA_PUBLIC_URL\) is required"):
        parse_settings(production_ini_settings(), environ=PRODUCTION_ENV)


def test_production_takes_links_from_the_public_url():
    environ = {**PRODUCTION_ENV, "DATAMETA_PUBLIC_URL": "https://datameta.example.org"}
    settings = parse_settings(production_ini_settings(), environ=environ)
    assert settings.public_url == "https://datameta.example.org"
    assert settings.links_from_request is False


def test_production_trusts_forwarded_headers_from_its_own_proxy_only():
    import configparser

    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "production.ini")
    assert ini["server:main"]["forwarded_allow_ips"] == "127.0.0.1"
    assert ini["server:main"]["get bind"] == "http_bind"
    assert ini.defaults()["http_bind"].startswith("127.0.0.1:")
    # In the container only the compose network's proxy can reach the port.
    assert ini["server:container"]["forwarded_allow_ips"] == "*"


def test_two_factor_authentication_needs_its_key():
    with pytest.raises(ConfigurationError, match=r"datameta\.tfa\.encrypt_key"):
        parse_settings({**MINIMAL, "datameta.tfa.enabled": "true"}, environ={})


def test_the_readme_table_lists_every_setting():
    table = settings_table_markdown()
    for spec in SPECS:
        assert f"`{spec.env}`" in table


def test_the_readme_shows_the_current_settings_table():
    readme = ROOT / "README.md"
    # `make readme` rewrites the table after a setting changed.
    assert settings_table_markdown() in readme.read_text()
