"""Server commands (server.c, config.c): INFO, CONFIG, COMMAND, DBSIZE, FLUSHDB, FLUSHALL,
TIME, SHUTDOWN.

INFO and COMMAND read what the engine already keeps (the command table with its call
counters, Database.stats, the config table); nothing here is on the hot path.
"""

import os
import platform
import resource
import sys
import time

from alchemy.command import (COMMANDS, Command, calls_total, command, lookup, run_subcommand,
                             subcommand)
from alchemy.config import (CLIENT_SETTINGS, check_client_setting, client_settings,
                            set_client_setting)
from alchemy.errors import SYNTAX, AlchemyError
from alchemy.maxmemory import resident_bytes
from alchemy.reply import NO_REPLY, OK, Status, Verbatim
from alchemy.util import glob_matcher


# -- DBSIZE, FLUSHDB, FLUSHALL, TIME, SHUTDOWN ------------------------------------------

def _flush_mode(argv) -> None:
    # ASYNC frees memory in the background in Redis; here both modes free it at once.
    if len(argv) > 2 or (len(argv) == 2 and argv[1].upper() not in (b"ASYNC", b"SYNC")):
        raise AlchemyError(SYNTAX)


def flush(server, db) -> None:
    """Empty one database, counting the change. Only the watched keys it held change: a
    transaction WATCHing a missing key survives the flush (Redis 7.0); clients blocked on
    keys it held are woken (an XREADGROUP is told its stream is gone)."""
    if len(db):
        server.dirty += len(db)
    for key in [key for key in {**db.watched, **db.blocked} if key in db.data]:
        server.touch(db, key)
    db.clear()


@command("flushdb", -1, "write", group="server", since="1.0.0",
         summary="Remove all keys from the current database",
         complexity="O(N) where N is the number of keys in the selected database")
def flushdb(ctx, argv):
    _flush_mode(argv)
    flush(ctx.server, ctx.db)
    return OK


@command("flushall", -1, "write", group="server", since="1.0.0",
         summary="Remove all keys from all databases",
         complexity="O(N) where N is the total number of keys in all databases")
def flushall(ctx, argv):
    _flush_mode(argv)
    for db in ctx.server.dbs:
        flush(ctx.server, db)
    ctx.server.dirty += 1
    return OK


@command("dbsize", 1, "readonly fast", group="server", since="1.0.0",
         summary="Return the number of keys in the selected database", complexity="O(1)")
def dbsize(ctx, argv):
    return len(ctx.db)


@command("time", 1, "loading stale fast", group="server", since="2.6.0",
         summary="Return the current server time", complexity="O(1)")
def time_(ctx, argv):
    now = time.time_ns() // 1000
    return [b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)]


@command("shutdown", -1, "admin noscript loading stale no_multi allow_busy", group="server",
         since="1.0.0",
         summary="Synchronously save the dataset to disk and then shut down the server",
         complexity="O(N) when saving, where N is the total number of keys in all databases")
def shutdown(ctx, argv):
    options = {arg.upper() for arg in argv[1:]}
    if not options <= {b"NOSAVE", b"SAVE", b"NOW", b"FORCE", b"ABORT"} or \
            {b"NOSAVE", b"SAVE"} <= options or (b"ABORT" in options and len(argv) > 2):
        raise AlchemyError(SYNTAX)
    if b"ABORT" in options:
        raise AlchemyError("ERR No shutdown in progress.")
    if ctx.server.shutdown is None:
        raise AlchemyError("ERR SHUTDOWN needs a server: this database is in-process")
    if b"SAVE" in options or (b"NOSAVE" not in options and ctx.server.config["save"]):
        try:
            ctx.server.persistence.final_save()
        except AlchemyError:
            if b"FORCE" not in options:
                raise AlchemyError("ERR Errors trying to SHUTDOWN. Check logs.") from None
    # The front flushes the log, then stops its loop after this round of replies, closing
    # every connection.
    ctx.server.shutdown()
    ctx.closing = True
    return NO_REPLY


# -- INFO ---------------------------------------------------------------------------------

