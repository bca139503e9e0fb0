"""Pub/sub registry: who listens to which channel or pattern, and message delivery.

Messages go out through each client's `push`, as RESP3 push frames or, in RESP2, as the
plain arrays of a subscribed connection.
"""

from alchemy.reply import Push
from alchemy.util import glob_matcher


class PubSub:
    def __init__(self):
        self.channels: dict[bytes, set] = {}
        self.patterns: dict[bytes, set] = {}

    def subscribe(self, client, channel: bytes) -> bool:
        if channel in client.channels:
            return False
        client.channels.add(channel)
        client.refresh()
        self.channels.setdefault(channel, set()).add(client)
        return True

    def unsubscribe(self, client, channel: bytes) -> bool:
        if channel not in client.channels:
            return False
        client.channels.discard(channel)
        client.refresh()
        _remove(self.channels, channel, client)
        return True

    def psubscribe(self, client, pattern: bytes) -> bool:
        if pattern in client.patterns:
            return False
        client.patterns[pattern] = None
        client.refresh()
        self.patterns.setdefault(pattern, set()).add(client)
        return True

    def punsubscribe(self, client, pattern: bytes) -> bool:
        if pattern not in client.patterns:
            return False
        del client.patterns[pattern]
        client.refresh()
        _remove(self.patterns, pattern, client)
        return True

    def unsubscribe_all(self, client) -> None:
        for channel in list(client.channels):
            self.unsubscribe(client, channel)
        for pattern in list(client.patterns):
            self.punsubscribe(client, pattern)

    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver to every subscriber; the number of clients that received it."""
        receivers = 0
        for client in self.channels.get(channel, ()):
            client.push(Push([b"message", channel, message]))
            receivers += 1
        for pattern, clients in self.patterns.items():
            if glob_matcher(pattern)(channel):
                for client in clients:
                    client.push(Push([b"pmessage", pattern, channel, message]))
                    receivers += 1
        return receivers


def _remove(registry: dict, name: bytes, client) -> None:
    clients = registry.get(name)
    if clients is not None:
        clients.discard(client)
        if not clients:
            del registry[name]
