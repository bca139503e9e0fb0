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

import os

# numpy's bundled OpenBLAS starts a thread pool when imported unless told not to, and the
# server process must stay single-threaded so that its forked children are sound. Set
# before any module of the package imports numpy.
os.environ["OPENBLAS_NUM_THREADS"] = "1"

from alchemy.database import Database  # noqa: E402
from alchemy.dbapi import connect  # noqa: E402
from alchemy.errors import AlchemyError  # noqa: E402

__all__ = ["Database", "AlchemyError", "connect"]
