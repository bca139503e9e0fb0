"""Alchemy: an in-memory hybrid SQL/NoSQL datastore.

    >>> import alchemy
    >>> db = alchemy.Database()
    >>> db.execute("SET", "k", "v")
    'OK'
"""

from alchemy.database import Database
from alchemy.errors import AlchemyError

__all__ = ["Database", "AlchemyError"]
