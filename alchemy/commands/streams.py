"""Stream commands (t_stream.c): XADD and ranges, trims, consumer groups, XREAD and
XREADGROUP (blocking too), XINFO.

The storage is alchemy.stream.Stream; this module parses arguments as Redis 7.0 does and
shapes replies. An entry is replied as [ID, [field, value, ...]]; XREAD's streams are
[key, entries] pairs in RESP2 and a map in RESP3.

Writes are logged so that replay makes the same state, as Redis propagates them: XADD with
the ID it generated and an approximate trim as the exact one it made (`=`, the resulting
length or first ID, no LIMIT); XREADGROUP, XCLAIM and XAUTOCLAIM as one XCLAIM ... FORCE
JUSTID per entry whose delivery they changed, plus XGROUP SETID (with ENTRIESREAD) when a
group's last ID moved, and XGROUP CREATECONSUMER for consumers they made without a claim.

A blocked XREAD/XREADGROUP parks with Database.block; a write to one of its streams runs
it again. `$` is resolved to the stream's last ID before parking, so the retry reads what
came after the call, not after the write. As in Redis, only writes that change entries or
create or destroy a group count as modifying the key (for WATCH and waiters): group
bookkeeping (XREADGROUP, XACK, XCLAIM, SETID, consumers, XSETID) does not, so it neither
aborts transactions nor wakes readers (whose retry would start their timeout again).
"""

import marshal
import struct

from alchemy.command import command, run_subcommand, subcommand
from alchemy.errors import SYNTAX, AlchemyError, subcommand_syntax
from alchemy.keyspace import now_ms, register_type
from alchemy.notify import NEW, STREAM, notify
from alchemy.persistence.snapshot import CODECS, pack_collection, unpack_collection
from alchemy.reply import NULL_ARRAY, OK, Status
from alchemy.stream import (MAX_ID, SEQ_MASK, Group, Pending, Stream, format_id, make_id)
from alchemy.util import parse_int

INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
ID_TOO_SMALL = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
ID_ZERO = "ERR The ID specified in XADD must be greater than 0-0"
ID_EXHAUSTED = "ERR The stream has exhausted the last possible ID, unable to add more items"
BOTH_STRATEGIES = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
LIMIT_WITHOUT_TILDE = "ERR syntax error, LIMIT cannot be used without the special ~ option"
NO_KEY_FOR_GROUP = ("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE "
                    "you may want to use the MKSTREAM option to create an empty stream "
                    "automatically.")
DOLLAR_IN_GROUP = ("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read "
                   "the history of this consumer by specifying a proper ID, or use the > ID "
                   "to get new messages. The $ ID would just return an empty result set.")
NEW_ID_OUTSIDE_GROUP = ("ERR The > ID can be specified only when calling XREADGROUP using the "
                        "GROUP <group> <consumer> option.")
UNBALANCED = ("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
              "specified.")
BLOCK_DEFAULT_COUNT = 1000  # what a blocked XREAD without COUNT is served at most


# -- snapshot codec -------------------------------------------------------------------------
# Entries through pack_collection: per entry a u64 pair (ms, seq) and its field count, then
# its fields and values. The rest (counters, nodes, groups with their PELs) is the tail,
# the marshal of plain ints, bytes and tuples.

_ENTRY_HEAD = struct.Struct("<QQI")


def _encode(stream: Stream) -> bytes:
    items = []
    for stream_id, fields in stream.entries.items():
        items.append(_ENTRY_HEAD.pack(stream_id >> 64, stream_id & SEQ_MASK, len(fields)))
        items.extend(fields)
    groups = tuple(
        (name, group.last_id, group.entries_read,
         tuple((c.name, c.seen_time) for c in group.consumers.values()),
         tuple((stream_id, p.consumer.name, p.delivery_time, p.delivery_count)
               for stream_id, p in group.pending.items()))
        for name, group in stream.groups.items())
    tail = marshal.dumps((stream.last_id, stream.entries_added, stream.max_deleted,
                          tuple(stream.node_starts), tuple(stream.node_live),
                          tuple(stream.node_total), tuple(stream.node_bytes), groups), 2)
    return pack_collection(0, items, tail)


def _decode(payload: bytes) -> Stream:
    _, items, at = unpack_collection(payload, "stream")
    stream = Stream()
    i = 0
    while i < len(items):
        ms, seq, count = _ENTRY_HEAD.unpack(items[i])
        stream.entries[make_id(ms, seq)] = tuple(items[i + 1:i + 1 + count])
        i += 1 + count
    (stream.last_id, stream.entries_added, stream.max_deleted, starts, live, total, sizes,
     groups) = marshal.loads(payload[at:])
    stream.node_starts, stream.node_live = list(starts), list(live)
    stream.node_total, stream.node_bytes = list(total), list(sizes)
    for name, last_id, entries_read, consumers, pending in groups:
        group = stream.groups[name] = Group(last_id, entries_read)
        for consumer_name, seen_time in consumers:
            group.consumer(consumer_name, seen_time)
        for stream_id, owner, delivery_time, delivery_count in pending:
            consumer = group.consumers[owner]
            consumer.pending[stream_id] = group.pending[stream_id] = Pending(
                consumer, delivery_time, delivery_count)
    return stream


register_type(Stream, "stream", Stream.copy, lambda value: "stream")
CODECS["stream"] = (_encode, _decode)


# -- parsing ------------------------------------------------------------------------------

def _u64(text: bytes) -> int:
    if not text.isdigit() or len(text) > 20:
        raise AlchemyError(INVALID_ID)
    value = int(text)
    if value > SEQ_MASK:
        raise AlchemyError(INVALID_ID)
    return value


