"""Keyspace commands (db.c, expire.c): DEL, EXISTS, TYPE, ..."""

from alchemy.command import command


@command("del", -2, "write", keys=(1, -1, 1), group="generic", summary="Delete a key")
def del_(ctx, argv):
    deleted = 0
    for key in argv[1:]:
        if ctx.db.delete(key):
            deleted += 1
    ctx.server.dirty += deleted
    return deleted


@command("exists", -2, "readonly fast", keys=(1, -1, 1), group="generic",
         summary="Determine if a key exists")
def exists(ctx, argv):
    return sum(1 for key in argv[1:] if ctx.db.exists(key))


@command("type", 2, "readonly fast", keys=(1, 1, 1), group="generic",
         summary="Determine the type stored at key")
def type_(ctx, argv):
    from alchemy.reply import Status
    value = ctx.db.get(argv[1])
    return Status("none" if value is None else ctx.db.type_name(value))
