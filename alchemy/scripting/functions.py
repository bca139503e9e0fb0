"""Stored procedures: FUNCTION libraries (Redis 7.0) and INTERPRET's global functions
(AlchemyDB), in a Lua runtime of their own.

Libraries live in their own sandboxed Lua state, as in Redis, so SCRIPT FLUSH (which
starts EVAL's state afresh) leaves them alone. A library is its source text: FUNCTION
LOAD compiles it and runs it once with only `redis.register_function` and the logging
parts of `redis` in reach (functions.lua); the callbacks it registers become functions
that FCALL calls by name (any case) with KEYS and ARGV as their two arguments.

INTERPRET LUA code runs in the same state, in an environment of its own where it may
define globals (INTERPRET's globals; EVAL scripts and library code cannot see them, and
they cannot shadow the sandbox's). LUAFUNC calls such a global function with its
arguments. What a restart rebuilds: the libraries, and the sources of the INTERPRET calls
that succeeded, run again in order (the snapshot keeps both, see `sections`: each distinct
source once, at its last place; the log keeps the commands as sent). Globals are only
taken while an INTERPRET runs and a failed INTERPRET puts them back, so the globals are
always what those sources make. Its redis.call may read but not write: the code runs
again at every restart. (A table a global holds can still be changed in place by a later
call; such changes are not kept: state that must last belongs in keys or tables.)

For the engine (SQL calling "a Lua function by name", triggers): `call_function(name,
args)` calls a library function or an INTERPRET global with Python values and gives the
result back as Python values.
"""

from dataclasses import dataclass, field
import logging
import os
from pathlib import Path
import re
import struct
import time

from lupa import lua51

from alchemy.errors import AlchemyError
from alchemy.maxmemory import refuse_script_past_limit
from alchemy.reply import Status
from alchemy.resp import split_args
from alchemy.scripting.runtime import LuaRuntime, lua_dir
from alchemy.util import open_payload, seal_payload

log = logging.getLogger("alchemy")

FUNCTIONS_LUA = (lua_dir() / "functions.lua").read_text()
LUA_DIR = lua_dir()
LOAD_TIMEOUT = 0.5  # seconds library code may run at FUNCTION LOAD, as in Redis
FLAG_ORDER = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")
NAME = re.compile(rb"[A-Za-z0-9_]+\Z")
BAD_NAME = ("Library names can only contain letters, numbers, or underscores(_) and must be "
            "at least one character long")
MAX_DEPTH = 100  # nesting of a Lua table given back to Python

# FUNCTION DUMP's payload: u8 length + b"functions", u32 library count, each library's
# code as u32 length + bytes; sealed by util.seal_payload.
DUMP_TAG = bytes([9]) + b"functions"


@dataclass(eq=False)
class Function:
    name: bytes
    library: bytes  # the name of the library that registered it
    callback: object  # the Lua function
    description: bytes | None
    flags: tuple  # names from FLAG_ORDER, in that order


@dataclass(eq=False)
class Library:
    name: bytes
    code: bytes  # the whole text FUNCTION LOAD got, #! line included
    functions: dict = field(default_factory=dict)  # name as registered -> Function