def parse_id(arg: bytes, missing_seq: int = 0, strict: bool = False) -> int:
    """An ID argument: ms-seq, or ms alone (seq missing_seq); `-` and `+` unless strict."""
    if arg == b"-" or arg == b"+":
        if strict:
            raise AlchemyError(INVALID_ID)
        return 0 if arg == b"-" else MAX_ID
    ms, dash, seq = arg.partition(b"-")
    return make_id(_u64(ms), _u64(seq) if dash else missing_seq)


def _parse_xadd_id(arg: bytes) -> tuple[int, bool]:
    """XADD's explicit ID: (ID, whether the sequence was given; ms-* leaves it to XADD)."""
    if arg.endswith(b"-*") and arg != b"-*":
        return make_id(_u64(arg[:-2]), 0), False
    return parse_id(arg, strict=True), True


def parse_interval(arg: bytes, missing_seq: int, start: bool) -> int:
    """A range bound: inclusive, or exclusive with `(` (moved to the next ID inward)."""
    if len(arg) > 1 and arg[:1] == b"(":
        bound = parse_id(arg[1:], missing_seq, strict=True)
        if start:
            if bound == MAX_ID:
                raise AlchemyError("ERR invalid start ID for the interval")
            return bound + 1
        if bound == 0:
            raise AlchemyError("ERR invalid end ID for the interval")
        return bound - 1
    return parse_id(arg, missing_seq)


def _stream(ctx, key: bytes) -> Stream | None:
    return ctx.db.get_typed(key, Stream)


def _entry(stream_id: int, fields: tuple) -> list:
    return [format_id(stream_id), list(fields)]


def _entries(pairs) -> list:
    return [_entry(stream_id, fields) for stream_id, fields in pairs]


class _Trim:
    """MAXLEN/MINID options of XADD and XTRIM, and where they sit in argv."""

    def __init__(self):
        self.maxlen = self.minid = None
        self.approx = False
        self.limit = None
        self.value_at = 0  # argv index of the MAXLEN/MINID value
        self.limit_at = 0

    def given(self) -> bool:
        return self.maxlen is not None or self.minid is not None


def _parse_trim(argv: list, xadd: bool) -> tuple[_Trim, int, bool]:
    """Options from argv[2]: (trim, XADD's ID position, NOMKSTREAM)."""
    trim = _Trim()
    nomkstream = False
    i = 2
    while i < len(argv):
        option = argv[i].upper()
        more = len(argv) - 1 - i
        if xadd and argv[i] == b"*":
            break
        if option in (b"MAXLEN", b"MINID") and more:
            if trim.given():
                raise AlchemyError(BOTH_STRATEGIES)
            trim.approx = False
            if more >= 2 and argv[i + 1] in (b"~", b"="):
                trim.approx = argv[i + 1] == b"~"
                i += 1
            i += 1
            if option == b"MAXLEN":
                trim.maxlen = parse_int(argv[i])
                if trim.maxlen < 0:
                    raise AlchemyError("ERR The MAXLEN argument must be >= 0.")
            else:
                trim.minid = parse_id(argv[i], strict=True)
            trim.value_at = i
        elif option == b"LIMIT" and more:
            trim.limit = parse_int(argv[i + 1])
            if trim.limit < 0:
                raise AlchemyError("ERR The LIMIT argument must be >= 0.")
            trim.limit_at = i
            i += 1
        elif xadd and option == b"NOMKSTREAM":
            nomkstream = True
        elif xadd:
            break
        else:
            raise AlchemyError(SYNTAX)
        i += 1
    if trim.limit and not trim.given():
        raise AlchemyError("ERR syntax error, LIMIT cannot be used without specifying a "
                           "trimming strategy")
    if not xadd and not trim.given():
        raise AlchemyError("ERR syntax error, XTRIM must be called with a trimming strategy")
    if trim.limit is not None and not trim.approx:
        raise AlchemyError(LIMIT_WITHOUT_TILDE)
    return trim, i, nomkstream


def _apply_trim(ctx, stream: Stream, trim: _Trim) -> int:
    config = ctx.server.config.values
    limit = trim.limit
    if limit is None:
        limit = min(max(100 * config["stream-node-max-entries"], 0) or 10000, 1000000) \
            if trim.approx else 0
    return stream.trim(trim.maxlen, trim.minid, trim.approx, limit)


def _exact_trim_argv(argv: list, stream: Stream, trim: _Trim) -> list:
    """argv with an approximate trim written as the exact one it made (no LIMIT)."""
    logged = list(argv)
    logged[trim.value_at - 1] = b"="
    logged[trim.value_at] = (b"%d" % len(stream) if trim.maxlen is not None
                             else format_id(stream.first_id()))
    if trim.limit_at:
        del logged[trim.limit_at:trim.limit_at + 2]
    return logged


# -- entries ------------------------------------------------------------------------------

def _next_id(stream: Stream, given: int | None, seq_given: bool) -> int:
    """The ID XADD appends with: generated from the clock, or given (whole or ms-*)."""
    last = stream.last_id
    if given is None:
        ms = now_ms()
        if ms > last >> 64:
            return make_id(ms, 0)
        if last & SEQ_MASK == SEQ_MASK:
            return make_id((last >> 64) + 1, 0)
        return last + 1
    if seq_given:
        if given <= last:
            raise AlchemyError(ID_TOO_SMALL)
        return given
    ms = given >> 64
    if ms == last >> 64:
        if last & SEQ_MASK == SEQ_MASK:
            raise AlchemyError(ID_TOO_SMALL)
        return last + 1
    if ms < last >> 64:
        raise AlchemyError(ID_TOO_SMALL)
    return given


@command("xadd", -5, "write denyoom fast", keys=(1, 1, 1), group="stream", since="5.0.0",
         complexity="O(1) when adding a new entry, O(N) when trimming where N being the "
                    "number of entries evicted.",
         summary="Appends a new entry to a stream")
