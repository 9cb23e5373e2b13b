"""Notifiers: deliver one notification each, or raise :class:`DeliveryError`.

A notifier does not retry and keeps no state about what it sent: the tracker's
outbox does that (see :mod:`servicegoals.tracker`).  Raise
:class:`UndeliverableError` when retrying cannot help (a recipient without an
e-mail address), so the outbox gives up at once instead of after every attempt.
"""

from __future__ import annotations

import email.policy
import hashlib
import hmac
import http.client
import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol, runtime_checkable

from ._errors import DeliveryError, InvalidInput
from .notify import Notification

__all__ = [
    "SIGNATURE_HEADER",
    "LoggingNotifier",
    "Notifier",
    "SmtpNotifier",
    "UndeliverableError",
    "WebhookNotifier",
    "sign",
    "verify_signature",
]

#: The webhook header that carries ``sha256=<hex HMAC-SHA256 of the body>``.
SIGNATURE_HEADER = "X-Servicegoals-Signature"
#: The webhook and e-mail header that carries the notification's idempotency key.
KEY_HEADER = "X-Servicegoals-Key"


# RFC 5322 allows 998 characters a line; the default 78 would fold the key header
# into a form that some parsers read back with a line break in the value.
_MAIL_POLICY = email.policy.default.clone(max_line_length=998)


class UndeliverableError(DeliveryError):
    """Delivery failed in a way that retrying cannot fix."""


@runtime_checkable
class Notifier(Protocol):
    """Delivers notifications over one channel.

    ``send`` returns once the notification has been handed over (the SMTP
    server accepted it, the webhook answered 2xx) and raises
    :class:`DeliveryError` otherwise.  A notifier may also have a ``channel``
    attribute, the name the tracker's outbox files its deliveries under (the
    class name when it has none); it must stay the same across restarts.
    """

    def send(self, notification: Notification) -> None: ...


def _timeout(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidInput("timeout", value, "expected a positive number of seconds")
    return float(value)


def _secret(value: bytes | str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    if not isinstance(raw, bytes) or not raw:
        raise InvalidInput("secret", "<hidden>", "expected a non-empty str or bytes secret")
    return raw


class LoggingNotifier:
    """Writes each notification to a :mod:`logging` logger (for development and audits)."""

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        level: int = logging.INFO,
        channel: str = "log",
    ) -> None:
        self.logger = logger or logging.getLogger("servicegoals.notifications")
        self.level = level
        self.channel = channel

    def send(self, notification: Notification) -> None:
        self.logger.log(
            self.level,
            "notify %s <%s>: %s [key %s]",
            notification.recipient_id,
            notification.recipient_email or "no e-mail",
            notification.subject,
            notification.key,
            extra={"notification": notification.to_dict()},
        )


class SmtpNotifier:
    """Sends each notification as a plain-text e-mail over SMTP (stdlib :mod:`smtplib`).

    ``starttls`` upgrades the connection before ``username``/``password`` log in.
    Every message carries the idempotency key in an ``X-Servicegoals-Key`` header.
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str,
        timeout: float = 10.0,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        channel: str = "email",
    ) -> None:
        if (username is None) != (password is None):
            raise InvalidInput("username", username, "give both username and password, or neither")
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout = _timeout(timeout)
        self.starttls = starttls
        self.username = username
        self._password = password
        self.ssl_context = ssl_context
        self.channel = channel

    def message(self, notification: Notification) -> EmailMessage:
        """The e-mail for one notification."""
        if notification.recipient_email is None:
            raise UndeliverableError(
                f"recipient_email: user {notification.recipient_id!r} has no e-mail address "
                f"(notification {notification.key})"
            )
        msg = EmailMessage(policy=_MAIL_POLICY)
        msg["From"] = self.sender
        msg["To"] = notification.recipient_email
        msg["Subject"] = notification.subject
        msg["Message-ID"] = make_msgid(idstring=notification.key[:16], domain="servicegoals")
        msg[KEY_HEADER] = notification.key
        msg.set_content(notification.body)
        return msg

    def send(self, notification: Notification) -> None:
        msg = self.message(notification)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                if self.username is not None and self._password is not None:
                    smtp.login(self.username, self._password)
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"smtp {self.host}:{self.port}: could not send notification "
                f"{notification.key} to {notification.recipient_email!r}: {exc}"
            ) from exc


def sign(body: bytes, secret: bytes | str) -> str:
    """The signature header value of ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(_secret(secret), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: bytes | str) -> bool:
    """True when ``header`` is the signature of ``body`` under ``secret``.

    For webhook receivers: pass the raw request body (before parsing the JSON)
    and the ``X-Servicegoals-Signature`` header.  The comparison takes constant
    time.
    """
    if not isinstance(header, str) or not isinstance(body, bytes):
        return False
    return hmac.compare_digest(header.encode(), sign(body, secret).encode())


class WebhookNotifier:
    """POSTs each notification as JSON to a URL, signed with a shared secret.

    The body is :meth:`Notification.to_dict` as UTF-8 JSON; the
    ``X-Servicegoals-Signature`` header is ``sha256=`` and the hex HMAC-SHA256 of
    the body under ``secret``.  A 2xx answer is success; anything else, a
    connection error or no answer within ``timeout`` seconds raises
    :class:`DeliveryError`.
    """

    def __init__(
        self,
        url: str,
        secret: bytes | str,
        *,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        channel: str = "webhook",
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidInput("url", url, "expected an http:// or https:// URL")
        self.url = url
        self._secret = _secret(secret)
        self.timeout = _timeout(timeout)
        self.headers = dict(headers or {})
        self.channel = channel

    def body(self, notification: Notification) -> bytes:
        """The request body for one notification."""
        return json.dumps(notification.to_dict(), sort_keys=True).encode()

    def send(self, notification: Notification) -> None:
        body = self.body(notification)
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                **self.headers,
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(body, self._secret),
                KEY_HEADER: notification.key,
            },
        )
        where = f"webhook {self.url}: notification {notification.key}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"{where}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise DeliveryError(f"{where}: {exc}") from exc
        if not 200 <= status < 300:
            raise DeliveryError(f"{where}: HTTP {status}")
