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
  ``get_db_prep_*`` (UUIDs, JSON), and a row lock is written only where the backend has one.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar, cast

from django.db import connection
from django.db.models import Field, Model

ModelT = TypeVar("ModelT", bound=Model)


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


def model_insert_many(instances: list[ModelT], *, notify: str | None = None) -> list[ModelT]:
    """INSERT rows of one model in one statement (``bulk_create`` without its query building).

    PostgreSQL returns the ``RETURNING`` rows of a multi-row ``VALUES`` in their order, as
    ``bulk_create`` also relies on, so each instance gets its own primary key.

    ``notify`` (PostgreSQL only, with an auto-increment key): the same statement also runs
    ``pg_notify(notify, '')`` once, as an uncorrelated scalar subquery (evaluated once) beside
    the CTE that returns the inserted keys in their order: one round trip instead of two.
    PostgreSQL sends the notification when, and only if, the transaction commits.
    """
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
        f.get_db_prep_save(f.pre_save(instance, True), connection)
        for instance in instances
        for f in fields
    ]
    statement = head + ", ".join([values] * len(instances)) + tail
    if notify is not None:
        if connection.vendor != "postgresql" or returned is None:
            raise ValueError("notify needs PostgreSQL and an auto-increment primary key")
        key = connection.ops.quote_name(returned.column)
        # The keys in the order the INSERT returned them (a CTE scan keeps its rows' order).
        statement = (
            f"WITH inserted AS ({statement}) "  # noqa: S608 - only the key's name is formatted in
            f"SELECT {key}, (SELECT pg_notify(%s, '')) FROM inserted"
        )
        params.append(notify)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        if returned is not None:
            for instance, (pk, *_) in zip(instances, cursor.fetchall(), strict=True):
                setattr(instance, returned.attname, pk)
    for instance in instances:
        instance._state.adding = False
        instance._state.db = connection.alias
    return instances


@cache
def _row_plan(
    model: type[Model], names: tuple[str, ...], lock: bool
) -> tuple[str, tuple[Field[Any, Any], ...], tuple[Field[Any, Any], ...]]:
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
    return sql, fields, selected


def model_rows(model: type[ModelT], *, lock: bool = False, **equals: Any) -> list[ModelT]:
    """The rows of ``model`` whose fields equal ``equals`` (attnames such as ``merchant_id``
    work), as model instances; ``lock`` adds ``FOR UPDATE`` (held until the transaction ends).

    ``list(objects.filter(...))`` without the query building: every concrete column is read
    and goes through the converters the ORM would apply (JSON, and on SQLite UUIDs and dates),
    then ``Model.from_db``, so the instances are what the ORM would have returned. No order.
    """
    names = tuple(sorted(equals))
    sql, fields, selected = _row_plan(model, names, lock)
    params = [
        f.get_db_prep_value(equals[n], connection) for f, n in zip(fields, names, strict=True)
    ]
    converters = [
        (i, column, functions)
        for i, f in enumerate(selected)
        for column, functions in (_converters(connection.vendor, f),)
        if functions
    ]
    attnames = [f.attname for f in selected]
    rows: list[ModelT] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for raw in cursor.fetchall():
            values = list(raw)
            for i, column, functions in converters:
                for function in functions:
                    values[i] = function(values[i], column, connection)
            rows.append(model.from_db(connection.alias, attnames, values))
    return rows


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
    sql, prepared = _update_plan(type(instance), fields)
    params = [f.get_db_prep_save(f.pre_save(instance, False), connection) for f in prepared]
    assert instance._meta.pk is not None
    params.append(instance._meta.pk.get_db_prep_value(instance.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
