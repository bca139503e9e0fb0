"""The sandboxed Lua 5.1 runtime every Lua feature shares, and redis.* behind it.

One `LuaRuntime` wraps one lupa Lua 5.1 state set up by sandbox.lua. It runs functions
compiled in it (`compile`, `run`) for one caller at a time, as Redis runs scripts:
atomically, with `redis.call`/`redis.pcall` going through `Database.call` with a script
client that starts in the caller's database, under RESP2 until `redis.setresp(3)`.

Limits: lupa's max_memory caps the state's memory; a count hook (every 100k Lua
instructions) checks the time a run has taken. Past `lua-time-limit` the run is "timed
out": `Database.busy` holds the -BUSY error other clients get, and each hook lets the
network front answer them (`Database.busy_poll`, installed by the front); SCRIPT KILL
(`kill`) makes the next hook raise an error the script cannot catch.
"""

import hashlib
import logging
from pathlib import Path
import sys
import time
from typing import Callable

from lupa import lua51

from alchemy.command import Command, lookup
from alchemy.errors import AlchemyError
from alchemy.maxmemory import OOM
from alchemy.reply import OK
from alchemy.scripting import libs
from alchemy.scripting.convert import ToLua, reply_from_tokens, scalar_reply, status_reply
from alchemy.sql.bridge import split_store
from alchemy.sql.documents import plain

log = logging.getLogger("alchemy")


def lua_dir() -> Path:
    """The shipped Lua: lua/ of the checkout (and editable installs), or
    share/alchemy/lua of an installed wheel."""
    checkout = Path(__file__).resolve().parents[2] / "lua"
    return checkout if checkout.is_dir() else Path(sys.prefix) / "share" / "alchemy" / "lua"


SANDBOX = (lua_dir() / "sandbox.lua").read_text()
MAX_MEMORY = 1024 * 1024 * 1024
MEMORY_HEADROOM = MAX_MEMORY // 8
SLICE = 4000  # values unpacked per call when reading a flat table (Lua's C stack is 8000)
POLL_INTERVAL = 0.005  # seconds between two looks at other clients while timed out

BUSY_EVAL = ("BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
             "SHUTDOWN NOSAVE.")
