"""Tickets in any database SQLAlchemy speaks, with aggregate push-down.

Needs the extra ``servicegoals[sql]`` (SQLAlchemy 2 and psycopg for
PostgreSQL).  The table has the same columns as
[`SqliteSource`][servicegoals.sources.SqliteSource]'s (instants as BIGINT epoch
microseconds); every statement is built with
SQLAlchemy Core and binds its values as parameters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

import attrs
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ColumnElement,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    create_engine,
    delete,
    func,
    insert,
    inspect,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from ._redact import redact_url, scrub, url_secrets
from ._validate import text
from .errors import DataSourceError, InvalidInput
from .kpis import Ticket
from .pushdown import AggregateQuery, AggregateRow, PushDownPlan
from .sources import (
    CSV_COLUMNS,
    Histories,
    PushDownSource,
    TicketQuery,
    history_rows,
    read_histories,
    ticket_from_row,
    ticket_row,
    with_history,
)

__all__ = ["SqlAlchemySource", "history_table", "ticket_table"]

#: Longest id or pipeline name the table stores.
ID_LENGTH = 255
#: Larger id lists are not sent as IN lists (drivers limit parameters per
#: statement); the rows of other ids are then dropped after the query.
_MAX_IN = 10_000
_BATCH = 1_000


def ticket_table(metadata: MetaData, name: str = "tickets") -> Table:
    """The ``tickets`` table: columns, checks and the indexes push-down uses."""
    table = Table(
        name,
        metadata,
        Column("id", String(ID_LENGTH), primary_key=True),
        Column("created_at", BigInteger, nullable=False),
        Column("pipeline", String(ID_LENGTH), nullable=False),
        Column("owner_id", String(ID_LENGTH)),
        Column("team_id", String(ID_LENGTH)),
        Column("first_response_at", BigInteger),
        Column("closed_at", BigInteger),
    )
    c = table.c
    for event in (c.first_response_at, c.closed_at):
        table.append_constraint(
            CheckConstraint(
                or_(event.is_(None), event >= c.created_at), name=f"{name}_{event.name}_check"
            )
        )
    for key in ("owner_id", "team_id"):
        for event_name in ("closed_at", "first_response_at"):
            short = "closed" if event_name == "closed_at" else "response"
            Index(f"{name}_{key[:-3]}_{short}", c[key], c[event_name], c.pipeline, c.created_at)
    return table


def history_table(metadata: MetaData, name: str = "tickets") -> Table:
    """The ``<name>_history`` table of ticket histories (see `HistoryRow`)."""
    return Table(
        f"{name}_history",
        metadata,
        Column("ticket_id", String(ID_LENGTH), primary_key=True),
        Column("kind", String(16), primary_key=True),
        Column("position", Integer, primary_key=True, autoincrement=False),
        Column("status", String(ID_LENGTH)),
        Column("start", BigInteger, nullable=False),
        Column("end", BigInteger),
    )


def _bucket(event: ColumnElement[Any], bounds: tuple[int, ...], first: int, last: int) -> Any:
    """A CASE tree giving the milestone index of ``event`` in ``log2(n)`` steps."""
    if last - first == 1:
        return literal(first, Integer)
    mid = (first + last) // 2
    return case(
        (event < literal(bounds[mid], BigInteger), _bucket(event, bounds, first, mid)),
        else_=_bucket(event, bounds, mid, last),
    )


class SqlAlchemySource(PushDownSource):
    """Tickets in a table of any SQLAlchemy database, with aggregate push-down.

    ``engine_or_url`` is an `Engine` (yours to dispose) or a
    URL such as ``postgresql+psycopg://user@host/db`` (the source makes the
    engine and [`close`][] disposes it).  [`measure`][] runs one GROUP BY per
    [`AggregateQuery`][servicegoals.sources.AggregateQuery] of the push-down plan.
    """

    def __init__(self, engine_or_url: Engine | str | URL, *, table: str = "tickets") -> None:
        self._engine, self._owned = _engine(engine_or_url)
        metadata = MetaData()
        self.table = ticket_table(metadata, text("table", table))
        self.history = history_table(metadata, table)
        self.name = f"{_shown(self._engine)} table {table!r}"
        try:
            found = {c["name"] for c in inspect(self._engine).get_columns(table)}
        except SQLAlchemyError as exc:
            self.close()
            reason = _scrub(self._engine, f"{type(exc).__name__}: {exc}".splitlines()[0])
            raise DataSourceError(
                f"{self.name}: cannot read the table ({reason}); "
                "create it with SqlAlchemySource.create()"
            ) from None
        missing = [c for c in CSV_COLUMNS if c not in found]
        if missing:
            self.close()
            raise DataSourceError(
                f"{self.name}: the table lacks the column(s) {', '.join(missing)}"
            )

    @classmethod
    def create(
        cls, engine_or_url: Engine | str | URL, *, table: str = "tickets"
    ) -> SqlAlchemySource:
        """Create the table and its indexes (if missing) and open the source."""
        engine, owned = _engine(engine_or_url)
        try:
            metadata = MetaData()
            ticket_table(metadata, text("table", table))
            history_table(metadata, table)
            metadata.create_all(engine, checkfirst=True)
            source = cls(engine, table=table)
        except (SQLAlchemyError, DataSourceError) as exc:
            if owned:
                engine.dispose()
            if isinstance(exc, DataSourceError):
                raise
            raise DataSourceError(
                f"{_shown(engine)}: cannot create table {table!r}: {_reason(exc, engine)}"
            ) from None
        source._owned = owned
        return source

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        """Dispose the engine when this source made it from a URL."""
        if self._owned:
            self._engine.dispose()

    def __enter__(self) -> SqlAlchemySource:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def add_tickets(self, tickets: Iterable[Ticket], *, replace: bool = False) -> int:
        """Store ``tickets`` in one transaction; all or nothing.  Returns how many.

        A ticket id that is already stored is an error, unless ``replace`` is
        true: then the stored ticket is replaced.
        """
        table, history = self.table, self.history
        count = 0
        batch: list[dict[str, Any]] = []
        made = False
        try:
            with self._engine.begin() as connection:
                for batch, stories in _batches(tickets):
                    count += len(batch)
                    if replace:  # the last of equal ids wins, as with an upsert
                        batch = list({row["id"]: row for row in batch}.values())
                        ids = [row["id"] for row in batch]
                        connection.execute(delete(table).where(table.c.id.in_(ids)))
                        if made or inspect(connection).has_table(history.name):
                            made = True
                            connection.execute(delete(history).where(history.c.ticket_id.in_(ids)))
                    connection.execute(insert(table), batch)
                    if stories:
                        if not made:  # tables made before histories existed
                            history.create(connection, checkfirst=True)
                            made = True
                        connection.execute(insert(history), stories)
        except IntegrityError as exc:
            why = _reason(exc, self._engine)
            raise DataSourceError(
                f"{self.name}: cannot store tickets: {self._clash(batch)}{why} "
                "(an id that is already stored needs replace=True); nothing was stored"
            ) from None
        except SQLAlchemyError as exc:
            why = _reason(exc, self._engine)
            raise DataSourceError(
                f"{self.name}: cannot store tickets: {why}; nothing was stored"
            ) from None
        return count

    def _clash(self, batch: list[dict[str, Any]]) -> str:
        """Name an id of the failed batch that was given twice or is already stored."""
        ids = [row["id"] for row in batch]
        counts = Counter(ids)
        twice = next((i for i in ids if counts[i] > 1), None)
        if twice is not None:
            return f"ticket id {twice!r} is given twice: "
        try:
            with self._engine.connect() as connection:
                stored = connection.execute(
                    select(self.table.c.id).where(self.table.c.id.in_(ids)).limit(1)
                ).scalar()
        except SQLAlchemyError:
            stored = None
        return "" if stored is None else f"ticket id {stored!r} is already stored: "

    def _histories(self, connection: Connection) -> Histories:
        if not inspect(connection).has_table(self.history.name):
            return {}
        h = self.history
        rows = connection.execute(select(h).order_by(h.c.ticket_id, h.c.kind, h.c.position))
        return read_histories(self.name, (tuple(r) for r in rows))

    def tickets(self, query: TicketQuery | None = None) -> Iterator[Ticket]:
        """Stream the stored tickets that match ``query`` (in no particular order).

        Ticket histories are read whole first (they are usually few).
        """
        t = self.table
        statement = select(*(t.c[name] for name in CSV_COLUMNS))
        post_filter = False
        try:
            with self._engine.connect() as connection:
                histories = self._histories(connection)
                if query is not None:
                    # An earlier close may place a ticket: with histories, filter
                    # the window in Python, where TicketQuery.matches sees it.
                    selected = attrs.evolve(query, window=None) if histories else query
                    conditions, post_filter = _conditions(t, selected)
                    post_filter = post_filter or selected is not query
                    statement = statement.where(*conditions)
                result = connection.execution_options(yield_per=_BATCH).execute(statement)
                for row in result:
                    ticket = with_history(
                        self.name, ticket_from_row(self.name, tuple(row)), histories
                    )
                    if not post_filter or query is None or query.matches(ticket):
                        yield ticket
        except SQLAlchemyError as exc:
            raise DataSourceError(
                f"{self.name}: cannot read tickets: {_reason(exc, self._engine)}"
            ) from None

    def _aggregate_plan(self, plan: PushDownPlan) -> None:
        try:
            with self._engine.connect() as connection:
                for index, query in enumerate(plan.queries):
                    plan.collect(index, self._aggregate(connection, query))
        except SQLAlchemyError as exc:
            raise DataSourceError(
                f"{self.name}: cannot measure: {_reason(exc, self._engine)}"
            ) from None

    def _must_stream(self) -> bool:
        """True when some ticket has a history: push-down cannot place or time it."""
        try:
            with self._engine.connect() as connection:
                if not inspect(connection).has_table(self.history.name):
                    return False
                return (
                    connection.execute(
                        select(literal(1)).select_from(self.history).limit(1)
                    ).first()
                    is not None
                )
        except SQLAlchemyError as exc:
            raise DataSourceError(
                f"{self.name}: cannot read ticket histories: {_reason(exc, self._engine)}"
            ) from None

    def _aggregate(self, connection: Connection, query: AggregateQuery) -> list[AggregateRow]:
        try:
            return self._run(connection, query, split=False)
        except DBAPIError as exc:
            if "overflow" not in str(exc.orig).lower():
                raise
            connection.rollback()
        # A sum beyond 64 bits (SQLite): add the two halves in Python, exactly.
        rows = self._run(connection, query, split=True)
        return [(k, b, p, n, (int(high) << 32) + int(low)) for k, b, p, n, high, low in rows]

    def _run(self, connection: Connection, query: AggregateQuery, *, split: bool) -> list[Any]:
        t = self.table
        key, event = t.c[query.column], t.c[query.event]
        columns = [
            key.label("k"),
            _bucket(event, query.bounds, 0, query.milestones).label("b"),
            (event - t.c.created_at).label("d"),
        ]
        if query.by_pipeline:
            columns.append(t.c.pipeline.label("p"))
        where = [event >= query.bounds[0], event < query.end]
        if len(query.match_ids) <= _MAX_IN:
            where.append(key.in_(query.match_ids))
        if query.pipelines is not None:
            where.append(t.c.pipeline.in_(query.pipelines))
        rows = select(*columns).where(*where).subquery()
        groups = [rows.c.k, rows.c.b, *([rows.c.p] if query.by_pipeline else [])]
        d = rows.c.d
        sums = (
            [func.sum(d.op(">>")(32)), func.sum(d.op("&")(0xFFFFFFFF))] if split else [func.sum(d)]
        )
        pipeline = rows.c.p if query.by_pipeline else null()
        statement = select(rows.c.k, rows.c.b, pipeline, func.count(), *sums).group_by(*groups)
        return [tuple(row) for row in connection.execute(statement)]


def _engine(value: Any) -> tuple[Engine, bool]:
    if isinstance(value, Engine):
        return value, False
    if not isinstance(value, (str, URL)):
        raise InvalidInput("engine_or_url", value, "expected an SQLAlchemy Engine or a URL")
    try:
        return create_engine(value), True
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raw = value.render_as_string(hide_password=False) if isinstance(value, URL) else value
        shown = redact_url(raw)
        reason = scrub(str(exc).replace(raw, shown), url_secrets(raw))
        raise InvalidInput("engine_or_url", shown, f"cannot make an engine: {reason}") from None


def _shown(engine: Engine) -> str:
    """The engine's URL as people may see it: no password, no query string."""
    return redact_url(engine.url.render_as_string(hide_password=True))