def _human(n: int) -> str:
    """Bytes as Redis's bytesToHuman writes them: 894.97K, 6.29M."""
    for power, unit in ((5, "P"), (4, "T"), (3, "G"), (2, "M"), (1, "K")):
        if n >= 1024 ** power:
            return f"{n / 1024 ** power:.2f}{unit}"
    return f"{n}B"


def _run_id(server, key: str) -> str:
    return server.server_info.setdefault(key, os.urandom(20).hex())


def _info_server(server) -> list:
    info = server.server_info
    uptime = int(time.time() - server.stats.started)
    uname = platform.uname()
    return [
        f"redis_version:{server.redis_version}",
        f"alchemy_version:{server.version}",
        "redis_git_sha1:00000000",
        "redis_git_dirty:0",
        "redis_build_id:0",
        "redis_mode:standalone",
        f"os:{uname.system} {uname.release} {uname.machine}",
        f"arch_bits:{64 if sys.maxsize > 2**32 else 32}",
        "monotonic_clock:POSIX clock_gettime",
        f"multiplexing_api:{info.get('event_loop', 'none')}",
        f"python_version:{platform.python_version()}",
        f"process_id:{info.get('process_id', os.getpid())}",
        "process_supervised:no",
        f"run_id:{_run_id(server, 'run_id')}",
        f"tcp_port:{info.get('tcp_port', 0)}",
        f"server_time_usec:{time.time_ns() // 1000}",
        f"uptime_in_seconds:{uptime}",
        f"uptime_in_days:{uptime // 86400}",
        f"hz:{server.config['hz']}",
        f"configured_hz:{server.config['hz']}",
        f"lru_clock:{int(time.time()) & (2**24 - 1)}",
        f"executable:{os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ''}",
        f"config_file:{server.config.file or ''}",
        "io_threads_active:0",
    ]


def _info_clients(server) -> list:
    clients = server.clients.values()
    blocked = [c for c in clients if c.blocked is not None]
    return [
        f"connected_clients:{len(server.clients)}",
        "cluster_connections:0",
        f"maxclients:{server.config['maxclients']}",
        "client_recent_max_input_buffer:0",
        "client_recent_max_output_buffer:0",
        f"blocked_clients:{len(blocked)}",
        "tracking_clients:0",
        f"clients_in_timeout_table:{sum(1 for c in blocked if c.blocked[2] is not None)}",
    ]


