"""Transactions (multi.c): MULTI, EXEC, DISCARD, WATCH, UNWATCH.

Commands are checked (existence, arity) when queued; a failure there makes EXEC answer
EXECABORT. WATCH marks the client when a watched key is written, expires or is flushed;
EXEC then answers the null array and runs nothing.
"""

from alchemy.command import command
from alchemy.errors import (DISCARD_WITHOUT_MULTI, EXEC_WITHOUT_MULTI, EXECABORT,
                            NESTED_MULTI, WATCH_IN_MULTI, AlchemyError)
from alchemy.reply import NULL_ARRAY, OK


@command("multi", 1, "fast no_queue loading stale allow_busy noscript", group="transactions",
         summary="Mark the start of a transaction block")
def multi(ctx, argv):
    if ctx.multi is not None:
        raise AlchemyError(NESTED_MULTI)
    ctx.multi = []
    ctx.multi_error = False
    return OK


@command("exec", 1, "no_queue loading stale noscript", group="transactions",
         summary="Execute all commands issued after MULTI")
def exec_(ctx, argv):
    if ctx.multi is None:
        raise AlchemyError(EXEC_WITHOUT_MULTI)
    queued, aborted = ctx.multi, ctx.multi_error
    ctx.multi = None
    ctx.multi_error = False
    server = ctx.server
    if aborted:
        server.unwatch_all(ctx)
        raise AlchemyError(EXECABORT)
    dirty = ctx.watch_dirty or _watched_key_expired(ctx)
    server.unwatch_all(ctx)
    if dirty:
        return NULL_ARRAY
    ctx.in_exec = True
    try:
        return [server.call(ctx, args, cmd) for cmd, args in queued]
    finally:
        ctx.in_exec = False


def _watched_key_expired(ctx) -> bool:
    # A watched key that expired without being accessed is still a change (Redis 6.0.9+).
    return any(key in db.data and not db.exists(key) for db, key in ctx.watched)


@command("discard", 1, "fast no_queue loading stale allow_busy noscript", group="transactions",
         summary="Discard all commands issued after MULTI")
def discard(ctx, argv):
    if ctx.multi is None:
        raise AlchemyError(DISCARD_WITHOUT_MULTI)
    ctx.multi = None
    ctx.multi_error = False
    ctx.server.unwatch_all(ctx)
    return OK


@command("watch", -2, "fast no_queue loading stale allow_busy noscript", keys=(1, -1, 1),
         group="transactions",
         summary="Watch the given keys to determine execution of the MULTI/EXEC block")
def watch(ctx, argv):
    if ctx.multi is not None:
        raise AlchemyError(WATCH_IN_MULTI)
    for key in argv[1:]:
        ctx.server.watch(ctx, key)
    return OK


@command("unwatch", 1, "fast loading stale allow_busy noscript", group="transactions",
         summary="Forget about all watched keys")
def unwatch(ctx, argv):
    ctx.server.unwatch_all(ctx)
    return OK