def xadd(ctx, argv):
    trim, id_at, nomkstream = _parse_trim(argv, True)
    fields = argv[id_at + 1:]
    if len(fields) < 2 or len(fields) % 2:
        raise AlchemyError("ERR wrong number of arguments for 'xadd' command")
    given, seq_given = (None, False) if argv[id_at] == b"*" else _parse_xadd_id(argv[id_at])
    if given == 0 and seq_given:
        raise AlchemyError(ID_ZERO)
    key = argv[1]
    stream = _stream(ctx, key)
    if stream is None:
        if nomkstream:
            return None
        stream = Stream()
        notify(ctx, NEW, b"new", key)
        ctx.db.set(key, stream)
    if stream.last_id == MAX_ID:
        raise AlchemyError(ID_EXHAUSTED)
    stream_id = _next_id(stream, given, seq_given)
    config = ctx.server.config.values
    stream.add(stream_id, tuple(fields), config["stream-node-max-entries"],
               config["stream-node-max-bytes"])
    notify(ctx, STREAM, b"xadd", key)
    ctx.server.dirty += 1
    logged = argv
    if trim.given():
        if _apply_trim(ctx, stream, trim):
            notify(ctx, STREAM, b"xtrim", key)
        if trim.approx:
            logged = _exact_trim_argv(argv, stream, trim)
    if given is None or not seq_given:
        logged = list(logged)
        logged[id_at] = format_id(stream_id)
    if logged is not argv:
        ctx.server.propagate_as(logged)
    return format_id(stream_id)


@command("xlen", 2, "readonly fast", keys=(1, 1, 1), group="stream", since="5.0.0",
         complexity="O(1)", summary="Return the number of entries in a stream")
def xlen(ctx, argv):
    stream = _stream(ctx, argv[1])
    return 0 if stream is None else len(stream)


def _range(ctx, argv: list, reverse: bool):
    low, high = (argv[3], argv[2]) if reverse else (argv[2], argv[3])
    start = parse_interval(low, 0, True)
    end = parse_interval(high, SEQ_MASK, False)
    count = None
    i = 4
    while i < len(argv):
        if argv[i].upper() == b"COUNT" and i + 1 < len(argv):
            count = max(parse_int(argv[i + 1]), 0)
            i += 2
        else:
            raise AlchemyError(SYNTAX)
    stream = _stream(ctx, argv[1])
    if stream is None:
        return []
    if count == 0:
        return NULL_ARRAY
    return _entries(stream.range(start, end, count or 0, reverse))


@command("xrange", -4, "readonly", keys=(1, 1, 1), group="stream", since="5.0.0",
         complexity="O(N) with N being the number of elements being returned.",
         summary="Return a range of elements in a stream, with IDs matching the specified "
                 "IDs interval")
def xrange(ctx, argv):
    return _range(ctx, argv, False)


@command("xrevrange", -4, "readonly", keys=(1, 1, 1), group="stream", since="5.0.0",
         complexity="O(N) with N being the number of elements returned.",
         summary="Return a range of elements in a stream, with IDs matching the specified "
                 "IDs interval, in reverse order (from greater to smaller IDs) compared to "
                 "XRANGE")
def xrevrange(ctx, argv):
    return _range(ctx, argv, True)


@command("xdel", -3, "write fast", keys=(1, 1, 1), group="stream", since="5.0.0",
         complexity="O(1) for each single item to delete in the stream, regardless of the "
                    "stream size.",
         summary="Removes the specified entries from the stream. Returns the number of items "
                 "actually deleted, that may be different from the number of IDs passed in "
                 "case certain IDs do not exist.")
def xdel(ctx, argv):
    stream = _stream(ctx, argv[1])
    if stream is None:
        return 0
    ids = [parse_id(arg, strict=True) for arg in argv[2:]]
    deleted = 0
    for stream_id in ids:
        if stream.delete(stream_id):
            stream.max_deleted = max(stream.max_deleted, stream_id)
            deleted += 1
    if deleted:
        notify(ctx, STREAM, b"xdel", argv[1])
        ctx.server.dirty += deleted
    return deleted


@command("xtrim", -4, "write", keys=(1, 1, 1), group="stream", since="5.0.0",
         complexity="O(N), with N being the number of evicted entries.",
         summary="Trims the stream to (approximately if '~' is passed) a certain size")
def xtrim(ctx, argv):
    trim, _, _ = _parse_trim(argv, False)
    stream = _stream(ctx, argv[1])
    if stream is None:
        return 0
    deleted = _apply_trim(ctx, stream, trim)
    if deleted:
        notify(ctx, STREAM, b"xtrim", argv[1])
        if trim.approx:
            ctx.server.propagate_as(_exact_trim_argv(argv, stream, trim))
        ctx.server.dirty += deleted
    return deleted


@command("xsetid", -3, "write denyoom fast", keys=(1, 1, 1), group="stream", since="5.0.0",
         complexity="O(1)", summary="An internal command for replicating stream values")
def xsetid(ctx, argv):
    last_id = parse_id(argv[2], strict=True)
    entries_added = None
    max_deleted = 0
    i = 3
    while i < len(argv):
        option = argv[i].upper()
        if option == b"ENTRIESADDED" and i + 1 < len(argv):
            entries_added = parse_int(argv[i + 1])
            if entries_added < 0:
                raise AlchemyError("ERR entries_added must be positive")
        elif option == b"MAXDELETEDID" and i + 1 < len(argv):
            max_deleted = parse_id(argv[i + 1], strict=True)
            if last_id < max_deleted:
                raise AlchemyError("ERR The ID specified in XSETID is smaller than the "
                                   "provided max_deleted_entry_id")
        else:
            raise AlchemyError(SYNTAX)
        i += 2
    stream = _stream(ctx, argv[1])
    if stream is None:
        raise AlchemyError("ERR no such key")
    if stream.entries:
        if last_id < stream.top_id():
            raise AlchemyError("ERR The ID specified in XSETID is smaller than the target "
                               "stream top item")
        if entries_added is not None and len(stream) > entries_added:
            raise AlchemyError("ERR The entries_added specified in XSETID is smaller than "
                               "the target stream length")
    stream.last_id = last_id
    if entries_added is not None:
        stream.entries_added = entries_added
    if max_deleted:
        stream.max_deleted = max_deleted
    ctx.server.dirty += 1
    ctx.server.only_touched()
    notify(ctx, STREAM, b"xsetid", argv[1])
    return OK


