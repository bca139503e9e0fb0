"""MEMORY: how many bytes a key takes (USAGE), and the allocator-level subcommands.

Sizes come from sys.getsizeof. As Redis does, a large collection is estimated from a sample
of its elements (SAMPLES, default 5; 0 walks them all) rather than walked whole.
"""

import itertools
import sys

from alchemy.command import command, run_subcommand, subcommand
from alchemy.errors import SYNTAX, AlchemyError
from alchemy.reply import Status
from alchemy.storage.table import Table
from alchemy.util import parse_int
from alchemy.zset import ZSet

command("memory", -2, "", group="server", since="4.0.0",
        summary="A container for memory diagnostics commands",
        complexity="Depends on subcommand.")(run_subcommand)


def value_size(value, samples: int) -> int:
    """Bytes held by a value: the object, plus its elements (estimated from a sample)."""
    if isinstance(value, Table):
        return sys.getsizeof(value) + sum(value.memory().values())
    size = sys.getsizeof(value)
    if isinstance(value, (bytes, bytearray)):
        return size
    items = value.items() if isinstance(value, dict) else iter(value)
    count = len(value)
    taken = list(itertools.islice(items, samples if samples else None))
    if not taken:
        return size
    sampled = sum(_element_size(item) for item in taken)
    return size + sampled * count // len(taken)


def _element_size(item) -> int:
    if isinstance(item, tuple):
        return sum(sys.getsizeof(part) for part in item)
    return sys.getsizeof(item)


@subcommand("memory", "usage", -3, "readonly", keys=(2, 2, 1), since="4.0.0",
            summary="Estimate the memory usage of a key",
            complexity="O(N) where N is the number of samples.")
def memory_usage(ctx, argv):
    samples = 5
    if len(argv) == 5 and argv[3].upper() == b"SAMPLES":
        samples = parse_int(argv[4])
        if samples < 0:
            raise AlchemyError(SYNTAX)
    elif len(argv) != 3:
        raise AlchemyError(SYNTAX)
    value = ctx.db.get(argv[2])
    if value is None:
        return None
    if isinstance(value, ZSet):  # a dict of scores and a sorted list of the same pairs
        return 2 * value_size(value.scores, samples) + sys.getsizeof(argv[2])
    return value_size(value, samples) + sys.getsizeof(argv[2])


@subcommand("memory", "doctor", 2, "", since="4.0.0",
            summary="Outputs memory problems report", complexity="O(1)")
def memory_doctor(ctx, argv):
    return b"Hi Sam, I can't find any memory issue in your instance. I can only account for " \
           b"what occurs on this base."


@subcommand("memory", "purge", 2, "", since="4.0.0",
            summary="Ask the allocator to release memory", complexity="Depends on how much "
            "memory is allocated, could be slow")
def memory_purge(ctx, argv):
    return Status("OK")


@subcommand("memory", "malloc-stats", 2, "", since="4.0.0",
            summary="Show allocator internal stats", complexity="Depends on how much memory "
            "is allocated, could be slow")
def memory_malloc_stats(ctx, argv):
    return b"Stats not supported for the current allocator"


HELP = [Status(line) for line in (
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Print this help.",
)]


@subcommand("memory", "help", 2, "loading stale", since="4.0.0",
            summary="Show helpful text about the different subcommands", complexity="O(1)")
def memory_help(ctx, argv):
    return HELP
