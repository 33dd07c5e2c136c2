"""Copy the template schema into a new tenant's schema in one round trip.

django-tenants ships a general-purpose PL/pgSQL cloner that also copies views, functions,
triggers and partitions; on this schema it takes 0.2-3 s a tenant (its catalog scans grow
with the database) and is followed by a faked `migrate`. Clarion's tenant schemas hold only
what Django migrations create (tables, identity columns, indexes, constraints, foreign
keys), so a direct copy of exactly those is enough and stays well under 0.1 s.

`tests/tenants/test_cloning.py` compares a cloned schema with a migrated one, object by
object; a migration that adds a view, function or trigger fails that test until this
module copies it too.
"""

from __future__ import annotations

from django.db import connection
from psycopg import sql

from apps.core.exceptions import Conflict

_TABLES = """
SELECT c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname
"""
_IDENTITIES = """
SELECT c.relname, a.attname
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND a.attidentity <> '' AND NOT a.attisdropped
"""
# Primary keys and unique constraints before foreign keys, which need them.
_CONSTRAINTS = """
SELECT c.relname, con.conname, pg_get_constraintdef(con.oid)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = con.connamespace
WHERE n.nspname = %s AND con.contype IN ('p', 'u', 'x', 'f')
ORDER BY con.contype = 'f', c.relname, con.conname
"""
# Indexes that do not back a constraint (those come with their constraint).
_INDEXES = """
SELECT pg_get_indexdef(i.indexrelid)
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE n.nspname = %s AND NOT EXISTS (
    SELECT 1 FROM pg_constraint con
    WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
)
ORDER BY ic.relname
"""
_SERIAL_DEFAULTS = """
SELECT count(*)
FROM pg_attrdef d
JOIN pg_class c ON c.oid = d.adrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%%'
"""


def schema_clone(*, source: str, target: str) -> None:
    """Create schema `target` with the tables, indexes, constraints and rows of `source`.

    Runs in the caller's transaction: a failure leaves no partial schema behind.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [target])
        if cursor.fetchone():
            raise Conflict(f"A schema named {target!r} already exists.")
        cursor.execute(_SERIAL_DEFAULTS, [source])
        if cursor.fetchone()[0]:
            raise Conflict(
                f"The template schema {source!r} has sequence defaults (serial columns), which "
                "schema_clone does not copy; use identity columns."
            )
        cursor.execute(_TABLES, [source])
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute(_IDENTITIES, [source])
        identities = cursor.fetchall()
        cursor.execute(_CONSTRAINTS, [source])
        constraints = cursor.fetchall()
        cursor.execute(_INDEXES, [source])
        indexes = [row[0] for row in cursor.fetchall()]
        # Definitions read from the catalog name tables outside the search path (public
        # here) with their schema: point those at the new schema.
        cursor.execute("SELECT quote_ident(%s), quote_ident(%s)", [source, target])
        quoted_source, quoted_target = cursor.fetchone()

        src, dst = sql.Identifier(source), sql.Identifier(target)
        statements = [sql.SQL("CREATE SCHEMA {}").format(dst)]
        for table in tables:
            t = sql.Identifier(table)
            # Indexes and unique/primary keys are added below under their own names, which
            # later migrations may refer to; LIKE ... INCLUDING INDEXES would rename them.
            statements.append(
                sql.SQL(
                    "CREATE TABLE {dst}.{t} (LIKE {src}.{t} INCLUDING DEFAULTS INCLUDING IDENTITY "
                    "INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING COMMENTS "
                    "INCLUDING STORAGE)"
                ).format(dst=dst, src=src, t=t)
            )
            statements.append(
                sql.SQL(
                    "INSERT INTO {dst}.{t} OVERRIDING SYSTEM VALUE SELECT * FROM {src}.{t}"
                ).format(dst=dst, src=src, t=t)
            )
        for table, column in identities:
            qualified = sql.Identifier(target, table).as_string(cursor.connection)
            statements.append(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({q}, {c}), "
                    "coalesce(max({col}), 1), max({col}) IS NOT NULL) FROM {dst}.{t}"
                ).format(
                    q=sql.Literal(qualified),
                    c=sql.Literal(column),
                    col=sql.Identifier(column),
                    dst=dst,
                    t=sql.Identifier(table),
                )
            )
        for table, name, definition in constraints:
            definition = definition.replace(
                f"REFERENCES {quoted_source}.", f"REFERENCES {quoted_target}."
            )
            statements.append(
                sql.SQL("ALTER TABLE {dst}.{t} ADD CONSTRAINT {name} {definition}").format(
                    dst=dst,
                    t=sql.Identifier(table),
                    name=sql.Identifier(name),
                    definition=sql.SQL(definition),  # type: ignore[arg-type]
                )
            )
        for definition in indexes:
            definition = definition.replace(f" ON {quoted_source}.", f" ON {quoted_target}.", 1)
            statements.append(sql.SQL(definition))  # type: ignore[arg-type]
        script = sql.SQL(";\n").join(statements).as_string(cursor.connection)
        cursor.execute(script)
