"""`alchemy-check-log FILE [--fix]`: report whether a log reads back whole, and with --fix
cut it after its last good record (what start-up does by itself for a torn tail only)."""

import argparse
import os
import sys

from alchemy.persistence.log import LogReader, describe, truncate


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="alchemy-check-log",
        description="Check an Alchemy append-only log; --fix cuts it after the last good "
                    "record.")
    parser.add_argument("file")
    parser.add_argument("--fix", action="store_true",
                        help="truncate the file after its last good record")
    args = parser.parse_args(argv)
    try:
        reader = LogReader(args.file)
        units = commands = 0
        for unit in reader:
            units += 1
            commands += len(unit.commands)
    except OSError as e:
        print(f"alchemy-check-log: {args.file}: {e.strerror}", file=sys.stderr)
        return 2
    size = os.path.getsize(args.file)
    problem = reader.problem
    if problem is None:
        print(f"{args.file}: OK, {reader.records} records, {commands} commands, {size} bytes")
        return 0
    print(describe(problem, args.file))
    print(f"last good record ends at byte offset {reader.end}; {commands} commands before it")
    if not args.fix:
        print("run with --fix to truncate the file there")
        return 1
    truncate(args.file, reader.end)
    print(f"{args.file}: truncated from {size} to {reader.end} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