def _info_memory(server) -> list:
    # The process's resident size stands for used_memory: Python has no per-object allocator
    # statistics cheap enough to keep.
    used = resident_bytes()
    peak = max(used, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    maxmemory = server.config["maxmemory"]
    return [
        f"used_memory:{used}",
        f"used_memory_human:{_human(used)}",
        f"used_memory_rss:{used}",
        f"used_memory_rss_human:{_human(used)}",
        f"used_memory_peak:{peak}",
        f"used_memory_peak_human:{_human(peak)}",
        f"used_memory_peak_perc:{100 * used / peak:.2f}%",
        f"total_system_memory:{total}",
        f"total_system_memory_human:{_human(total)}",
        f"maxmemory:{maxmemory}",
        f"maxmemory_human:{_human(maxmemory)}",
        f"maxmemory_policy:{server.config['maxmemory-policy']}",
        "mem_fragmentation_ratio:1.00",
        "mem_allocator:libc",
        "lazyfree_pending_objects:0",
    ] + _info_scripts(server)


def _info_scripts(server) -> list:
    scripts = server.scripts
    if scripts is None:  # no script has run: the Lua runtime does not exist yet
        return ["used_memory_lua:0", "used_memory_scripts:0", "number_of_cached_scripts:0"]
    return [f"{name}:{value}" for name, value in scripts.info().items()]


def _info_persistence(server) -> list:
    return server.persistence.info()


def _ops_per_sec(stats) -> int:
    """Commands a second over the samples cron took in the last ~1.6 s, as Redis does."""
    samples = stats.ops_samples
    if len(samples) < 2 or samples[-1][0] <= samples[0][0]:
        return 0
    (t0, n0), (t1, n1) = samples[0], samples[-1]
    return int((n1 - n0) / (t1 - t0))


def _info_stats(server) -> list:
    stats = server.stats
    return [
        f"total_connections_received:{stats.connections}",
        f"total_commands_processed:{calls_total()}",
        f"instantaneous_ops_per_sec:{_ops_per_sec(stats)}",
        f"total_net_input_bytes:{stats.net_input_bytes}",
        f"total_net_output_bytes:{stats.net_output_bytes}",
        "instantaneous_input_kbps:0.00",
        "instantaneous_output_kbps:0.00",
        f"rejected_connections:{stats.rejected_connections}",
        "sync_full:0",
        "sync_partial_ok:0",
        "sync_partial_err:0",
        f"expired_keys:{stats.expired_keys}",
        "expired_stale_perc:0.00",
        "expired_time_cap_reached_count:0",
        "evicted_keys:0",
        "evicted_clients:0",
        f"keyspace_hits:{stats.keyspace_hits}",
        f"keyspace_misses:{stats.keyspace_misses}",
        f"pubsub_channels:{len(server.pubsub.channels)}",
        f"pubsub_patterns:{len(server.pubsub.patterns)}",
        "latest_fork_usec:0",
        "total_forks:0",
        "migrate_cached_sockets:0",  # no MIGRATE, so no connections kept for it
        f"total_error_replies:{stats.error_replies}",
    ]


def _info_replication(server) -> list:
    return [
        "role:master",
        "connected_slaves:0",
        "master_failover_state:no-failover",
        f"master_replid:{_run_id(server, 'replid')}",
        "master_replid2:0000000000000000000000000000000000000000",
        "master_repl_offset:0",
        "second_repl_offset:-1",
        "repl_backlog_active:0",
        "repl_backlog_size:1048576",
        "repl_backlog_first_byte_offset:0",
        "repl_backlog_histlen:0",
    ]


def _info_cpu(server) -> list:
    lines = []
    for suffix, who in (("", resource.RUSAGE_SELF), ("_children", resource.RUSAGE_CHILDREN),
                        ("_main_thread", getattr(resource, "RUSAGE_THREAD", None))):
        if who is not None:
            usage = resource.getrusage(who)
            lines += [f"used_cpu_sys{suffix}:{usage.ru_stime:.6f}",
                      f"used_cpu_user{suffix}:{usage.ru_utime:.6f}"]
    return lines


def _all_commands():
    """Every command and subcommand; a container's own counters are its subcommands'."""
    for cmd in COMMANDS.values():
        if cmd.subcommands:
            yield from cmd.subcommands.values()
        else:
            yield cmd


def _info_commandstats(server) -> list:
    lines = []
    for cmd in _all_commands():
        if cmd.calls or cmd.failed_calls or cmd.rejected_calls:
            usec = int(cmd.seconds * 1_000_000)
            per_call = usec / cmd.calls if cmd.calls else 0
            lines.append(f"cmdstat_{cmd.name}:calls={cmd.calls},usec={usec},"
                         f"usec_per_call={per_call:.2f},rejected_calls={cmd.rejected_calls},"
                         f"failed_calls={cmd.failed_calls}")
    return lines


def _info_keyspace(server) -> list:
    # avg_ttl is Redis's sampled estimate; Alchemy does not sample it.
    return [f"db{db.index}:keys={len(db)},expires={len(db.expires)},avg_ttl=0"
            for db in server.dbs if len(db) or db.expires]


def _info_errorstats(server) -> list:
    return [f"errorstat_{code}:count={count}"
            for code, count in sorted(server.stats.errors.items())]


def _empty(server) -> list:
    return []


def _info_cluster(server) -> list:
    return ["cluster_enabled:0"]


# (name, title, lines) in Redis's order; "modules" answers to module_list too.
INFO_SECTIONS = [
    ("server", "Server", _info_server),
    ("clients", "Clients", _info_clients),
    ("memory", "Memory", _info_memory),
    ("persistence", "Persistence", _info_persistence),
    ("stats", "Stats", _info_stats),
    ("replication", "Replication", _info_replication),
    ("cpu", "CPU", _info_cpu),
    ("modules", "Modules", _empty),
    ("commandstats", "Commandstats", _info_commandstats),
    ("errorstats", "Errorstats", _info_errorstats),
    ("latencystats", "Latencystats", _empty),
    ("cluster", "Cluster", _info_cluster),
    ("keyspace", "Keyspace", _info_keyspace),
]
DEFAULT_SECTIONS = {"server", "clients", "memory", "persistence", "stats", "replication",
                    "cpu", "modules", "errorstats", "cluster", "keyspace"}


def info_text(server, names: list) -> str:
    """The INFO report for the named sections (none: the default ones)."""
    wanted = set()
    every = False
    for name in names or ["default"]:
        if name == "default":
            wanted |= DEFAULT_SECTIONS
        elif name in ("all", "everything"):
            every = True
        else:
            wanted.add("modules" if name == "module_list" else name)
    blocks = []
    for name, title, lines in INFO_SECTIONS:
        if every or name in wanted:
            blocks.append(f"# {title}\r\n" + "".join(line + "\r\n" for line in lines(server)))
    return "\r\n".join(blocks)


@command("info", -1, "loading stale", group="server", since="1.0.0",
         summary="Get information and statistics about the server",
         complexity="O(1)")
def info(ctx, argv):
    names = [arg.decode("utf-8", "replace").lower() for arg in argv[1:]]
    return Verbatim(info_text(ctx.server, names).encode())


# -- CONFIG ---------------------------------------------------------------------------------

command("config", -2, "", group="server", since="2.0.0",
        summary="A container for server configuration commands",
        complexity="Depends on subcommand.")(run_subcommand)

_CONFIG_FLAGS = "admin noscript loading stale"


@subcommand("config", "get", -3, _CONFIG_FLAGS, since="2.0.0",
            summary="Get the values of configuration parameters",
            complexity="O(N) when N is the number of configuration parameters provided")
def config_get(ctx, argv):
    found = {}
    for pattern in argv[2:]:
        text_pattern = pattern.decode("utf-8", "replace")
        for name, text in ctx.server.config.matching(text_pattern).items():
            found[name.encode()] = text.encode()
        for name, text in client_settings(ctx, text_pattern).items():
            found[name.encode()] = text.encode()
    return found


@subcommand("config", "set", -4, _CONFIG_FLAGS, since="2.0.0",
            summary="Set configuration parameters to the given values",
            complexity="O(N) when N is the number of configuration parameters provided")
def config_set(ctx, argv):
    if len(argv) % 2:
        raise AlchemyError(SYNTAX)
    pairs = [(name.decode("utf-8", "replace"), value.decode("utf-8", "replace"))
             for name, value in zip(argv[2::2], argv[3::2])]
    mine = [(n, v) for n, v in pairs if n.lower() in CLIENT_SETTINGS]
    for name, value in mine:
        check_client_setting(name, value)
    config = ctx.server.config
    before = dict(config.values)
    config.set_many([(n, v) for n, v in pairs if n.lower() not in CLIENT_SETTINGS])
    try:
        ctx.server.persistence.config_changed(before)
    except AlchemyError:
        config.values.update(before)  # all or none, as Redis undoes a failed apply
        raise
    ctx.server.limit_memory()
    for name, value in mine:
        set_client_setting(ctx, name, value)
    return OK


@subcommand("config", "resetstat", 2, _CONFIG_FLAGS, since="2.0.0",
            summary="Reset the stats returned by INFO", complexity="O(1)")
def config_resetstat(ctx, argv):
    stats = ctx.server.stats
    started = stats.started
    stats.__init__()  # every counter back to zero, but uptime keeps counting
    stats.started = started
    for cmd in list(COMMANDS.values()) + list(_all_commands()):
        cmd.calls = cmd.failed_calls = cmd.rejected_calls = cmd.seconds = 0
    return OK


@subcommand("config", "rewrite", 2, _CONFIG_FLAGS, since="2.8.0",
            summary="Rewrite the configuration file with the in memory configuration",
            complexity="O(1)")
def config_rewrite(ctx, argv):
    ctx.server.config.rewrite()
    return OK


CONFIG_HELP = [Status(line) for line in (
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
)]


@subcommand("config", "help", 2, "loading stale", since="5.0.0",
            summary="Show helpful text about the different subcommands", complexity="O(1)")
def config_help(ctx, argv):
    return CONFIG_HELP


# -- COMMAND ------------------------------------------------------------------------------

# Flags as COMMAND shows them, in Redis's order; the table's internal flags stay hidden.
SHOWN_FLAGS = ["write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
               "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking",
               "fast", "no_auth", "may_replicate", "no_mandatory_keys", "no_multi",
               "allow_busy"]

# A command group's ACL category (Redis declares them per command; the group decides here).
GROUP_CATEGORIES = {
    "generic": "keyspace", "string": "string", "list": "list", "hash": "hash", "set": "set",
    "sorted-set": "sortedset", "sorted_set": "sortedset", "bitmap": "bitmap",
    "hyperloglog": "hyperloglog", "geo": "geo", "stream": "stream", "pubsub": "pubsub",
    "connection": "connection", "transactions": "transaction", "scripting": "scripting",
}
CATEGORY_ORDER = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
                  "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
                  "blocking", "dangerous", "connection", "transaction", "scripting"]


