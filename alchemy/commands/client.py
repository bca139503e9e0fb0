"""CLIENT (networking.c): a connection's identity, and the list of every connection.

The engine knows clients but no sockets: addresses and the descriptor are filled in by the
front end that accepted the connection, and killing one calls the `kill` it installed.
"""

import time

from alchemy.command import command, run_subcommand, subcommand
from alchemy.commands.connection import check_client_name
from alchemy.errors import SYNTAX, AlchemyError, subcommand_syntax
from alchemy.reply import NO_REPLY, OK, Status, Verbatim
from alchemy.util import parse_int

# Redis's client types, as CLIENT LIST TYPE and CLIENT KILL TYPE name them. Alchemy has no
# replication yet, so no client is ever a master or a replica.
CLIENT_TYPES = {b"normal": "normal", b"pubsub": "pubsub", b"master": "master",
                b"replica": "replica", b"slave": "replica"}


def client_type(client) -> str:
    return "pubsub" if client.subscriptions else "normal"


def _type_filter(name: bytes) -> str:
    kind = CLIENT_TYPES.get(name.lower())
    if kind is None:
        raise AlchemyError(f"ERR Unknown client type '{name.decode(errors='replace')}'")
    return kind


def _flags(client) -> str:
    flags = ""
    if client.subscriptions:
        flags += "P"
    if client.multi is not None:
        flags += "x"
    if client.blocked is not None:
        flags += "b"
    if client.watch_dirty:
        flags += "d"
    if client.closing:
        flags += "c"
    return flags or "N"


def _request_size(argv: list) -> int:
    return len(b"*%d\r\n" % len(argv)) + sum(len(b"$%d\r\n\r\n" % len(a)) + len(a) for a in argv)


def client_line(client, ctx=None, argv=None) -> str:
    """One line of CLIENT LIST, fields as Redis 7.0 prints them. Buffer sizes that Python
    does not expose are shown as 0, except the caller's query buffer, which holds the
    request being run (its RESP size) as in Redis."""
    now = time.time()
    qbuf = _request_size(argv) if client is ctx and argv is not None else 0
    command_name = client.last_command
    if isinstance(command_name, bytes):
        command_name = command_name.decode()
    return (
        f"id={client.id} addr={client.address} laddr={client.local_address} fd={client.fd} "
        f"name={client.name.decode(errors='replace')} age={int(now - client.created)} "
        f"idle={int(now - client.last_interaction)} flags={_flags(client)} "
        f"db={client.db.index} sub={len(client.channels)} psub={len(client.patterns)} "
        f"ssub=0 multi={len(client.multi) if client.multi is not None else -1} "
        f"qbuf={qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 "
        f"tot-mem=0 events=r cmd={command_name} user=default redir=-1 "
        f"resp={3 if client.resp3 else 2}")


def _listing(ctx, argv, clients) -> Verbatim:
    return Verbatim("".join(client_line(c, ctx, argv) + "\n" for c in clients).encode())


command("client", -2, "", group="connection", since="2.4.0",
        summary="A container for client connection commands",
        complexity="Depends on subcommand.")(run_subcommand)

_FLAGS = "noscript loading stale"


@subcommand("client", "id", 2, _FLAGS, summary="Returns the client ID for the current connection",
            since="5.0.0", complexity="O(1)")
def client_id(ctx, argv):
    return ctx.id


@subcommand("client", "setname", 3, _FLAGS, summary="Set the current connection name",
            since="2.6.9", complexity="O(1)")
def client_setname(ctx, argv):
    check_client_name(argv[2])
    ctx.name = argv[2]
    return OK


@subcommand("client", "getname", 2, _FLAGS, summary="Get the current connection name",
            since="2.6.9", complexity="O(1)")
def client_getname(ctx, argv):
    return ctx.name or None


@subcommand("client", "list", -2, "admin " + _FLAGS, since="2.4.0",
            summary="Get the list of client connections",
            complexity="O(N) where N is the number of client connections")
def client_list(ctx, argv):
    clients = ctx.server.clients
    if len(argv) == 2:
        return _listing(ctx, argv, clients.values())
    option = argv[2].lower()
    if option == b"type" and len(argv) == 4:
        kind = _type_filter(argv[3])
        return _listing(ctx, argv, (c for c in clients.values() if client_type(c) == kind))
    if option == b"id" and len(argv) > 3:
        ids = [parse_int(arg, "ERR Invalid client ID") for arg in argv[3:]]
        return _listing(ctx, argv, (clients[i] for i in ids if i in clients))
    raise AlchemyError(SYNTAX)


@subcommand("client", "info", 2, _FLAGS, since="6.2.0",
            summary="Returns information about the current client connection.", complexity="O(1)")
def client_info(ctx, argv):
    return Verbatim((client_line(ctx, ctx, argv) + "\n").encode())


