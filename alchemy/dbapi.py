"""PEP 249 (DB-API 2.0) over the in-process engine, so code written for sqlite3 can switch:

    import alchemy
    con = alchemy.connect()
    cur = con.cursor()
    cur.execute("CREATE TABLE t (id INT PRIMARY KEY, name TEXT)")
    cur.executemany("INSERT INTO t VALUES (?, ?)", [(1, "a"), (2, "b")])
    cur.execute("SELECT name FROM t WHERE id = ?", (2,))
    cur.fetchone()      # ('b',)

Statements go through the same plan cache as every other entry point; values bound to `?`
are never parsed as SQL. Every statement is applied when it runs (autocommit): commit() has
nothing to do and rollback() is refused.
"""

from alchemy.errors import AlchemyError
from alchemy.sql.documents import plain_rows
from alchemy.sql.engine import Count, Rows
from alchemy.storage.table import ConstraintError

apilevel = "2.0"
threadsafety = 1
paramstyle = "qmark"


class Error(Exception):
    pass


class Warning(Exception):  # noqa: A001 (the name PEP 249 asks for)
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


def _translate(error: AlchemyError) -> DatabaseError:
    text = error.message
    if isinstance(error, ConstraintError):
        return IntegrityError(text)
    if "type mismatch" in text or "overflow" in text:
        return DataError(text)
    return ProgrammingError(text)


def connect(database=None) -> "Connection":
    """A connection to `database` (an alchemy.Database), or to a new empty one."""
    if database is None:
        from alchemy.database import Database
        database = Database()
    return Connection(database)


class Connection:
    def __init__(self, database):
        self.database = database
        self.closed = False

    def cursor(self) -> "Cursor":
        self._check()
        return Cursor(self)

    def execute(self, statement: str, parameters=()) -> "Cursor":
        return self.cursor().execute(statement, parameters)

    def commit(self) -> None:
        self._check()

    def rollback(self) -> None:
        raise NotSupportedError("statements apply as they run; there is nothing to roll back")

    def close(self) -> None:
        self.closed = True

    def _check(self) -> None:
        if self.closed:
            raise InterfaceError("the connection is closed")

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.commit()


class Cursor:
    arraysize = 1

    def __init__(self, connection: Connection):
        self.connection = connection
        self.description = None
        self.rowcount = -1
        self.lastrowid = None
        self._rows: list = []
        self._next = 0

    def execute(self, statement: str, parameters=()) -> "Cursor":
        self.connection._check()
        database = self.connection.database
        try:
            result = database.sql(statement, *parameters, raw=True)
        except AlchemyError as e:
            raise _translate(e) from None
        if isinstance(result, Rows):
            self.description = [(name, None, None, None, None, None, None)
                                 for name in result.header]
            self._rows = plain_rows(result)
            self.rowcount = -1
        else:
            self.description = None
            self._rows = []
            self.rowcount = result.value if isinstance(result, Count) else -1
        self._next = 0
        return self

    def executemany(self, statement: str, seq_of_parameters) -> "Cursor":
        total = 0
        for parameters in seq_of_parameters:
            self.execute(statement, parameters)
            total += max(self.rowcount, 0)
        self.rowcount = total
        return self

    def fetchone(self):
        if self._next >= len(self._rows):
            return None
        row = self._rows[self._next]
        self._next += 1
        return row

    def fetchmany(self, size: int | None = None) -> list:
        size = self.arraysize if size is None else size
        rows = self._rows[self._next:self._next + size]
        self._next += len(rows)
        return rows

    def fetchall(self) -> list:
        rows = self._rows[self._next:]
        self._next = len(self._rows)
        return rows

    def __iter__(self):
        return iter(self.fetchone, None)

    def close(self) -> None:
        self._rows = []

    def setinputsizes(self, sizes) -> None:
        pass

    def setoutputsize(self, size, column=None) -> None:
        pass
