"""Settings: one table of every setting, read by CONFIG GET/SET and the config file.

A setting has a default, a parser from text and a formatter back to text. Values are kept
parsed, so the hot path reads `config.values["name"]` without converting.
"""

import fnmatch
import re
from dataclasses import dataclass
from typing import Callable

from alchemy.errors import AlchemyError

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2,
          "g": 1000**3, "gb": 1024**3}


def parse_memory(text: str) -> int:
    m = re.fullmatch(r"(-?\d+)([a-zA-Z]*)", text.strip())
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"argument must be a memory value")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("yes", "no"):
        raise ValueError("argument must be 'yes' or 'no'")
    return lowered == "yes"


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


SETTINGS = {s.name: s for s in [
    Setting("port", 6379, parse_int, mutable=False),
    Setting("bind", "127.0.0.1", str, mutable=False),
    Setting("dir", "./data", str, mutable=False),
    Setting("requirepass", "", str),
    Setting("loglevel", "notice", one_of("debug", "verbose", "notice", "warning")),
    Setting("logfile", "", str, mutable=False),
    Setting("databases", 16, parse_int, mutable=False),
    Setting("maxclients", 10000, parse_int),
    Setting("timeout", 0, parse_int),
    Setting("hz", 10, parse_int),
    Setting("proto-max-bulk-len", 512 * 1024 * 1024, parse_memory),
    Setting("client-query-buffer-limit", 1024 * 1024 * 1024, parse_memory),
    Setting("appendonly", False, parse_bool),
    Setting("appendfsync", "everysec", one_of("always", "everysec", "no")),
    Setting("appendfilename", "appendonly.aof", str, mutable=False),
    Setting("dbfilename", "dump.rdb", str),
    Setting("save", [(3600, 1), (300, 100), (60, 10000)], parse_save),
    Setting("lua-time-limit", 5000, parse_int, aliases=("busy-reply-threshold",)),
    Setting("maxmemory", 0, parse_memory),
    Setting("maxmemory-policy", "noeviction", one_of(
        "noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu",
        "allkeys-random", "volatile-random", "volatile-ttl")),
    Setting("list-max-listpack-size", -2, parse_int, aliases=("list-max-ziplist-size",)),
    Setting("hash-max-listpack-entries", 128, parse_int, aliases=("hash-max-ziplist-entries",)),
    Setting("hash-max-listpack-value", 64, parse_int, aliases=("hash-max-ziplist-value",)),
    Setting("set-max-intset-entries", 512, parse_int),
    Setting("set-max-listpack-entries", 128, parse_int),
    Setting("set-max-listpack-value", 64, parse_int),
    Setting("zset-max-listpack-entries", 128, parse_int, aliases=("zset-max-ziplist-entries",)),
    Setting("zset-max-listpack-value", 64, parse_int, aliases=("zset-max-ziplist-value",)),
    Setting("slowlog-log-slower-than", 10000, parse_int),
    Setting("slowlog-max-len", 128, parse_int),
    Setting("lazyfree-lazy-user-del", False, parse_bool),
    Setting("lazyfree-lazy-user-flush", False, parse_bool),
    Setting("notify-keyspace-events", "", str),
    Setting("latency-tracking", True, parse_bool),
    Setting("active-expire-effort", 1, parse_int),
]}

ALIASES = {alias: s.name for s in SETTINGS.values() for alias in s.aliases}


class Config:
    """The live settings of one Database."""

    def __init__(self):
        self.values = {name: s.default for name, s in SETTINGS.items()}

    def __getitem__(self, name: str):
        return self.values[name]

    def set(self, name: str, text: str, startup: bool = False) -> None:
        """Set from text, as CONFIG SET or a config file line does; errors say why."""
        name = ALIASES.get(name.lower(), name.lower())
        setting = SETTINGS.get(name)
        if setting is None:
            raise AlchemyError(f"ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
        if not setting.mutable and not startup:
            raise AlchemyError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - "
                               "can't set immutable config")
        try:
            self.values[name] = setting.parse(text)
        except ValueError as e:
            raise AlchemyError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - "
                               f"{e}") from None

    def matching(self, pattern: str) -> dict[str, str]:
        """Settings whose name (or alias) matches a glob pattern, formatted as text."""
        pattern = pattern.lower()
        found = {}
        for name, value in self.values.items():
            if fnmatch.fnmatchcase(name, pattern):
                found[name] = _format(value)
        for alias, name in ALIASES.items():
            if fnmatch.fnmatchcase(alias, pattern):
                found[alias] = _format(self.values[name])
        return found

    def load_file(self, path: str) -> None:
        """Read a redis.conf-style file: one `name value...` per line, # comments."""
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                name, _, value = line.partition(" ")
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                    value = value[1:-1]
                try:
                    self.set(name, value, startup=True)
                except AlchemyError as e:
                    raise AlchemyError(f"ERR {path}:{number}: {e.message[4:]}") from None
