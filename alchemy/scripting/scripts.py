"""EVAL's script cache: bodies by SHA1, each compiled once into the shared runtime.

As in Redis 7, a body may start with a shebang, `#!lua flags=no-writes,allow-oom`: the
flags then decide what the script may do (without one, EVAL_RO alone makes it
read-only). The cache is not persisted: SCRIPT FLUSH, or a restart, empties it and
EVALSHA answers NOSCRIPT until the script is loaded again.
"""

from dataclasses import dataclass
import hashlib

from alchemy.errors import AlchemyError
from alchemy.resp import split_args
from alchemy.scripting.functions import Functions
from alchemy.scripting.runtime import LuaRuntime

SHEBANG_FLAGS = {b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster",
                 b"allow-cross-slot-keys"}
NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."


@dataclass(eq=False)
class Script:
    body: bytes
    name: bytes  # its SHA1 in hex, the name errors give
    entry: object  # the Lua function that runs it (LuaRuntime.eval_entry)
    flags: frozenset | None  # None: no shebang (Redis's compatibility mode)


class Scripts:
    """The scripts EVAL and SCRIPT LOAD cached, and the runtime they run in; the stored
    procedures (FUNCTION, INTERPRET) in `functions`, with a runtime of their own."""

    def __init__(self, server):
        self.server = server
        self.runtime = LuaRuntime(server)
        self.cache: dict[bytes, Script] = {}
        self.functions = Functions(server)

    def load(self, body: bytes) -> bytes:
        """Compile and cache a body; its SHA1 in hex. O(length of the body)."""
        return self.by_body(body).name

    def by_body(self, body: bytes) -> Script:
        """EVAL's script: the cached one for this body, compiled on first use."""
        sha = hashlib.sha1(body).hexdigest().encode()
        script = self.cache.get(sha)
        if script is None:
            flags, start = shebang(body)
            runtime = self.runtime
            entry = runtime.eval_entry(sha, runtime.compile(body[start:]))
            script = self.cache[sha] = Script(body, sha, entry, flags)
        return script

    def by_sha(self, sha: bytes) -> Script:
        """EVALSHA's script: NOSCRIPT when it is not cached."""
        script = self.cache.get(sha) or self.cache.get(sha.lower())
        if script is None:
            raise AlchemyError(NOSCRIPT)
        return script

    def exists(self, sha: bytes) -> bool:
        return sha.lower() in self.cache

    def kill(self, is_eval: bool) -> None:
        """SCRIPT KILL (is_eval) or FUNCTION KILL, of whichever runtime is running."""
        (self.functions.running() or self.runtime).kill(is_eval)

    def call_function(self, name: str, args: list, caller=None, read_only: bool = False):
        """A Lua function called by name from the engine (see Functions.call_function)."""
        return self.functions.call_function(name, args, caller, read_only)

    def flush(self) -> None:
        """SCRIPT FLUSH: forget every script, and start a fresh Lua state as Redis does."""
        self.cache = {}
        self.runtime = LuaRuntime(self.server)

    def info(self) -> dict:
        return {"used_memory_lua": self.runtime.memory(),
                "used_memory_scripts": sum(len(s.body) + 40 for s in self.cache.values()),
                "number_of_cached_scripts": len(self.cache)}


def shebang(body: bytes) -> tuple[frozenset | None, int]:
    """The flags a `#!lua` first line declares (None without one) and where the code
    starts: at the line's newline, so that line numbers stay the user's."""
    if not body.startswith(b"#!"):
        return None, 0
    end = body.find(b"\n")
    if end < 0:
        raise AlchemyError("ERR Invalid script shebang")
    parts = split_args(body[:end])
    if not parts:
        raise AlchemyError("ERR Invalid engine in script shebang")
    if parts[0] != b"#!lua":
        raise AlchemyError(f"ERR Unexpected engine in script shebang: {_text(parts[0])}")
    flags = set()
    for part in parts[1:]:
        if not part.startswith(b"flags="):
            raise AlchemyError(f"ERR Unknown lua shebang option: {_text(part)}")
        listed = part[6:]
        for flag in listed.split(b",") if listed else ():
            if flag not in SHEBANG_FLAGS:
                raise AlchemyError(f"ERR Unexpected flag in script shebang: {_text(flag)}")
            flags.add(flag)
    return frozenset(flags), end


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")
