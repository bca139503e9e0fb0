"""Stored procedures (functions.c, and AlchemyDB's spellings): FUNCTION, FCALL, FCALL_RO,
INTERPRET and LUAFUNC.

The libraries and INTERPRET's globals live in alchemy.scripting.functions
(`ctx.server.lua.functions`). FUNCTION LOAD/DELETE/FLUSH/RESTORE and INTERPRET change
what a restart must rebuild: they count as writes and are logged as sent (INTERPRET
LUAFILE as the INTERPRET LUA of the file's text), so replaying the log compiles the same
code again. FCALL and LUAFUNC are not writes themselves: the writes their functions make
through redis.call are logged, as EVAL's are.
"""

import time

from alchemy.command import command, run_subcommand, subcommand
from alchemy.commands.scripting import _declared_keys
from alchemy.errors import AlchemyError
from alchemy.reply import OK, Status
from alchemy.scripting.functions import flags_reply, lua_file
from alchemy.scripting.runtime import BUSY_EVAL
from alchemy.util import glob_matcher

_FCALL_FLAGS = "noscript skip_monitor may_replicate no_mandatory_keys stale"
_FCALL_RO_FLAGS = "noscript skip_monitor no_mandatory_keys stale readonly"


def _syntax_error(argv: list) -> AlchemyError:
    return AlchemyError(f"ERR unknown subcommand or wrong number of arguments for "
                        f"'{argv[1].decode('utf-8', 'replace')[:128]}'. Try FUNCTION HELP.")


def _writable(ctx) -> None:
    """Refuse a FUNCTION subcommand that would change the libraries while the log cannot
    take writes (the dispatcher checks write commands, and FUNCTION itself is not one)."""
    log = ctx.server.log
    if log is not None and log.refusal is not None:
        raise AlchemyError(log.refusal)


def _changed(ctx, argv: list) -> None:
    """A FUNCTION subcommand changed the libraries: count it and log it as sent."""
    ctx.server.dirty += 1
    ctx.server.propagate_as(argv)


@command("fcall", -3, _FCALL_FLAGS, find_keys=_declared_keys, group="scripting",
         since="7.0.0", summary="Invoke a function",
         complexity="Depends on the function that is executed.")
def fcall(ctx, argv):
    return ctx.server.lua.functions.fcall(ctx, argv, read_only=False)


@command("fcall_ro", -3, _FCALL_RO_FLAGS, find_keys=_declared_keys, group="scripting",
         since="7.0.0", summary="Invoke a read-only function",
         complexity="Depends on the function that is executed.")
def fcall_ro(ctx, argv):
    return ctx.server.lua.functions.fcall(ctx, argv, read_only=True)


command("function", -2, "", group="scripting", since="7.0.0",
        summary="A container for function commands",
        complexity="Depends on subcommand.")(run_subcommand)


@subcommand("function", "load", -3, "write denyoom noscript", since="7.0.0",
            summary="Create a function with the given arguments (name, code, description)",
            complexity="O(1) (considering compilation time is redundant)")
def function_load(ctx, argv):
    _writable(ctx)
    replace = False
    for option in argv[2:-1]:
        if option.upper() != b"REPLACE":
            raise AlchemyError(f"ERR Unknown option given: "
                               f"{option.decode('utf-8', 'replace')}")
        replace = True
    name = ctx.server.lua.functions.load(argv[-1], replace)
    _changed(ctx, argv)
    return name


@subcommand("function", "delete", 3, "write noscript", since="7.0.0",
            summary="Delete a function by name", complexity="O(1)")
def function_delete(ctx, argv):
    _writable(ctx)
    ctx.server.lua.functions.delete(argv[2])
    _changed(ctx, argv)
    return OK


@subcommand("function", "flush", -2, "write noscript", since="7.0.0",
            summary="Deleting all functions",
            complexity="O(N) where N is the number of functions deleted")
def function_flush(ctx, argv):
    # ASYNC frees memory in the background in Redis; here both modes free it at once.
    if len(argv) > 3:
        raise _syntax_error(argv)
    if len(argv) == 3 and argv[2].upper() not in (b"SYNC", b"ASYNC"):
        raise AlchemyError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    _writable(ctx)
    ctx.server.lua.functions.flush()
    _changed(ctx, argv)
    return OK


@subcommand("function", "dump", 2, "noscript", since="7.0.0",
            summary="Dump all functions into a serialized binary payload",
            complexity="O(N) where N is the number of functions")
def function_dump(ctx, argv):
    return ctx.server.lua.functions.dump()