@subcommand("client", "kill", -3, "admin " + _FLAGS, since="2.4.0",
            summary="Kill the connection of a client",
            complexity="O(N) where N is the number of client connections")
def client_kill(ctx, argv):
    if len(argv) == 3:
        # The old form: one address, and a client may kill itself.
        killed = _kill(ctx, {"addr": argv[2].decode(errors="replace")}, skip_me=False)
        if not killed:
            raise AlchemyError("ERR No such client")
        return OK
    filters, skip_me = _kill_filters(argv)
    return _kill(ctx, filters, skip_me)


def _kill_filters(argv) -> tuple[dict, bool]:
    filters = {}
    skip_me = True
    if len(argv) % 2:
        raise AlchemyError(SYNTAX)
    for option, value in zip(argv[2::2], argv[3::2]):
        option = option.lower()
        if option == b"id":
            client_id = parse_int(value, "ERR client-id should be greater than 0")
            if client_id < 1:
                raise AlchemyError("ERR client-id should be greater than 0")
            filters["id"] = client_id
        elif option == b"type":
            filters["type"] = _type_filter(value)
        elif option in (b"addr", b"laddr"):
            filters[option.decode()] = value.decode(errors="replace")
        elif option == b"user":
            if value != b"default":
                raise AlchemyError(f"ERR No such user '{value.decode(errors='replace')}'")
        elif option == b"skipme":
            if value.lower() not in (b"yes", b"no"):
                raise AlchemyError(SYNTAX)
            skip_me = value.lower() == b"yes"
        else:
            raise AlchemyError(SYNTAX)
    return filters, skip_me


def _kill(ctx, filters: dict, skip_me: bool) -> int:
    """Close every client matching all filters; the caller itself after its reply."""
    killed = 0
    for client in list(ctx.server.clients.values()):
        if ("id" in filters and client.id != filters["id"]
                or "addr" in filters and client.address != filters["addr"]
                or "laddr" in filters and client.local_address != filters["laddr"]
                or "type" in filters and client_type(client) != filters["type"]
                or client is ctx and skip_me):
            continue
        killed += 1
        if client is ctx:
            ctx.closing = True
        elif client.kill is not None:
            client.kill()
    return killed


@subcommand("client", "unblock", -3, "admin " + _FLAGS, since="5.0.0",
            summary="Unblock a client blocked in a blocking command from a different "
                    "connection", complexity="O(log N) where N is the number of client "
                                             "connections")
def client_unblock(ctx, argv):
    if len(argv) > 4:
        raise subcommand_syntax("client", argv[1])
    reason = argv[3].lower() if len(argv) == 4 else b"timeout"
    if reason not in (b"timeout", b"error"):
        raise AlchemyError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    target = ctx.server.clients.get(parse_int(argv[2]))
    if target is None or target.blocked is None:
        return 0
    if reason == b"error":
        answer = AlchemyError("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    else:
        answer = target.blocked[4]  # what its timeout would have answered
    ctx.server.unblock(target, answer)
    return 1


@subcommand("client", "reply", 3, _FLAGS, since="3.2.0",
            summary="Instruct the server whether to reply to commands", complexity="O(1)")
def client_reply(ctx, argv):
    mode = argv[2].lower()
    if mode == b"on":
        ctx.muted = 0
        return OK
    if mode == b"off":
        ctx.muted = -1
    elif mode == b"skip":
        if ctx.muted == 0:
            ctx.muted = 1
    else:
        raise AlchemyError(SYNTAX)
    return NO_REPLY


def _on_off(argv) -> bool:
    value = argv[2].lower()
    if value not in (b"on", b"off"):
        raise AlchemyError(SYNTAX)
    return value == b"on"


@subcommand("client", "no-evict", 3, "admin " + _FLAGS, since="7.0.0",
            summary="Set client eviction mode for the current connection", complexity="O(1)")
def client_no_evict(ctx, argv):
    # Alchemy does not evict clients, so every client already is what ON asks for.
    _on_off(argv)
    return OK


@subcommand("client", "no-touch", 3, _FLAGS, since="7.2.0",
            summary="Controls whether commands sent by the client will alter the LRU/LFU of "
                    "the keys they access.", complexity="O(1)")
def client_no_touch(ctx, argv):
    # Keys carry no access time in Alchemy yet, so there is nothing for ON to leave alone.
    _on_off(argv)
    return OK


HELP = [Status(line) for line in (
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "    * ID <client-id> [<client-id> ...]",
    "      Return clients of the specified ids.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Prints this help.",
)]


@subcommand("client", "help", 2, "loading stale", since="5.0.0",
            summary="Show helpful text about the different subcommands", complexity="O(1)")
def client_help(ctx, argv):
    return HELP
