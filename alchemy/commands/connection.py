"""Connection commands: PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO."""

import hmac

from alchemy.command import command
from alchemy.commands.sql import run_words
from alchemy.errors import INVALID_DB, NOT_INTEGER, SYNTAX, WRONGPASS, AlchemyError, wrong_arity
from alchemy.reply import OK, PONG, Status
from alchemy.util import parse_int


@command("ping", -1, "fast stale pubsub_ok", group="connection",
         summary="Ping the server")
def ping(ctx, argv):
    if len(argv) == 1 and ctx.plain:  # the commonest PING: not subscribed (Client.plain)
        return PONG
    if len(argv) > 2:
        raise wrong_arity("ping")
    if (ctx.channels or ctx.patterns) and not ctx.resp3:
        return [b"pong", argv[1] if len(argv) > 1 else b""]
    return argv[1] if len(argv) > 1 else PONG


@command("echo", 2, "fast", group="connection", summary="Echo the given string")
def echo(ctx, argv):
    return argv[1]


@command("quit", 1, "fast no_auth no_queue pubsub_ok allow_busy noscript", group="connection",
         summary="Close the connection")
def quit_(ctx, argv):
    ctx.closing = True
    return OK


@command("reset", 1, "fast no_auth no_queue pubsub_ok allow_busy noscript",
         group="connection", summary="Reset the connection")
def reset(ctx, argv):
    server = ctx.server
    ctx.multi = None
    ctx.multi_error = False
    server.unwatch_all(ctx)
    server.pubsub.unsubscribe_all(ctx)
    ctx.db = server.dbs[0]
    ctx.resp3 = False
    ctx.name = b""
    ctx.authenticated = not server.config["requirepass"]
    if ctx in server.monitors:
        server.monitors.remove(ctx)
    return Status("RESET")


@command("monitor", 1, "admin noscript loading stale", group="server", since="1.0.0",
         summary="Listen for all requests received by the server in real time")
def monitor(ctx, argv):
    """From now on the client is sent every command the server runs (Database.
    feed_monitors), until it disconnects or sends RESET."""
    if ctx.push is None or ctx.in_exec:  # a script, the in-process API, an EXEC
        raise AlchemyError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    if ctx not in ctx.server.monitors:
        ctx.server.monitors.append(ctx)
    return OK


@command("select", -2, "fast loading stale", group="connection",
         summary="Change the selected database for the current connection")
def select(ctx, argv):
    if len(argv) > 2:
        return run_words(ctx, argv)  # SELECT cols FROM ...: SQL split into words
    index = parse_int(argv[1])
    if not -2**31 <= index < 2**31:
        raise AlchemyError(NOT_INTEGER)
    if not 0 <= index < len(ctx.server.dbs):
        raise AlchemyError(INVALID_DB)
    ctx.db = ctx.server.dbs[index]
    return OK


def check_client_name(name: bytes) -> None:
    """Names are shown space-separated in CLIENT LIST, so Redis allows no spaces or newlines."""
    if any(c < 33 or c > 126 for c in name):
        raise AlchemyError("ERR Client names cannot contain spaces, newlines or special characters.")


def _check_password(ctx, username: bytes, password: bytes) -> None:
    # The only user is "default"; without requirepass it has no password and any is accepted.
    required = ctx.server.config["requirepass"].encode()
    if username != b"default" or (required and not hmac.compare_digest(password, required)):
        raise AlchemyError(WRONGPASS)
    ctx.authenticated = True


@command("auth", -2, "fast no_auth stale loading allow_busy noscript", group="connection",
         summary="Authenticate to the server")
def auth(ctx, argv):
    if len(argv) > 3:
        raise AlchemyError(SYNTAX)
    if not ctx.server.config["requirepass"] and len(argv) == 2:
        raise AlchemyError(
            "ERR AUTH <password> called without any password configured for the default "
            "user. Are you sure your configuration is correct?")
    username = argv[1] if len(argv) == 3 else b"default"
    _check_password(ctx, username, argv[-1])
    return OK


@command("hello", -1, "fast no_auth stale loading allow_busy noscript", group="connection",
         summary="Handshake with the server")
def hello(ctx, argv):
    version = None
    if len(argv) > 1:
        try:
            version = parse_int(argv[1])
        except AlchemyError:
            raise AlchemyError("ERR Protocol version is not an integer or out of range") \
                from None
        if version not in (2, 3):
            raise AlchemyError("NOPROTO unsupported protocol version")
    # Options take effect as they are read, as in Redis: a name set before a failing
    # option stays set.
    i = 2
    while i < len(argv):
        option = argv[i].upper()
        if option == b"AUTH" and i + 2 < len(argv):
            _check_password(ctx, argv[i + 1], argv[i + 2])
            i += 3
        elif option == b"SETNAME" and i + 1 < len(argv):
            check_client_name(argv[i + 1])
            ctx.name = argv[i + 1]
            i += 2
        else:
            raise AlchemyError(f"ERR Syntax error in HELLO option '{argv[i].decode(errors='replace')}'")
    if not ctx.authenticated:
        raise AlchemyError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
            "select the RESP protocol version at the same time")
    if version is not None:
        ctx.resp3 = version == 3
    return {b"server": b"redis", b"version": ctx.server.redis_version.encode(),
            b"proto": 3 if ctx.resp3 else 2, b"id": ctx.id, b"mode": b"standalone",
            b"role": b"master", b"modules": []}