# -- consumer groups --------------------------------------------------------------------------

def _no_group(key: bytes, group: bytes, suffix: str = "") -> AlchemyError:
    return AlchemyError("NOGROUP No such key '%s' or consumer group '%s'%s" % (
        key.decode("utf-8", "replace"), group.decode("utf-8", "replace"), suffix))


def _group_of(ctx, key: bytes, name: bytes) -> tuple[Stream, Group]:
    """The stream at key and its group name, or the NOGROUP error XCLAIM and XPENDING give."""
    stream = _stream(ctx, key)
    group = None if stream is None else stream.groups.get(name)
    if group is None:
        raise _no_group(key, name)
    return stream, group


class _Effects:
    """What a group read or claim changed, logged as Redis propagates it (module docstring)."""

    def __init__(self, ctx, key: bytes, group_name: bytes, group: Group):
        self.ctx, self.key, self.group_name, self.group = ctx, key, group_name, group
        self.start = (group.last_id, group.entries_read)
        self.dirty = ctx.server.dirty
        self.logged: list = []
        self.created: list = []

    def consumer(self, name: bytes, now: int):
        """The consumer name, made (notified, counted) when new, its seen time refreshed."""
        group = self.group
        consumer = group.consumers.get(name)
        if consumer is None:
            consumer = group.consumer(name, now)
            self.ctx.server.dirty += 1
            notify(self.ctx, STREAM, b"xgroup-createconsumer", self.key)
            self.created.append(name)
        consumer.seen_time = now
        return consumer

    def claimed(self, stream_id: int, pending: Pending) -> None:
        self.ctx.server.dirty += 1
        self.logged.append([
            b"XCLAIM", self.key, self.group_name, pending.consumer.name, b"0",
            format_id(stream_id), b"TIME", b"%d" % pending.delivery_time, b"RETRYCOUNT",
            b"%d" % pending.delivery_count, b"FORCE", b"JUSTID", b"LASTID",
            format_id(self.group.last_id)])

    def finish(self) -> None:
        """Log what changed; tell no watcher or waiter (group bookkeeping, module docstring)."""
        server = self.ctx.server
        if server.dirty != self.dirty:
            server.only_touched()
        server.propagate_as(*self._argvs())

    def _argvs(self) -> list:
        """The commands to log, in order."""
        group = self.group
        made = [[b"XGROUP", b"CREATECONSUMER", self.key, self.group_name, name]
                for name in self.created
                if not any(argv[3] == name for argv in self.logged)]
        argvs = made + self.logged
        if (group.last_id, group.entries_read) != self.start:
            setid = [b"XGROUP", b"SETID", self.key, self.group_name, format_id(group.last_id)]
            if group.entries_read is not None:
                setid += [b"ENTRIESREAD", b"%d" % group.entries_read]
            argvs.append(setid)
        return argvs


command("xgroup", -2, "", group="stream", since="5.0.0", complexity="Depends on subcommand.",
        summary="A container for consumer groups commands")(run_subcommand)


def _group_options(argv: list, create: bool) -> tuple[bool, int | None]:
    """CREATE/SETID options after the ID: (MKSTREAM, ENTRIESREAD; None when -1 or absent)."""
    mkstream = False
    entries_read = None
    i = 5
    while i < len(argv):
        option = argv[i].upper()
        if create and option == b"MKSTREAM":
            mkstream = True
            i += 1
        elif option == b"ENTRIESREAD" and i + 1 < len(argv):
            entries_read = parse_int(argv[i + 1])
            if entries_read < -1:
                raise AlchemyError("ERR value for ENTRIESREAD must be positive or -1")
            if entries_read == -1:
                entries_read = None
            i += 2
        else:
            raise subcommand_syntax("xgroup", argv[1])
    return mkstream, entries_read


def _xgroup_stream(ctx, argv: list, mkstream: bool = False) -> Stream | None:
    stream = _stream(ctx, argv[2])
    if stream is None and not mkstream:
        raise AlchemyError(NO_KEY_FOR_GROUP)
    return stream


def _existing_group(ctx, argv: list) -> tuple[Stream, Group]:
    stream = _xgroup_stream(ctx, argv)
    group = stream.groups.get(argv[3])
    if group is None:
        raise AlchemyError("NOGROUP No such consumer group '%s' for key name '%s'" % (
            argv[3].decode("utf-8", "replace"), argv[2].decode("utf-8", "replace")))
    return stream, group


def _group_written(ctx, argv: list, event: bytes, *touched: bytes) -> None:
    """Account for an XGROUP write: the XGROUP container declares no key and no write, so
    its subcommands name the keys they modify (a created or destroyed group: a destroyed
    one answers a blocked XREADGROUP) and log themselves."""
    server = ctx.server
    server.dirty += 1
    notify(ctx, STREAM, event, argv[2])
    server.only_touched(*touched)
    server.propagate_as(argv)


def _group_start(stream: Stream | None, arg: bytes, strict: bool) -> int:
    if arg == b"$":
        return 0 if stream is None else stream.last_id
    return parse_id(arg, strict=strict)


@subcommand("xgroup", "create", -5, "write denyoom", keys=(2, 2, 1), since="5.0.0",
            complexity="O(1)", summary="Create a consumer group.")