class Functions:
    """The function libraries, INTERPRET's globals, and the Lua state they live in."""

    def __init__(self, server):
        self.server = server
        self._runtime: LuaRuntime | None = None
        self._lua: dict = {}
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, Function] = {}  # lower-cased name -> Function
        self.interpreted: list[bytes] = []  # sources of the INTERPRET calls that succeeded
        self.calling: list | None = None  # argv of the FCALL/LUAFUNC running (STATS)

    @property
    def runtime(self) -> LuaRuntime:
        """The Lua state, made on first use."""
        return self._runtime or self._start()

    def _start(self) -> LuaRuntime:
        runtime = LuaRuntime(self.server)
        api = runtime.lua.execute(FUNCTIONS_LUA, runtime.internals, name="=alchemy")
        self._lua = {key.decode(): api[key] for key in api}
        self._runtime = runtime
        return runtime

    def _entry(self, name: str):
        """One of the functions functions.lua answers."""
        if self._runtime is None:
            self._start()
        return self._lua[name]

    def running(self) -> LuaRuntime | None:
        """The runtime when one of its functions is running."""
        runtime = self._runtime
        return runtime if runtime is not None and runtime.running is not None else None

    # -- libraries ------------------------------------------------------------------------

    def load(self, code: bytes, replace: bool = False) -> bytes:
        """FUNCTION LOAD: compile a library and link it; its name. Nothing changes when it
        fails (a replaced library stays)."""
        name, body = library_metadata(code)
        if name in self.libraries and not replace:
            raise AlchemyError(f"ERR Library '{_text(name)}' already exists")
        self._join([self._create(name, code, body)])
        return name

    def _create(self, name: bytes, code: bytes, body: bytes) -> Library:
        """Run a library's code, collecting what it registers (not yet linked)."""
        library = Library(name, code)

        def register(fname, callback, description, flags):
            if not NAME.match(fname):
                return BAD_NAME.encode()
            if fname in library.functions:
                return b"Function already exists in the library"
            given = flags.decode().split(",")
            library.functions[fname] = Function(fname, name, callback, description,
                                                tuple(f for f in FLAG_ORDER if f in given))
            return None

        expired = None
        if not self.server.persistence.loading:  # replaying: run what was once accepted
            deadline = time.monotonic() + LOAD_TIMEOUT
            expired = lambda: time.monotonic() > deadline  # noqa: E731
        try:
            status, message = _pair(self._entry("load_library")(body, register, expired))
        except lua51.LuaMemoryError:
            status, message = 2, b"ERR not enough memory"
        if status == 1:
            raise AlchemyError(f"ERR Error compiling function: {_text(message)}")
        if status == 2:
            raise AlchemyError(f"ERR Error registering functions: {_text(message)}")
        if not library.functions:
            raise AlchemyError("ERR No functions registered")
        return library

    def _join(self, libraries: list) -> None:
        """Link libraries, each in place of the one of its name if there is one; unless
        a function of theirs has the name of a function another library keeps: then
        nothing changes."""
        replaced = {library.name for library in libraries}
        for library in libraries:
            for name in library.functions:
                owner = self.functions.get(name.lower())
                if owner is not None and owner.library not in replaced:
                    raise AlchemyError(f"ERR Function {_text(name)} already exists")
        for library in libraries:
            if library.name in self.libraries:
                self._unlink(self.libraries[library.name])
            self._link(library)

    def _link(self, library: Library) -> None:
        self.libraries[library.name] = library
        for name, function in library.functions.items():
            self.functions[name.lower()] = function

    def _unlink(self, library: Library) -> None:
        del self.libraries[library.name]
        for name in library.functions:
            self.functions.pop(name.lower(), None)

    def delete(self, name: bytes) -> None:
        library = self.libraries.get(name)
        if library is None:
            raise AlchemyError("ERR Library not found")
        self._unlink(library)

    def flush(self) -> None:
        self.libraries, self.functions = {}, {}

    def function_count(self) -> int:
        return len(self.functions)

    # -- DUMP / RESTORE -------------------------------------------------------------------

    def dump(self) -> bytes:
        """Every library's source, in a versioned, checksummed payload."""
        return seal_payload(DUMP_TAG + struct.pack("<I", len(self.libraries)) + b"".join(
            struct.pack("<I", len(library.code)) + library.code
            for library in self.libraries.values()))

    def restore(self, payload: bytes, policy: bytes = b"APPEND") -> None:
        """FUNCTION RESTORE: compile the payload's libraries, then add them by policy
        (FLUSH: instead of the current ones; APPEND: a name taken is an error; REPLACE:
        theirs replace ours). Nothing changes when it fails."""
        codes = _dumped_codes(payload)
        restored: dict[bytes, Library] = {}
        names: set = set()  # the payload's function names, lower-cased
        for code in codes:
            name, body = library_metadata(code)
            if name in restored:
                raise AlchemyError(f"ERR Library '{_text(name)}' already exists")
            library = self._create(name, code, body)
            for fname in library.functions:
                if fname.lower() in names:
                    raise AlchemyError(f"ERR Function {_text(fname)} already exists")
                names.add(fname.lower())
            restored[name] = library
        if policy == b"FLUSH":
            self.flush()
        taken = [name for name in restored if name in self.libraries]
        if taken and policy != b"REPLACE":
            raise AlchemyError(f"ERR Library {_text(taken[0])} already exists")
        self._join(list(restored.values()))

    # -- calling --------------------------------------------------------------------------

    def fcall(self, ctx, argv: list, read_only: bool):
        """FCALL / FCALL_RO name numkeys key... arg..."""
        function = self.functions.get(argv[1].lower())
        if function is None:
            raise AlchemyError("ERR Function not found")
        try:
            numkeys = int(argv[2])
        except ValueError:
            raise AlchemyError("ERR Bad number of keys provided") from None
        if numkeys > len(argv) - 3:
            raise AlchemyError("ERR Number of keys can't be greater than number of args")
        if numkeys < 0:
            raise AlchemyError("ERR Number of keys can't be negative")
        no_writes = "no-writes" in function.flags
        if read_only and not no_writes:
            raise AlchemyError("ERR Can not execute a script with write flag using *_ro "
                               "command.")
        allow_oom = "allow-oom" in function.flags
        refuse_script_past_limit(ctx.server, no_writes or allow_oom)
        runtime = self.runtime
        table_from = runtime.table_from
        args = (table_from(argv[3:3 + numkeys]), table_from(argv[3 + numkeys:]))
        if ctx.server.monitors:  # shown before the commands it calls (skip_monitor)
            ctx.server.feed_monitors(ctx, argv)
        return self._run(ctx, argv, function.name, function.callback, args,
                         read_only or no_writes, allow_oom)

    def _run(self, ctx, argv: list, name: bytes, callback, args: tuple, read_only: bool,
             allow_oom: bool = False):
        self.calling = argv
        try:
            return self.runtime.run(ctx, _text(name), callback, args, read_only=read_only,
                                    is_eval=False, allow_oom=allow_oom)
        finally:
            self.calling = None

    def luafunc(self, ctx, argv: list):
        """LUAFUNC name arg...: call a global function INTERPRET defined."""
        callback = self._entry("user_function")(argv[1])
        if callback is None:
            raise AlchemyError(f"ERR LUAFUNC: no function '{_text(argv[1])}' (functions "
                               f"are defined with INTERPRET)")
        if ctx.server.monitors:
            ctx.server.feed_monitors(ctx, argv)
        return self._run(ctx, argv, argv[1], callback, tuple(argv[2:]), False)

    def call_function(self, name: str, args: list, caller=None, read_only: bool = False):
        """Call a function by name, for the engine: a FUNCTION library's (any case) or
        an INTERPRET global, with args as its arguments (Python values: str, bytes,
        numbers, bool, None, lists and dicts become Lua values). The result as Python
        values: strings as str (bytes when not UTF-8), numbers as int when whole,
        tables as lists (1..n) or dicts. A Lua error raises AlchemyError. read_only:
        its redis.call may not write (also when it runs inside a running function)."""
        key = name.encode() if isinstance(name, str) else name
        function = self.functions.get(key.lower())
        callback = function.callback if function is not None \
            else self._entry("user_function")(key)
        if callback is None:
            raise AlchemyError(f"ERR no Lua function '{_text(key)}'")
        lua_args = tuple(self._to_lua(arg) for arg in args)
        runtime = self.runtime
        run = runtime.running
        if run is not None:  # reached from a function that is running
            outer, run.read_only = run.read_only, run.read_only or read_only
            try:
                status, value = _pair(self._entry("call_nested")(callback, *lua_args))
            finally:
                run.read_only = outer
            if status != 5:
                raise AlchemyError(_text(value))
        else:
            value = runtime.run_raw(caller or self.server.local, _text(key), callback,
                                    lua_args, read_only)
        return _from_lua(value, 0)

    def has_function(self, name: str) -> bool:
        """Is there a library function or an INTERPRET global function by this name?"""
        key = name.encode() if isinstance(name, str) else name
        if key.lower() in self.functions:
            return True
        return self._runtime is not None and self._entry("user_function")(key) is not None

    def _to_lua(self, value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise AlchemyError("ERR value nested too deeply for Lua")
        if isinstance(value, str):
            return value.encode()
        if isinstance(value, dict):
            return self.runtime.table_from({self._to_lua(k, depth + 1): self._to_lua(v, depth + 1)
                                            for k, v in value.items()})
        if isinstance(value, (list, tuple)):
            return self.runtime.table_from([self._to_lua(v, depth + 1) for v in value])
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        return value  # bytes, int, float, bool, None pass as they are

    # -- INTERPRET ------------------------------------------------------------------------

    def interpret(self, ctx, source: bytes):
        """Run INTERPRET code (read-only, see above) and keep its source; its reply."""
        function, message = _pair(self._entry("interpret_compile")(source))
        if function is None:
            raise AlchemyError(f"ERR Error compiling script (new function): "
                               f"{_text(message)}")
        self._entry("begin_defining")()
        ok = False
        try:
            reply = self._run(ctx, [b"INTERPRET", b"LUA", source], b"interpret", function,
                              (), True)
            ok = True
        finally:
            self._entry("end_defining")(ok)
        if source in self.interpreted:
            self.interpreted.remove(source)
        self.interpreted.append(source)
        return reply

    # -- persistence ----------------------------------------------------------------------

    def sections(self) -> dict:
        """What a snapshot keeps: the libraries (as FUNCTION DUMP has them) and the
        INTERPRET sources that defined globals."""
        sections = {}
        if self.libraries:
            sections[b"functions"] = self.dump()
        if self.interpreted:
            sections[b"interpret"] = b"".join(struct.pack("<Q", len(source)) + source
                                              for source in self.interpreted)
        return sections

    def load_sections(self, sections: dict) -> None:
        """Rebuild from a snapshot's sections (start-up, before the log is replayed)."""
        if b"functions" in sections:
            self.restore(sections[b"functions"], b"FLUSH")
        data = sections.get(b"interpret", b"")
        at = 0
        while at < len(data):
            (length,) = struct.unpack_from("<Q", data, at)
            self.interpret(self.server.local, data[at + 8:at + 8 + length])
            at += 8 + length


def library_metadata(code: bytes) -> tuple[bytes, bytes]:
    """The library name a `#!lua name=<name>` first line gives, and the code from that
    line's end on (so line numbers stay the user's). Errors worded as Redis's."""
    if not code.startswith(b"#!"):
        raise AlchemyError("ERR Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise AlchemyError("ERR Invalid library metadata")
    parts = split_args(code[:end])
    if not parts:
        raise AlchemyError("ERR Invalid library metadata")
    engine, name = parts[0][2:], None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise AlchemyError("ERR Invalid metadata value, name argument was given "
                                   "multiple times")
            name = part[5:]
            continue
        raise AlchemyError(f"ERR Invalid metadata value given: {_text(part)}")
    if name is None:
        raise AlchemyError("ERR Library name was not given")
    if not NAME.match(name):
        raise AlchemyError(f"ERR {BAD_NAME}")
    if engine.lower() != b"lua":
        raise AlchemyError(f"ERR Engine '{_text(engine)}' not found")
    return name, code[end:]


def flags_reply(function: Function, resp3: bool):
    """A function's flags as FUNCTION LIST gives them: a set of statuses (under RESP2
    a list, in Redis's order)."""
    flags = [Status(flag) for flag in function.flags]
    return set(flags) if resp3 else flags


def _dumped_codes(payload: bytes) -> list:
    """The library sources in a FUNCTION DUMP payload, checked and never executed here."""
    data = open_payload(payload)
    if not data.startswith(DUMP_TAG):
        raise AlchemyError("ERR given type is not a function")
    body = data[len(DUMP_TAG):]
    try:
        (count,) = struct.unpack_from("<I", body, 0)
        codes, at = [], 4
        for _ in range(count):
            (length,) = struct.unpack_from("<I", body, at)
            codes.append(body[at + 4:at + 4 + length])
            at += 4 + length
    except struct.error:
        raise AlchemyError("ERR failed loading the given functions payload") from None
    if at != len(body) or any(len(code) == 0 for code in codes):
        raise AlchemyError("ERR failed loading the given functions payload")
    return codes


def _pair(result) -> tuple:
    """The first two values a Lua function answered (missing ones as None)."""
    if type(result) is not tuple:
        return result, None
    return (result + (None, None))[:2]


def _from_lua(value, depth: int):
    """A Lua value as a Python one (see Functions.call_function)."""
    kind = type(value)
    if kind is bytes:
        try:
            return value.decode()
        except UnicodeDecodeError:
            return value
    if kind is float and value.is_integer():
        return int(value)
    if kind in (int, float, bool) or value is None:
        return value
    if lua51.lua_type(value) != "table":
        return None  # functions, userdata, threads: nothing a caller can use
    if depth > MAX_DEPTH:
        raise AlchemyError("ERR Lua table nested too deeply")
    items = {_from_lua(k, depth + 1): _from_lua(v, depth + 1) for k, v in value.items()}
    if all(type(k) is int for k in items) and sorted(items) == list(range(1, len(items) + 1)):
        return [items[i] for i in range(1, len(items) + 1)]
    return items


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def lua_file(server, name: bytes) -> bytes:
    """The text of a file INTERPRET LUAFILE may read: under the install's lua/ folder or
    the server's data directory, named by a path without `..` that stays inside that
    folder once symlinks are resolved."""
    path = os.fsdecode(name)
    if not path or ".." in Path(path).parts or "\0" in path:
        raise AlchemyError("ERR INTERPRET LUAFILE reads files under lua/ or the data "
                           "directory only")
    for root in (LUA_DIR, Path(server.config["dir"])):
        root = root.resolve()
        candidate = Path(path) if os.path.isabs(path) else root / path
        resolved = candidate.resolve()
        if resolved.is_relative_to(root) and resolved.is_file():
            try:
                return resolved.read_bytes()
            except OSError as e:
                raise AlchemyError(f"ERR INTERPRET LUAFILE: {e.strerror}") from None
    raise AlchemyError("ERR INTERPRET LUAFILE reads files under lua/ or the data directory "
                       "only (no such file there)")
