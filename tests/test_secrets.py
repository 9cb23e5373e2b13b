"""No secret given to a notifier or a source shows up where people or other programs read.

Each test hands real components (an SQLite store, http.server, aiosmtpd, SQLAlchemy)
secrets that are easy to spot, makes them fail, and searches every message, repr, log
record and stored row for those secrets.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from servicegoals import (
    CLOSED_TICKETS,
    AccountSettings,
    Cadence,
    DataSourceError,
    DeliveryError,
    Directory,
    Goal,
    InMemorySource,
    InvalidInput,
    NotificationSettings,
    SqliteStore,
    Ticket,
    Tracker,
    User,
    date_range,
)
from servicegoals._redact import redact_url, scrub
from servicegoals.notifiers import Notifier, SmtpNotifier, WebhookNotifier
from servicegoals.sql import SqlAlchemySource
from test_notifiers import QuietHandler, note, serving

TOKEN = "tok-QUERY-SECRET-1"
SIGNING_SECRET = "hmac-SIGNING-SECRET-2"
BEARER = "Bearer HEADER-SECRET-3"
PASSWORD = "pw-SMTP-SECRET-4"
DB_PASSWORD = "pw-DB-SECRET-5"
DB_QUERY = "DB-QUERY-SECRET-6"
SECRETS = (TOKEN, SIGNING_SECRET, BEARER, "HEADER-SECRET-3", PASSWORD, DB_PASSWORD, DB_QUERY)


def leaked(*texts: object) -> list[str]:
    """The secrets found in any of ``texts``."""
    return [s for s in SECRETS for t in texts if s in str(t)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_redact_url_masks_passwords_and_query_strings() -> None:
    assert (
        redact_url("https://hooks.example.com/in?token=abc#x") == "https://hooks.example.com/in?***"
    )
    assert redact_url("postgresql+psycopg://admin:p/w?@db:5432/goals?sslpassword=x") == (
        "postgresql+psycopg://admin:***@db:5432/goals?***"
    )
    assert redact_url("postgresql://admin@db/goals") == "postgresql://admin@db/goals"
    assert redact_url("sqlite:///tickets.db") == "sqlite:///tickets.db"
    assert scrub("login pw1 failed for pw1", ["pw1", None, ""]) == "login *** failed for ***"


@pytest.fixture
def failing_hook() -> Iterator[str]:
    """A webhook receiver that answers 500 to everything; its URL carries a token."""

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(500)
            self.end_headers()

    with serving(Handler) as base:
        yield f"{base}/hook?token={TOKEN}"


@pytest.fixture
def refusing_smtp() -> Iterator[int]:
    """An SMTP server that offers login without TLS and refuses every password."""

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        return AuthResult(success=False, handled=False)

    port = free_port()
    controller = Controller(
        object(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def notifiers(hook_url: str, smtp_port: int) -> list[Notifier]:
    return [
        WebhookNotifier(hook_url, SIGNING_SECRET, timeout=5, headers={"Authorization": BEARER}),
        WebhookNotifier(
            f"http://127.0.0.1:{free_port()}/down?token={TOKEN}",
            SIGNING_SECRET,
            timeout=5,
            channel="webhook-down",
        ),
        SmtpNotifier(
            "127.0.0.1",
            smtp_port,
            sender="goals@example.com",
            timeout=5,
            username="goals",
            password=PASSWORD,
            allow_insecure_login=True,
        ),
    ]


def test_failed_deliveries_keep_secrets_out_of_errors_logs_reprs_and_the_store(
    failing_hook: str,
    refusing_smtp: int,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = AccountSettings()
    ada = User("ada", "Ada", email="ada@example.com")
    goal = Goal.create(
        id="g1",
        name="Close tickets",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.MONTHLY,
        span=date_range(date(2026, 1, 1), date(2026, 1, 31), account),
        settings=account,
        contributors=[ada],
        targets={"ada": 1},
        notifications=NotificationSettings(on_achieved=True),
        created_at=datetime(2025, 12, 1, tzinfo=UTC),
    )
    when = datetime(2026, 1, 10, tzinfo=UTC)
    source = InMemorySource([Ticket("t1", when, "support", owner_id="ada", closed_at=when)])
    path = tmp_path / "goals.db"
    store = SqliteStore(path)
    store.save_goal(goal)
    chosen = notifiers(failing_hook, refusing_smtp)
    tracker = Tracker(store, source, chosen, Directory([ada]))
    with caplog.at_level(logging.DEBUG):
        summary = tracker.refresh(when + timedelta(days=30))
    assert (summary.delivered, summary.failed) == (0, 3)
    errors = [entry.last_error for entry in store.outbox()]
    assert len(errors) == 3
    assert all(errors)
    assert any("HTTP 500" in str(e) for e in errors)
    assert any("535" in str(e) for e in errors)
    records = [(r.getMessage(), r.args, r.exc_text, r.__dict__) for r in caplog.records]
    assert records  # the failures were logged
    store.close()
    assert leaked(*errors, *records, *map(repr, chosen)) == []
    for file in tmp_path.iterdir():  # every row of the store, and its WAL
        raw = file.read_bytes()
        assert [s for s in SECRETS if s.encode() in raw] == [], file


def test_notifier_errors_and_reprs_hide_secrets(failing_hook: str, refusing_smtp: int) -> None:
    for notifier in notifiers(failing_hook, refusing_smtp):
        with pytest.raises(DeliveryError) as caught:
            notifier.send(note())
        assert leaked(caught.value, repr(caught.value), repr(notifier)) == []
    with pytest.raises(InvalidInput) as refused:
        WebhookNotifier(f"ftp://example.com/?token={TOKEN}", SIGNING_SECRET)
    with pytest.raises(InvalidInput) as credentials:
        WebhookNotifier(f"https://user:{PASSWORD}@example.com/", SIGNING_SECRET)
    with pytest.raises(InvalidInput) as empty:
        SmtpNotifier("127.0.0.1", sender="s@example.com", username="u", password=PASSWORD)
    for exc in (refused.value, credentials.value, empty.value):
        assert leaked(exc, repr(exc), exc.value) == []


def test_database_urls_are_masked_in_source_errors() -> None:
    url = f"postgresql+psycopg://admin:{DB_PASSWORD}@127.0.0.1:{free_port()}/db?application_name={DB_QUERY}"
    with pytest.raises(DataSourceError) as down:
        SqlAlchemySource(url)
    assert "postgresql+psycopg://admin:***@127.0.0.1:" in str(down.value)
    with pytest.raises(InvalidInput) as unknown:
        SqlAlchemySource(url.replace("psycopg", "nosuchdriver"))
    assert "admin:***@" in str(unknown.value)
    for exc in (down.value, unknown.value):
        assert leaked(exc, repr(exc), getattr(exc, "value", "")) == []


def test_sqlalchemy_source_name_hides_the_query_string(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tickets.db'}?timeout={DB_QUERY}"
    with pytest.raises(InvalidInput) as bad:  # the driver refuses the option
        SqlAlchemySource.create(url)
    assert leaked(bad.value, repr(bad.value)) == []


def test_cli_masks_the_database_password(capsys: pytest.CaptureFixture[str]) -> None:
    from servicegoals.cli import main

    url = f"postgresql+psycopg://admin:{DB_PASSWORD}@127.0.0.1:{free_port()}/db?x={DB_QUERY}"
    goals = Path(__file__).parent.parent / "docs" / "examples" / "goals.toml"
    code = main(["evaluate", "--goals", str(goals), "--tickets", url])
    out, err = capsys.readouterr()
    assert code == 2
    assert "admin:***@127.0.0.1" in err
    assert leaked(out, err) == []