def xgroup_create(ctx, argv):
    mkstream, entries_read = _group_options(argv, True)
    stream = _xgroup_stream(ctx, argv, mkstream)
    start = _group_start(stream, argv[4], True)
    if stream is not None and argv[3] in stream.groups:
        raise AlchemyError("BUSYGROUP Consumer Group name already exists")
    created = () if stream is not None else (argv[2],)
    if created:
        stream = Stream()
        notify(ctx, NEW, b"new", argv[2])
        ctx.db.set(argv[2], stream)
    stream.groups[argv[3]] = Group(start, entries_read)
    _group_written(ctx, argv, b"xgroup-create", *created)
    return OK


@subcommand("xgroup", "setid", -5, "write", keys=(2, 2, 1), since="5.0.0",
            complexity="O(1)", summary="Set a consumer group to an arbitrary last delivered "
                                       "ID value.")
def xgroup_setid(ctx, argv):
    _, entries_read = _group_options(argv, False)
    stream, group = _existing_group(ctx, argv)
    group.last_id = _group_start(stream, argv[4], False)
    group.entries_read = entries_read
    _group_written(ctx, argv, b"xgroup-setid")
    return OK


@subcommand("xgroup", "destroy", 4, "write", keys=(2, 2, 1), since="5.0.0",
            complexity="O(N) where N is the number of entries in the group's pending "
                       "entries list (PEL).",
            summary="Destroy a consumer group.")
def xgroup_destroy(ctx, argv):
    stream = _xgroup_stream(ctx, argv)
    if stream.groups.pop(argv[3], None) is None:
        return 0
    _group_written(ctx, argv, b"xgroup-destroy", argv[2])
    return 1


@subcommand("xgroup", "createconsumer", 5, "write denyoom", keys=(2, 2, 1), since="6.2.0",
            complexity="O(1)", summary="Create a consumer in a consumer group.")
def xgroup_createconsumer(ctx, argv):
    _, group = _existing_group(ctx, argv)
    if argv[4] in group.consumers:
        return 0
    group.consumer(argv[4], now_ms())
    _group_written(ctx, argv, b"xgroup-createconsumer")
    return 1


@subcommand("xgroup", "delconsumer", 5, "write", keys=(2, 2, 1), since="5.0.0",
            complexity="O(1)", summary="Delete a consumer from a consumer group.")
def xgroup_delconsumer(ctx, argv):
    _, group = _existing_group(ctx, argv)
    if argv[4] not in group.consumers:
        return 0
    pending = group.remove_consumer(argv[4])
    _group_written(ctx, argv, b"xgroup-delconsumer")
    return pending


XGROUP_HELP = [Status(line) for line in (
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Print this help.",
)]


@subcommand("xgroup", "help", 2, "loading stale", since="5.0.0", complexity="O(1)",
            summary="Show helpful text about the different subcommands")
def xgroup_help(ctx, argv):
    return XGROUP_HELP


@command("xack", -4, "write fast", keys=(1, 1, 1), group="stream", since="5.0.0",
         complexity="O(1) for each message ID processed.",
         summary="Marks a pending message as correctly processed, effectively removing it "
                 "from the pending entries list of the consumer group. Return value of the "
                 "command is the number of messages successfully acknowledged, that is, the "
                 "IDs we were actually able to resolve in the PEL.")
def xack(ctx, argv):
    stream = _stream(ctx, argv[1])
    group = None if stream is None else stream.groups.get(argv[2])
    if group is None:
        return 0
    ids = [parse_id(arg, strict=True) for arg in argv[3:]]
    acknowledged = sum(group.forget(stream_id) for stream_id in ids)
    if acknowledged:
        ctx.server.dirty += acknowledged
        ctx.server.only_touched()
    return acknowledged


@command("xpending", -3, "readonly", keys=(1, 1, 1), group="stream", since="5.0.0",
         complexity="O(N) with N being the number of elements returned, so asking for a small "
                    "fixed number of entries per call is O(1). O(M), where M is the total "
                    "number of entries scanned when used with the IDLE filter. When the "
                    "command returns just the summary and the list of consumers is small, it "
                    "runs in O(1) time; otherwise, an additional O(N) time for iterating "
                    "every consumer.",
         summary="Return information and entries from a stream consumer group pending "
                 "entries list, that are messages fetched but never acknowledged.")
def xpending(ctx, argv):
    if len(argv) != 3 and not 6 <= len(argv) <= 9:
        raise AlchemyError(SYNTAX)
    if len(argv) == 3:
        _, group = _group_of(ctx, argv[1], argv[2])
        return _pending_summary(group)
    at, min_idle = 3, 0
    if argv[3].upper() == b"IDLE":
        min_idle = parse_int(argv[4])
        if len(argv) < 8:
            raise AlchemyError(SYNTAX)
        at = 5
    count = max(parse_int(argv[at + 2]), 0)
    start = parse_interval(argv[at], 0, True)
    end = parse_interval(argv[at + 1], SEQ_MASK, False)
    consumer_name = argv[at + 3] if at + 3 < len(argv) else None
    _, group = _group_of(ctx, argv[1], argv[2])
    pel = group.pending
    if consumer_name is not None:
        consumer = group.consumers.get(consumer_name)
        if consumer is None:
            return []
        pel = consumer.pending
    now = now_ms()
    reply = []
    for stream_id in pel.irange(start, end):
        if len(reply) == count:
            break
        pending = pel[stream_id]
        if min_idle and now - pending.delivery_time < min_idle:
            continue
        reply.append([format_id(stream_id), pending.consumer.name,
                      max(now - pending.delivery_time, 0), pending.delivery_count])
    return reply


def _pending_summary(group: Group) -> list:
    if not group.pending:
        return [0, None, None, NULL_ARRAY]
    ids = group.pending.keys()
    return [len(ids), format_id(ids[0]), format_id(ids[-1]),
            [[name, b"%d" % len(group.consumers[name].pending)]
             for name in sorted(group.consumers) if group.consumers[name].pending]]


def _claim_option(arg: bytes, name: str) -> int:
    return parse_int(arg, f"ERR Invalid {name} option argument for XCLAIM")


