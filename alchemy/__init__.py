"""Alchemy: an in-memory hybrid SQL/NoSQL datastore.

    >>> import alchemy
    >>> db = alchemy.Database()
    >>> db.execute("SET", "k", "v")
    'OK'
    >>> db.sql("CREATE TABLE t (id INT PRIMARY KEY, name TEXT)")
    >>> db.sql("INSERT INTO t VALUES (?, ?)", 1, "ann")
    1
    >>> db.sql("SELECT name FROM t WHERE id = ?", 1)
    [('ann',)]
"""

from alchemy.database import Database
from alchemy.dbapi import connect
from alchemy.errors import AlchemyError

__all__ = ["Database", "AlchemyError", "connect"]
