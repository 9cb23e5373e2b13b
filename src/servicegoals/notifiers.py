"""Notifiers: deliver one notification each, or raise [`DeliveryError`][].

A notifier does not retry and keeps no state about what it sent: the tracker's
outbox does that (see [`servicegoals.tracker`][servicegoals.tracker]).  Raise
[`UndeliverableError`][] when retrying cannot help (a recipient without an
e-mail address), so the outbox gives up at once instead of after every attempt.
"""

from __future__ import annotations

import contextlib
import email.policy
import hashlib
import hmac
import http.client
import json
import logging
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from ._redact import redact_url, scrub, url_secrets
from ._validate import aware, whole
from .errors import DeliveryError, InvalidInput, UndeliverableError
from .notify import Notification

__all__ = [
    "SIGNATURE_HEADER",
    "LoggingNotifier",
    "Notifier",
    "SmtpNotifier",
    "WebhookNotifier",
    "sign",
    "verify_signature",
]

#: The webhook header that carries ``t=<unix time>,sha256=<hex HMAC-SHA256>``.
SIGNATURE_HEADER = "X-Servicegoals-Signature"
#: The webhook and e-mail header that carries the notification's idempotency key.
KEY_HEADER = "X-Servicegoals-Key"


# RFC 5322 allows 998 characters a line; the default 78 would fold the key header
# into a form that some parsers read back with a line break in the value.
_MAIL_POLICY = email.policy.default.clone(max_line_length=998)


@runtime_checkable
class Notifier(Protocol):
    """Delivers notifications over one channel.

    ``send`` returns once the notification has been handed over (the SMTP
    server accepted it, the webhook answered 2xx) and raises `DeliveryError`
    otherwise, within a bounded time: the tracker's lease on the entry must not
    run out while ``send`` is busy.  A notifier may also have a ``channel``
    attribute, the name the tracker's outbox files its deliveries under (the
    class name when it has none); it must stay the same across restarts.
    """

    def send(self, notification: Notification) -> None:
        """Hand ``notification`` over to the channel, or fail.

        Return only once the channel has accepted it; raise `DeliveryError`
        (with a message that holds no secret) when it did not, so that the
        outbox keeps it and retries.  Finish within the tracker's delivery
        deadline: a late send may still land after the attempt was counted as
        failed, so receivers deduplicate on ``notification.key``.
        """
        ...


