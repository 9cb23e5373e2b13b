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
from typing import Any, TypeAlias

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
    Text,
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
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from ._redact import redact_url, scrub, url_secrets
from ._validate import text
from .errors import DataSourceError, InvalidInput
from .kpis import PropertyValue, Ticket
from .pushdown import (
    AggregateQuery,
    AggregateRow,
    KpiQuery,
    KpiRow,
    PushDownPlan,
    WhereCheck,
    allowed_values,
)
from .sources import (
    CSV_COLUMNS,
    PROPERTY_COLUMNS,
    Histories,
    PushDownSource,
    TicketQuery,
    attach_properties,
    history_rows,
    property_rows,
    read_histories,
    read_properties,
    ticket_from_row,
    ticket_row,
    with_history,
)

__all__ = ["SqlAlchemySource", "history_table", "property_table", "ticket_table"]

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


def property_table(metadata: MetaData, name: str = "tickets") -> Table:
    """The ``<name>_property`` table of ticket properties (see `PropertyRow`): one row
    per property, its value in the column of its type (instants as epoch µs)."""
    table = Table(
        f"{name}_property",
        metadata,
        Column("ticket_id", String(ID_LENGTH), primary_key=True),
        Column("name", String(ID_LENGTH), primary_key=True),
        Column("text_value", Text),
        Column("int_value", BigInteger),
        Column("instant_value", BigInteger),
    )
    c = table.c
    set_ = [
        case((v.is_not(None), 1), else_=0) for v in (c.text_value, c.int_value, c.instant_value)
    ]
    table.append_constraint(
        CheckConstraint(set_[0] + set_[1] + set_[2] == 1, name=f"{name}_property_one_value")
    )
    return table


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
    [`AggregateQuery`][servicegoals.sources.AggregateQuery] of the push-down plan,
    and per custom-KPI query; ticket properties live in ``<table>_property``.
    """

    def __init__(self, engine_or_url: Engine | str | URL, *, table: str = "tickets") -> None:
        self._engine, self._owned = _engine(engine_or_url)
        metadata = MetaData()
        self.table = ticket_table(metadata, text("table", table))
        self.history = history_table(metadata, table)
        self.properties = property_table(metadata, table)
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
            property_table(metadata, table)
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
        table = self.table
        sides = (self.history, self.properties)
        count = 0
        batch: list[dict[str, Any]] = []
        made: set[str] = set()  # the side tables known to exist
        try:
            with self._engine.begin() as connection:
                for batch, *side_rows in _batches(tickets):
                    count += len(batch)
                    if replace:  # the last of equal ids wins, as with an upsert
                        batch = list({row["id"]: row for row in batch}.values())
                        ids = [row["id"] for row in batch]
                        connection.execute(delete(table).where(table.c.id.in_(ids)))
                        for side in sides:
                            if side.name in made or inspect(connection).has_table(side.name):
                                made.add(side.name)
                                connection.execute(delete(side).where(side.c.ticket_id.in_(ids)))
                    connection.execute(insert(table), batch)
                    for side, rows in zip(sides, side_rows, strict=True):
                        if rows:
                            if side.name not in made:  # tables made before this one existed
                                side.create(connection, checkfirst=True)
                                made.add(side.name)
                            connection.execute(insert(side), rows)
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

        Ticket histories are read whole first (they are usually few); properties
        are read for a thousand tickets at a time.
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
                found: Iterable[Ticket] = (
                    with_history(self.name, ticket_from_row(self.name, tuple(row)), histories)
                    for row in result
                )
                if self._has_rows(connection, self.properties):
                    p = self.properties
                    found = attach_properties(
                        self.name,
                        found,
                        lambda ids: connection.execute(
                            select(*(p.c[n] for n in PROPERTY_COLUMNS)).where(
                                p.c.ticket_id.in_(ids)
                            )
                        ),
                    )
                for ticket in found:
                    if not post_filter or query is None or query.matches(ticket):
                        yield ticket
        except SQLAlchemyError as exc:
            raise DataSourceError(
                f"{self.name}: cannot read tickets: {_reason(exc, self._engine)}"
            ) from None

    def _aggregate_plan(self, plan: PushDownPlan) -> None:
        try:
            with self._engine.connect() as connection:
                for index, check in enumerate(plan.checks):
                    plan.check(index, self._check(connection, check))
                for index, query in enumerate(plan.queries):
                    plan.collect(index, self._aggregate(connection, query))
                for index, kpi_query in enumerate(plan.kpi_queries):
                    plan.collect_kpi(index, self._run_kpi(connection, kpi_query))
        except SQLAlchemyError as exc:
            raise DataSourceError(
                f"{self.name}: cannot measure: {_reason(exc, self._engine)}"
            ) from None

    def _pushes_kpis(self) -> bool:
        """True when the property table exists (older tables stream custom KPIs)."""
        try:
            with self._engine.connect() as connection:
                return inspect(connection).has_table(self.properties.name)
        except SQLAlchemyError as exc:
            raise DataSourceError(
                f"{self.name}: cannot read the tables: {_reason(exc, self._engine)}"
            ) from None

    def _pushes_percentiles(self) -> bool:
        """PostgreSQL returns a cell's values sorted (``array_agg ... ORDER BY``)."""
        return self._engine.dialect.name == "postgresql"

    def _property_value(self, ticket_id: str, name: str) -> PropertyValue | None:
        p = self.properties
        statement = select(*(p.c[n] for n in PROPERTY_COLUMNS)).where(
            p.c.ticket_id == ticket_id, p.c.name == name
        )
        try:
            with self._engine.connect() as connection:
                rows = [tuple(r) for r in connection.execute(statement)]
        except SQLAlchemyError as exc:
            raise DataSourceError(
                f"{self.name}: cannot read properties: {_reason(exc, self._engine)}"
            ) from None
        return read_properties(self.name, rows).get(ticket_id, {}).get(name)

    def _must_stream(self) -> bool:
        """True when some ticket has a history: push-down cannot place or time it."""
        try:
            with self._engine.connect() as connection:
                return self._has_rows(connection, self.history)
        except SQLAlchemyError as exc:
            raise DataSourceError(
                f"{self.name}: cannot read ticket histories: {_reason(exc, self._engine)}"
            ) from None

    @staticmethod
    def _has_rows(connection: Connection, side: Table) -> bool:
        """True when the side table exists and holds a row."""
        if not inspect(connection).has_table(side.name):
            return False
        return connection.execute(select(literal(1)).select_from(side).limit(1)).first() is not None

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

    def _filters(
        self, where: tuple[tuple[str, frozenset[str | int]], ...]
    ) -> list[tuple[ColumnElement[bool], ColumnElement[bool]]]:
        """Per ``where`` entry: "the ticket has the property" and "... with an allowed
        value", as EXISTS over the property table, correlated with the tickets."""
        t, p = self.table, self.properties
        found: list[tuple[ColumnElement[bool], ColumnElement[bool]]] = []
        for name, allowed in where:
            texts, ints = allowed_values(allowed)
            w = p.alias()
            has = and_(w.c.ticket_id == t.c.id, w.c.name == name)
            passes = and_(has, or_(w.c.text_value.in_(texts), w.c.int_value.in_(ints)))
            found.append(
                (
                    select(literal(1)).select_from(w).where(has).exists(),
                    select(literal(1)).select_from(w).where(passes).exists(),
                )
            )
        return found

    def _check(self, connection: Connection, check: WhereCheck) -> Iterator[Any]:
        """The tickets of a `WhereCheck` that lack a property it filters on."""
        t = self.table
        key = t.c[check.column]
        steps: list[Any] = []
        for (name, _), (has, passes) in zip(check.where, self._filters(check.where), strict=True):
            steps += [(~has, literal(name, String)), (~passes, null())]
        inner = select(key.label("k"), t.c.id.label("id"), case(*steps).label("missing"))
        listed = len(check.match_ids) <= _MAX_IN
        if listed:
            inner = inner.where(key.in_(check.match_ids))
        rows = inner.subquery()
        statement = select(rows.c.k, rows.c.id, rows.c.missing).where(rows.c.missing.is_not(None))
        return iter(connection.execute(statement.limit(1) if listed else statement))

    def _run_kpi(self, connection: Connection, query: KpiQuery) -> list[KpiRow]:
        """The rows of a custom-KPI query; sums add two 32-bit halves, so never overflow."""
        t = self.table
        key, event = t.c[query.column], t.c[query.event]
        where = [event >= query.bounds[0], event < query.end]
        if len(query.match_ids) <= _MAX_IN:
            where.append(key.in_(query.match_ids))
        if query.pipelines is not None:
            where.append(t.c.pipeline.in_(query.pipelines))
        tickets: Any = t
        bad: ColumnElement[bool] | None = None
        value: ColumnElement[Any] = literal(0, BigInteger)
        if query.start is not None:  # counted when the start has happened by the event
            start = t.c[query.start]
            where += [start.is_not(None), start <= event]
            value = event - start
        elif query.value_property is not None:
            v = self.properties.alias("v")
            tickets = t.outerjoin(
                v, and_(v.c.ticket_id == t.c.id, v.c.name == query.value_property)
            )
            bad, value = or_(v.c.int_value.is_(None), v.c.int_value < 0), v.c.int_value
        where += [passes for _, passes in self._filters(query.where)]
        columns = [
            key.label("k"),
            _bucket(event, query.bounds, 0, query.milestones).label("b"),
            t.c.id.label("id"),
            (literal(0, Integer) if bad is None else case((bad, 1), else_=0)).label("bad"),
            (value if bad is None else case((bad, null()), else_=value)).label("v"),
        ]
        if query.by_pipeline:
            columns.append(t.c.pipeline.label("p"))
        rows = select(*columns).select_from(tickets).where(*where).subquery()
        groups = [rows.c.k, rows.c.b, *([rows.c.p] if query.by_pipeline else [])]
        d = rows.c.v
        within: Any = literal(0, Integer)
        if query.threshold is not None:
            within = func.sum(case((d <= literal(query.threshold, BigInteger), 1), else_=0))
        statement = select(
            rows.c.k,
            rows.c.b,
            rows.c.p if query.by_pipeline else null(),
            func.count(),
            func.sum(d.op(">>")(literal(32, Integer))),
            func.sum(d.op("&")(literal(0xFFFFFFFF, BigInteger))),
            within,
            func.min(d),
            func.max(d),
            func.sum(rows.c.bad),
            func.min(case((rows.c.bad == 1, rows.c.id))),
            func.array_agg(aggregate_order_by(d, d)) if query.values else null(),
        ).group_by(*groups)
        return [tuple(row) for row in connection.execute(statement)]

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


Rows: TypeAlias = list[dict[str, Any]]


def _batches(tickets: Iterable[Ticket]) -> Iterator[tuple[Rows, Rows, Rows]]:
    """Ticket rows, their history rows and their property rows, a batch at a time."""
    batch: Rows = []
    stories: Rows = []
    properties: Rows = []
    for i, ticket in enumerate(tickets):
        if not isinstance(ticket, Ticket):
            raise InvalidInput(f"tickets[{i}]", ticket, "expected a Ticket")
        batch.append(dict(zip(CSV_COLUMNS, ticket_row(ticket), strict=True)))
        if ticket.has_history:
            stories += (dict(zip(_HISTORY_COLUMNS, r, strict=True)) for r in history_rows(ticket))
        if ticket.properties:
            properties += (
                dict(zip(PROPERTY_COLUMNS, r, strict=True)) for r in property_rows(ticket)
            )
        if len(batch) == _BATCH:
            yield batch, stories, properties
            batch, stories, properties = [], [], []
    if batch:
        yield batch, stories, properties


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