def categories(cmd: Command) -> list:
    """The ACL categories of a command, from its group and flags as Redis derives them."""
    flags = cmd.flags
    found = {GROUP_CATEGORIES.get(cmd.group)}
    if "write" in flags:
        found.add("write")
    if "readonly" in flags and cmd.group != "scripting":
        found.add("read")
    if "admin" in flags:
        found |= {"admin", "dangerous"}
    if "pubsub" in flags:
        found.add("pubsub")
    if "blocking" in flags:
        found.add("blocking")
    found.add("fast" if "fast" in flags else "slow")
    return [name for name in CATEGORY_ORDER if name in found]


def _key_spec_flags(cmd: Command) -> list:
    if "write" in cmd.flags:
        return [Status("RW"), Status("access"), Status("update")]
    return [Status("RO"), Status("access")]


def key_specs(cmd: Command) -> list:
    if cmd.find_keys is not None:
        unknown = {b"type": b"unknown", b"spec": {}}
        return [{b"flags": _key_spec_flags(cmd), b"begin_search": unknown,
                 b"find_keys": unknown}]
    if not cmd.first_key:
        return []
    last = cmd.last_key - cmd.first_key if cmd.last_key >= 0 else cmd.last_key
    return [{b"flags": _key_spec_flags(cmd),
             b"begin_search": {b"type": b"index", b"spec": {b"index": cmd.first_key}},
             b"find_keys": {b"type": b"range", b"spec": {
                 b"lastkey": last, b"keystep": cmd.key_step, b"limit": 0}}}]


