"""Settings: one table of every setting, read by CONFIG GET/SET and the config file.

A setting has a default, a parser from text and a formatter back to text. Values are kept
parsed, so the hot path reads `config.values["name"]` without converting.
"""

import fnmatch
import os
import re
from dataclasses import dataclass
from typing import Callable

from alchemy.errors import AlchemyError
from alchemy.notify import ALL, CLASS_LETTERS, KEY_MISS, KEYEVENT, KEYSPACE, LETTERS

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2,
          "g": 1000**3, "gb": 1024**3}


def parse_memory(text: str) -> int:
    m = re.fullmatch(r"(-?\d+)([a-zA-Z]*)", text.strip())
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError("argument must be a memory value")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def between(parse: Callable, low: int, high: int) -> Callable:
    """parse, refusing values outside [low, high] as Redis words it."""
    def parse_bounded(text: str) -> int:
        value = parse(text)
        if not low <= value <= high:
            raise ValueError(f"argument must be between {low} and {high} inclusive")
        return value
    return parse_bounded


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("yes", "no"):
        raise ValueError("argument must be 'yes' or 'no'")
    return lowered == "yes"


def parse_no(text: str) -> bool:
    """A yes/no setting whose `yes` Alchemy does not offer."""
    if parse_bool(text):
        raise ValueError("argument must be 'no' (Alchemy does not offer 'yes')")
    return False


def parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("argument couldn't be parsed into an integer") from None


def one_of(*choices: str) -> Callable:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise ValueError("argument(s) must be one of the following: " + ", ".join(choices))
        return text.lower()
    return parse


def parse_save(text: str) -> list:
    parts = text.split()
    if len(parts) % 2:
        raise ValueError("Invalid save parameters")
    rules = []
    for seconds, changes in zip(parts[::2], parts[1::2]):
        if not (seconds.isdigit() and changes.isdigit()):
            raise ValueError("Invalid save parameters")
        rules.append((int(seconds), int(changes)))
    return rules


def parse_events(text: str) -> int:
    """notify-keyspace-events: class letters to the int of their bits (notify.py)."""
    flags = 0
    for letter in text:
        if letter not in LETTERS:
            raise ValueError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        flags |= LETTERS[letter]
    return flags


def format_events(flags: int) -> str:
    """The bits back as letters in Redis's order, then K, E, m. As in Redis, A stands for
    every class when all of ALL are on, and hides n then (KEAn reads back as AKE)."""
    if flags & ALL == ALL:
        text = "A"
    else:
        text = "".join(letter for letter, bit in CLASS_LETTERS if bit & flags)
    return text + "".join(letter for letter, bit in (("K", KEYSPACE), ("E", KEYEVENT),
                                                      ("m", KEY_MISS)) if bit & flags)


