"""Prepared statements for the rows written on every meter reading: multi-row INSERTs (meter
samples, transaction events, the message log), the transaction's SELECT and its UPDATE; and for the
rows every handshake, boot and StatusNotification writes (a reconnect storm is thousands of them).

Why not the ORM here: a profile of a 10-sample TransactionEvent (`python -m bench.profile
meter_values`) put about 85 % of its CPU in Django's query compiler and per-field value
preparation, and under 10 % in the database. These statements are built once per database vendor
from the models' metadata (a renamed field fails at once, not silently); values are adapted per
column type only where the backend needs it (datetimes on SQLite). Everything else uses the ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Col

M = TypeVar("M", bound=models.Model)
Adapter = Callable[[Any], Any]
Converter = Callable[[Any, Col, BaseDatabaseWrapper], Any]


def concrete_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """The model's concrete field `name` (a relation's own column, not its reverse)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return field


def column(field: models.Field[Any, Any]) -> str:
    assert field.column is not None, field
    return field.column


class BulkInsert:
    """One multi-row `INSERT … VALUES (…), (…)`: one statement for a message's samples, where
    `executemany` sends a statement per row (PostgreSQL parses and plans each of them)."""

    MAX_PARAMETERS = 30_000  # per statement; SQLite allows 32,766 and PostgreSQL 65,535

    def __init__(
        self,
        model: type[models.Model],
        fields: Sequence[str],
        *,
        ignore_conflicts: bool = False,
    ) -> None:
        self.model = model
        self.fields = [concrete_field(model, name) for name in fields]
        self.ignore_conflicts = ignore_conflicts
        self._prepared: dict[str, tuple[str, str, str, list[Adapter | None]]] = {}

    def _prepare(
        self, connection: BaseDatabaseWrapper
    ) -> tuple[str, str, str, list[Adapter | None]]:
        prepared = self._prepared.get(connection.vendor)
        if prepared is None:
            quote = connection.ops.quote_name
            columns = ", ".join(quote(column(f)) for f in self.fields)
            head = f"INSERT INTO {quote(self.model._meta.db_table)} ({columns}) VALUES "
            row = f"({', '.join(['%s'] * len(self.fields))})"
            adapters: list[Adapter | None] = [
                connection.ops.adapt_datetimefield_value
                if isinstance(f, models.DateTimeField) and connection.vendor == "sqlite"
                else None
                for f in self.fields
            ]
            prepared = (head, row, self._suffix(quote), adapters)
            self._prepared[connection.vendor] = prepared
        return prepared

    def _suffix(self, quote: Callable[[str], str]) -> str:
        return " ON CONFLICT DO NOTHING" if self.ignore_conflicts else ""

    def run(self, rows: Sequence[Sequence[Any]], using: str = "default") -> int:
        """Insert `rows` (values in the order of `fields`); return how many were inserted."""
        return len(self._insert(rows, using, returning=()))

    def run_returning(
        self, rows: Sequence[Sequence[Any]], returning: Sequence[str], using: str = "default"
    ) -> list[tuple[Any, ...]]:
        """Insert `rows`; the `returning` columns (attnames) of the rows actually inserted (with
        `ignore_conflicts`, a row that was there already returns nothing). SQLite 3.35+."""
        return self._insert(rows, using, returning=returning)

    def _insert(
        self, rows: Sequence[Sequence[Any]], using: str, returning: Sequence[str]
    ) -> list[Any]:
        if not rows:
            return []
        connection = connections[using]
        head, row, suffix, adapters = self._prepare(connection)
        if returning:
            quote = connection.ops.quote_name
            names = ", ".join(quote(column(concrete_field(self.model, n))) for n in returning)
            suffix += f" RETURNING {names}"
        if any(adapters):
            rows = [
                [
                    value if adapt is None else adapt(value)
                    for value, adapt in zip(values, adapters, strict=True)
                ]
                for values in rows
            ]
        per_statement = max(1, self.MAX_PARAMETERS // len(self.fields))
        inserted: list[Any] = []
        with connection.cursor() as cursor:
            for i in range(0, len(rows), per_statement):
                part = rows[i : i + per_statement]
                sql = head + ", ".join([row] * len(part)) + suffix
                cursor.execute(sql, [value for values in part for value in values])
                if returning:
                    inserted += [tuple(r) for r in cursor.fetchall()]
                else:
                    inserted += [None] * max(0, cursor.rowcount)
        return inserted


class Upsert(BulkInsert):
    """INSERT, or UPDATE the row that has the same `unique` columns: one statement whether the row
    exists yet or not (`ON CONFLICT … DO UPDATE`, SQLite 3.24+ and PostgreSQL), where the ORM's
    update_or_create takes a savepoint, a SELECT FOR UPDATE and then an INSERT or an UPDATE."""

    def __init__(
        self, model: type[models.Model], fields: Sequence[str], *, unique: Sequence[str]
    ) -> None:
        super().__init__(model, fields)
        self.unique = [concrete_field(model, name) for name in unique]

    def _suffix(self, quote: Callable[[str], str]) -> str:
        conflict = ", ".join(quote(column(f)) for f in self.unique)
        updates = ", ".join(
            f"{quote(column(f))} = EXCLUDED.{quote(column(f))}"
            for f in self.fields
            if f not in self.unique
        )
        return f" ON CONFLICT ({conflict}) DO UPDATE SET {updates}"


class SelectOne(Generic[M]):
    """`Model.objects.filter(a=…, b=…).first()` with the SQL built once: every concrete column,
    equality on `lookups` (field names) plus an optional fixed `condition`, and FOR UPDATE where
    the database has it (SQLite serialises writers anyway). `get` returns the model's own type."""

    def __init__(
        self,
        model: type[M],
        lookups: Sequence[str],
        *,
        condition: Callable[[Callable[[str], str]], str] | None = None,
        for_update: bool = False,
    ) -> None:
        self.model = model
        self.lookups = [concrete_field(model, name) for name in lookups]
        self.condition = condition
        self.for_update = for_update
        self.attnames = [f.attname for f in model._meta.concrete_fields]
        self._prepared: dict[str, tuple[str, list[list[tuple[Converter, Col]]]]] = {}

    def _prepare(
        self, connection: BaseDatabaseWrapper
    ) -> tuple[str, list[list[tuple[Converter, Col]]]]:
        prepared = self._prepared.get(connection.vendor)
        if prepared is None:
            quote = connection.ops.quote_name
            meta = self.model._meta
            selected = ", ".join(quote(column(f)) for f in meta.concrete_fields)
            where = [f"{quote(column(f))} = %s" for f in self.lookups]
            if self.condition:
                where.append(self.condition(quote))
            sql = f"SELECT {selected} FROM {quote(meta.db_table)} WHERE {' AND '.join(where)}"
            if self.for_update and connection.features.has_select_for_update:
                sql += " FOR UPDATE"
            # The ORM's own converters (e.g. SQLite's text → aware datetime, 0/1 → bool).
            columns = [f.get_col(meta.db_table) for f in meta.concrete_fields]
            converters: list[list[tuple[Converter, Col]]] = [
                [
                    (converter, col)
                    for converter in connection.ops.get_db_converters(col)
                    + col.get_db_converters(connection)
                ]
                for col in columns
            ]
            prepared = self._prepared[connection.vendor] = (sql, converters)
        return prepared

    def get(self, *values: Any, using: str = "default") -> M | None:
        connection = connections[using]
        sql, converters = self._prepare(connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            row = cursor.fetchone()
        if row is None:
            return None
        values_out = list(row)
        for i, column_converters in enumerate(converters):
            for converter, col in column_converters:
                values_out[i] = converter(values_out[i], col, connection)
        return self.model.from_db(using, self.attnames, values_out)


class SelectMany(SelectOne[M]):
    """`SelectOne` for many keys at once: `WHERE (a, b) IN ((…), (…))` (row values: SQLite 3.15+,
    PostgreSQL), one statement for a batch of messages' rows."""

    def get_many(self, keys: Sequence[Sequence[Any]], using: str = "default") -> list[M]:
        if not keys:
            return []
        connection = connections[using]
        sql, converters = self._prepare_many(connection)
        width = len(self.lookups)
        one = "(" + ", ".join(["%s"] * width) + ")"
        found: list[M] = []
        per_statement = max(1, BulkInsert.MAX_PARAMETERS // width)
        with connection.cursor() as cursor:
            for i in range(0, len(keys), per_statement):
                part = keys[i : i + per_statement]
                cursor.execute(
                    sql.format(keys=", ".join([one] * len(part))),
                    [value for key in part for value in key],
                )
                for row in cursor.fetchall():
                    values = list(row)
                    for j, column_converters in enumerate(converters):
                        for converter, col in column_converters:
                            values[j] = converter(values[j], col, connection)
                    found.append(self.model.from_db(using, self.attnames, values))
        return found

    def _prepare_many(
        self, connection: BaseDatabaseWrapper
    ) -> tuple[str, list[list[tuple[Converter, Col]]]]:
        key = connection.vendor + ":many"
        prepared = self._prepared.get(key)
        if prepared is None:
            single, converters = self._prepare(connection)
            quote = connection.ops.quote_name
            head = single.partition(" WHERE ")[0]
            names = ", ".join(quote(column(f)) for f in self.lookups)
            where = [f"({names}) IN ({{keys}})"]
            if self.condition:
                where.append(self.condition(quote))
            sql = f"{head} WHERE {' AND '.join(where)}"
            if self.for_update and connection.features.has_select_for_update:
                sql += " FOR UPDATE"
            prepared = self._prepared[key] = (sql, converters)
        return prepared


class UpdateMany:
    """`update_fields` for many rows of one model in one statement: `UPDATE … SET a = v.a … FROM
    (VALUES (pk, a, …), …) AS v WHERE pk = v.pk` (SQLite 3.33+, PostgreSQL)."""

    def __init__(self, model: type[models.Model], fields: Sequence[str]) -> None:
        self.model = model
        self.fields = [concrete_field(model, name) for name in fields]
        self._prepared: dict[str, tuple[str, str]] = {}

    def _prepare(self, connection: BaseDatabaseWrapper) -> tuple[str, str]:
        prepared = self._prepared.get(connection.vendor)
        if prepared is None:
            quote = connection.ops.quote_name
            meta = self.model._meta
            assert meta.pk is not None
            pk = meta.pk
            table = quote(meta.db_table)
            every = [pk, *self.fields]
            if connection.vendor == "postgresql":
                # Typed, so that a column of NULLs in VALUES still has the column's type.
                row = "(" + ", ".join(f"%s::{f.db_type(connection)}" for f in every) + ")"
                names = ", ".join(quote("c" + str(i)) for i in range(len(every)))
                values = f"(VALUES {{rows}}) AS v ({names})"
                ref = [f"v.{quote('c' + str(i))}" for i in range(len(every))]
            else:
                row = "(" + ", ".join(["%s"] * len(every)) + ")"
                values = "(VALUES {rows}) AS v"
                ref = [f"v.column{i + 1}" for i in range(len(every))]
            assignments = ", ".join(
                f"{quote(column(f))} = {ref[i + 1]}" for i, f in enumerate(self.fields)
            )
            sql = (
                f"UPDATE {table} SET {assignments} FROM {values} "
                f"WHERE {table}.{quote(column(pk))} = {ref[0]}"
            )
            prepared = self._prepared[connection.vendor] = (sql, row)
        return prepared

    def run(self, instances: Sequence[models.Model], using: str = "default") -> None:
        if not instances:
            return
        connection = connections[using]
        sql, row = self._prepare(connection)
        params: list[Any] = []
        for instance in instances:
            params.append(instance.pk)
            params += [
                f.get_db_prep_save(getattr(instance, f.attname), connection) for f in self.fields
            ]
        with connection.cursor() as cursor:
            cursor.execute(sql.format(rows=", ".join([row] * len(instances))), params)


_UPDATES: dict[
    tuple[type[models.Model], tuple[str, ...], str], tuple[str, list[models.Field[Any, Any]]]
] = {}


def update_fields(instance: models.Model, names: Sequence[str], using: str = "default") -> None:
    """`instance.save(update_fields=names)` without the compiler: one prepared UPDATE by pk."""
    if not names:
        return
    connection = connections[using]
    key = (type(instance), tuple(names), connection.vendor)
    prepared = _UPDATES.get(key)
    if prepared is None:
        meta = instance._meta
        quote = connection.ops.quote_name
        fields = [concrete_field(type(instance), name) for name in names]
        assignments = ", ".join(f"{quote(column(f))} = %s" for f in fields)
        assert meta.pk is not None
        sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(column(meta.pk))} = %s"
        prepared = _UPDATES[key] = (sql, fields)
    sql, fields = prepared
    values = [f.get_db_prep_save(getattr(instance, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, instance.pk])


def set_column(
    model: type[models.Model],
    name: str,
    value: Any,
    pks: Sequence[Any],
    *,
    chunk: int = 500,
    using: str = "default",
) -> None:
    """`model.objects.filter(pk__in=pks).update(name=value)` without the compiler, which prepares
    every value of a long IN list on its own (presence updates of thousands of stations)."""
    connection = connections[using]
    field = concrete_field(model, name)
    quote = connection.ops.quote_name
    pk = model._meta.pk
    assert pk is not None
    prefix = (
        f"UPDATE {quote(model._meta.db_table)} SET {quote(column(field))} = %s"
        f" WHERE {quote(column(pk))} IN "
    )
    prepared = field.get_db_prep_save(value, connection)
    with connection.cursor() as cursor:
        for i in range(0, len(pks), chunk):
            part = pks[i : i + chunk]
            cursor.execute(prefix + f"({', '.join(['%s'] * len(part))})", [prepared, *part])
