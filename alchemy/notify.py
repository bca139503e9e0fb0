"""Keyspace notifications (notify.c): data changes published as pub/sub messages.

A handler that changed a key calls `notify(ctx, CLASS, b"event", key)` once per event, in
the order Redis 7.0 fires them. When the event's class is enabled by
`notify-keyspace-events`, `__keyspace@<db>__:<key>` receives the event name (flag K) and
`__keyevent@<db>__:<event>` receives the key name (flag E). With notifications off, the
default, a call costs one bit test; the hottest handlers (SET, INCR, LPUSH, LPOP) test
`notify-keyspace-events` themselves first, which spares them the call as well.
"""

# Classes as in Redis's server.h; the config keeps the enabled ones as one int of these bits.
KEYSPACE = 1 << 0   # K
KEYEVENT = 1 << 1   # E
GENERIC = 1 << 2    # g
STRING = 1 << 3     # $
LIST = 1 << 4       # l
SET = 1 << 5        # s
HASH = 1 << 6       # h
ZSET = 1 << 7       # z
EXPIRED = 1 << 8    # x
EVICTED = 1 << 9    # e
STREAM = 1 << 10    # t
KEY_MISS = 1 << 11  # m (not part of A)
MODULE = 1 << 13    # d
NEW = 1 << 14       # n (not part of A)
ALL = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE

# The class letters in the order Redis writes them back (keyspaceEventsFlagsToString).
CLASS_LETTERS = (("g", GENERIC), ("$", STRING), ("l", LIST), ("s", SET), ("h", HASH),
                 ("z", ZSET), ("x", EXPIRED), ("e", EVICTED), ("t", STREAM), ("d", MODULE),
                 ("n", NEW))
LETTERS = {"A": ALL, "K": KEYSPACE, "E": KEYEVENT, "m": KEY_MISS, **dict(CLASS_LETTERS)}


def notify(ctx, kind: int, event: bytes, key: bytes) -> None:
    """Publish that `event` of class `kind` happened to key in the client's database."""
    server = ctx.server
    if server.config.values["notify-keyspace-events"] & kind:
        publish(server, ctx.db.index, kind, event, key)


def enabled(ctx, kind: int) -> bool:
    """Would notify publish events of class kind? A command writing many keys asks once
    and skips its calls per key when not (MSET: a third of its cost)."""
    return bool(ctx.server.config.values["notify-keyspace-events"] & kind)


def publish(server, db_index: int, kind: int, event: bytes, key: bytes) -> None:
    """notify for a database other than the client's (MOVE, COPY ... DB, expiry)."""
    enabled = server.config.values["notify-keyspace-events"]
    if not enabled & kind:
        return
    if enabled & KEYSPACE:
        server.pubsub.publish(b"__keyspace@%d__:%s" % (db_index, key), event)
    if enabled & KEYEVENT:
        server.pubsub.publish(b"__keyevent@%d__:%s" % (db_index, event), key)


def notify_new(ctx, key: bytes) -> None:
    """Call before storing key when the handler has not looked it up: the `new` event if
    it does not exist yet (Redis's dbAdd). The lookup happens only when `n` is enabled."""
    if ctx.server.config.values["notify-keyspace-events"] & NEW and ctx.db.get(key) is None:
        publish(ctx.server, ctx.db.index, NEW, b"new", key)