def _format(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(f"{s} {c}" for s, c in value)
    return str(value)


@dataclass
class Setting:
    name: str
    default: object
    parse: Callable
    mutable: bool = True
    aliases: tuple = ()
    # Changeable in Redis, not here (the listener is not rebound): CONFIG SET accepts the
    # current value, as the no-op it is, and refuses a change.
    current_only: bool = False
    format: Callable = _format


def parse_size(text: str) -> int:
    """A memory value that is not negative: Redis's size_t settings say so in these words."""
    size = parse_memory(text)
    if size < 0:
        raise ValueError("argument must be a memory value")
    return size


SETTINGS = {s.name: s for s in [
    Setting("port", 6379, between(parse_int, 0, 65535), current_only=True),
    Setting("bind", "127.0.0.1", str, current_only=True),
    # Known so that CONFIG SET calls it immutable, as Redis does; Alchemy never forks away.
    Setting("daemonize", False, parse_no, mutable=False),
    Setting("dir", "./data", str, mutable=False),
    Setting("requirepass", "", str),
    Setting("loglevel", "notice", one_of("debug", "verbose", "notice", "warning")),
    Setting("logfile", "", str, mutable=False),
    Setting("databases", 16, parse_int, mutable=False),
    Setting("maxclients", 10000, parse_int),
    Setting("timeout", 0, parse_int),
    Setting("hz", 10, parse_int),
    Setting("proto-max-bulk-len", 512 * 1024 * 1024, between(parse_memory, 1024 * 1024, 2**63 - 1)),
    Setting("client-query-buffer-limit", 1024 * 1024 * 1024, parse_memory),
    Setting("appendonly", False, parse_bool),
    Setting("appendfsync", "everysec", one_of("always", "everysec", "no")),
    Setting("appendfilename", "appendonly.aof", str, mutable=False),
    Setting("auto-aof-rewrite-percentage", 100, between(parse_int, 0, 2**31 - 1)),
    Setting("auto-aof-rewrite-min-size", 64 * 1024 * 1024, between(parse_memory, 0, 2**63 - 1)),
    Setting("dbfilename", "dump.rdb", str),
    # Microseconds a snapshot writer waits per key: for tests that need a long snapshot.
    Setting("rdb-key-save-delay", 0, between(parse_int, 0, 2**31 - 1)),
    Setting("save", [(3600, 1), (300, 100), (60, 10000)], parse_save),
    Setting("lua-time-limit", 5000, parse_int, aliases=("busy-reply-threshold",)),
    Setting("maxmemory", 0, parse_memory),
    Setting("maxmemory-policy", "noeviction", one_of(
        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru",
        "allkeys-lfu", "allkeys-random", "noeviction")),
    Setting("list-max-listpack-size", -2, parse_int, aliases=("list-max-ziplist-size",)),
    # Accepted so that configurations written for Redis load; lists here are never compressed.
    Setting("list-compress-depth", 0, parse_int),
    Setting("hash-max-listpack-entries", 512, parse_int, aliases=("hash-max-ziplist-entries",)),
    Setting("hash-max-listpack-value", 64, parse_memory, aliases=("hash-max-ziplist-value",)),
    Setting("set-max-intset-entries", 512, parse_int),
    Setting("set-max-listpack-entries", 128, parse_int),
    Setting("set-max-listpack-value", 64, parse_int),
    Setting("zset-max-listpack-entries", 128, parse_int, aliases=("zset-max-ziplist-entries",)),
    Setting("zset-max-listpack-value", 64, parse_int, aliases=("zset-max-ziplist-value",)),
    # Redis's listpack node limits for streams, which decide what an approximate trim removes.
    Setting("stream-node-max-entries", 100, parse_int),
    Setting("stream-node-max-bytes", 4096, parse_memory),
    # The size past which a sparse HyperLogLog turns dense.
    Setting("hll-sparse-max-bytes", 3000, between(parse_size, 0, 2**63 - 1)),
    Setting("slowlog-log-slower-than", 10000, parse_int),
    Setting("slowlog-max-len", 128, parse_int),
    Setting("lazyfree-lazy-user-del", False, parse_bool),
    Setting("lazyfree-lazy-user-flush", False, parse_bool),
    Setting("notify-keyspace-events", 0, parse_events, format=format_events),
    Setting("latency-tracking", True, parse_bool),
    Setting("active-expire-effort", 1, parse_int),
]}

ALIASES = {alias: s.name for s in SETTINGS.values() for alias in s.aliases}


class Config:
    """The live settings of one Database."""

    def __init__(self):
        self.values = {name: s.default for name, s in SETTINGS.items()}
        self.file: str | None = None  # the file read at start-up, which CONFIG REWRITE updates

    def __getitem__(self, name: str):
        return self.values[name]

    def set(self, name: str, text: str, startup: bool = False) -> None:
        """Set from text, as CONFIG SET or a config file line does; errors say why."""
        self.set_many([(name, text)], startup)

    def set_many(self, pairs: list, startup: bool = False) -> None:
        """Set several (name, text) pairs, all or none, as CONFIG SET does: the first
        problem, in argument order, is the error and nothing changes."""
        settings = []
        for given, _ in pairs:
            setting = SETTINGS.get(ALIASES.get(given.lower(), given.lower()))
            if setting is None:
                raise AlchemyError(
                    f"ERR Unknown option or number of arguments for CONFIG SET - '{given}'")
            if not setting.mutable and not startup:
                raise _set_failed(given, "can't set immutable config")
            if setting in settings:
                raise _set_failed(given, "duplicate parameter")
            settings.append(setting)
        parsed = {}
        for setting, (_, text) in zip(settings, pairs):
            try:
                parsed[setting.name] = setting.parse(text)
            except ValueError as e:
                raise _set_failed(setting.name, str(e)) from None
            if (setting.current_only and not startup
                    and parsed[setting.name] != self.values[setting.name]):
                raise _set_failed(setting.name, "can't change it while the server runs")
        self.values.update(parsed)

    def matching(self, pattern: str) -> dict[str, str]:
        """Settings whose name (or alias) matches a glob pattern, formatted as text."""
        pattern = pattern.lower()
        found = {}
        for name, value in self.values.items():
            if fnmatch.fnmatchcase(name, pattern):
                found[name] = SETTINGS[name].format(value)
        for alias, name in ALIASES.items():
            if fnmatch.fnmatchcase(alias, pattern):
                found[alias] = SETTINGS[name].format(self.values[name])
        return found

    def load_file(self, path: str) -> None:
        """Read a redis.conf-style file: one `name value...` per line, # comments."""
        self.file = os.path.abspath(path)
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                name, _, value = line.partition(" ")
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                    value = value[1:-1]
                if ALIASES.get(name.lower(), name.lower()) not in SETTINGS:
                    raise AlchemyError(f"ERR {path}:{number}: unknown setting '{name}'")
                try:
                    self.set(name, value, startup=True)
                except AlchemyError as e:
                    why = e.message.rpartition(" - ")[2]
                    raise AlchemyError(f"ERR {path}:{number}: '{name}' {why}") from None

    def rewrite(self) -> None:
        """CONFIG REWRITE: bring the start-up file up to date with the live settings.

        Comments and unknown lines stay; a setting's first line takes its current value and
        later duplicates go; settings changed from their default that the file lacks are
        appended. The new file replaces the old one atomically."""
        if self.file is None:
            raise AlchemyError("ERR The server is running without a config file")
        try:
            with open(self.file, encoding="utf-8") as f:
                lines = f.read().splitlines()
            written = set()
            out = []
            for line in lines:
                word = line.strip().partition(" ")[0].lower()
                name = ALIASES.get(word, word)
                if name not in SETTINGS:
                    out.append(line)
                elif name not in written:
                    written.add(name)
                    out.append(self._line(name))
            out += [self._line(name) for name, value in self.values.items()
                    if name not in written and value != SETTINGS[name].default]
            temporary = self.file + ".tmp"
            with open(temporary, "w", encoding="utf-8") as f:
                f.write("\n".join(out) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, self.file)
        except OSError as e:
            raise AlchemyError(f"ERR Rewriting config file: {e.strerror}") from None

    def _line(self, name: str) -> str:
        text = SETTINGS[name].format(self.values[name])
        return f'{name} "{text}"' if not text or " " in text else f"{name} {text}"


def _set_failed(name: str, why: str) -> AlchemyError:
    return AlchemyError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")


# Settings of one connection, not of the server: CONFIG SET changes them for the caller
# only (AlchemyDB's sql-output-mode switched the layout of one connection's SQL replies).
CLIENT_SETTINGS = {"sql-output-mode": ("sql_output", one_of("resp", "text"))}


def check_client_setting(name: str, text: str) -> None:
    _, parse = CLIENT_SETTINGS[name.lower()]
    try:
        parse(text)
    except ValueError as e:
        raise AlchemyError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - "
                           f"{e}") from None


def set_client_setting(client, name: str, text: str) -> None:
    attribute, parse = CLIENT_SETTINGS[name.lower()]
    setattr(client, attribute, parse(text))


def client_settings(client, pattern: str) -> dict[str, str]:
    return {name: getattr(client, attribute) for name, (attribute, _) in CLIENT_SETTINGS.items()
            if fnmatch.fnmatchcase(name, pattern.lower())}
