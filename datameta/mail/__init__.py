"""Outgoing mail over SMTP, sent only once the request's changes are committed."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, getaddresses
from typing import Protocol

from pyramid.config import Configurator
from transaction import TransactionManager

from datameta.config import SmtpSettings, settings_of

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 10


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """Sends each message over its own SMTP connection.

    Mail is rare (registrations, password resets), so one connection per message
    is cheaper than keeping a connection alive that the server may drop.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, message: EmailMessage) -> None:
        """Send ``message``, setting its From to the configured sender if it has none."""
        if message["From"] is None:
            message["From"] = self.settings.sender
        try:
            with self._connect() as smtp:
                smtp.send_message(message, to_addrs=recipients(message))
        except (smtplib.SMTPException, OSError) as error:
            log.error(
                "sending mail %r to %s via %s:%s failed: %s",
                message["Subject"],
                message["To"],
                self.settings.host,
                self.settings.port,
                error,
            )
            raise

    def _connect(self) -> smtplib.SMTP:
        host, port, tls = self.settings.host, self.settings.port, self.settings.tls
        smtp: smtplib.SMTP
        if tls == "ssl":
            context = ssl.create_default_context()
            smtp = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS)
        try:
            if tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if self.settings.user:
                smtp.login(self.settings.user, self.settings.password)
        except BaseException:
            smtp.close()
            raise
        return smtp


def recipients(message: EmailMessage) -> list[str]:
    """Every address in To, Cc and Bcc; a group without members (undisclosed) adds none."""
    headers = [str(value) for name in ("To", "Cc", "Bcc") for value in message.get_all(name, [])]
    return [address for _, address in getaddresses(headers) if "@" in address]


def make_message(
    *,
    to: list[str],
    subject: str,
    body: str,
    bcc: list[str] | None = None,
    sender: str | None = None,
) -> EmailMessage:
    """A plain text UTF-8 message; without ``sender`` the mailer fills in From."""
    message = EmailMessage()
    if sender is not None:
        message["From"] = sender
    # Mail only to Bcc recipients names nobody in To, the usual way.
    message["To"] = ", ".join(to) if to else "undisclosed-recipients:;"
    if bcc:
        # smtplib delivers to Bcc recipients and strips the header from what it sends.
        message["Bcc"] = ", ".join(bcc)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    # smtplib does not announce 8BITMIME, so non-ASCII text must travel 7-bit clean.
    message.set_content(body, charset="utf-8", cte=None if body.isascii() else "quoted-printable")
    return message


class AfterCommitMailer:
    """A mailer that sends each message once the transaction has committed, never before.

    A mail about something that was rolled back (an account that was never
    created, say) would be wrong; so nothing is sent when the transaction aborts.
    """

    def __init__(self, mailer: Mailer, transaction_manager: TransactionManager) -> None:
        self.mailer = mailer
        self.transaction_manager = transaction_manager

    def send(self, message: EmailMessage) -> None:
        mailer = self.mailer

        def send_if_committed(committed: bool) -> None:
            if not committed:
                return
            try:
                mailer.send(message)
            except Exception:
                # The transaction is committed: failing now cannot undo anything.
                log.exception("mail %r to %s was not sent", message["Subject"], message["To"])

        self.transaction_manager.get().addAfterCommitHook(send_if_committed)


def includeme(config: Configurator) -> None:
    settings = settings_of(config.registry)
    # Tests may have registered a mailer that records messages instead.
    mailer = config.registry.get("mailer")
    if mailer is None:
        mailer = SmtpMailer(settings.smtp)
    config.registry["mailer"] = mailer