def command_info(cmd: Command) -> list:
    """One entry of COMMAND / COMMAND INFO, as Redis 7.0 formats it."""
    flags = [Status(f) for f in SHOWN_FLAGS if f in cmd.flags]
    if cmd.find_keys is not None:
        flags.append(Status("movablekeys"))
    return [cmd.name.encode(), cmd.arity, flags, cmd.first_key, cmd.last_key, cmd.key_step,
            [Status("@" + c) for c in categories(cmd)], [], key_specs(cmd),
            [command_info(sub) for sub in cmd.subcommands.values()]]


def command_docs(cmd: Command) -> dict:
    docs = {b"summary": cmd.summary.encode(), b"since": cmd.since.encode(),
            b"group": cmd.group.encode(), b"complexity": cmd.complexity.encode()}
    if cmd.subcommands:
        docs[b"subcommands"] = {sub.name.encode(): command_docs(sub)
                                for sub in cmd.subcommands.values()}
    return docs


def find_command(name: bytes) -> Command | None:
    """A command or a subcommand by its full name: "get", "config|get"."""
    parent, _, sub = name.lower().partition(b"|")
    cmd = lookup(parent)
    if cmd is None or not sub:
        return cmd
    return cmd.subcommands.get(sub)


def _all_names() -> list:
    names = []
    for cmd in COMMANDS.values():
        names.append(cmd.name.encode())
        names += [sub.name.encode() for sub in cmd.subcommands.values()]
    return names


def _every_command_info() -> list:
    return [command_info(cmd) for cmd in COMMANDS.values()]


