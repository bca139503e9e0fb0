"""The command table: every command declared once, next to its handler.

A declaration carries what every entry point needs to know without running the command:
arity (Redis's convention: N exact, -N at least N, counting the name), flags, key
positions, group and a summary. The dispatcher, MULTI, WATCH, scripting's read-only rule,
COMMAND INFO/DOCS and the log's write detection all read these declarations.

Flags used: write, readonly, fast, admin, noscript, blocking, pubsub, no_auth (runs before
AUTH), no_queue (runs at once inside MULTI: MULTI/EXEC/DISCARD/WATCH/QUIT/RESET), no_multi
(refused inside MULTI), loading, stale, table_ok (a write allowed on a key holding a SQL
table: DEL and UNLINK drop it, SQL statements change it).
"""

from dataclasses import dataclass, field
import time
from typing import Callable

from alchemy.errors import AlchemyError, unknown_subcommand, wrong_arity

COMMANDS: dict[bytes, "Command"] = {}


@dataclass(eq=False)
class Command:
    name: str
    handler: Callable
    arity: int
    flags: frozenset
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0
    find_keys: Callable | None = None
    group: str = "generic"
    summary: str = ""
    since: str = "1.0.0"
    complexity: str = ""
    calls: int = 0
    failed_calls: int = 0
    rejected_calls: int = 0  # refused before running: arity, NOAUTH, ...
    seconds: float = 0.0  # time spent in the handler, for INFO commandstats
    write: bool = field(init=False)
    denyoom: bool = field(init=False)  # may grow the dataset: refused past maxmemory
    no_auth: bool = field(init=False)
    no_queue: bool = field(init=False)
    table_ok: bool = field(init=False)
    # With argc != arity, argument counts below this are refused: |arity| for a variadic
    # command, every count for an exact one. One compare less than testing arity's sign.
    refuse_below: int = field(init=False)
    # A container (CONFIG, CLIENT, ...) lists its subcommands here, named "config|get".
    subcommands: dict = field(default_factory=dict)

    def __post_init__(self):
        self.write = "write" in self.flags
        self.denyoom = "denyoom" in self.flags
        self.no_auth = "no_auth" in self.flags
        self.no_queue = "no_queue" in self.flags
        self.table_ok = "table_ok" in self.flags
        # Shown to MONITOR clients once it has run; scripts show themselves as they start.
        self.monitored = not self.flags & {"admin", "skip_monitor"}
        self.refuse_below = -self.arity if self.arity < 0 else 1 << 62

    def named_by(self, argv: list) -> "Command":
        """The subcommand argv names (CONFIG GET), or this command."""
        if self.subcommands and len(argv) > 1:
            return self.subcommands.get(argv[1].lower(), self)
        return self

    def refuses(self, argc: int) -> bool:
        """Is argc (the name counted) a wrong number of arguments for this command?"""
        return argc != self.arity and argc < self.refuse_below

    def keys(self, argv: list) -> list:
        """The key arguments of one call of this command."""
        if self.find_keys is not None:
            return self.find_keys(argv)
        if not self.first_key:
            return []
        last = self.last_key if self.last_key >= 0 else len(argv) + self.last_key
        return argv[self.first_key:last + 1:self.key_step]


def command(name: str, arity: int, flags: str = "", keys: tuple = (0, 0, 0),
            find_keys: Callable | None = None, group: str = "generic",
            summary: str = "", since: str = "1.0.0", complexity: str = ""):
    """Declare a command: `@command("get", 2, "readonly fast", keys=(1, 1, 1))`."""
    def register(handler: Callable) -> Callable:
        first, last, step = keys
        COMMANDS[name.encode()] = Command(
            name, handler, arity, frozenset(flags.split()), first, last, step,
            find_keys, group, summary, since, complexity)
        return handler
    return register


_SPELLINGS: dict[bytes, Command] = {}  # "SET", "Set", ...: clients send any case


def subcommand(parent: str, name: str, arity: int, flags: str = "", keys: tuple = (0, 0, 0),
               summary: str = "", since: str = "1.0.0", complexity: str = ""):
    """Declare a subcommand of a container declared before it, whose handler is
    `run_subcommand`: `@subcommand("config", "get", -3, "admin noscript loading stale")`.
    The arity counts the container and the subcommand, as Redis's does."""
    def register(handler: Callable) -> Callable:
        container = COMMANDS[parent.encode()]
        first, last, step = keys
        container.subcommands[name.encode()] = Command(
            f"{parent}|{name}", handler, arity, frozenset(flags.split()), first, last, step,
            None, container.group, summary, since, complexity)
        return handler
    return register


def run_subcommand(ctx, argv: list):
    """The handler of a container: check and run the subcommand named by argv[1]."""
    container = lookup(argv[0])
    sub = container.subcommands.get(argv[1].lower())
    if sub is None:
        raise unknown_subcommand(container.name, argv[1])
    if sub.refuses(len(argv)):
        sub.rejected_calls += 1
        raise wrong_arity(sub.name)
    sub.calls += 1
    ctx.last_command = sub.name
    start = time.perf_counter()
    try:
        return sub.handler(ctx, argv)
    except AlchemyError:
        sub.failed_calls += 1
        raise
    finally:
        sub.seconds += time.perf_counter() - start


def calls_total() -> int:
    """Commands run so far in this process (INFO's total_commands_processed), summed
    from the command table's counters rather than counted again per call: a container's
    count has its subcommands'."""
    return sum(cmd.calls for cmd in COMMANDS.values())


def lookup(name: bytes) -> "Command | None":
    cmd = _SPELLINGS.get(name)
    if cmd is None:
        cmd = COMMANDS.get(name.lower())
        if cmd is not None and len(_SPELLINGS) < 4096:
            _SPELLINGS[name] = cmd
    return cmd


# lookup's first step, a spelling seen before, for the dispatcher to try without a call.
seen_spelling = _SPELLINGS.get
