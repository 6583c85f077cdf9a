"""Plain statements: a Core statement compiled once, run on the session's own asyncpg connection.

For the few statements on the hottest paths (every request's authentication, ticket creation),
where SQLAlchemy's per-execution work costs several times the query itself. They run inside the
session's transaction like any other statement; rows come back as asyncpg records. They are prepared
the way the connection prepares every statement: named and cached by asyncpg, or, behind PgBouncer's
transaction pooling (no statement cache), unnamed and gone with the transaction.
"""

import json
from collections.abc import Mapping
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement

from app.errors import connection_lost


class PlainStatement:
    def __init__(self, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=asyncpg_dialect())
        self.sql = str(compiled)
        self._names = list(compiled.positiontup or [])
        # Literals of the statement (a JSON path such as `{ticket,number}`) are parameters too, with
        # their own value.
        self._literals = {
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        }
        # asyncpg takes JSON documents as text on SQLAlchemy's connections.
        self._json = {name for name, bind in compiled.binds.items() if isinstance(bind.type, JSONB)}

    def _arguments(self, parameters: Mapping[str, Any]) -> list[Any]:
        arguments = []
        for name in self._names:
            value = parameters[name] if name in parameters else self._literals[name]
            arguments.append(json.dumps(value) if name in self._json else value)
        return arguments

    async def fetchrow(self, session: AsyncSession, parameters: Mapping[str, Any]) -> asyncpg.Record | None:
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        arguments = self._arguments(parameters)
        try:
            return await driver.fetchrow(self.sql, *arguments)
        # The errors SQLAlchemy would have raised, so that one set of handlers answers them all.
        except asyncpg.IntegrityConstraintViolationError as error:
            raise IntegrityError(self.sql, arguments, error) from error
        except asyncpg.DataError as error:
            raise DataError(self.sql, arguments, error) from error
        except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError) as error:
            if connection_lost(error):
                # As SQLAlchemy does for the statements it runs: the pool must not hand it out again.
                await connection.invalidate(error)
                raise OperationalError(self.sql, arguments, error, connection_invalidated=True) from error
            raise DBAPIError(self.sql, arguments, error) from error

    async def estimated_rows(self, session: AsyncSession, parameters: Mapping[str, Any]) -> float:
        """The rows PostgreSQL's planner expects the statement to return, from EXPLAIN (nothing is run)."""
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        plan = await driver.fetchval(f"EXPLAIN (FORMAT JSON) {self.sql}", *self._arguments(parameters))
        # SQLAlchemy's connections decode json themselves; a bare one gives the text.
        document = json.loads(plan) if isinstance(plan, str) else plan
        return float(document[0]["Plan"]["Plan Rows"])