@command("xclaim", -6, "write fast", keys=(1, 1, 1), group="stream", since="5.0.0",
         complexity="O(log N) with N being the number of messages in the PEL of the consumer "
                    "group.",
         summary="Changes (or acquires) ownership of a message in a consumer group, as if the "
                 "message was delivered to the specified consumer.")
def xclaim(ctx, argv):
    key = argv[1]
    stream, group = _group_of(ctx, key, argv[2])
    min_idle = max(parse_int(argv[4], "ERR Invalid min-idle-time argument for XCLAIM"), 0)
    ids = []
    j = 5
    while j < len(argv):
        try:
            ids.append(parse_id(argv[j], strict=True))
        except AlchemyError:
            break
        j += 1
    now = now_ms()
    delivery_time = retry_count = None
    force = just_id = False
    last_id = 0
    while j < len(argv):
        option = argv[j].upper()
        more = j + 1 < len(argv)
        if option == b"FORCE":
            force = True
        elif option == b"JUSTID":
            just_id = True
        elif option == b"IDLE" and more:
            j += 1
            delivery_time = now - _claim_option(argv[j], "IDLE")
        elif option == b"TIME" and more:
            j += 1
            delivery_time = _claim_option(argv[j], "TIME")
        elif option == b"RETRYCOUNT" and more:
            j += 1
            retry_count = _claim_option(argv[j], "RETRYCOUNT")
        elif option == b"LASTID" and more:
            j += 1
            last_id = parse_id(argv[j], strict=True)
        else:
            raise AlchemyError("ERR Unrecognized XCLAIM option '%s'"
                               % argv[j].decode("utf-8", "replace"))
        j += 1
    effects = _Effects(ctx, key, argv[2], group)
    if last_id > group.last_id:
        group.last_id = last_id
    if delivery_time is None or not 0 <= delivery_time <= now:
        delivery_time = now
    reply = []
    consumer = None
    for stream_id in ids:
        pending = group.pending.get(stream_id)
        if stream_id not in stream.entries:
            if pending is not None:
                effects.claimed(stream_id, pending)
                group.forget(stream_id)
            continue
        if force and pending is None:
            pending = group.pending[stream_id] = Pending(None, now, 0)
        if pending is None:
            continue
        if pending.consumer is not None and min_idle \
                and now - pending.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = effects.consumer(argv[3], now)
        group.assign(stream_id, pending, consumer)
        pending.delivery_time = delivery_time
        if retry_count is not None:
            pending.delivery_count = retry_count
        elif not just_id:
            pending.delivery_count += 1
        reply.append(format_id(stream_id) if just_id
                     else _entry(stream_id, stream.entries[stream_id]))
        effects.claimed(stream_id, pending)
    if (group.last_id, group.entries_read) != effects.start:
        ctx.server.dirty += 1
    effects.finish()
    return reply


@command("xautoclaim", -6, "write fast", keys=(1, 1, 1), group="stream", since="6.2.0",
         complexity="O(1) if COUNT is small.",
         summary="Changes (or acquires) ownership of messages in a consumer group, as if the "
                 "messages were delivered to the specified consumer.")
