"""Settings: parsed and validated once at startup into one frozen object.

Every setting may come from the ini file or from an environment variable. The
variable's name is derived from the key (``datameta.smtp.host`` becomes
``DATAMETA_SMTP_HOST``, ``sqlalchemy.url`` becomes ``DATAMETA_SQLALCHEMY_URL``),
which is how production passes secrets without writing them into a file.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


class ConfigurationError(Exception):
    """A setting is missing or invalid; the message names it."""


def env_name(key: str) -> str:
    """The environment variable that overrides the ini setting ``key``."""
    if key.startswith("datameta."):
        key = key[len("datameta.") :]
    return "DATAMETA_" + key.upper().replace(".", "_")


TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0", ""})


def parse_bool(text: str) -> bool:
    """The one reading of yes/no text: settings, app settings, query flags and form fields.

    Here, at the bottom of the layers, so that every layer may use it. Any other
    text is a ValueError: a mistyped flag must not silently mean "no".
    """
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _parse_positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"expected a positive whole number, got {text!r}")
    return value


def _parse_port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise ValueError(f"expected a TCP port, got {text!r}")
    return value


def _parse_servers(text: str) -> tuple[tuple[str, int], ...]:
    servers = []
    for item in text.replace(",", " ").split():
        host, _, port = item.rpartition(":")
        if not host:
            raise ValueError(f"expected host:port, got {item!r}")
        servers.append((host, _parse_port(port)))
    if not servers:
        raise ValueError("expected at least one host:port")
    return tuple(servers)


def _parse_secret(text: str) -> str:
    if len(text) < 32:
        raise ValueError("must be at least 32 characters long")
    return text


def _parse_tls_mode(text: str) -> str:
    mode = text.strip().lower()
    if mode not in {"none", "starttls", "ssl"}:
        raise ValueError(f"expected none, starttls or ssl, got {text!r}")
    return mode


def _parse_fernet_key(text: str) -> str:
    if text:
        Fernet(text.encode())  # raises ValueError for a malformed key
    return text


def _parse_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"expected an http(s) URL, got {text!r}")
    return text.rstrip("/")


def _parse_optional_url(text: str) -> str:
    return _parse_url(text) if text else ""


def _parse_site_url(text: str) -> str:
    """The site's own address: scheme, host and perhaps a path prefix, nothing else."""
    if not text:
        return ""
    url = _parse_url(text)
    parts = urlsplit(url)
    if not parts.netloc or parts.query or parts.fragment or "?" in url or "#" in url:
        raise ValueError(
            f"expected the site's address such as https://datameta.example.org, got {text!r}"
        )
    return url


@dataclass(frozen=True)
class SettingSpec:
    key: str
    parse: Callable[[str], Any]
    default: str | None  # None: required
    description: str
    # The attribute of Settings it fills, where it is not named after the key.
    attribute: str | None = None

    @property
    def env(self) -> str:
        return env_name(self.key)

    @property
    def field(self) -> str:
        """The attribute it fills: the key without ``datameta.``, with underscores for dots."""
        return self.attribute or self.env.removeprefix("DATAMETA_").lower()


SITE_ID_ENTITIES = {
    "users": "DMU-",
    "groups": "DMG-",
    "submissions": "DMS-",
    "metadatasets": "DMR-",
    "files": "DMF-",
    "services": "DMP-",
}

SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("sqlalchemy.url", str, None, "PostgreSQL URL (postgresql+psycopg2://...)"),
    SettingSpec(
        "datameta.memcached.servers",
        _parse_servers,
        None,
        "memcached servers for sessions, host:port separated by spaces",
    ),
    SettingSpec(
        "datameta.session.secret",
        _parse_secret,
        None,
        "key that signs the session cookie (at least 32 characters)",
    ),
    SettingSpec("datameta.session.cookie_name", str, "datameta", "name of the session cookie"),
    SettingSpec(
        "datameta.security.hsts",
        parse_bool,
        "false",
        "send Strict-Transport-Security (serve over HTTPS only)",
        attribute="hsts",
    ),
    SettingSpec(
        "datameta.session.cookie_secure",
        parse_bool,
        "false",
        "send the session cookie over HTTPS only",
    ),
    SettingSpec(
        "datameta.session.timeout",
        _parse_positive_int,
        "43200",
        "seconds of inactivity after which a session ends",
    ),
    SettingSpec("datameta.storage.s3.endpoint_url", _parse_url, None, "S3 endpoint the app uses"),
    SettingSpec(
        "datameta.storage.s3.public_endpoint_url",
        _parse_optional_url,
        "",
        "S3 endpoint as clients reach it, for presigned URLs (default: the endpoint)",
    ),
    SettingSpec("datameta.storage.s3.bucket", str, None, "bucket that holds the data files"),
    SettingSpec("datameta.storage.s3.region", str, "us-east-1", "S3 region"),
    SettingSpec("datameta.storage.s3.access_key", str, None, "S3 access key id"),
    SettingSpec("datameta.storage.s3.secret_key", str, None, "S3 secret access key"),
    SettingSpec("datameta.smtp.host", str, "localhost", "SMTP server host"),
    SettingSpec("datameta.smtp.port", _parse_port, "587", "SMTP server port"),
    SettingSpec("datameta.smtp.user", str, "", "SMTP user name (empty: no login)"),
    SettingSpec("datameta.smtp.password", str, "", "SMTP password"),
    SettingSpec("datameta.smtp.tls", _parse_tls_mode, "starttls", "none, starttls or ssl"),
    SettingSpec(
        "datameta.smtp.from",
        str,
        "DataMeta <datameta@localhost>",
        "sender of outgoing mail",
        attribute="smtp_sender",
    ),
    *(
        SettingSpec(
            f"datameta.site_id_prefix.{entity}",
            str,
            prefix,
            f"prefix of the site ids of {entity}",
        )
        for entity, prefix in SITE_ID_ENTITIES.items()
    ),
    *(
        SettingSpec(
            f"datameta.site_id_digits.{entity}",
            _parse_positive_int,
            "8",
            f"digits of the site ids of {entity}",
        )
        for entity in SITE_ID_ENTITIES
    ),
    SettingSpec(
        "datameta.apikeys.max_expiration_period",
        _parse_positive_int,
        "30",
        "days an API key may be valid at most",
        attribute="apikey_max_expiration_days",
    ),
    SettingSpec(
        "datameta.apikeys.default_expiration_period",
        _parse_positive_int,
        "30",
        "days a new API key is valid when the request names no expiry",
        attribute="apikey_default_expiration_days",
    ),
    SettingSpec("datameta.tfa.enabled", parse_bool, "false", "require TOTP second factor"),
    SettingSpec(
        "datameta.tfa.encrypt_key",
        _parse_fernet_key,
        "",
        "Fernet key that encrypts TOTP secrets at rest",
    ),
    SettingSpec("datameta.tfa.otp_issuer", str, "DataMeta", "issuer shown in authenticator apps"),
    SettingSpec(
        "datameta.public_url",
        _parse_site_url,
        "",
        "the site's address for links in mails, such as https://datameta.example.org "
        "(required unless `datameta.links_from_request` is true)",
    ),
    SettingSpec(
        "datameta.links_from_request",
        parse_bool,
        "false",
        "without a public URL, build links in mails from the address each request names "
        "(development only: whoever sends a request chooses that address)",
    ),
    SettingSpec(
        "datameta.files.upload_window_hours",
        _parse_positive_int,
        "24",
        "hours a client has to upload an announced file",
    ),
    SettingSpec(
        "datameta.files.download_max_expiry_minutes",
        _parse_positive_int,
        "1440",
        "longest validity of a download URL, in minutes",
    ),
    SettingSpec(
        "datameta.files.upload_via_app",
        parse_bool,
        "false",
        "answer upload URLs of the app itself (for DataMeta 1.x clients) instead of S3",
    ),
    SettingSpec(
        "datameta.limits.max_body_bytes",
        _parse_positive_int,
        str(64 * 2**20),
        "largest request body in bytes; a larger one is refused with 413 before it is read "
        "(file content posted to `/api/v1/upload/{id}` has its own limit)",
        attribute="max_body_bytes",
    ),
    SettingSpec(
        "datameta.limits.max_upload_bytes",
        _parse_positive_int,
        str(10 * 2**30),
        "largest file content in bytes that a DataMeta 1.x client may post through the app",
        attribute="max_upload_bytes",
    ),
    SettingSpec(
        "datameta.metrics.token",
        str,
        "",
        "token Prometheus presents (`Authorization: Bearer ...`) to read `/metrics`; "
        "empty: `/metrics` answers 404",
    ),
    SettingSpec(
        "datameta.housekeeping.grace_days",
        _parse_positive_int,
        "30",
        "days expired password links, registration links and API keys are kept before "
        "the worker purges them (an expired link's page offers a fresh one meanwhile)",
    ),
    SettingSpec(
        "datameta.listing.statement_timeout_ms",
        _parse_positive_int,
        "30000",
        "milliseconds the database may spend on one statement of a listing or export of "
        "submitted metadatasets (`GET /metadatasets`) before it is cancelled and the "
        "request answers 503",
    ),
    SettingSpec(
        "datameta.housekeeping.job_retention_days",
        _parse_positive_int,
        "7",
        "days the records of finished background jobs (succeeded, failed, cancelled or "
        "aborted) are kept before the worker removes them",
    ),
)


@dataclass(frozen=True)
class SiteIdFormat:
    prefix: str
    digits: int


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str
    public_endpoint_url: str
    bucket: str
    region: str
    access_key: str
    secret_key: str


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str
    password: str
    tls: str
    sender: str