@command("command", -1, "loading stale", group="server", since="2.8.13",
         summary="Get array of Redis command details",
         complexity="O(N) where N is the total number of Redis commands")
def command_(ctx, argv):
    if len(argv) == 1:
        return _every_command_info()
    return run_subcommand(ctx, argv)


_COMMAND_FLAGS = "loading stale"


@subcommand("command", "count", 2, _COMMAND_FLAGS, since="2.8.13",
            summary="Get total number of Redis commands", complexity="O(1)")
def command_count(ctx, argv):
    return len(COMMANDS)


@subcommand("command", "info", -2, _COMMAND_FLAGS, since="2.8.13",
            summary="Get array of specific Redis command details, or all when no argument "
                    "is given.", complexity="O(N) where N is the number of commands to look up")
def command_info_(ctx, argv):
    if len(argv) == 2:
        return _every_command_info()
    return [None if cmd is None else command_info(cmd)
            for cmd in map(find_command, argv[2:])]


@subcommand("command", "docs", -2, _COMMAND_FLAGS, since="7.0.0",
            summary="Get array of specific Redis command documentation",
            complexity="O(N) where N is the number of commands to look up")
def command_docs_(ctx, argv):
    if len(argv) == 2:
        return {cmd.name.encode(): command_docs(cmd) for cmd in COMMANDS.values()}
    found = {}
    for name in argv[2:]:
        cmd = find_command(name)
        if cmd is not None:
            found[cmd.name.encode()] = command_docs(cmd)
    return found


@subcommand("command", "list", -2, _COMMAND_FLAGS, since="7.0.0",
            summary="Get an array of Redis command names",
            complexity="O(N) where N is the total number of Redis commands")
def command_list(ctx, argv):
    if len(argv) == 2:
        return _all_names()
    if len(argv) != 5 or argv[2].upper() != b"FILTERBY":
        raise AlchemyError(SYNTAX)
    kind, value = argv[3].upper(), argv[4]
    if kind == b"MODULE":
        return []
    if kind == b"PATTERN":
        matches = glob_matcher(value.lower())
        return [name for name in _all_names() if matches(name)]
    if kind == b"ACLCAT":
        category = value.decode("utf-8", "replace").lower()
        return [name for name in _all_names() if category in categories(find_command(name))]
    raise AlchemyError(SYNTAX)


def _called_command(argv: list) -> Command:
    """The command a COMMAND GETKEYS call describes, checked as a call of it would be."""
    cmd = lookup(argv[2])
    cmd = cmd and cmd.named_by(argv[2:])
    if cmd is None:
        raise AlchemyError("ERR Invalid command specified")
    if not cmd.first_key and cmd.find_keys is None:
        raise AlchemyError("ERR The command has no key arguments")
    called = len(argv) - 2
    if cmd.refuses(called):
        raise AlchemyError("ERR Invalid number of arguments specified for command")
    return cmd


def _keys_of(argv: list) -> tuple[Command, list]:
    cmd = _called_command(argv)
    keys = cmd.keys(argv[2:])
    if not keys and "no_mandatory_keys" not in cmd.flags:  # EVAL ... 0 has none, rightly
        raise AlchemyError("ERR Invalid arguments specified for command")
    return cmd, keys


@subcommand("command", "getkeys", -4, _COMMAND_FLAGS, since="2.8.13",
            summary="Extract keys given a full Redis command",
            complexity="O(N) where N is the number of arguments to the command")
def command_getkeys(ctx, argv):
    return _keys_of(argv)[1]


@subcommand("command", "getkeysandflags", -4, _COMMAND_FLAGS, since="7.0.0",
            summary="Extract keys and access flags given a full Redis command",
            complexity="O(N) where N is the number of arguments to the command")
def command_getkeysandflags(ctx, argv):
    cmd, keys = _keys_of(argv)
    return [[key, _key_spec_flags(cmd)] for key in keys]


COMMAND_HELP = [Status(line) for line in (
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
)]


@subcommand("command", "help", 2, _COMMAND_FLAGS, since="5.0.0",
            summary="Show helpful text about the different subcommands", complexity="O(1)")
def command_help(ctx, argv):
    return COMMAND_HELP
