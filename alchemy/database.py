"""The engine: databases, clients and the one dispatch path every command takes.

`Database.call(client, argv)` is the whole hot path: look the command up, check arity,
auth and transaction state, run the handler, and when the handler changed data (it bumped
`dirty`, as in Redis) tell watchers and blocked clients about the keys it touched, and
hand the command to the log (`self.log`, installed by alchemy.persistence) once it succeeded.
"""

from collections import deque
import logging
import time
from typing import Callable

from alchemy import commands, notify  # noqa: F401  (registers every command)
from alchemy.client import Client
from alchemy.command import Command, calls_total, lookup, seen_spelling
from alchemy.config import Config
from alchemy.errors import NOAUTH, AlchemyError, unknown_command, wrong_arity
from alchemy.keyspace import TYPES, Keyspace
from alchemy.maxmemory import OOM, MemoryLimit
from alchemy.persistence import Persistence
from alchemy.pubsub import PubSub
from alchemy.scan import ScanCursors
from alchemy.scripting.scripts import Scripts
from alchemy.sql.documents import plain_rows
from alchemy.sql.engine import Count, Rows, SqlEngine
from alchemy.storage.table import Table
from alchemy.reply import NO_REPLY, NULL_ARRAY, QUEUED, Status

log = logging.getLogger("alchemy")
# INFO commandstats' usec: two reads a command, in float seconds (integer nanoseconds
# are large integers, whose arithmetic cost about 500 instructions more a command)
_clock = time.perf_counter

VERSION = "0.1.0"
REDIS_VERSION = "7.0.15"  # what clients and test suites gate features on
MAX_ERROR_CODES = 128


class Stats:
    def __init__(self):
        self.started = time.time()
        self.connections = 0
        self.rejected_connections = 0
        self.expired_keys = 0
        self.keyspace_hits = 0
        self.keyspace_misses = 0
        self.net_input_bytes = 0
        self.net_output_bytes = 0
        self.ops_samples: deque = deque(maxlen=16)  # (monotonic time, commands) by cron
        self.error_replies = 0
        self.errors: dict[str, int] = {}  # error code -> replies, INFO's errorstats


