"""One-row INSERT and UPDATE in SQL built once per model, for the hot write paths (issue 16).

``Model.objects.create()`` and ``save(update_fields=...)`` rebuild their SQL on every call
(``SQLInsertCompiler.as_sql`` and friends were a fifth of the commit's CPU). These send the same
statement through the same connection and cursor wrappers (so the slow-query observer, the
query counters and the transaction are unchanged), with values prepared by the model's own
fields (``pre_save`` for ``auto_now``/``auto_now_add``, ``get_db_prep_save`` for JSON, UUIDs
and dates). Decisions and limits:

* the column list is every local concrete field except an auto-increment primary key, which
  comes back by ``RETURNING``; so defaults are those the model's ``__init__`` filled in;
* no ``pre_save``/``post_save`` signals are sent: use these only for models nobody listens to
  (``tests/integrations/test_commit_statements.py`` checks the hot models have no receivers);
* the default database only (the project has one);
* portable SQL only (``make run`` uses SQLite): values go through the fields'
  ``get_db_prep_*`` (UUIDs, JSON), and a row lock is written only where the backend has one;
  :class:`WriteBatch` sends its statements one by one there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

ModelT = TypeVar("ModelT", bound=Model)

#: psycopg converts a query's ``%s`` placeholders to ``$n`` (a regex split of the whole text)
#: on every execute, and caches the result only for queries of at most 4096 characters and 50
#: parameters (``psycopg._queries.MAX_CACHED_STATEMENT_*``). A commit's :class:`WriteBatch`
#: has 70 to 100 parameters, so it was split again each time: a tenth of the request's CPU in
#: the profile (README "API speed"). The statements here are few and fixed in shape, so the
#: bounds are raised for the process; the cache itself stays psycopg's (an LRU of 128).
#: ``tests/test_fast_sql.py`` checks that a batch's conversion is served from that cache.
QUERY_CACHE_PARAMS = 400
QUERY_CACHE_LENGTH = 16384


def _wrapper() -> BaseDatabaseWrapper:
    """The thread's default connection itself. ``django.db.connection`` is a proxy that looks
    the wrapper up (an ``asgiref`` local) on every attribute: the fields' value preparation
    asks it several times per value, a commit prepares ~80 values, and those lookups were
    ~7 % of its CPU (issue 16). Resolved once per call here, then passed on."""
    return connections[DEFAULT_DB_ALIAS]


def _psycopg_query_cache_widen() -> None:
    from psycopg import _queries

    _queries.MAX_CACHED_STATEMENT_PARAMS = max(  # type: ignore[misc]
        _queries.MAX_CACHED_STATEMENT_PARAMS, QUERY_CACHE_PARAMS
    )
    _queries.MAX_CACHED_STATEMENT_LENGTH = max(  # type: ignore[misc]
        _queries.MAX_CACHED_STATEMENT_LENGTH, QUERY_CACHE_LENGTH
    )


_psycopg_query_cache_widen()


@cache
def _insert_plan(
    model: type[Model],
) -> tuple[str, tuple[Field[Any, Any], ...], Field[Any, Any] | None]:
    meta = model._meta
    pk = meta.pk
    returned = pk if pk is not None and getattr(pk, "db_returning", False) else None
    fields = tuple(f for f in meta.local_concrete_fields if f is not returned)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    values = ", ".join(["%s"] * len(fields))
    # Only the model's own table and column names are formatted in; every value is a parameter.
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608
    if returned is not None:
        sql += f" RETURNING {quote(returned.column)}"
    return sql, fields, returned


def model_insert(instance: ModelT) -> ModelT:
    """INSERT ``instance`` as ``create()`` would (same columns and values), in one round trip."""
    model_insert_many([instance])
    return instance


def model_insert_many(instances: list[ModelT]) -> list[ModelT]:
    """INSERT rows of one model in one statement (``bulk_create`` without its query building).

    PostgreSQL returns the ``RETURNING`` rows of a multi-row ``VALUES`` in their order, as
    ``bulk_create`` also relies on, so each instance gets its own primary key.
    """
    db = _wrapper()
    if not instances:
        return instances
    sql, fields, returned = _insert_plan(type(instances[0]))
    row = sql.index(" VALUES (") + len(" VALUES ")
    head, values, tail = (
        sql[:row],
        sql[row : sql.index(")", row) + 1],
        sql[sql.index(")", row) + 1 :],
    )
    params = [
        f.get_db_prep_save(f.pre_save(instance, True), db) for instance in instances for f in fields
    ]
    statement = head + ", ".join([values] * len(instances)) + tail
    with db.cursor() as cursor:
        cursor.execute(statement, params)
        if returned is not None:
            for instance, (pk, *_) in zip(instances, cursor.fetchall(), strict=True):
                setattr(instance, returned.attname, pk)
    for instance in instances:
        instance._state.adding = False
        instance._state.db = db.alias
    return instances


@cache
def _row_plan(
    model: type[Model], names: tuple[str, ...], lock: bool
) -> tuple[str, tuple[Field[Any, Any], ...]]:
    meta = model._meta
    fields = tuple(cast("Field[Any, Any]", meta.get_field(name)) for name in names)
    selected = tuple(meta.concrete_fields)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in selected)
    where = " AND ".join(f"{quote(f.column)} = %s" for f in fields)
    tail = " FOR UPDATE" if lock and connection.features.has_select_for_update else ""
    # Only the model's own table and column names are formatted in; every value is a parameter.
    # The columns are named, not ``*``: a prepared statement keeps its result type when a
    # migration adds a column under a running process.
    sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {where}{tail}"  # noqa: S608
    return sql, fields


def model_rows(model: type[ModelT], *, lock: bool = False, **equals: Any) -> list[ModelT]:
    """The rows of ``model`` whose fields equal ``equals`` (attnames such as ``merchant_id``
    work), as model instances; ``lock`` adds ``FOR UPDATE`` (held until the transaction ends).

    ``list(objects.filter(...))`` without the query building: every concrete column is read
    and goes through the converters the ORM would apply (JSON, and on SQLite UUIDs and dates),
    then ``Model.from_db``, so the instances are what the ORM would have returned. No order.
    """
    db = _wrapper()
    names = tuple(sorted(equals))
    sql, fields = _row_plan(model, names, lock)
    params = [f.get_db_prep_value(equals[n], db) for f, n in zip(fields, names, strict=True)]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return [model_from_values(model, raw) for raw in cursor.fetchall()]


def model_columns(model: type[Model], alias: str) -> str:
    """``alias."col", ...`` for every concrete field of ``model``, in the order that
    :func:`model_from_values` reads them (to select a model's row inside a join)."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(f.column)}" for f in model._meta.concrete_fields)


def model_from_values(model: type[ModelT], raw: Any) -> ModelT:
    """The instance the ORM would build from ``raw``, the values of :func:`model_columns` in
    order: the ORM's converters (JSON; on SQLite UUIDs and dates), then ``Model.from_db``."""
    db = _wrapper()
    attnames, converters = _reading(db.vendor, model)
    values = list(raw)
    for i, column, functions in converters:
        for function in functions:
            values[i] = function(values[i], column, db)
    return model.from_db(db.alias, attnames, values)


@cache
def _reading(
    vendor: str, model: type[Model]
) -> tuple[list[str], tuple[tuple[int, Any, tuple[Any, ...]], ...]]:
    """The attnames of ``model``'s concrete fields and, for those that have any, the position,
    column and converters of each (see :func:`_converters`)."""
    selected = model._meta.concrete_fields
    converters = tuple(
        (i, column, functions)
        for i, f in enumerate(selected)
        for column, functions in (_converters(vendor, f),)
        if functions
    )
    return [f.attname for f in selected], converters


@cache
def _converters(vendor: str, field: Field[Any, Any]) -> tuple[Any, tuple[Any, ...]]:
    """The column expression of ``field`` and the functions the ORM's compiler applies to it
    when read (``SQLCompiler.get_converters``): the backend's, then the field's own."""
    del vendor  # part of the cache key only: the converters depend on the backend
    column = field.get_col(field.model._meta.db_table)
    functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
    return column, tuple(functions)


def model_row(model: type[ModelT], *, lock: bool = False, **equals: Any) -> ModelT | None:
    """The row of ``model`` whose fields equal ``equals``, or None (:func:`model_rows`); at
    most one row is expected (look up by a unique key)."""
    found = model_rows(model, lock=lock, **equals)
    return found[0] if found else None


@cache
def _update_plan(
    model: type[Model], names: tuple[str, ...]
) -> tuple[str, tuple[Field[Any, Any], ...]]:
    meta = model._meta
    fields = tuple(cast("Field[Any, Any]", meta.get_field(name)) for name in names)
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    assert meta.pk is not None
    # Only the model's own table and column names are formatted in; every value is a parameter.
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    return sql, fields


def model_update(instance: Model, fields: tuple[str, ...]) -> None:
    """``save(update_fields=fields)`` for an existing row (``auto_now`` fields refreshed)."""
    db = _wrapper()
    sql, prepared = _update_plan(type(instance), fields)
    params = [f.get_db_prep_save(f.pre_save(instance, False), db) for f in prepared]
    assert instance._meta.pk is not None
    params.append(instance._meta.pk.get_db_prep_value(instance.pk, db))
    with db.cursor() as cursor:
        cursor.execute(sql, params)


@dataclass
class _Write:
    sql: str  # one INSERT or UPDATE, with %s placeholders
    params: list[Any]
    instance: Model | None  # None for the SQL of statement() and insert_select()
    returned: Field[Any, Any] | None = None  # the auto key that comes back, for an INSERT
    #: (parameter position, foreign key, index of the batch's write that inserts the target)
    links: list[tuple[int, Field[Any, Any], int]] = field(default_factory=list)
    check: Callable[[int], None] | None = None  # given the statement's row count after send


@dataclass(frozen=True)
class BatchRows:
    """The ``RETURNING`` rows of one statement of a :class:`WriteBatch`, by its CTE's name:
    later statements of the batch read them as a table (``FROM {name}``)."""

    name: str


class WriteBatch:
    """Writes that need no answer but their new keys, sent as ONE statement (issue 16).

    ``insert()`` and ``update()`` prepare each row at once, as :func:`model_insert` and
    :func:`model_update` would (``pre_save`` runs then, so ``auto_now_add`` times are on the
    instance before ``send()``), and ``send()`` writes them all: on PostgreSQL one statement of
    data-modifying CTEs, ``WITH w0 AS (INSERT ... RETURNING id), w1 AS (UPDATE ...) SELECT
    (SELECT id FROM w0)``, so a commit's purchase, lot, ledger entry, balance, event and
    deliveries cost one round trip instead of six. Elsewhere (SQLite) one statement per write.

    Rules that come with one statement (PostgreSQL runs the CTEs on one snapshot):

    * no two writes of one row (two UPDATEs of the same row would be unpredictable), and no
      write that needs to see another's effect except through a foreign key;
    * a foreign key to an instance inserted earlier in the batch whose auto key is not known yet
      (an event before its deliveries) is written as ``(SELECT id FROM wN)``; constraints,
      deferred or not, are checked after the whole statement, so they see every row of it;
    * ``notify`` (PostgreSQL) adds ``pg_notify(channel, '')`` to the statement, delivered when,
      and only if, the transaction commits (with ``if_rows``, only when a statement of the
      batch returned a row);
    * :meth:`statement` and :meth:`insert_select` (PostgreSQL only) add SQL whose rows come from
      tables and from earlier statements of the batch (``{name}`` in the SQL, see ``refs``):
      writes whose row count is only known in the database, such as one row per subscribed
      endpoint, without reading the rows first.

    Use inside the caller's transaction; nothing is sent before ``send()``. No signals are
    sent, as with the other writers here.
    """

    def __init__(self) -> None:
        self._writes: list[_Write] = []
        self._notify: str | None = None
        #: the statements whose rows decide the notify; None: notify whatever they return
        self._notify_if: list[BatchRows] | None = None

    def insert(self, instance: ModelT) -> ModelT:
        db = _wrapper()
        sql, fields, returned = _insert_plan(type(instance))
        params: list[Any] = []
        links: list[tuple[int, Field[Any, Any], int]] = []
        for f in fields:
            target = self._pending_target(instance, f)
            if target is not None:
                links.append((len(params), f, target))
                params.append(None)  # replaced by a reference to the target's CTE
            else:
                params.append(f.get_db_prep_save(f.pre_save(instance, True), db))
        self._writes.append(_Write(sql, params, instance, returned, links))
        return instance

    def update(self, instance: ModelT, fields: tuple[str, ...]) -> ModelT:
        db = _wrapper()
        sql, prepared = _update_plan(type(instance), fields)
        params = [f.get_db_prep_save(f.pre_save(instance, False), db) for f in prepared]
        assert instance._meta.pk is not None
        params.append(instance._meta.pk.get_db_prep_value(instance.pk, db))
        self._writes.append(_Write(sql, params, instance))
        return instance

    def notify(self, channel: str, *, if_rows: BatchRows | None = None) -> None:
        """Also run ``pg_notify(channel, '')`` in the statement (PostgreSQL only); with
        ``if_rows``, only if that statement returns a row (or any other given this way does).
        One channel per batch; one call without ``if_rows`` makes the notify unconditional."""
        if connection.vendor != "postgresql":
            raise ValueError("notify needs PostgreSQL")
        if self._notify not in (None, channel):
            raise ValueError("one notify channel per batch")
        first = self._notify is None
        self._notify = channel
        if if_rows is None:
            self._notify_if = None
        elif first:
            self._notify_if = [if_rows]
        elif self._notify_if is not None:
            self._notify_if.append(if_rows)

    def statement(
        self,
        sql: str,
        params: list[Any],
        *,
        refs: dict[str, Model | BatchRows] | None = None,
        check: Callable[[int], None] | None = None,
    ) -> BatchRows:
        """Add one data-modifying statement ending in ``RETURNING`` (PostgreSQL only).

        ``{name}`` in ``sql`` is replaced per ``refs``: a :class:`BatchRows` by its CTE's name
        (a table of its rows), an instance inserted earlier in the batch by ``(SELECT <key>
        FROM <its CTE>)``, its key. Values go in ``params``, never into ``sql``. ``check`` is
        called after the send with the number of rows the statement returned (still in the
        caller's transaction: raising there rolls the whole batch back with it).
        """
        if connection.vendor != "postgresql":
            raise ValueError("WriteBatch.statement needs PostgreSQL")
        if "RETURNING" not in sql.upper():
            raise ValueError("a batch statement must end in RETURNING (its rows are its name)")
        rows = BatchRows(f"w{len(self._writes)}")
        formatted = sql.format_map(self._refs(refs or {}))
        self._writes.append(_Write(formatted, list(params), None, check=check))
        return rows

    def insert_select(
        self,
        template: Model,
        *,
        columns: dict[str, str],
        source: str,
        params: list[Any],
        refs: dict[str, Model | BatchRows] | None = None,
    ) -> BatchRows:
        """INSERT one row of ``template``'s model per row of ``source`` (PostgreSQL only).

        Every column gets ``template``'s value, prepared as :meth:`insert` prepares it
        (``pre_save`` too, so ``auto_now`` times are set), except those named in ``columns``
        (field name -> SQL expression over ``source``). ``source`` is what follows ``FROM``
        (joins and ``WHERE`` included), its values in ``params``; ``{name}`` in it is replaced
        as in :meth:`statement`. The rows' keys are not set on anything: the template stays
        unsaved. Returns the inserted rows' keys as :class:`BatchRows`.
        """
        db = _wrapper()
        if db.vendor != "postgresql":
            raise ValueError("WriteBatch.insert_select needs PostgreSQL")
        sql, fields, returned = _insert_plan(type(template))
        head = sql[: sql.index(" VALUES (")]
        names = {f.name for f in fields}
        unknown = sorted(set(columns) - names)
        if unknown:
            raise ValueError(f"no such columns on {type(template).__name__}: {unknown}")
        resolved = self._refs(refs or {})
        expressions: list[str] = []
        values: list[Any] = []
        for f in fields:
            if f.name in columns:
                expressions.append(columns[f.name])
                continue
            target = self._pending_target(template, f)
            if target is not None:
                expressions.append(self._key_of(target))
                continue
            expressions.append("%s")
            values.append(f.get_db_prep_save(f.pre_save(template, True), db))
        key = db.ops.quote_name(returned.column) if returned is not None else "1"
        # The caller's SQL and the model's names are formatted in; every value is a parameter.
        statement = (
            f"{head} SELECT {', '.join(expressions)} "  # noqa: S608
            f"FROM {source.format_map(resolved)} RETURNING {key}"
        )
        rows = BatchRows(f"w{len(self._writes)}")
        self._writes.append(_Write(statement, values + list(params), None))
        return rows

    def _refs(self, refs: dict[str, Model | BatchRows]) -> dict[str, str]:
        resolved: dict[str, str] = {}
        for name, ref in refs.items():
            if isinstance(ref, BatchRows):
                resolved[name] = ref.name
                continue
            for i, write in enumerate(self._writes):
                if write.instance is ref and write.returned is not None:
                    resolved[name] = self._key_of(i)
                    break
            else:
                raise ValueError(f"{name}: {type(ref).__name__} is not inserted in this batch")
        return resolved

    def _key_of(self, index: int) -> str:
        return _key_reference(self._writes, index)

    def _pending_target(self, instance: Model, f: Field[Any, Any]) -> int | None:
        """The index of the batch's INSERT of the instance that ``f`` (a foreign key) points
        to, when that instance's key is not known yet; None for any other field."""
        if not f.is_relation or getattr(instance, f.attname) is not None:
            return None
        target = f.get_cached_value(instance, None)  # type: ignore[attr-defined]
        if target is None or target.pk is not None:
            return None
        for i, write in enumerate(self._writes):
            if write.instance is target and write.returned is not None:
                return i
        raise ValueError(f"{f} points to an unsaved {type(target).__name__} not in the batch")

    def send(self) -> None:
        writes, self._writes = self._writes, []
        if writes:
            if connection.vendor == "postgresql":
                self._send_one(writes)
            else:
                for write in writes:
                    self._send_alone(write, writes)
        for write in writes:
            if write.instance is not None:
                write.instance._state.adding = False
                write.instance._state.db = connection.alias
        self._notify = None
        self._notify_if = None

    def _send_one(self, writes: list[_Write]) -> None:
        quote = connection.ops.quote_name
        ctes: list[str] = []
        params: list[Any] = []
        selected: list[str] = []
        for i, write in enumerate(writes):
            sql, values = write.sql, list(write.params)
            if write.links:  # a key returned by an earlier CTE instead of a parameter
                references = {
                    position: _key_reference(writes, target) for position, _f, target in write.links
                }
                pieces = sql.split("%s")
                sql = pieces[0] + "".join(
                    references.get(position, "%s") + piece
                    for position, piece in enumerate(pieces[1:])
                )
                values = [v for position, v in enumerate(values) if position not in references]
            ctes.append(f"w{i} AS ({sql})")
            params.extend(values)
            if write.returned is not None:  # the plan's INSERT ends in RETURNING its key
                selected.append(f"(SELECT {quote(write.returned.column)} FROM w{i})")  # noqa: S608
        returned = [w for w in writes if w.returned is not None]
        checked = [(i, w.check) for i, w in enumerate(writes) if w.check is not None]
        selected.extend(f"(SELECT count(*) FROM w{i})" for i, _check in checked)  # noqa: S608
        if self._notify is not None:
            condition = ""
            if self._notify_if is not None:
                exists = [f"EXISTS (SELECT 1 FROM {rows.name})" for rows in self._notify_if]  # noqa: S608
                condition = " WHERE " + " OR ".join(exists)
            selected.append(f"(SELECT pg_notify(%s, ''){condition})")
            params.append(self._notify)
        # Table and column names come from the models' plans; every value is a parameter.
        statement = f"WITH {', '.join(ctes)} SELECT {', '.join(selected) or '1'}"
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            keys = cursor.fetchone()
        assert keys is not None
        for write, key in zip(returned, keys[: len(returned)], strict=True):
            setattr(write.instance, _key(write).attname, key)
        for write in writes:
            for _position, f, target in write.links:
                setattr(write.instance, f.attname, cast("Model", writes[target].instance).pk)
        counts = keys[len(returned) : len(returned) + len(checked)]
        for (_i, check), count in zip(checked, counts, strict=True):
            check(int(count))

    @staticmethod
    def _send_alone(write: _Write, writes: list[_Write]) -> None:
        db = _wrapper()
        assert write.instance is not None  # statement() and insert_select() need PostgreSQL
        values = list(write.params)
        for position, f, target in write.links:
            key = cast("Model", writes[target].instance).pk  # inserted before, in batch order
            values[position] = f.get_db_prep_save(key, db)
            setattr(write.instance, f.attname, key)
        with db.cursor() as cursor:
            cursor.execute(write.sql, values)
            if write.returned is not None:
                (key, *_) = cursor.fetchone()
                setattr(write.instance, write.returned.attname, key)


def _key_reference(writes: list[_Write], index: int) -> str:
    """``(SELECT <key> FROM w<index>)``: the key the batch's INSERT number ``index`` made."""
    column = connection.ops.quote_name(_key(writes[index]).column)
    return f"(SELECT {column} FROM w{index})"  # noqa: S608


def _key(write: _Write) -> Field[Any, Any]:
    assert write.returned is not None
    return write.returned