@dataclass(frozen=True)
class Settings:
    """Every setting of the app, typed."""

    sqlalchemy_url: str
    memcached_servers: tuple[tuple[str, int], ...]
    session_secret: str
    session_cookie_name: str
    session_cookie_secure: bool
    session_timeout: int
    hsts: bool
    s3: S3Settings
    smtp: SmtpSettings
    site_ids: Mapping[str, SiteIdFormat]
    apikey_max_expiration_days: int
    apikey_default_expiration_days: int
    tfa_enabled: bool
    tfa_encrypt_key: str
    tfa_otp_issuer: str
    files_upload_via_app: bool
    files_upload_window_hours: int
    files_download_max_expiry_minutes: int
    housekeeping_grace_days: int
    listing_statement_timeout_ms: int
    housekeeping_job_retention_days: int
    public_url: str
    links_from_request: bool
    max_body_bytes: int
    max_upload_bytes: int
    metrics_token: str


def resolve_raw(ini: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each known setting's text: the environment wins over the ini file."""
    environ = os.environ if environ is None else environ
    raw: dict[str, str] = {}
    for spec in SPECS:
        if spec.env in environ:
            raw[spec.key] = environ[spec.env]
        elif spec.key in ini and ini[spec.key] is not None:
            raw[spec.key] = str(ini[spec.key]).strip()
        elif spec.default is not None:
            raw[spec.key] = spec.default
    return raw


def _dependency_problems(values: Mapping[str, Any]) -> list[str]:
    """Settings that are required because of the value of another one."""
    problems = []
    if values["datameta.tfa.enabled"] and not values["datameta.tfa.encrypt_key"]:
        problems.append(
            "datameta.tfa.encrypt_key (env DATAMETA_TFA_ENCRYPT_KEY) is required "
            "when datameta.tfa.enabled is true"
        )
    if not values["datameta.public_url"] and not values["datameta.links_from_request"]:
        # A link built from the Host header of the request that caused the mail would
        # let anybody send a genuine reset token on a link to their own server.
        problems.append(
            "datameta.public_url (env DATAMETA_PUBLIC_URL) is required: links in mails "
            "lead there (such as https://datameta.example.org), never to an address a "
            "request names; only development sets datameta.links_from_request = true instead"
        )
    return problems


def parse_settings(ini: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Parse and validate all settings; raise ConfigurationError naming every bad one."""
    raw = resolve_raw(ini, environ)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for spec in SPECS:
        if spec.key not in raw:
            problems.append(f"{spec.key} (env {spec.env}) is required: {spec.description}")
            continue
        try:
            values[spec.key] = spec.parse(raw[spec.key])
        except ValueError as error:
            problems.append(f"{spec.key} (env {spec.env}) is invalid: {error}")
    problems += _dependency_problems(values) if not problems else []
    if problems:
        raise ConfigurationError("Invalid configuration:\n  " + "\n  ".join(problems))

    return _settings(values)


def _section(fields: dict[str, Any], prefix: str, cls: type[T]) -> T:
    """The nested settings ``cls`` of the fields named ``prefix`` + its attribute."""
    return cls(**{item.name: fields.pop(prefix + item.name) for item in dataclasses.fields(cls)})


def _settings(values: dict[str, Any]) -> Settings:
    """Settings of the parsed values: each spec fills the attribute its ``field`` names."""
    fields = {spec.field: values[spec.key] for spec in SPECS}
    fields["storage_s3_public_endpoint_url"] = (
        fields["storage_s3_public_endpoint_url"] or fields["storage_s3_endpoint_url"]
    )
    # A new key is never valid for longer than the maximum, whatever the default says.
    fields["apikey_default_expiration_days"] = min(
        fields["apikey_default_expiration_days"], fields["apikey_max_expiration_days"]
    )
    s3 = _section(fields, "storage_s3_", S3Settings)
    smtp = _section(fields, "smtp_", SmtpSettings)
    site_ids = {
        entity: SiteIdFormat(
            prefix=fields.pop(f"site_id_prefix_{entity}"),
            digits=fields.pop(f"site_id_digits_{entity}"),
        )
        for entity in SITE_ID_ENTITIES
    }
    return Settings(**fields, s3=s3, smtp=smtp, site_ids=site_ids)


def script_settings(path: str) -> Settings:
    """The settings of an ini file and the environment, for a console script.

    Sets up the file's logging too, so that a script logs as the app does. When a
    setting is missing or invalid, the script ends with status 2 and says which.
    """
    from pyramid.paster import get_appsettings, setup_logging

    setup_logging(path)
    try:
        return parse_settings(get_appsettings(path))
    except ConfigurationError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from error


def settings_table_markdown() -> str:
    """The README's configuration table, generated from SPECS so it cannot drift."""
    lines = ["| setting | environment variable | default | meaning |", "|---|---|---|---|"]
    for spec in SPECS:
        default = "(required)" if spec.default is None else f"`{spec.default}`"
        lines.append(f"| `{spec.key}` | `{spec.env}` | {default} | {spec.description} |")
    return "\n".join(lines)


# Where the app keeps its parsed settings: set once by ``datameta.configure``.
SETTINGS_KEY = "datameta.settings"


def settings_of(registry: Mapping[str, Any]) -> Settings:
    """The app's settings, for code that runs at configuration time (includes, tweens)."""
    settings: Settings = registry[SETTINGS_KEY]
    return settings


def request_settings(request: Any) -> Settings:
    """``request.settings``: the app's settings, for code that runs in a request."""
    return settings_of(request.registry)