class Database:
    """An Alchemy dataset and its command processor, with or without a server around it."""

    version = VERSION
    redis_version = REDIS_VERSION  # what INFO, HELLO and scripts report

    # An instance keeps fewer than 30 attributes: at 30, CPython 3.11 no longer keeps them
    # as its specialised attribute reads expect, and the command path slows (measured: a
    # 16-pipelined INCR 2% dearer with the 30th). Constants are class attributes.
    def __init__(self, config: Config | None = None):
        self.config = config or Config()
        self.dbs = [Keyspace(i, self._expired) for i in range(self.config["databases"])]
        self.dirty = 0
        self.stats = Stats()
        self.clients: dict[int, Client] = {}
        self.server_info: dict[str, object] = {}  # filled in by a network front end
        self.pubsub = PubSub()
        self.cursors = ScanCursors()
        self.sql_engine = SqlEngine()
        self.shutdown: Callable | None = None  # installed by a network front: stop serving
        self._last_client_id = 0
        self.ready: deque = deque()  # (db, key) written while clients block on key
        self.monitors: list = []  # clients in MONITOR mode
        # The key whose write is waking the blocked command being retried (see keys_to_try).
        self.ready_key: bytes | None = None
        self._retried_deadline: float | None = None  # that command's deadline when it first ran
        # Propagation: the writes of the running top-level command as (db index, argv),
        # handed to `log.propagate` when it ends; several at once form one atomic unit.
        self.log = None
        self.persistence = Persistence(self)
        self._propagated: list = []
        self.undo_log: list | None = None  # while a trigger runs: keys saved before writes
        self._replacement: list | None = None
        self._touched: tuple | None = None  # see only_touched
        self._depth = 0
        # Scripting: the script cache and Lua runtime, made on first use (see `lua`). While
        # a script runs past lua-time-limit, `busy` is the -BUSY error other clients get,
        # and the script's time checks call `busy_poll` (installed by a network front) to
        # answer them.
        self.scripts: Scripts | None = None
        self.busy: str | None = None
        self.busy_poll: Callable | None = None
        self.local = self.new_client(kind="local")
        self.api = self.new_client(kind="api")  # db.sql(): typed parameters, typed results
        self._sql_command = lookup(b"sql")
        self.memory_limit: MemoryLimit | None = None
        self.limit_memory()

    # -- clients ---------------------------------------------------------------------

    def new_client(self, kind: str = "normal") -> Client:
        self._last_client_id += 1
        client = Client(self, self._last_client_id, kind)
        if kind == "normal":
            self.clients[client.id] = client
        return client

    def drop_client(self, client: Client) -> None:
        self.clients.pop(client.id, None)
        self.unwatch_all(client)
        if client.blocked is not None:
            self.unblock(client, None)
        self.pubsub.unsubscribe_all(client)
        if client in self.monitors:
            self.monitors.remove(client)

    # -- dispatch --------------------------------------------------------------------

    def limit_memory(self) -> None:
        """Apply the maxmemory setting (at start and after CONFIG SET)."""
        limit = self.config["maxmemory"]
        self.memory_limit = MemoryLimit(limit) if limit else None

    def execute(self, *args):
        """Run one command in-process; returns what a client would receive, raises errors."""
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        reply = self.call(self.local, argv)
        self.serve_ready()
        return to_python(reply)

    def sql(self, statement: str, *params, raw: bool = False):
        """Run one SQL statement in-process; `?` placeholders take params, which are bound
        as values and never parsed as SQL. A SELECT gives a list of row tuples, other
        statements the number of rows they changed (None for DDL); raw=True gives the
        engine's result object (rows with their header)."""
        # SQL's arity is always met: the checks of a request are needed only by a client
        # not yet authenticated or a log refusing writes.
        api, log = self.api, self.log
        checked = self._sql_command if api.plain and (log is None or log.refusal is None) \
            and self.memory_limit is None else None
        reply = self.call(api, [b"SQL", statement.encode(), *params], checked)
        if self.ready:
            self.serve_ready()
        if isinstance(reply, AlchemyError):
            raise reply
        if raw:
            return reply
        if isinstance(reply, Rows):
            return plain_rows(reply)
        return reply.value if isinstance(reply, Count) else None

    @property
    def lua(self):
        """The EVAL script cache and the Lua runtime it runs in (alchemy.scripting)."""
        if self.scripts is None:
            self.scripts = Scripts(self)
        return self.scripts

    def call_while_busy(self, client: Client, argv: list):
        """A request arriving while a script runs past its time limit: only commands
        flagged allow_busy run (SCRIPT KILL, SHUTDOWN NOSAVE, AUTH, ...); the rest get
        -BUSY, as in Redis."""
        cmd = lookup(argv[0])
        checked = cmd and cmd.named_by(argv)
        if checked is not None and "allow_busy" in checked.flags and (
                cmd.name != "shutdown" or b"NOSAVE" in (a.upper() for a in argv[1:])):
            return self.call(client, argv)
        return self._reject(client, AlchemyError(self.busy), checked)

    def call(self, client: Client, argv: list, cmd: Command | None = None):
        """Run a request from a client: the reply, with errors as AlchemyError values.
        Given cmd, argv has passed the checks (EXEC, redis.call and retried waiters run
        their commands so: one function for both spares every request a call)."""
        if cmd is None:
            cmd = seen_spelling(argv[0]) or lookup(argv[0])
            if cmd is None:
                return self._reject(client, unknown_command(argv))
            if len(argv) != cmd.arity and len(argv) < cmd.refuse_below:  # cmd.refuses()
                return self._reject(client, wrong_arity(cmd.name), cmd)
            if self.memory_limit is not None and self.memory_limit.refuses(client, cmd, argv):
                return self._reject(client, AlchemyError(OOM), cmd)
            if not client.plain:
                refused = self._state_refusal(client, cmd, argv)
                if refused is not None:
                    return refused
            if self.log is not None and self.log.refusal is not None and _writes(client, cmd):
                if client.multi is not None:
                    client.multi = None
                    self.unwatch_all(client)
                return self._reject(client, AlchemyError(self.log.refusal), cmd)
        cmd.calls += 1
        client.last_command = cmd.name
        if cmd.write:
            if Table.exists_any and not cmd.table_ok:
                refused = _table_among(client.db, cmd.keys(argv))
                if refused is not None:
                    self.count_error(refused)
                    return refused
            if self.undo_log is not None:
                self._save_for_undo(client.db, cmd.keys(argv))
        dirty = self.dirty
        outer, self._replacement = self._replacement, None
        depth = self._depth  # restored by one store when the handler ends
        self._depth = depth + 1
        start = _clock()
        try:
            reply = cmd.handler(client, argv)
        except AlchemyError as error:
            cmd.failed_calls += 1
            reply = error
            self.count_error(error)
        except Exception as error:  # a bug must cost one reply, not the connection
            log.exception("internal error in %s", cmd.name)
            cmd.failed_calls += 1
            reply = AlchemyError(f"ERR internal error in '{cmd.name}': "
                                 f"{type(error).__name__}: {error}")
            self.count_error(reply)
        finally:
            self._depth = depth
        cmd.seconds += _clock() - start
        if self.monitors and self.ready_key is None:  # (a retried command was shown)
            self.feed_monitors(client, argv, cmd)
        if self.dirty != dirty:
            db = client.db
            touched, self._touched = self._touched, None
            if db.watched or db.blocked:
                for key in cmd.keys(argv) if touched is None else touched:
                    self.touch(db, key)
            if self.log is not None:
                if depth or self._propagated or self._replacement is not None:
                    self._propagate(db.index, cmd, argv)
                elif cmd.write:  # most writes: one command, logged as it ran
                    appendlog = self.log
                    if db.index == appendlog.open_db:  # its record is made with the others
                        appendlog.waiting.append(argv)  # of the pass (AppendLog's docstring)
                    else:
                        appendlog.propagate_one(db.index, argv)
        self._replacement = outer
        if self._propagated and not depth:
            self._flush_propagated()
        return reply

    def _state_refusal(self, client: Client, cmd: Command, argv: list):
        """What a client that is not `plain` gets instead of running cmd: NOAUTH, QUEUED
        inside MULTI, refusal while subscribed; None when cmd runs."""
        if not client.authenticated and not cmd.no_auth:
            return self._reject(client, AlchemyError(NOAUTH), cmd)
        if client.multi is not None and not cmd.no_queue:
            if "no_multi" in cmd.flags:
                return self._reject(client, AlchemyError(
                    f"ERR Command not allowed inside a transaction"), cmd)
            client.multi.append((cmd, argv))
            return QUEUED
        if client.channels or client.patterns:
            if not client.resp3 and "pubsub_ok" not in cmd.flags:
                return self._reject(client, AlchemyError(
                    f"ERR Can't execute '{cmd.name}': only (P|S)SUBSCRIBE / "
                    "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"))
        return None

    def _reject(self, client: Client, error: AlchemyError,
                cmd: Command | None = None) -> AlchemyError:
        if cmd is not None:
            cmd.rejected_calls += 1
        if client.multi is not None:
            client.multi_error = True
            if cmd is not None and cmd.name == "exec":
                # A refused EXEC (a busy script, say) ends the transaction, as in Redis.
                client.multi = None
                client.multi_error = False
                self.unwatch_all(client)
                error = AlchemyError(
                    f"EXECABORT Transaction discarded because of: {error.message}")
        self.count_error(error)
        return error

    def count_error(self, error: AlchemyError) -> None:
        """Count an error reply once in INFO's total_error_replies and errorstats."""
        if error.counted:
            return
        error.counted = True
        stats = self.stats
        stats.error_replies += 1
        code = error.message.split(" ", 1)[0] if " " in error.message[:32] else "ERR"
        # Redis stops adding codes at 128, so scripts inventing codes cannot grow the table.
        if code in stats.errors or len(stats.errors) < MAX_ERROR_CODES:
            stats.errors[code] = stats.errors.get(code, 0) + 1

    def _save_for_undo(self, db: Keyspace, keys: list) -> None:
        """Keep a copy of each key as it is, for a SQL statement to put back if it fails
        after a trigger wrote (alchemy.sql.lua_calls.statement)."""
        for key in keys:
            value = db.get(key)
            saved = None if value is None else TYPES[type(value)].copy(value)
            self.undo_log.append((db, key, saved, db.deadline(key)))

    def log_mark(self) -> int:
        """How many writes wait to be logged: forget_logged_since(mark) drops later ones."""
        return len(self._propagated)

    def forget_logged_since(self, mark: int) -> None:
        del self._propagated[mark:]

    def only_touched(self, *keys: bytes) -> None:
        """The running command changed only these of its keys: WATCH and blocked clients
        hear of these alone, as Redis's explicit signalModifiedKey calls have it (an SMOVE
        of a member the destination already holds changes just the source)."""
        self._touched = keys

    # -- propagation to the log ------------------------------------------------------

    def propagate_as(self, *argvs: list) -> None:
        """Log these commands (argv lists, run in the client's database) instead of the
        running one, as Redis's alsoPropagate/rewrite does: relative times become
        absolute, random choices become what was chosen. Called with none: log nothing.
        Several are logged as one MULTI/EXEC unit."""
        self._replacement = list(argvs)

    def in_command(self) -> bool:
        """Is a command running inside another (EXEC, a script), logged when that ends?"""
        return self._depth > 1

    def _propagate(self, index: int, cmd: Command, argv: list) -> None:
        # Read commands log nothing of their own (their dirt is lazy expiry, logged as DEL);
        # neither do EXEC and scripts, which are not write commands: what they ran is logged.
        if self._replacement is not None:
            self._propagated += [(index, replacement) for replacement in self._replacement]
        elif cmd.write:
            self._propagated.append((index, argv))

    def _flush_propagated(self) -> None:
        writes, self._propagated = self._propagated, []
        self.log.propagate(writes)

    # -- keys changing under watchers and blocked clients -----------------------------

    def touch(self, db: Keyspace, key: bytes) -> None:
        """A key was modified: abort WATCHing transactions, wake clients blocked on it."""
        watchers = db.watched.get(key)
        if watchers:
            for client in watchers:
                client.watch_dirty = True
        if key in db.blocked:
            self.ready.append((db, key))

    def watch(self, client: Client, key: bytes) -> None:
        db = client.db
        if (db, key) in client.watched:
            return
        client.watched.append((db, key))
        db.watched.setdefault(key, set()).add(client)

    def unwatch_all(self, client: Client) -> None:
        for db, key in client.watched:
            watchers = db.watched.get(key)
            if watchers is not None:
                watchers.discard(client)
                if not watchers:
                    del db.watched[key]
        client.watched = []
        client.watch_dirty = False

    def _expired(self, db: Keyspace, key: bytes) -> None:
        self.stats.expired_keys += 1
        self.dirty += 1
        notify.publish(self, db.index, notify.EXPIRED, b"expired", key)
        self.touch(db, key)
        if self.log is not None:
            self._propagated.append((db.index, [b"DEL", key]))
            if not self._depth:
                self._flush_propagated()

    # -- MONITOR ---------------------------------------------------------------------

    def feed_monitors(self, client: Client, argv: list, cmd: Command | None = None) -> None:
        """Show a command to the clients in MONITOR mode, as Redis writes it: the time, the
        database and where it came from, then its arguments quoted (AUTH's redacted).
        Given cmd, only if it (or the subcommand argv names) is neither admin nor a script
        run, which shows itself as it starts (before the commands it calls)."""
        if cmd is not None and not cmd.named_by(argv).monitored:
            return
        source = "lua" if client.kind == "script" else client.address or client.kind
        line = Status(f"{time.time():.6f} [{client.db.index} {source}] "
                      + " ".join(map(_quoted, _redacted(argv))))
        for monitor in self.monitors:
            monitor.push(line)

    # -- blocking commands -----------------------------------------------------------

    def block(self, client: Client, keys: list, timeout: float, argv: list,
              timeout_reply, value_type: type | None = None) -> object:
        """Park client until one of keys is written or timeout seconds pass (0: forever).

        When a key is written and holds a `value_type` (any type when None), the command
        is simply run again for each waiter in arrival order (see serve_ready).
        """
        if self.ready_key is not None:  # a retry waits on until the first call's deadline
            deadline = self._retried_deadline
        else:
            deadline = time.monotonic() + timeout if timeout else None
        keys = list(dict.fromkeys(keys))  # BLPOP k k 0 waits once on k
        client.blocked = (client.db, keys, deadline, argv, timeout_reply, value_type)
        for key in keys:
            client.db.blocked.setdefault(key, deque()).append(client)
        return NO_REPLY

    def unblock(self, client: Client, reply) -> None:
        """Release a blocked client; reply (unless None) is delivered as its answer."""
        db, keys = client.blocked[:2]
        client.blocked = None
        for key in keys:
            waiters = db.blocked.get(key)
            if waiters is not None:
                try:
                    waiters.remove(client)
                except ValueError:
                    pass
                if not waiters:
                    del db.blocked[key]
        if reply is not None and client.push is not None:
            client.push(reply)

    def serve_ready(self) -> None:
        """Retry blocked commands on keys written since the last call.

        Called after every top-level command (an EXEC, a script: at its end). As in Redis
        7.0, a key's waiters are served in arrival order while the key holds the type they
        wait for; a waiter of any type (XREADGROUP) is retried when the key was deleted too,
        to be told so. A retried command takes from that key (keys_to_try), is counted once
        in INFO's commandstats, and if it finds nothing waits on until its first deadline;
        keys its own writes make ready (BLMOVE into a list others wait on) are served in
        this loop.
        """
        while self.ready:
            db, key = self.ready.popleft()
            for client in list(db.blocked.get(key, ())):
                _, _, deadline, argv, _, value_type = client.blocked
                if value_type is not None and type(db.get(key)) is not value_type:
                    continue
                self.unblock(client, None)
                cmd = lookup(argv[0])
                cmd.calls -= 1  # counted when it first ran, as Redis counts a served BLPOP
                self.ready_key, self._retried_deadline = key, deadline
                try:
                    reply = self.call(client, argv, cmd)
                finally:
                    self.ready_key = None
                if reply is not NO_REPLY:
                    client.push(reply)

    def keys_to_try(self, keys: list) -> list:
        """The keys a blocking command looks at: all of them, or when it is retried because
        one became ready, just that one (Redis 7.0 serves a waiter from the key that woke it,
        not from the first non-empty key of its arguments)."""
        return [self.ready_key] if self.ready_key is not None else keys

    def expire_blocked(self) -> None:
        """Answer blocked clients whose timeout has passed."""
        now = time.monotonic()
        for client in list(self.clients.values()):
            if client.blocked is not None:
                deadline = client.blocked[2]
                if deadline is not None and deadline <= now:
                    self.unblock(client, client.blocked[4])

    # -- periodic work ---------------------------------------------------------------

    def cron(self) -> None:
        """Work done hz times a second by whoever drives the engine."""
        budget = 200 * self.config["active-expire-effort"]
        for db in self.dbs:
            if db.expires:
                db.expire_some(budget)
        self.expire_blocked()
        self.serve_ready()
        self.stats.ops_samples.append((time.monotonic(), calls_total()))


