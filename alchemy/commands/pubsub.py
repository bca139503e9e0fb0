"""Pub/sub commands (pubsub.c): SUBSCRIBE, PSUBSCRIBE, their UNSUBSCRIBEs, PUBLISH, PUBSUB.

A RESP2 connection with any subscription is in subscribed mode: Database.call refuses every
command not flagged `pubsub_ok`. A RESP3 connection may run anything and gets messages as
push frames between its replies. Who listens to what is kept by alchemy.pubsub.PubSub.
"""

from typing import Callable

from alchemy.command import command
from alchemy.errors import AlchemyError, subcommand_syntax, unknown_subcommand, wrong_arity
from alchemy.reply import NO_REPLY, Push, Status
from alchemy.util import glob_matcher

FLAGS = "pubsub noscript loading stale pubsub_ok"


def _confirm(ctx, kind: bytes, names: list, change: Callable) -> object:
    """Apply change to each name and confirm each with [kind, name, subscription count].

    Redis answers once per name, and these answers are pushes: CLIENT REPLY OFF does not
    silence them. So every confirmation is pushed (during a request the connection appends
    pushes to the same output, so the order holds) and the command itself replies nothing.
    Inside EXEC, whose reply is one array, the last confirmation is its reply instead. The
    in-process API, which has no push, gets them all as a list.
    """
    replies = []
    for name in names:
        change(ctx, name)
        replies.append(Push([kind, name, ctx.subscriptions]))
    return _deliver(ctx, replies)


def _deliver(ctx, replies: list) -> object:
    if ctx.push is None:
        return replies
    last = len(replies) - 1 if ctx.in_exec else len(replies)
    for reply in replies[:last]:
        ctx.push(reply)
    return replies[-1] if ctx.in_exec else NO_REPLY


def _leave(ctx, kind: bytes, names: list, remove: Callable) -> object:
    if not names:
        # Redis confirms even when there was nothing to leave: one message, nil name.
        reply = Push([kind, None, ctx.subscriptions])
        return reply if ctx.push is None else _deliver(ctx, [reply])
    return _confirm(ctx, kind, names, remove)


def _check_can_subscribe(ctx, name: str) -> None:
    # Without a way to push messages (the in-process API) a subscription could never deliver.
    if ctx.push is None:
        raise AlchemyError(f"ERR {name} isn't allowed for a DENY BLOCKING client")


@command("subscribe", -2, FLAGS, group="pubsub", since="2.0.0",
         summary="Listen for messages published to the given channels",
         complexity="O(N) where N is the number of channels to subscribe to.")
def subscribe(ctx, argv):
    _check_can_subscribe(ctx, "SUBSCRIBE")
    return _confirm(ctx, b"subscribe", argv[1:], ctx.server.pubsub.subscribe)


@command("psubscribe", -2, FLAGS, group="pubsub", since="2.0.0",
         summary="Listen for messages published to channels matching the given patterns",
         complexity="O(N) where N is the number of patterns the client is already "
                    "subscribed to.")
def psubscribe(ctx, argv):
    _check_can_subscribe(ctx, "PSUBSCRIBE")
    return _confirm(ctx, b"psubscribe", argv[1:], ctx.server.pubsub.psubscribe)


@command("unsubscribe", -1, FLAGS, group="pubsub", since="2.0.0",
         summary="Stop listening for messages posted to the given channels",
         complexity="O(N) where N is the number of clients already subscribed to a channel.")
def unsubscribe(ctx, argv):
    return _leave(ctx, b"unsubscribe", argv[1:] or list(ctx.channels),
                  ctx.server.pubsub.unsubscribe)


@command("punsubscribe", -1, FLAGS, group="pubsub", since="2.0.0",
         summary="Stop listening for messages posted to channels matching the given patterns",
         complexity="O(N+M) where N is the number of patterns the client is already "
                    "subscribed and M is the number of total patterns subscribed in the "
                    "system (by any client).")
def punsubscribe(ctx, argv):
    return _leave(ctx, b"punsubscribe", argv[1:] or list(ctx.patterns),
                  ctx.server.pubsub.punsubscribe)


@command("publish", 3, "pubsub loading stale fast", group="pubsub", since="2.0.0",
         summary="Post a message to a channel",
         complexity="O(N+M) where N is the number of clients subscribed to the receiving "
                    "channel and M is the total number of subscribed patterns (by any client).")
def publish(ctx, argv):
    return ctx.server.pubsub.publish(argv[1], argv[2])


# -- PUBSUB introspection ---------------------------------------------------------------

def _channels(ctx, argv):
    if len(argv) > 3:
        raise subcommand_syntax("pubsub", argv[1])
    channels = ctx.server.pubsub.channels
    if len(argv) == 2:
        return list(channels)
    matches = glob_matcher(argv[2])
    return [channel for channel in channels if matches(channel)]


def _numsub(ctx, argv):
    channels = ctx.server.pubsub.channels
    reply = []
    for channel in argv[2:]:
        reply += [channel, len(channels.get(channel, ()))]
    return reply


def _numpat(ctx, argv):
    # Distinct patterns, not subscriptions: two clients on `a*` count once (Redis 7.0).
    return len(ctx.server.pubsub.patterns)


HELP = [Status(line) for line in (
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "HELP",
    "    Prints this help.",
)]


def _help(ctx, argv):
    return HELP


# name: (arity counting PUBSUB and the subcommand, handler)
SUBCOMMANDS = {
    b"channels": (-2, _channels),
    b"numsub": (-2, _numsub),
    b"numpat": (2, _numpat),
    b"help": (2, _help),
}


@command("pubsub", -2, "pubsub loading stale", group="pubsub", since="2.8.0",
         summary="A container for Pub/Sub commands",
         complexity="Depends on subcommand.")
def pubsub(ctx, argv):
    name = argv[1].lower()
    entry = SUBCOMMANDS.get(name)
    if entry is None:
        raise unknown_subcommand("pubsub", argv[1])
    arity, handler = entry
    if (arity >= 0 and len(argv) != arity) or len(argv) < -arity:
        raise wrong_arity(f"pubsub|{name.decode()}")
    return handler(ctx, argv)