BUSY_FUNCTION = ("BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 "SHUTDOWN NOSAVE.")
LOG_LEVELS = [logging.DEBUG, logging.INFO, logging.INFO, logging.WARNING]


def _no_attributes(obj, name, is_setting):
    raise AttributeError("Python objects are not reachable from Lua")


def _bytes_out(function: Callable) -> Callable:
    """A bridge whose error messages are Python text: Lua must get them as Lua strings
    (a str would cross as a Python object)."""
    def bridge(*args):
        result = function(*args)
        return tuple(x.encode() if type(x) is str else x for x in result)
    return bridge


class ScriptError(Exception):
    """An error redis.call raises into the script: Lua sees a Python object, which the
    sandbox turns into {err=message} wherever a script can catch it (`_error_text`)."""

    def __init__(self, message: str, counted: bool = False):
        super().__init__(message)
        self.message = message
        self.counted = counted  # a command's error reply, already in INFO's error counts


def _error_text(error) -> tuple:
    """(message, counted) of a ScriptError; (None, False) for any other Python object."""
    if isinstance(error, ScriptError):
        return error.message.strip("\r\n").encode("utf-8", "replace"), error.counted
    return None, False


def _raising(function: Callable) -> Callable:
    """A redis.* function answering (value, error message): the message raised as Redis
    raises its errors (a table without a position, here a ScriptError)."""
    def bridge(*args):
        value, message = function(*args)
        if message is not None:
            raise ScriptError(message.decode())
        return value
    return bridge


class Run:
    """The script or function running: what it may do, how long it took. A runtime keeps
    one and resets it for each run (`LuaRuntime.execute`)."""

    __slots__ = ("name", "read_only", "allow_oom", "is_eval", "started", "timed_out",
                 "killed", "wrote", "polled")

    def __init__(self):
        self.name = b""
        self.read_only = False
        self.allow_oom = False  # flag allow-oom: writes go on past maxmemory
        self.is_eval = True
        self.started = 0.0
        self.timed_out = False
        self.killed = False
        self.wrote = False  # a write command ran: SCRIPT KILL would leave half a change
        self.polled = 0.0


class LuaRuntime:
    """A sandboxed Lua 5.1 state bound to a Database."""

    def __init__(self, server):
        self.server = server
        self.running: Run | None = None
        self._run_state = Run()
        self._callable: dict[bytes, tuple] = {}  # see _callable_entry
        self.client = server.new_client(kind="script")
        self.sql_client = server.new_client(kind="api")  # alchemy.sql: typed values
        lua = self.lua = lua51.LuaRuntime(
            encoding=None, register_eval=False, register_builtins=False,
            unpack_returned_tuples=True, attribute_filter=_no_attributes,
            max_memory=MAX_MEMORY)
        table_from = lua.table_from
        version = server.redis_version.split(".")
        bridges = {
            b"call": self._redis_call(True),
            b"pcall": self._redis_call(False), b"error_text": _error_text,
            b"check_time": self._check_time,
            b"sha1hex": _raising(self._sha1hex), b"log": _raising(self._log),
            b"setresp": _raising(self._setresp), b"set_repl": _raising(self._set_repl),
            b"acl_check_cmd": _raising(self._acl_check_cmd),
            b"sql": _raising(self._sql),
            b"ok_reply": OK,  # what a script returning {ok="OK"} answers (sandbox.lua finish)
            b"memory_high_kb": (MAX_MEMORY - MEMORY_HEADROOM) // 1024,
            b"redis_version": server.redis_version.encode(),
            b"redis_version_num": (int(version[0]) << 16) | (int(version[1]) << 8)
            | int(version[2]),
            b"bit": table_from({name.encode(): _bytes_out(f) for name, f in libs.BIT.items()}),
            b"json_decode": _bytes_out(libs.json_decoder(table_from)),
            b"msgpack_pack": libs.msgpack_packer(self.read_flat),
            b"msgpack_unpack": _bytes_out(libs.msgpack_unpacker(table_from)),
            b"struct_pack": _bytes_out(libs.struct_pack),
            b"struct_unpack": _bytes_out(libs.struct_unpack),
            b"struct_size": _bytes_out(libs.struct_size),
        }
        api = lua.execute(SANDBOX, table_from(bridges), name="=alchemy")
        self._run = api[b"run"]
        self._eval_entry = api[b"eval_entry"]
        self._run_raw = api[b"run_raw"]
        self.internals = api[b"internals"]  # what functions.lua builds on
        self._compile = api[b"compile"]
        self._slice = api[b"slice"]
        self.table_from = table_from
        self.to_lua = ToLua(table_from, api[b"status"], api[b"failure"], api[b"ok_tables"])
        self._oks = self.to_lua.oks  # the same list: redis.call pops from it inline
        lua.gccollect()  # the setup's garbage: a fresh state starts as small as it can

    # -- compiling and running ---------------------------------------------------------

    def compile(self, body: bytes, chunkname: bytes = b"@user_script"):
        """A Lua function from source text; AlchemyError with Lua's message if it does not
        compile (binary chunks never do)."""
        function, message = self._compile(body, chunkname)
        if function is None:
            raise AlchemyError(f"ERR Error compiling script (new function): "
                               f"{message.decode('utf-8', 'replace')}")
        return function

    def run(self, caller, name: str, function, args: tuple = (), read_only: bool = False,
            is_eval: bool = True, allow_oom: bool = False):
        """Call a compiled function with args (Lua values) for caller (a Client) and
        return its result as a reply; a Lua error raises AlchemyError ending with the
        script's name and line, as Redis words it."""
        name = name.encode()
        return self.execute(caller, name, read_only, is_eval, self._run,
                            (name, function, *args), allow_oom)

    def eval_entry(self, name: bytes, function):
        """The Lua function that runs an EVAL script compiled here: called with the key
        count, then the keys and arguments (the numkeys first values become the global
        KEYS, the rest ARGV)."""
        return self._eval_entry(name, function)

    def run_raw(self, caller, name: str, function, args: tuple = (), read_only: bool = False):
        """Call a compiled function for the Python API: its first result as a Lua value
        (a table stays a lupa table), under the same limits as a script."""
        name = name.encode()
        return self.execute(caller, name, read_only, False, self._run_raw,
                            (name, function, *args))

    def execute(self, caller, name: bytes, read_only: bool, is_eval: bool, entry,
                lua_args: tuple, allow_oom: bool = False):
        """Call entry (a Lua function of sandbox.lua's: an eval_entry, `run`, `run_raw`)
        with lua_args as the run of script `name` for caller; its answer as a reply."""
        if self.running is not None:
            raise AlchemyError("ERR a script is already running")
        server = self.server
        client = self.client
        client.db = caller.db
        client.resp3 = False
        run = self._run_state
        run.name, run.read_only, run.is_eval = name, read_only, is_eval
        run.allow_oom = allow_oom
        run.started = time.monotonic()
        run.wrote = False  # timed_out, killed and polled are reset by the run that set them
        self.running = run
        dirty = server.dirty
        try:
            result = entry(*lua_args)
        except lua51.LuaMemoryError:
            # Scripts keep nothing between runs: this is garbage, and lupa's own calls
            # outside a script need room (a failed allocation there aborts). The end of a
            # run that did not fail does this in Lua (sandbox.lua `finish`).
            self.lua.gccollect()
            result = (2, b"ERR Error running script, not enough memory")
        finally:
            self.running = None
            if run.timed_out:
                server.busy = None
                run.timed_out = run.killed = False
                run.polled = 0.0
        if server.dirty != dirty:
            server.only_touched()  # the commands it ran signalled their own keys
        kind = type(result)
        if kind is bytes:
            return result
        if kind is not tuple:  # another scalar or OK itself (a Lua value is never a tuple)
            return result if result is OK else scalar_reply(result, client.resp3)
        status, value = result[0], result[1]
        if status == 5:
            return value
        if status == 1:
            return reply_from_tokens(self.read_flat(value, result[2]), client.resp3)
        if status == 3:
            return status_reply(value)
        error = AlchemyError(value.decode("utf-8", "replace"))
        error.counted = len(result) > 2 and result[2] is True  # from redis.call or pcall
        raise error

    def read_flat(self, table, count: int) -> list:
        """The values 1..count of a Lua table, read a slice at a time."""
        values: list = []
        for start in range(1, count + 1, SLICE):
            chunk = self._slice(table, start, min(start + SLICE - 1, count))
            values.extend(chunk if type(chunk) is tuple else (chunk,))
        return values

    def memory(self) -> int:
        return self.lua.get_memory_used()

    # -- time limit and SCRIPT KILL ----------------------------------------------------

    def _check_time(self) -> bool:
        """The count hook: True when the run was killed (the hook then raises)."""
        run = self.running
        if run is None:
            return False
        now = time.monotonic()
        if not run.timed_out:
            limit = self.server.config["lua-time-limit"]
            if limit <= 0 or (now - run.started) * 1000 < limit:
                return False
            run.timed_out = True
            self.server.busy = BUSY_EVAL if run.is_eval else BUSY_FUNCTION
            log.warning("Slow script detected: still in execution after %d milliseconds. "
                        "You can try killing the script using the %s command. "
                        "Script name is: %s.", (now - run.started) * 1000,
                        "SCRIPT KILL" if run.is_eval else "FUNCTION KILL",
                        run.name.decode("utf-8", "replace"))
        poll = self.server.busy_poll
        if poll is not None and now - run.polled >= POLL_INTERVAL:
            run.polled = now
            poll()
        return run.killed

    def kill(self, is_eval: bool) -> None:
        """SCRIPT KILL (is_eval) or FUNCTION KILL of the running script."""
        run = self.running
        if run is None:
            raise AlchemyError("NOTBUSY No scripts in execution right now.")
        if run.wrote:
            raise AlchemyError(
                "UNKILLABLE Sorry the script already executed write commands against the "
                "dataset. You can either wait the script termination or kill the server in "
                "a hard way using the SHUTDOWN NOSAVE command.")
        if is_eval != run.is_eval:
            raise AlchemyError(BUSY_FUNCTION if is_eval else BUSY_EVAL)
        run.killed = True

    # -- redis.call / redis.pcall ------------------------------------------------------

    def _redis_call(self, raising: bool) -> Callable:
        """redis.call (raising: an error reply raises a ScriptError) or redis.pcall (an
        error comes back as an {err=...} table): a function giving the command's reply as
        a Lua value. A closure, which lupa calls without the layers a functools.partial of
        a bound method adds (measured: 440 instructions a call). A command called before
        by the same name is known from `_callable` with one dict lookup; the first call
        of a name, a container and every refused call take `_callable_entry`, which
        checks in Redis's order."""
        runtime, server, client, known = self, self.server, self.client, self._callable.get

        def call(*args):
            run = runtime.running
            try:
                entry = known(args[0]) if args and run is not None else None
                if entry is None:
                    entry = runtime._callable_entry(run, args)
                cmd, checked, arity, least, writes = entry
                try:
                    # One C call sees they are all strings (a number raises): it copies
                    # them once, cheaper than a Python loop over the usual short ones.
                    _join(args)
                    argv = [*args]
                except TypeError:
                    argv = [_argument(arg) for arg in args]
                given = len(argv)  # Command.refuses, without the call
                if given != arity and given < least:
                    raise _rejected(checked, "ERR Wrong number of args calling Redis "
                                             "command from script")
                if writes:
                    if run.read_only:
                        raise _rejected(checked, "ERR Write commands are not allowed from "
                                                 "read-only scripts.")
                    log_ = server.log
                    if log_ is not None and log_.refusal is not None:
                        raise _rejected(checked, log_.refusal)
                    limit = server.memory_limit
                    # Past maxmemory when the script started, only its first write is
                    # refused: a later one would leave half a change (Redis's rule).
                    if limit is not None and limit.exceeded and checked.denyoom and not (
                            run.wrote or run.allow_oom):
                        raise _rejected(checked, OOM)
                    if checked.write:
                        run.wrote = True
                reply = server.call(client, argv, cmd)
            except AlchemyError as error:
                server.count_error(error)
                reply = error
            except Exception as error:  # a bug must cost one error reply, nothing more
                log.exception("internal error in redis.call")
                reply = AlchemyError(
                    f"ERR internal error: {type(error).__name__}: {error}")
                server.count_error(reply)
            kind = type(reply)
            if kind is bytes or kind is int:  # most replies: no table to build
                return reply
            if reply is None:
                return None if client.resp3 else False
            if reply is OK:  # what writes answer: a fresh {ok="OK"}, made in batches
                oks = runtime._oks
                return oks.pop() if oks else runtime.to_lua.ok()
            if raising and isinstance(reply, AlchemyError):
                raise ScriptError(reply.message, counted=True)
            return runtime.to_lua(reply, client.resp3)

        return call

    def _callable_entry(self, run: Run | None, args: tuple) -> tuple:
        """What redis.call needs to know of the command args call: (command, the
        subcommand checked or the command itself, its arity, the counts below which it
        refuses others, may write); an error for a call that cannot run, checked in
        Redis's order. Kept by name for commands without subcommands that scripts may
        call."""
        if run is None:
            raise AlchemyError("ERR redis.call/pcall can only be called inside a "
                               "script invocation")
        if not args:
            raise AlchemyError("ERR Please specify at least one argument for this "
                               "redis lib call")
        argv = [_argument(arg) for arg in args]
        cmd = lookup(argv[0])
        checked = _subcommand(cmd, argv)
        if checked is None:
            raise AlchemyError("ERR Unknown Redis command called from script")
        if checked.refuses(len(argv)):
            raise _rejected(checked, "ERR Wrong number of args calling Redis command "
                                     "from script")
        flags = checked.flags
        if "noscript" in flags:
            raise _rejected(checked, "ERR This Redis command is not allowed from script")
        entry = (cmd, checked, checked.arity, checked.refuse_below,
                 checked.write or "may_replicate" in flags)
        if not cmd.subcommands and len(self._callable) < 4096:
            self._callable[args[0]] = entry
        return entry

    # -- the rest of the redis table ---------------------------------------------------

    # Each answers (value, error message); `_raising` turns the message into ScriptError.

    def _sha1hex(self, *args):
        if len(args) != 1:
            return None, b"ERR wrong number of arguments"
        return hashlib.sha1(_text(args[0])).hexdigest().encode(), None

    def _log(self, *args):
        if len(args) < 2:
            return None, b"ERR redis.log() requires two arguments or more."
        level = args[0]
        if type(level) not in (int, float):
            return None, b"ERR First argument must be a number (log level)."
        if not 0 <= level <= 3:
            return None, b"ERR Invalid debug level."
        message = b" ".join(_text(arg) for arg in args[1:] if type(arg) in (bytes, int, float))
        log.log(LOG_LEVELS[int(level)], "%s", message.decode("utf-8", "replace"))
        return None, None

    def _setresp(self, *args):
        if self.running is None:
            return None, b"ERR redis.setresp can only be called inside a script invocation"
        if len(args) != 1:
            return None, b"ERR redis.setresp() requires one argument."
        if args[0] not in (2, 3):
            return None, b"ERR RESP version must be 2 or 3."
        self.client.resp3 = args[0] == 3
        return None, None

    def _set_repl(self, *args):
        # Only the log exists (no replicas): the flags are checked, writes are logged.
        if len(args) != 1:
            return None, b"ERR redis.set_repl() requires two arguments."
        flags = args[0]
        if type(flags) not in (int, float) or int(flags) & ~3:
            return None, (b"ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, "
                          b"REPL_ALL or REPL_NONE.")
        return None, None

    def _acl_check_cmd(self, *args):
        # No ACL users: whoever runs the script may run every command.
        if not args or type(args[0]) is not bytes or _subcommand(lookup(args[0]),
                                                                 list(args)) is None:
            return None, b"ERR Invalid command passed to redis.acl_check_cmd()"
        return True, None

    def _sql(self, statement=None, *params):
        """alchemy.sql(statement, params...): rows as tables keyed by column name, or
        the number of rows a statement changed (nil for DDL)."""
        run = self.running
        if run is None or type(statement) is not bytes:
            return None, b"ERR bad argument #1 to 'sql' (string expected)"
        text = statement.decode("utf-8", "replace")
        if not _reads_only(text):
            if run.read_only:
                return None, b"ERR Write commands are not allowed from read-only scripts."
            run.wrote = True
        values = tuple(p.decode("utf-8", "replace") if type(p) is bytes else p
                       for p in params)
        client = self.sql_client
        client.db = self.client.db
        reply = self.server.call(client, [b"SQL", statement, *values], lookup(b"sql"))
        if isinstance(reply, AlchemyError):
            return None, reply.message.encode("utf-8", "replace")
        rows = getattr(reply, "rows", None)
        if rows is None:
            return getattr(reply, "value", None), None
        names = [name.encode() for name in reply.header]
        table_from = self.table_from
        return table_from([table_from({name: self._lua_value(v)
                                       for name, v in zip(names, row) if v is not None})
                           for row in rows]), None

    def _lua_value(self, value):
        """A SQL value for Lua: text as a string, a document as tables."""
        value = plain(value)
        kind = type(value)
        if kind is str:
            return value.encode()
        if kind is dict:
            return self.table_from({self._lua_value(k): self._lua_value(v)
                                    for k, v in value.items() if v is not None})
        if kind is list or kind is tuple:
            return self.table_from([self._lua_value(v) for v in value])
        if isinstance(value, bytes):
            return bytes(value)
        if value is None or kind in (int, float, bool):
            return value
        return str(value).encode()


def _subcommand(cmd: Command | None, argv: list) -> Command | None:
    """The command a call runs: a container's subcommand when it has them."""
    if cmd is None or not cmd.subcommands or len(argv) < 2:
        return cmd
    return cmd.subcommands.get(argv[1].lower())


def _rejected(cmd: Command, message: str) -> AlchemyError:
    cmd.rejected_calls += 1
    return AlchemyError(message)


_join = b"".join


def _argument(value) -> bytes:
    kind = type(value)
    if kind is bytes:
        return value
    if kind is int and -10**17 < value < 10**17:
        return b"%d" % value
    if kind is int or kind is float:
        return b"%.17g" % value  # Redis formats Lua numbers with %.17g
    raise AlchemyError("ERR Lua redis lib command arguments must be strings or integers")


def _text(value) -> bytes:
    """tostring() of a string or number, as Lua 5.1 writes numbers (%.14g)."""
    if type(value) is bytes:
        return value
    if type(value) in (int, float):
        return b"%.14g" % value
    return b""


_READ_WORDS = {"SELECT", "SHOW", "DESC", "DESCRIBE", "EXPLAIN", "SCAN"}


def _reads_only(text: str) -> bool:
    words = text.split(None, 1)
    return bool(words) and words[0].upper() in _READ_WORDS and split_store(text) is None
