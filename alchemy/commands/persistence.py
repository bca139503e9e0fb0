"""Persistence commands (rdb.c, aof.c): SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE. The work is
alchemy.persistence's."""

from alchemy.command import command
from alchemy.errors import SYNTAX, AlchemyError
from alchemy.reply import OK, Status


@command("save", 1, "admin noscript no_async_loading no_multi", group="server",
         summary="Synchronously save the dataset to disk",
         complexity="O(N) where N is the total number of keys in all databases")
def save(ctx, argv):
    ctx.server.persistence.save()
    return OK


@command("bgsave", -1, "admin noscript no_async_loading", group="server",
         summary="Asynchronously save the dataset to disk",
         complexity="O(N) where N is the total number of keys in all databases")
def bgsave(ctx, argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1].upper() != b"SCHEDULE"):
        raise AlchemyError(SYNTAX)
    return Status(ctx.server.persistence.bgsave(schedule=len(argv) == 2))


@command("bgrewriteaof", 1, "admin noscript no_async_loading", group="server",
         summary="Asynchronously rewrite the append-only file",
         complexity="O(1)")
def bgrewriteaof(ctx, argv):
    return Status(ctx.server.persistence.bgrewriteaof())


@command("lastsave", 1, "loading stale fast", group="server",
         summary="Get the UNIX time stamp of the last successful save to disk",
         complexity="O(1)")
def lastsave(ctx, argv):
    return ctx.server.persistence.last_save