def xautoclaim(ctx, argv):
    key = argv[1]
    min_idle = max(parse_int(argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM"), 0)
    start = parse_interval(argv[5], 0, True)
    count, just_id = 100, False
    j = 6
    while j < len(argv):
        option = argv[j].upper()
        if option == b"COUNT" and j + 1 < len(argv):
            count = parse_int(argv[j + 1], "ERR COUNT must be > 0")
            if not 1 <= count <= (2**63 - 1) // 16:
                raise AlchemyError("ERR COUNT must be > 0")
            j += 1
        elif option == b"JUSTID":
            just_id = True
        else:
            raise AlchemyError(SYNTAX)
        j += 1
    stream, group = _group_of(ctx, key, argv[2])
    effects = _Effects(ctx, key, argv[2], group)
    now = now_ms()
    attempts = count * 10
    claimed, deleted = [], []
    consumer = None
    next_id = 0
    for stream_id in list(group.pending.irange(start)):
        if not attempts or not count:
            next_id = stream_id
            break
        attempts -= 1
        pending = group.pending[stream_id]
        if stream_id not in stream.entries:
            effects.claimed(stream_id, pending)
            group.forget(stream_id)
            deleted.append(format_id(stream_id))
            count -= 1
            continue
        if min_idle and now - pending.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = effects.consumer(argv[3], now)
        group.assign(stream_id, pending, consumer)
        pending.delivery_time = now
        if not just_id:
            pending.delivery_count += 1
        claimed.append(format_id(stream_id) if just_id
                       else _entry(stream_id, stream.entries[stream_id]))
        count -= 1
        effects.claimed(stream_id, pending)
    effects.finish()
    return [format_id(next_id), claimed, deleted]


# -- XREAD and XREADGROUP -----------------------------------------------------------------

def _streams_keys(argv: list) -> list:
    """The keys of XREAD/XREADGROUP: the first half of what follows STREAMS."""
    for i in range(1, len(argv)):
        if argv[i].upper() == b"STREAMS":
            rest = argv[i + 1:]
            return rest[:len(rest) // 2]
    return []


class _Read:
    """XREAD/XREADGROUP's arguments."""

    def __init__(self, ctx, argv: list, with_group: bool):
        self.timeout = None  # ms; None: no BLOCK
        self.count = 0
        self.group = self.consumer = None
        self.noack = False
        streams_at = 0
        i = 1
        name = argv[0].decode().upper()
        while i < len(argv):
            option = argv[i].upper()
            more = len(argv) - i - 1
            if option == b"BLOCK" and more:
                if ctx.kind == "script":
                    raise AlchemyError(f"ERR {argv[0].decode()} command is not allowed with "
                                       "BLOCK option from scripts")
                i += 1
                self.timeout = parse_int(argv[i], "ERR timeout is not an integer or out of "
                                                  "range")
                if self.timeout < 0:
                    raise AlchemyError("ERR timeout is negative")
            elif option == b"COUNT" and more:
                i += 1
                self.count = max(parse_int(argv[i]), 0)
            elif option == b"STREAMS" and more:
                streams_at = i + 1
                if (len(argv) - streams_at) % 2:
                    raise AlchemyError(UNBALANCED)
                break
            elif option == b"GROUP" and more >= 2:
                if not with_group:
                    raise AlchemyError("ERR The GROUP option is only supported by XREADGROUP. "
                                       "You called XREAD instead.")
                self.group, self.consumer = argv[i + 1], argv[i + 2]
                i += 2
            elif option == b"NOACK":
                if not with_group:
                    raise AlchemyError("ERR The NOACK option is only supported by XREADGROUP. "
                                       "You called XREAD instead.")
                self.noack = True
            else:
                raise AlchemyError(SYNTAX)
            i += 1
        if not streams_at:
            raise AlchemyError(SYNTAX)
        if with_group and self.group is None:
            raise AlchemyError(f"ERR Missing GROUP option for {name}")
        half = (len(argv) - streams_at) // 2
        self.streams_at = streams_at
        self.keys = argv[streams_at:streams_at + half]
        self.ids = argv[streams_at + half:]


def _read_streams(ctx, argv: list, with_group: bool):
    read = _Read(ctx, argv, with_group)
    db = ctx.db
    ready = ctx.server.ready_key
    if with_group and ready is not None and type(db.get(ready)) is not Stream:
        raise AlchemyError("UNBLOCKED the stream key no longer exists")
    starts = []  # per key: the ID to read after, or None for XREADGROUP's ">"
    groups = []
    for key, arg in zip(read.keys, read.ids):
        stream = db.get_typed(key, Stream)
        if read.group is not None:
            group = None if stream is None else stream.groups.get(read.group)
            if group is None:
                if ready is not None:  # destroyed while this call waited
                    raise AlchemyError("NOGROUP the consumer group this client was blocked "
                                       "on no longer exists")
                raise _no_group(key, read.group, " in XREADGROUP with GROUP option")
            groups.append(group)
        if arg == b"$":
            if with_group:
                raise AlchemyError(DOLLAR_IN_GROUP)
            starts.append(0 if stream is None else stream.last_id)
        elif arg == b">":
            if not with_group:
                raise AlchemyError(NEW_ID_OUTSIDE_GROUP)
            starts.append(None)
        else:
            starts.append(parse_id(arg, strict=True))
    served = _serve(ctx, read, starts, groups)
    if served:
        return served if ctx.resp3 else [[key, entries] for key, entries in served.items()]
    if read.timeout is None or not ctx.can_block:
        return NULL_ARRAY
    # Wait, with `$` written as the ID it stood for: the retry must read from there.
    waiting = list(argv)
    for i, start in enumerate(starts):
        if start is not None:
            waiting[read.streams_at + len(read.keys) + i] = format_id(start)
    # A group reader is woken by any write, to be told when its stream was replaced.
    return ctx.server.block(ctx, read.keys, read.timeout / 1000, waiting, NULL_ARRAY,
                            None if with_group else Stream)


def _serve(ctx, read: _Read, starts: list, groups: list) -> dict:
    """What XREAD/XREADGROUP can answer now: key -> entries, for the streams that have some
    (the key that woke a blocked call, when retried)."""
    db = ctx.db
    served = {}
    tried = ctx.server.keys_to_try(read.keys)
    count = read.count
    if ctx.server.ready_key is not None and not count:
        count = BLOCK_DEFAULT_COUNT
    for i, key in enumerate(read.keys):
        if key not in tried:
            continue
        stream = db.get_typed(key, Stream)
        if stream is None:
            continue
        start = starts[i]
        if read.group is None:
            if stream.entries and stream.top_id() > start:
                served[key] = _entries(stream.range(start + 1, MAX_ID, count))
        elif start is not None:
            served[key] = _history(ctx, read, stream, groups[i], key, start, count)
        elif stream.entries and stream.top_id() > groups[i].last_id:
            served[key] = _deliver(ctx, read, stream, groups[i], key, count)
    return served


def _group_read(ctx, effects: _Effects) -> None:
    """Account for an XREADGROUP that served a stream (a write, whatever it delivered)."""
    ctx.server.dirty += 1
    effects.finish()


def _history(ctx, read: _Read, stream: Stream, group: Group, key: bytes, start: int,
             count: int) -> list:
    """A consumer's own pending entries after start: each delivered again (a deleted one
    replied as [ID, nil])."""
    effects = _Effects(ctx, key, read.group, group)
    now = now_ms()
    consumer = effects.consumer(read.consumer, now)
    reply = []
    for stream_id in consumer.pending.irange(start, inclusive=(False, True)):
        if count and len(reply) == count:
            break
        fields = stream.entries.get(stream_id)
        if fields is None:
            reply.append([format_id(stream_id), NULL_ARRAY])
            continue
        pending = consumer.pending[stream_id]
        pending.delivery_time = now
        pending.delivery_count += 1
        reply.append(_entry(stream_id, fields))
    _group_read(ctx, effects)
    return reply


def _deliver(ctx, read: _Read, stream: Stream, group: Group, key: bytes, count: int) -> list:
    """New entries for the group (`>`): past its last ID, recorded as pending unless NOACK."""
    effects = _Effects(ctx, key, read.group, group)
    now = now_ms()
    consumer = effects.consumer(read.consumer, now)
    reply = []
    for stream_id, fields in list(stream.range(group.last_id + 1, MAX_ID, count)):
        stream.advance(group, stream_id)
        reply.append(_entry(stream_id, fields))
        if not read.noack:
            effects.claimed(stream_id, group.deliver(stream_id, consumer, now))
    _group_read(ctx, effects)
    return reply


@command("xread", -4, "readonly blocking", find_keys=_streams_keys, group="stream",
         since="5.0.0",
         complexity="For each stream mentioned: O(N) with N being the number of elements "
                    "being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note "
                    "that when the BLOCK option is used, XADD will pay O(M) time in order to "
                    "serve the M clients blocked on the stream getting new data.",
         summary="Return never seen elements in multiple streams, with IDs greater than the "
                 "ones reported by the caller for each stream. Can block.")
def xread(ctx, argv):
    return _read_streams(ctx, argv, False)


@command("xreadgroup", -7, "write blocking", find_keys=_streams_keys, group="stream",
         since="5.0.0",
         complexity="For each stream mentioned: O(M) with M being the number of elements "
                    "returned. If M is constant (e.g. always asking for the first 10 elements "
                    "with COUNT), you can consider it O(1). On the other side when XREADGROUP "
                    "blocks, XADD will pay the O(N) time in order to serve the N clients "
                    "blocked on the stream getting new data.",
         summary="Return new entries from a stream using a consumer group, or access the "
                 "history of the pending entries for a given consumer. Can block.")
def xreadgroup(ctx, argv):
    return _read_streams(ctx, argv, True)


# -- XINFO --------------------------------------------------------------------------------

command("xinfo", -2, "", group="stream", since="5.0.0", complexity="Depends on subcommand.",
        summary="A container for stream introspection commands")(run_subcommand)


def _info_stream(ctx, argv: list) -> Stream:
    stream = _stream(ctx, argv[2])
    if stream is None:
        raise AlchemyError("ERR no such key")
    return stream


@subcommand("xinfo", "stream", -3, "readonly", keys=(2, 2, 1), since="5.0.0",
            complexity="O(1)", summary="Get information about a stream")
def xinfo_stream(ctx, argv):
    options = argv[3:]
    full = bool(options)
    count = 10
    if options:
        if len(options) not in (1, 3) or options[0].upper() != b"FULL" \
                or (len(options) == 3 and options[1].upper() != b"COUNT"):
            raise subcommand_syntax("xinfo", argv[1])
        if len(options) == 3:
            count = parse_int(options[2])
            if count < 0:
                count = 10
    stream = _info_stream(ctx, argv)
    info = {
        b"length": len(stream),
        b"radix-tree-keys": len(stream.node_starts),
        b"radix-tree-nodes": len(stream.node_starts) + 1 if stream.node_starts else 1,
        b"last-generated-id": format_id(stream.last_id),
        b"max-deleted-entry-id": format_id(stream.max_deleted),
        b"entries-added": stream.entries_added,
        b"recorded-first-entry-id": format_id(stream.first_id()),
    }
    if not full:
        info[b"groups"] = len(stream.groups)
        first = next(stream.range(0, MAX_ID, 1), None)
        last = next(stream.range(0, MAX_ID, 1, reverse=True), None)
        info[b"first-entry"] = None if first is None else _entry(*first)
        info[b"last-entry"] = None if last is None else _entry(*last)
        return info
    info[b"entries"] = _entries(stream.range(0, MAX_ID, count))
    info[b"groups"] = [_full_group(stream, name, stream.groups[name], count)
                       for name in sorted(stream.groups)]
    return info


def _limited(pel, count: int):
    ids = pel.keys()
    return ids if not count else ids[:count]


def _full_group(stream: Stream, name: bytes, group: Group, count: int) -> dict:
    pel = group.pending
    return {
        b"name": name,
        b"last-delivered-id": format_id(group.last_id),
        b"entries-read": group.entries_read,
        b"lag": stream.lag(group),
        b"pel-count": len(pel),
        b"pending": [[format_id(i), pel[i].consumer.name, pel[i].delivery_time,
                      pel[i].delivery_count] for i in _limited(pel, count)],
        b"consumers": [{
            b"name": consumer.name,
            b"seen-time": consumer.seen_time,
            b"pel-count": len(consumer.pending),
            b"pending": [[format_id(i), consumer.pending[i].delivery_time,
                          consumer.pending[i].delivery_count]
                         for i in _limited(consumer.pending, count)],
        } for consumer in (group.consumers[c] for c in sorted(group.consumers))],
    }


@subcommand("xinfo", "groups", 3, "readonly", keys=(2, 2, 1), since="5.0.0",
            complexity="O(1)", summary="List the consumer groups of a stream")
def xinfo_groups(ctx, argv):
    stream = _info_stream(ctx, argv)
    return [{
        b"name": name,
        b"consumers": len(group.consumers),
        b"pending": len(group.pending),
        b"last-delivered-id": format_id(group.last_id),
        b"entries-read": group.entries_read,
        b"lag": stream.lag(group),
    } for name, group in sorted(stream.groups.items())]


@subcommand("xinfo", "consumers", 4, "readonly", keys=(2, 2, 1), since="5.0.0",
            complexity="O(1)", summary="List the consumers in a consumer group")
def xinfo_consumers(ctx, argv):
    stream = _info_stream(ctx, argv)
    group = stream.groups.get(argv[3])
    if group is None:
        raise AlchemyError("NOGROUP No such consumer group '%s' for key name '%s'" % (
            argv[3].decode("utf-8", "replace"), argv[2].decode("utf-8", "replace")))
    now = now_ms()
    return [{
        b"name": name,
        b"pending": len(consumer.pending),
        b"idle": max(now - consumer.seen_time, 0),
    } for name, consumer in sorted(group.consumers.items())]


XINFO_HELP = [Status(line) for line in (
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Print this help.",
)]


@subcommand("xinfo", "help", 2, "loading stale", since="5.0.0", complexity="O(1)",
            summary="Show helpful text about the different subcommands")
def xinfo_help(ctx, argv):
    return XINFO_HELP