def _timeout(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidInput("timeout", value, "expected a positive number of seconds")
    return float(value)


class _Watchdog:
    """Shuts a connection's socket down once an attempt's total time is up.

    A socket timeout bounds each read, not the attempt: a server that trickles
    one byte a second keeps every read short and the attempt alive for ever.
    Shutting the socket down from a timer thread makes the blocked read return
    at once, whatever the protocol library is doing.
    """

    def __init__(self, seconds: float, current: Callable[[], socket.socket | None]) -> None:
        self.seconds = seconds
        self.fired = False
        self._current = current
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        sock = self._current()
        if sock is not None:
            # The plain socket's shutdown: an SSL socket's would touch its TLS state,
            # which the sending thread is using.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def check(self) -> None:
        """Raise `TimeoutError` if the time ran out (say, while connecting)."""
        if self.fired:
            raise TimeoutError("timed out")

    def reason(self, exc: BaseException, secrets: Iterable[str | bytes | None]) -> str:
        """What went wrong, for the error message, with ``secrets`` masked."""
        if self.fired:
            return f"timed out: no complete answer within the deadline of {self.seconds:g} s"
        return scrub(str(exc) or type(exc).__name__, secrets)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()


def _secret(value: bytes | str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    if not isinstance(raw, bytes) or not raw:
        raise InvalidInput("secret", "<hidden>", "expected a non-empty str or bytes secret")
    return raw


class LoggingNotifier:
    """Writes each notification to a `logging` logger (for development and audits)."""

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


class _SMTP(smtplib.SMTP):
    """A client that connects only when told to (under the watchdog).

    Given no host, `smtplib.SMTP` would not know which name ``starttls`` must
    check the server's certificate against.
    """

    def __init__(self, host: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._host = host


class SmtpNotifier:
    """Sends each notification as a plain-text e-mail over SMTP (stdlib `smtplib`).

    ``starttls`` upgrades the connection before ``username``/``password`` log in;
    logging in without it sends the password in clear, so it is refused unless
    ``allow_insecure_login`` is true.  ``timeout`` is the total time one attempt
    may take, connecting and every read included.  Every message carries the
    idempotency key in an ``X-Servicegoals-Key`` header.
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
        allow_insecure_login: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        channel: str = "email",
    ) -> None:
        if (username is None) != (password is None):
            raise InvalidInput("username", username, "give both username and password, or neither")
        if username is not None and not starttls and allow_insecure_login is not True:
            raise InvalidInput(
                "username",
                username,
                "logging in without TLS sends the password in clear: set starttls=True "
                "(or allow_insecure_login=True on a network you trust)",
            )
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout = _timeout(timeout)
        self.starttls = starttls
        self.username = username
        self._password = password
        self.ssl_context = ssl_context
        self.channel = channel

    def __repr__(self) -> str:
        login = "" if self.username is None else f", username={self.username!r}, password='***'"
        return f"SmtpNotifier({self.host!r}, {self.port!r}, sender={self.sender!r}{login})"

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
        smtp = _SMTP(self.host, self.timeout)
        with _Watchdog(self.timeout, lambda: smtp.sock) as watchdog:
            try:
                smtp.connect(self.host, self.port)
                watchdog.check()
                if self.starttls:
                    smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                if self.username is not None and self._password is not None:
                    smtp.login(self.username, self._password)
                smtp.send_message(msg)
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    smtp.quit()  # the message is accepted; a failed goodbye changes nothing
            except (smtplib.SMTPException, OSError) as exc:
                raise DeliveryError(
                    f"smtp {self.host}:{self.port}: could not send notification "
                    f"{notification.key} to {notification.recipient_email!r}: "
                    f"{watchdog.reason(exc, [self._password])}"
                ) from None
            finally:
                smtp.close()


def _tolerance(value: timedelta) -> timedelta:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise InvalidInput("tolerance", value, "expected a positive timedelta")
    return value


def _signed_payload(body: bytes, timestamp: int, key: str) -> bytes:
    return f"{timestamp}.{key}.".encode() + body


def sign(body: bytes, secret: bytes | str, *, timestamp: int, key: str) -> str:
    """The signature header value: ``t=<timestamp>,sha256=<hex>``.

    The HMAC-SHA256 under ``secret`` covers ``"<timestamp>.<key>."`` followed by
    ``body``, so neither the time nor the idempotency key header can be
    changed without breaking it.

    Args:
        body: the raw request body.
        secret: the shared secret.
        timestamp: Unix time in whole seconds.
        key: the idempotency key (the ``X-Servicegoals-Key`` header; no dots).
    """
    if not whole(timestamp) or timestamp < 0:
        raise InvalidInput("timestamp", timestamp, "expected Unix time in whole seconds")
    if not isinstance(key, str) or not key or "." in key:
        raise InvalidInput("key", key, "expected a non-empty idempotency key without dots")
    digest = hmac.new(_secret(secret), _signed_payload(body, timestamp, key), hashlib.sha256)
    return f"t={timestamp},sha256={digest.hexdigest()}"


def verify_signature(
    body: bytes,
    header: str | None,
    secret: bytes | str,
    *,
    key: str | None,
    tolerance: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
) -> bool:
    """True when ``header`` signs ``body`` and ``key`` under ``secret``, recently.

    For webhook receivers: pass the raw request body (before parsing the JSON),
    the ``X-Servicegoals-Signature`` header and the ``X-Servicegoals-Key``
    header.  A signature made more than ``tolerance`` before (or after) ``now``
    (default: the current time) is refused, so a captured request cannot be
    replayed later.  The comparison takes constant time.
    """
    tolerance = _tolerance(tolerance)
    if not isinstance(header, str) or not isinstance(body, bytes):
        return False
    if not isinstance(key, str) or not key or "." in key:
        return False
    fields = dict(part.strip().partition("=")[::2] for part in header.split(","))
    stamp, given = fields.get("t", ""), fields.get("sha256", "")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 11):
        return False
    timestamp = int(stamp)
    moment = datetime.now(UTC) if now is None else aware("now", now)
    if abs(moment - datetime.fromtimestamp(timestamp, UTC)) > tolerance:
        return False
    expected = sign(body, secret, timestamp=timestamp, key=key)
    return hmac.compare_digest(f"t={stamp},sha256={given}".encode(), expected.encode())


class WebhookNotifier:
    """POSTs each notification as JSON to a URL, signed with a shared secret.

    The body is `Notification.to_dict()` as UTF-8 JSON; the
    ``X-Servicegoals-Signature`` header is ``t=<unix time>,sha256=<hex>`` (see
    `sign`).  A 2xx answer is success.  Anything else raises `DeliveryError`:
    a redirect (never followed, so the body and credentials never reach
    another host), another status, a connection error, or no complete answer
    within ``timeout`` seconds in total.  The URL's query string and password
    are masked in every error message.
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
            shown = redact_url(url) if isinstance(url, str) else url
            raise InvalidInput("url", shown, "expected an http:// or https:// URL")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise InvalidInput("url", redact_url(url), f"not a valid URL: {exc}") from None
        if parts.username is not None or parts.password is not None:
            raise InvalidInput(
                "url", redact_url(url), "give credentials in headers=, not in the URL"
            )
        if not parts.hostname:
            raise InvalidInput("url", redact_url(url), "the URL has no host")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._secret = _secret(secret)
        self.timeout = _timeout(timeout)
        self.headers = dict(headers or {})
        self.channel = channel

    def __repr__(self) -> str:
        return f"WebhookNotifier({redact_url(self.url)!r}, secret='***', channel={self.channel!r})"

    def body(self, notification: Notification) -> bytes:
        """The request body for one notification."""
        return json.dumps(notification.to_dict(), sort_keys=True).encode()

    def send(self, notification: Notification) -> None:
        body = self.body(notification)
        signature = sign(body, self._secret, timestamp=int(time.time()), key=notification.key)
        headers = {
            **self.headers,
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature,
            KEY_HEADER: notification.key,
        }
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        connection = kind(self._host, self._port, timeout=self.timeout)
        where = f"webhook {redact_url(self.url)}: notification {notification.key}"
        with _Watchdog(self.timeout, lambda: connection.sock) as watchdog:
            try:
                connection.connect()
                watchdog.check()
                connection.request("POST", self._target, body=body, headers=headers)
                response = connection.getresponse()
                watchdog.check()  # the cut may have come between two header lines
                status, reason = response.status, " ".join(response.reason.split())[:80]
            except (http.client.HTTPException, OSError) as exc:
                secrets: list[str | bytes | None] = [
                    *url_secrets(self.url),
                    self._secret,
                    *self.headers.values(),
                ]
                raise DeliveryError(f"{where}: {watchdog.reason(exc, secrets)}") from None
            finally:
                connection.close()
        if 300 <= status < 400:
            raise DeliveryError(
                f"{where}: HTTP {status} {reason}: redirects are not followed "
                "(give the notifier the final URL)"
            )
        if not 200 <= status < 300:
            raise DeliveryError(f"{where}: HTTP {status} {reason}")
