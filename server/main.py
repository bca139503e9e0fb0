"""`alchemy-server`: parse the command line and the config file, then serve."""

import argparse
import logging
import os
import sys

from alchemy.config import Config
from alchemy.database import Database
from alchemy.errors import AlchemyError
from alchemy_server.app import Server

LOG_LEVELS = {"debug": logging.DEBUG, "verbose": logging.INFO, "notice": logging.INFO,
              "warning": logging.WARNING}


def parse_args(argv: list | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="alchemy-server",
        description="Alchemy: an in-memory SQL/NoSQL datastore speaking the Redis protocol.")
    parser.add_argument("--config", metavar="FILE",
                        help="redis.conf-style file (`port 6380`, `requirepass x`, ...); "
                             "options given here override it")
    parser.add_argument("--port", help="TCP port to listen on (default 6379; 0 picks a free one)")
    parser.add_argument("--bind", help="addresses to listen on, space separated "
                                       "(default 127.0.0.1: loopback only)")
    parser.add_argument("--dir", help="data directory for the log and snapshots (default ./data)")
    parser.add_argument("--appendfsync", choices=["always", "everysec", "no"],
                        help="when the log is fsynced (default everysec)")
    parser.add_argument("--requirepass", metavar="PASSWORD",
                        help="require AUTH with this password before any command")
    parser.add_argument("--loglevel", choices=["debug", "verbose", "notice", "warning"],
                        help="how much to log (default notice)")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> Config:
    config = Config()
    if args.config:
        config.load_file(args.config)
    for name in ("port", "bind", "dir", "appendfsync", "requirepass", "loglevel"):
        value = getattr(args, name)
        if value is not None:
            config.set(name, value, startup=True)
    return config


def main(argv: list | None = None) -> None:
    args = parse_args(argv)
    try:
        config = build_config(args)
    except (AlchemyError, OSError) as e:
        message = e.message.removeprefix("ERR ") if isinstance(e, AlchemyError) else e
        sys.exit(f"alchemy-server: {message}")
    logging.basicConfig(level=LOG_LEVELS[config["loglevel"]], stream=sys.stderr,
                        format=f"{os.getpid()}:M %(asctime)s.%(msecs)03d %(message)s",
                        datefmt="%d %b %Y %H:%M:%S")
    os.makedirs(config["dir"], exist_ok=True)
    Server(Database(config)).run()


if __name__ == "__main__":
    main()