def _scrub(engine: Engine, message: str) -> str:
    raw = engine.url.render_as_string(hide_password=False)
    return scrub(message.replace(raw, _shown(engine)), url_secrets(raw))


def _reason(exc: SQLAlchemyError, engine: Engine) -> str:
    """The driver's own message (it names the offending key), on one line, secrets masked."""
    orig = getattr(exc, "orig", None)
    return _scrub(engine, " ".join(str(orig if orig is not None else exc).split()))


_HISTORY_COLUMNS = ("ticket_id", "kind", "position", "status", "start", "end")


def _batches(
    tickets: Iterable[Ticket],
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Ticket rows and their history rows, a batch at a time."""
    batch: list[dict[str, Any]] = []
    stories: list[dict[str, Any]] = []
    for i, ticket in enumerate(tickets):
        if not isinstance(ticket, Ticket):
            raise InvalidInput(f"tickets[{i}]", ticket, "expected a Ticket")
        batch.append(dict(zip(CSV_COLUMNS, ticket_row(ticket), strict=True)))
        if ticket.has_history:
            stories += (dict(zip(_HISTORY_COLUMNS, r, strict=True)) for r in history_rows(ticket))
        if len(batch) == _BATCH:
            yield batch, stories
            batch, stories = [], []
    if batch:
        yield batch, stories


def _conditions(t: Table, query: TicketQuery) -> tuple[list[ColumnElement[bool]], bool]:
    """WHERE conditions of a ticket query; True when rows need filtering after."""
    conditions: list[ColumnElement[bool]] = []
    post_filter = False
    if query.pipelines is not None:
        conditions.append(t.c.pipeline.in_(sorted(query.pipelines)))
    people = []
    for column, ids in (("owner_id", query.owner_ids), ("team_id", query.team_ids)):
        if ids is not None:
            if len(ids) > _MAX_IN:
                post_filter = True
            else:
                people.append(t.c[column].in_(sorted(ids)))
    if people and not post_filter:
        conditions.append(or_(*people))
    window = query.window_us
    if window is not None:
        start, end = window
        conditions.append(
            or_(
                and_(t.c.first_response_at >= start, t.c.first_response_at < end),
                and_(t.c.closed_at >= start, t.c.closed_at < end),
            )
        )
    return conditions, post_filter
