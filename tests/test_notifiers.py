"""Notifiers against real servers on loopback: aiosmtpd for SMTP, http.server for webhooks."""

from __future__ import annotations

import email
import json
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from servicegoals import (
    DeliveryError,
    InvalidInput,
    Notification,
    NotificationEvent,
    notification_key,
)
from servicegoals.errors import UndeliverableError
from servicegoals.notifiers import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    LoggingNotifier,
    Notifier,
    SmtpNotifier,
    WebhookNotifier,
    sign,
    verify_signature,
)
from servicegoals.testing import CapturingNotifier

SECRET = b"shared-secret"


def note(email_address: str | None = "ada@example.com") -> Notification:
    event = NotificationEvent.ACHIEVED
    return Notification(
        key=notification_key("g1", "ada", 0, event, None, "ada"),
        goal_id="g1",
        contributor_id="ada",
        milestone_index=0,
        event=event,
        percent=None,
        recipient_id="ada",
        recipient_email=email_address,
        subject="Close tickets (2026-01): target achieved",
        body="Hello Ada,\n\nWell done.\n",
        created_at=datetime(2026, 2, 1, tzinfo=UTC),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_every_provided_notifier_satisfies_the_protocol() -> None:
    for notifier in (
        LoggingNotifier(),
        SmtpNotifier("127.0.0.1", sender="goals@example.com"),
        WebhookNotifier("http://127.0.0.1/hook", SECRET),
        CapturingNotifier(),
    ):
        assert isinstance(notifier, Notifier)


def test_logging_notifier_logs_subject_and_key(caplog: pytest.LogCaptureFixture) -> None:
    n = note()
    with caplog.at_level(logging.INFO, logger="servicegoals.notifications"):
        LoggingNotifier().send(n)
    (record,) = caplog.records
    assert n.subject in record.getMessage()
    assert n.key in record.getMessage()
    assert record.notification == n.to_dict()  # type: ignore[attr-defined]


# -- SMTP ------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, Message]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        self.messages.append((envelope, email.message_from_bytes(content, policy=default)))
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.endswith("@nowhere.invalid"):
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_smtp_delivers_to_a_real_server(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    n = note()
    SmtpNotifier("127.0.0.1", port, sender="goals@example.com", timeout=5).send(n)
    ((envelope, msg),) = inbox.messages
    assert envelope.mail_from == "goals@example.com"
    assert envelope.rcpt_tos == ["ada@example.com"]
    assert msg["Subject"] == n.subject
    assert msg["X-Servicegoals-Key"] == n.key
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert payload.decode().splitlines() == n.body.splitlines()  # CRLF on the wire


def test_smtp_refused_recipient_is_a_delivery_error(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    notifier = SmtpNotifier("127.0.0.1", port, sender="goals@example.com", timeout=5)
    with pytest.raises(DeliveryError, match=r"nowhere\.invalid"):
        notifier.send(note("ada@nowhere.invalid"))
    assert inbox.messages == []


def test_smtp_server_down_is_a_delivery_error() -> None:
    notifier = SmtpNotifier("127.0.0.1", free_port(), sender="goals@example.com", timeout=2)
    with pytest.raises(DeliveryError, match=r"smtp 127\.0\.0\.1:\d+: could not send"):
        notifier.send(note())


def test_smtp_server_that_never_greets_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        notifier = SmtpNotifier("127.0.0.1", port, sender="goals@example.com", timeout=0.3)
        with pytest.raises(DeliveryError, match="timed out"):
            notifier.send(note())


def test_recipient_without_email_is_undeliverable() -> None:
    notifier = SmtpNotifier("127.0.0.1", free_port(), sender="goals@example.com")
    with pytest.raises(UndeliverableError, match="recipient_email: user 'ada' has no e-mail"):
        notifier.send(note(None))


def test_smtp_settings_are_checked() -> None:
    with pytest.raises(InvalidInput, match="timeout"):
        SmtpNotifier("127.0.0.1", sender="goals@example.com", timeout=0)
    with pytest.raises(InvalidInput, match="username"):
        SmtpNotifier("127.0.0.1", sender="goals@example.com", username="ada")


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a throwaway certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_smtp_starttls_and_login(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        # handled=False: the server itself answers "535 credentials invalid".
        return AuthResult(success=data.password == b"s3cret", handled=False)

    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        client_tls = ssl.create_default_context(cafile=str(cert))

        def notifier(password: str) -> SmtpNotifier:
            return SmtpNotifier(
                "127.0.0.1",
                port,
                sender="goals@example.com",
                timeout=5,
                starttls=True,
                username="ada",
                password=password,
                ssl_context=client_tls,
            )

        notifier("s3cret").send(note())
        assert len(inbox.messages) == 1
        with pytest.raises(DeliveryError, match="535"):
            notifier("wrong").send(note())
        with pytest.raises(DeliveryError, match="could not send"):  # the server wants TLS
            SmtpNotifier("127.0.0.1", port, sender="goals@example.com", timeout=5).send(note())
    finally:
        controller.stop()
    # smtplib tries each mechanism the server offers before giving up.
    assert logins[0] == (b"ada", b"s3cret")
    assert set(logins[1:]) == {(b"ada", b"wrong")}
    assert len(inbox.messages) == 1


# -- webhooks ----------------------------------------------------------------------


@dataclass
class Hook:
    """What the local HTTP server received and how it answers."""

    url: str
    status: int = 204
    hang: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[tuple[dict[str, str], bytes, bool]] = field(default_factory=list)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test output clean."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on a free loopback port, in a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook(url="")

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            valid = verify_signature(
                body, self.headers[SIGNATURE_HEADER], SECRET, key=self.headers[KEY_HEADER]
            )
            state.requests.append((dict(self.headers), body, valid))
            if state.hang:
                state.release.wait(10)
            self.send_response(state.status if valid else 401)
            self.end_headers()

    with serving(Handler) as base:
        state.url = f"{base}/hook"
        try:
            yield state
        finally:
            state.release.set()  # before the server stops: a hanging handler returns


def test_webhook_posts_signed_json(hook: Hook) -> None:
    n = note()
    WebhookNotifier(hook.url, SECRET, timeout=5, headers={"X-Tenant": "acme"}).send(n)
    ((headers, body, valid),) = hook.requests
    assert valid
    assert json.loads(body) == n.to_dict()
    assert Notification.from_dict(json.loads(body)) == n
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Servicegoals-Key"] == n.key
    assert headers["X-Tenant"] == "acme"
    assert headers[SIGNATURE_HEADER].startswith("t=")


def test_webhook_with_the_wrong_secret_is_refused_by_the_receiver(hook: Hook) -> None:
    with pytest.raises(DeliveryError, match="HTTP 401"):
        WebhookNotifier(hook.url, b"not-the-secret", timeout=5).send(note())
    assert [valid for _, _, valid in hook.requests] == [False]


def test_webhook_http_500_is_a_delivery_error(hook: Hook) -> None:
    hook.status = 500
    with pytest.raises(DeliveryError, match="HTTP 500"):
        WebhookNotifier(hook.url, SECRET, timeout=5).send(note())
    assert len(hook.requests) == 1


def test_webhook_hanging_past_the_timeout_is_a_delivery_error(hook: Hook) -> None:
    hook.hang = True
    with pytest.raises(DeliveryError, match="timed out"):
        WebhookNotifier(hook.url, SECRET, timeout=0.3).send(note())


def test_webhook_server_down_is_a_delivery_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(DeliveryError, match="refused"):
        WebhookNotifier(url, SECRET, timeout=2).send(note())


def test_webhook_settings_are_checked() -> None:
    with pytest.raises(InvalidInput, match="url"):
        WebhookNotifier("ftp://example.com", SECRET)
    with pytest.raises(InvalidInput, match="secret"):
        WebhookNotifier("http://127.0.0.1/hook", "")
    with pytest.raises(InvalidInput, match="timeout"):
        WebhookNotifier("http://127.0.0.1/hook", SECRET, timeout=-1)


def test_verify_signature() -> None:
    body = b'{"key": "k"}'
    now = datetime(2026, 2, 1, tzinfo=UTC)
    stamp = int(now.timestamp())
    header = sign(body, SECRET, timestamp=stamp, key="k1")
    assert header.startswith(f"t={stamp},sha256=")
    assert verify_signature(body, header, SECRET, key="k1", now=now)
    assert verify_signature(body, header, SECRET.decode(), key="k1", now=now)
    assert not verify_signature(body + b" ", header, SECRET, key="k1", now=now)
    assert not verify_signature(body, header, b"other", key="k1", now=now)
    assert not verify_signature(body, header.replace("sha256=", "sha1="), SECRET, key="k1", now=now)
    assert not verify_signature(body, None, SECRET, key="k1", now=now)
    assert not verify_signature(body, header, SECRET, key=None, now=now)


def test_signature_covers_the_timestamp_and_the_key() -> None:
    body = b'{"key": "k1"}'
    now = datetime(2026, 2, 1, tzinfo=UTC)
    stamp = int(now.timestamp())
    header = sign(body, SECRET, timestamp=stamp, key="k1")
    # A replayed request is refused once the tolerance has passed, either way.
    later, earlier = now + timedelta(minutes=5, seconds=1), now - timedelta(minutes=5, seconds=1)
    assert verify_signature(body, header, SECRET, key="k1", now=now + timedelta(minutes=5))
    assert not verify_signature(body, header, SECRET, key="k1", now=later)
    assert not verify_signature(body, header, SECRET, key="k1", now=earlier)
    assert verify_signature(
        body, header, SECRET, key="k1", now=later, tolerance=timedelta(minutes=10)
    )
    # Changing the time or the key header breaks the signature.
    moved = header.replace(f"t={stamp}", f"t={stamp + 60}")
    assert not verify_signature(body, moved, SECRET, key="k1", now=now)
    assert not verify_signature(body, header, SECRET, key="k2", now=now)
    # A dot in the key would make "t.key.body" ambiguous.
    assert not verify_signature(body, header, SECRET, key="k1.", now=now)
    with pytest.raises(InvalidInput, match="key"):
        sign(body, SECRET, timestamp=stamp, key="a.b")
    with pytest.raises(InvalidInput, match="tolerance"):
        verify_signature(body, header, SECRET, key="k1", tolerance=timedelta(0))
    with pytest.raises(InvalidInput, match="now: naive datetime"):
        verify_signature(body, header, SECRET, key="k1", now=datetime(2026, 2, 1))


def test_webhook_signature_is_fresh_and_names_the_key(hook: Hook) -> None:
    n = note()
    WebhookNotifier(hook.url, SECRET, timeout=5).send(n)
    ((headers, body, valid),) = hook.requests
    assert valid
    header = headers[SIGNATURE_HEADER]
    stale = datetime.now(UTC) + timedelta(minutes=6)
    assert not verify_signature(body, header, SECRET, key=n.key, now=stale)


# -- hostile servers ------------------------------------------------------------------


@dataclass
class Server:
    """A real HTTP server on loopback that records what reaches it."""

    url: str
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@contextmanager
def http_server(answer: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[Server]:
    state = Server(url="")

    class Handler(QuietHandler):
        def record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            state.requests.append((self.command, dict(self.headers), body))
            answer(self)

        do_GET = do_POST = record

    with serving(Handler) as base:
        state.url = f"{base}/hook"
        yield state


def test_webhook_redirect_is_a_failure_and_is_not_followed() -> None:
    def ok(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()

    with http_server(ok) as elsewhere:

        def redirect(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(302)
            handler.send_header("Location", elsewhere.url)
            handler.end_headers()

        with http_server(redirect) as first:
            notifier = WebhookNotifier(
                first.url, SECRET, timeout=5, headers={"Authorization": "Bearer t0ken"}
            )
            with pytest.raises(DeliveryError, match="HTTP 302 Found: redirects are not followed"):
                notifier.send(note())
    assert [method for method, _, _ in first.requests] == ["POST"]
    assert elsewhere.requests == []  # neither the body nor the credentials left for it


#: How long the trickling servers below would keep a client busy.
TRICKLE_STEPS, TRICKLE_PAUSE = 200, 0.05


def trickle(handler: BaseHTTPRequestHandler, done: list[str]) -> None:
    """Answer one byte at a time: each read is quick, the whole answer is not."""
    try:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(TRICKLE_STEPS):
            handler.wfile.write(b"a")
            handler.wfile.flush()
            time.sleep(TRICKLE_PAUSE)
        handler.wfile.write(b"\r\nContent-Length: 0\r\n\r\n")
        handler.wfile.flush()
        done.append("finished")
    except OSError:
        done.append("client gone")


def test_webhook_deadline_covers_the_whole_attempt() -> None:
    done: list[str] = []
    with http_server(lambda handler: trickle(handler, done)) as slow:
        # Each read waits 0.05 s, far below the timeout; only a total deadline stops it.
        with pytest.raises(DeliveryError, match=r"timed out: no complete answer within .* 0\.5 s"):
            WebhookNotifier(slow.url, SECRET, timeout=0.5).send(note())
        for _ in range(TRICKLE_STEPS):
            if done:
                break
            time.sleep(TRICKLE_PAUSE)
    assert done == ["client gone"]


def test_smtp_deadline_covers_the_whole_attempt() -> None:
    done: list[str] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def greet_slowly() -> None:
            connection, _ = listener.accept()
            with connection:
                try:
                    for _ in range(TRICKLE_STEPS):  # a greeting that never ends
                        connection.sendall(b"220-still greeting\r\n")
                        time.sleep(TRICKLE_PAUSE)
                    done.append("finished")
                except OSError:
                    done.append("client gone")

        thread = threading.Thread(target=greet_slowly, daemon=True)
        thread.start()
        notifier = SmtpNotifier("127.0.0.1", port, sender="goals@example.com", timeout=0.5)
        with pytest.raises(DeliveryError, match="timed out: no complete answer within"):
            notifier.send(note())
        thread.join(TRICKLE_STEPS * TRICKLE_PAUSE * 2)
    assert done == ["client gone"]


def test_smtp_login_without_tls_is_refused_unless_allowed() -> None:
    with pytest.raises(InvalidInput, match="username: logging in without TLS"):
        SmtpNotifier("127.0.0.1", sender="goals@example.com", username="ada", password="pw")
    allowed = SmtpNotifier(
        "127.0.0.1",
        sender="goals@example.com",
        username="ada",
        password="pw",
        allow_insecure_login=True,
    )
    assert allowed.username == "ada"
