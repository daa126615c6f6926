"""The server's logger builds no access line that no handler would receive.

The app logs every request itself; gunicorn's own access line, built per request,
goes nowhere under the ini files' logging configuration and is not built.
"""

from __future__ import annotations

import configparser
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from datameta.telemetry.server import ServerLogger

ROOT = Path(__file__).resolve().parents[2]
SERVER_SECTIONS = [
    ("production.ini", "server:main"),
    ("production.ini", "server:container"),
    ("development.ini", "server:main"),
]


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    """gunicorn configures the process's logging; each test leaves it as it found it."""
    names = ["", "gunicorn.error", "gunicorn.access", "datameta", "sqlalchemy.engine"]
    saved = {}
    for name in names:
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level, logger.propagate, logger.disabled)
    yield
    for name, (handlers, level, propagate, disabled) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled


def configured(logger_class: type[Logger], **settings: Any) -> Logger:
    cfg = Config()
    for name, value in settings.items():
        cfg.set(name, value)
    return logger_class(cfg)


def access_lines_built(logger: Logger, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Log one request's access line; the atoms gunicorn built for it, if it did."""
    built: list[dict] = []

    def atoms(*_: Any) -> dict:
        built.append({"r": "GET / HTTP/1.1", "s": "200"})
        return built[-1]

    monkeypatch.setattr(logger, "atoms", atoms)
    logger.access(object(), object(), {}, timedelta(milliseconds=3))
    return built


@pytest.mark.parametrize(("ini", "section"), SERVER_SECTIONS)
def test_every_server_section_uses_the_lean_logger(ini: str, section: str) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / ini)
    assert parser[section]["logger_class"] == "datameta.telemetry.server.ServerLogger"


def test_under_the_production_logging_no_access_line_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logger = configured(ServerLogger, logconfig=str(ROOT / "production.ini"))
    assert access_lines_built(logger, monkeypatch) == []
    assert not logger.access_log_enabled


def test_gunicorns_own_logger_would_build_it_for_nobody(monkeypatch: pytest.MonkeyPatch) -> None:
    logger = configured(Logger, logconfig=str(ROOT / "production.ini"))
    assert not logger.access_log.hasHandlers()
    assert len(access_lines_built(logger, monkeypatch)) == 1


def test_an_access_log_that_is_asked_for_is_written(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = configured(
        ServerLogger,
        logconfig=str(ROOT / "production.ini"),
        accesslog="-",
        access_log_format="%(r)s %(s)s",
    )
    assert len(access_lines_built(logger, monkeypatch)) == 1
    assert "GET / HTTP/1.1 200" in capsys.readouterr().out


def test_a_handler_on_the_access_logger_in_the_logging_configuration_gets_the_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logger = configured(
        ServerLogger,
        logconfig_dict={
            "handlers": {"memory": {"class": "logging.handlers.MemoryHandler", "capacity": 10}},
            "loggers": {"gunicorn.access": {"handlers": ["memory"], "propagate": False}},
            "root": {"handlers": []},
        },
    )
    assert len(access_lines_built(logger, monkeypatch)) == 1