@subcommand("function", "restore", -3, "write denyoom noscript", since="7.0.0",
            summary="Restore all the functions on the given payload",
            complexity="O(N) where N is the number of functions on the payload")
def function_restore(ctx, argv):
    if len(argv) > 4:
        raise _syntax_error(argv)
    policy = argv[3].upper() if len(argv) == 4 else b"APPEND"
    if policy not in (b"FLUSH", b"APPEND", b"REPLACE"):
        raise AlchemyError("ERR Wrong restore policy given, value should be either FLUSH, "
                           "APPEND or REPLACE.")
    _writable(ctx)
    ctx.server.lua.functions.restore(argv[2], policy)
    _changed(ctx, argv)
    return OK


@subcommand("function", "list", -2, "noscript", since="7.0.0",
            summary="List information about all the functions",
            complexity="O(N) where N is the number of functions")
def function_list(ctx, argv):
    with_code, pattern = False, None
    i = 2
    while i < len(argv):
        word = argv[i].lower()
        if word == b"withcode" and not with_code:
            with_code = True
        elif word == b"libraryname" and pattern is None:
            if i == len(argv) - 1:
                raise AlchemyError("ERR library name argument was not given")
            i += 1
            pattern = argv[i]
        else:
            shown = argv[i].decode("utf-8", "replace").replace("\r", " ").replace("\n", " ")
            raise AlchemyError(f"ERR Unknown argument {shown}")
        i += 1
    matches = glob_matcher(pattern) if pattern is not None else None
    listed = []
    for library in ctx.server.lua.functions.libraries.values():
        if matches is not None and not matches(library.name):
            continue
        entry = {b"library_name": library.name, b"engine": b"LUA", b"functions": [
            {b"name": f.name, b"description": f.description,
             b"flags": flags_reply(f, ctx.resp3)} for f in library.functions.values()]}
        if with_code:
            entry[b"library_code"] = library.code
        listed.append(entry)
    return listed


@subcommand("function", "stats", 2, "noscript allow_busy", since="7.0.0",
            summary="Return information about the function currently running (name, "
                    "description, duration)", complexity="O(1)")
def function_stats(ctx, argv):
    scripts = ctx.server.lua
    if scripts.runtime.running is not None:
        raise AlchemyError(BUSY_EVAL)
    functions = scripts.functions
    runtime = functions.running()
    running = None
    if runtime is not None:
        run = runtime.running
        running = {b"name": run.name, b"command": list(functions.calling or ()),
                   b"duration_ms": int((time.monotonic() - run.started) * 1000)}
    return {b"running_script": running,
            b"engines": {b"LUA": {b"libraries_count": len(functions.libraries),
                                  b"functions_count": functions.function_count()}}}


@subcommand("function", "kill", 2, "noscript allow_busy", since="7.0.0",
            summary="Kill the function currently in execution.", complexity="O(1)")
def function_kill(ctx, argv):
    ctx.server.lua.kill(is_eval=False)
    return OK


FUNCTION_HELP = [Status(line) for line in (
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME "
    "argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored "
    "using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a "
    "restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
    "abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    "replace the old",
    "      libraries with the new libraries (notice that even on this option there is a "
    "chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
)]


@subcommand("function", "help", 2, "loading stale", since="7.0.0",
            summary="Show helpful text about the different subcommands", complexity="O(1)")
def function_help(ctx, argv):
    return FUNCTION_HELP


# -- AlchemyDB: INTERPRET and LUAFUNC ------------------------------------------------------

@command("interpret", 3, "write noscript", group="scripting",
         summary="Run Lua code that may define global functions (INTERPRET LUA <code>, "
                 "or INTERPRET LUAFILE <file under lua/ or the data directory>)",
         complexity="Depends on the code that is run.")
def interpret(ctx, argv):
    kind = argv[1].upper()
    if kind == b"LUA":
        source = argv[2]
    elif kind == b"LUAFILE":
        source = lua_file(ctx.server, argv[2])
    else:
        raise AlchemyError("ERR INTERPRET takes LUA <code> or LUAFILE <file>")
    reply = ctx.server.lua.functions.interpret(ctx, source)
    ctx.server.dirty += 1
    if kind == b"LUAFILE":  # the text as read now: the file may change later
        ctx.server.propagate_as([b"INTERPRET", b"LUA", source])
    return reply


@command("luafunc", -2, "noscript skip_monitor may_replicate no_mandatory_keys",
         group="scripting", summary="Call a global Lua function defined with INTERPRET",
         complexity="Depends on the function that is executed.")
def luafunc(ctx, argv):
    return ctx.server.lua.functions.luafunc(ctx, argv)
