"""Server commands: DBSIZE, FLUSHDB, FLUSHALL, ..."""

from alchemy.command import command
from alchemy.errors import SYNTAX, AlchemyError
from alchemy.reply import OK


def _flush_mode(argv) -> None:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].upper() not in (b"ASYNC", b"SYNC")):
        raise AlchemyError(SYNTAX)


def flush(server, db) -> None:
    """Empty one database, telling watchers and counting the change."""
    if len(db):
        server.dirty += len(db)
    server.touch_all(db)
    db.clear()


@command("flushdb", -1, "write", group="server", summary="Remove all keys from the current database")
def flushdb(ctx, argv):
    _flush_mode(argv)
    flush(ctx.server, ctx.db)
    return OK


@command("flushall", -1, "write", group="server", summary="Remove all keys from all databases")
def flushall(ctx, argv):
    _flush_mode(argv)
    for db in ctx.server.dbs:
        flush(ctx.server, db)
    ctx.server.dirty += 1
    return OK


@command("dbsize", 1, "readonly fast", group="server",
         summary="Return the number of keys in the selected database")
def dbsize(ctx, argv):
    return len(ctx.db)