def _writes(client: Client, cmd: Command) -> bool:
    """Would running cmd write? An EXEC does when a command it would run does."""
    if cmd.write:
        return True
    return cmd.name == "exec" and any(queued.write for queued, _ in client.multi or ())


def _table_among(db: Keyspace, keys: list) -> AlchemyError | None:
    """Redis write commands may not overwrite or change a SQL table (DEL may drop it)."""
    for key in keys:
        if type(db.data.get(key)) is Table:
            name = key.decode("utf-8", "replace")
            return AlchemyError(f"ERR '{name}' is a SQL table: change it with SQL statements, "
                                "or drop it with DROP TABLE")
    return None


def to_python(reply):
    """A reply as the in-process API returns it: errors raised, statuses as str."""
    if isinstance(reply, AlchemyError):
        raise reply
    if isinstance(reply, Status):
        return reply.text
    if reply is NULL_ARRAY:
        return None
    if isinstance(reply, list):
        return [_item(r) for r in reply]
    return reply


def _item(reply):
    if isinstance(reply, AlchemyError):
        return reply
    return to_python(reply)


# Bytes as C's isprint sees them, and the escapes sdscatrepr writes for the others.
_ESCAPES = {**{c: chr(c) for c in range(0x20, 0x7f)}, 0x5c: "\\\\", 0x22: '\\"',
            0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t", 0x07: "\\a", 0x08: "\\b"}
_REPR = [_ESCAPES.get(c, "\\x%02x" % c) for c in range(256)]


def _quoted(arg: bytes) -> str:
    """An argument as MONITOR shows it (sdscatrepr): in double quotes, escaped."""
    return '"' + "".join(map(_REPR.__getitem__, arg)) + '"'


def _redacted(argv: list) -> list:
    """argv with the secrets of AUTH and HELLO ... AUTH user pass hidden, as Redis hides
    them from monitors."""
    name = argv[0].lower()
    if name == b"auth":
        return [argv[0]] + [b"(redacted)"] * (len(argv) - 1)
    if name == b"hello":
        upper = [arg.upper() for arg in argv]
        if b"AUTH" in upper:
            at = upper.index(b"AUTH")
            return [*argv[:at + 1], *[b"(redacted)"] * len(argv[at + 1:at + 3]),
                    *argv[at + 3:]]
    return argv

