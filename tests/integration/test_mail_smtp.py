"""Mail over SMTP to the stack's sink, which stores each received mail in a Maildir."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import logging
import mailbox
import os
import smtplib
import socket
import time
import uuid
from email.message import EmailMessage
from typing import Any

import pytest
import transaction

from datameta.config import Settings
from datameta.mail import AfterCommitMailer, SmtpMailer, make_message


def _parse(file: Any) -> EmailMessage:
    return email.message_from_binary_file(file, policy=email.policy.default)


def received(subject: str, wait_seconds: float = 0) -> list[EmailMessage]:
    """The mails in the sink with ``subject``, waiting up to ``wait_seconds`` for one."""
    maildir = mailbox.Maildir(os.environ["DATAMETA_STACK_MAILDIR"], factory=_parse, create=False)
    deadline = time.monotonic() + wait_seconds
    while True:
        found = [message for message in maildir if message["Subject"] == subject]
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)


def sent_so_far(mailer: SmtpMailer) -> None:
    """Return once the sink holds every mail sent before: a marker sent after them arrived."""
    marker = unique_subject()
    mailer.send(make_message(to=["marker@example.org"], subject=marker, body="marker"))
    assert received(marker, wait_seconds=5), "the marker mail did not arrive"


def unique_subject() -> str:
    # Other tests share the sink; a unique subject finds exactly this test's mail.
    return f"Grüße from the tests {uuid.uuid4()}"


@pytest.fixture(scope="module")
def mailer(settings: Settings) -> SmtpMailer:
    return SmtpMailer(settings.smtp)


class FailingMailer:
    def send(self, message: EmailMessage) -> None:
        raise smtplib.SMTPServerDisconnected("connection lost")


def test_smtp_mailer_delivers_subject_recipients_and_body(
    mailer: SmtpMailer, settings: Settings
) -> None:
    subject = unique_subject()
    body = "Hello Jürgen,\n\nyour submission is complete.\n"
    message = make_message(
        to=["alice@example.org", "bob@example.org"],
        subject=subject,
        body=body,
        bcc=["admin@example.org"],
    )

    mailer.send(message)

    [mail] = received(subject, wait_seconds=5)
    assert mail["To"] == "alice@example.org, bob@example.org"
    assert mail["From"] == settings.smtp.sender
    assert mail.get_content() == body
    # Bcc recipients get the mail but stay hidden from the others.
    assert mail["Bcc"] is None
    assert mail["X-RcptTo"] == "alice@example.org, bob@example.org, admin@example.org"


def test_a_mail_to_bcc_recipients_only_names_nobody_in_to(mailer: SmtpMailer) -> None:
    subject = unique_subject()
    message = make_message(
        to=[], subject=subject, body="hi", bcc=["a1@example.org", "a2@example.org"]
    )

    mailer.send(message)

    [mail] = received(subject, wait_seconds=5)
    assert mail["To"] == "undisclosed-recipients:;"
    assert mail["X-RcptTo"] == "a1@example.org, a2@example.org"


def test_smtp_mailer_keeps_an_explicit_sender(mailer: SmtpMailer) -> None:
    subject = unique_subject()
    message = make_message(
        to=["alice@example.org"], subject=subject, body="hi", sender="Curator <c@example.org>"
    )

    mailer.send(message)

    [mail] = received(subject, wait_seconds=5)
    assert mail["From"] == "Curator <c@example.org>"


def test_mail_is_sent_after_the_transaction_commits(mailer: SmtpMailer) -> None:
    subject = unique_subject()
    tm = transaction.TransactionManager()
    tm.begin()

    AfterCommitMailer(mailer, tm).send(
        make_message(to=["a@example.org"], subject=subject, body="committed"),
    )
    sent_so_far(mailer)
    assert received(subject) == []
    tm.commit()

    [mail] = received(subject, wait_seconds=5)
    assert mail.get_content() == "committed\n"


def test_mail_is_not_sent_when_the_transaction_aborts(mailer: SmtpMailer) -> None:
    subject = unique_subject()
    tm = transaction.TransactionManager()
    tm.begin()

    AfterCommitMailer(mailer, tm).send(
        make_message(to=["a@example.org"], subject=subject, body="aborted"),
    )
    tm.abort()

    sent_so_far(mailer)
    assert received(subject) == []
    # A later transaction does not send it either.
    tm.begin()
    tm.commit()
    sent_so_far(mailer)
    assert received(subject) == []


def test_mail_failure_after_commit_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tm = transaction.TransactionManager()
    tm.begin()
    message = make_message(to=["a@example.org"], subject="lost", body="lost")

    AfterCommitMailer(FailingMailer(), tm).send(message)
    with caplog.at_level(logging.ERROR, logger="datameta.mail"):
        tm.commit()

    assert any("lost" in record.getMessage() for record in caplog.records)


def test_smtp_mailer_logs_and_raises_when_the_server_is_unreachable(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # The service stack leaves the port after the SMTP port unused; bound without
    # listening, it refuses connections and nothing else can take it meanwhile.
    port = settings.smtp.port + 1
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as reserved:
        reserved.bind(("127.0.0.1", port))
        unreachable = SmtpMailer(dataclasses.replace(settings.smtp, host="127.0.0.1", port=port))
        message = make_message(to=["a@example.org"], subject="unreachable", body="x")

        with caplog.at_level(logging.ERROR, logger="datameta.mail"), pytest.raises(OSError):
            unreachable.send(message)

    assert any("unreachable" in record.getMessage() for record in caplog.records)
