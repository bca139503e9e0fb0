"""Scripting commands (eval.c): EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT.

Scripts run in the Database's Lua runtime (alchemy.scripting; `ctx.server.lua`). A script
is not a write command itself: the writes it makes through redis.call are logged, as one
MULTI/EXEC unit, so replaying the log never runs a script again.
"""

from alchemy.command import command, run_subcommand, subcommand
from alchemy.errors import AlchemyError
from alchemy.maxmemory import refuse_script_past_limit
from alchemy.reply import OK, Status
from alchemy.util import parse_int

_EVAL_FLAGS = "noscript skip_monitor may_replicate no_mandatory_keys stale"
_EVAL_RO_FLAGS = "noscript skip_monitor no_mandatory_keys stale readonly"


def _numkeys(argv: list) -> int:
    numkeys = parse_int(argv[2])
    if numkeys > len(argv) - 3:
        raise AlchemyError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise AlchemyError("ERR Number of keys can't be negative")
    return numkeys


# The usual key counts, read without parse_int's pattern match (a tenth of an EVALSHA).
_SMALL_COUNTS = {b"%d" % n: n for n in range(256)}


def _declared_keys(argv: list) -> list:
    """The keys an EVAL call names (COMMAND GETKEYS, WATCH bookkeeping)."""
    try:
        return argv[3:3 + _numkeys(argv)]
    except AlchemyError:
        return []


def _eval_handler(by_sha: bool, read_only: bool):
    """The handler of EVAL (by body) or EVALSHA (by SHA1), or of their _RO forms: a
    closure each, so a run takes one Python frame between Database.call and the
    runtime."""
    def handler(ctx, argv):
        numkeys = _SMALL_COUNTS.get(argv[2])
        if numkeys is None or numkeys > len(argv) - 3:
            numkeys = _numkeys(argv)  # a larger count, or the error
        scripts = ctx.server.scripts or ctx.server.lua
        if by_sha:
            script = scripts.cache.get(argv[1]) or scripts.by_sha(argv[1])
        else:
            script = scripts.by_body(argv[1])
        flags = script.flags
        allow_oom = False
        if flags is None:
            writes_refused = read_only
        else:  # a shebang: its flags decide, as in Redis 7
            writes_refused = b"no-writes" in flags
            if read_only and not writes_refused:
                raise AlchemyError("ERR Can not execute a script with write flag using *_ro "
                                   "command.")
            allow_oom = b"allow-oom" in flags
            refuse_script_past_limit(ctx.server, writes_refused or allow_oom)
        if ctx.server.monitors:
            ctx.server.feed_monitors(ctx, argv)
        # The entry takes the key count, then the keys and arguments (LuaRuntime.eval_entry)
        return scripts.runtime.execute(ctx, script.name, writes_refused, True, script.entry,
                                       (numkeys, *argv[3:]), allow_oom)
    return handler


for _name, _flags, _since, _summary, _by_sha, _read_only in (
        ("eval", _EVAL_FLAGS, "2.6.0", "Execute a Lua script server side", False, False),
        ("evalsha", _EVAL_FLAGS, "2.6.0", "Execute a Lua script server side", True, False),
        ("eval_ro", _EVAL_RO_FLAGS, "7.0.0", "Execute a read-only Lua script server side",
         False, True),
        ("evalsha_ro", _EVAL_RO_FLAGS, "7.0.0", "Execute a read-only Lua script server side",
         True, True)):
    command(_name, -3, _flags, find_keys=_declared_keys, group="scripting", since=_since,
            summary=_summary, complexity="Depends on the script that is executed.")(
        _eval_handler(by_sha=_by_sha, read_only=_read_only))


command("script", -2, "", group="scripting", since="2.6.0",
        summary="A container for Lua scripts management commands",
        complexity="Depends on subcommand.")(run_subcommand)


@subcommand("script", "load", 3, "noscript stale", since="2.6.0",
            summary="Load the specified Lua script into the script cache.",
            complexity="O(N) with N being the length in bytes of the script body.")
def script_load(ctx, argv):
    return ctx.server.lua.load(argv[2])


@subcommand("script", "exists", -3, "noscript", since="2.6.0",
            summary="Check existence of scripts in the script cache.",
            complexity="O(N) with N being the number of scripts to check")
def script_exists(ctx, argv):
    scripts = ctx.server.lua
    return [int(scripts.exists(sha)) for sha in argv[2:]]


@subcommand("script", "flush", -2, "noscript", since="2.6.0",
            summary="Remove all the scripts from the script cache.",
            complexity="O(N) with N being the number of scripts in cache")
def script_flush(ctx, argv):
    if len(argv) > 3 or (len(argv) == 3 and argv[2].upper() not in (b"ASYNC", b"SYNC")):
        raise AlchemyError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    ctx.server.lua.flush()
    return OK


@subcommand("script", "kill", 2, "noscript allow_busy", since="2.6.0",
            summary="Kill the script currently in execution.", complexity="O(1)")
def script_kill(ctx, argv):
    ctx.server.lua.kill(is_eval=True)
    return OK


SCRIPT_HELP = [Status(line) for line in (
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
)]


@subcommand("script", "help", 2, "loading stale", since="5.0.0",
            summary="Show helpful text about the different subcommands", complexity="O(1)")
def script_help(ctx, argv):
    return SCRIPT_HELP
