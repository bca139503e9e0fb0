"""One client's state: the selected database, protocol, transaction, watches, blocking.

The engine never touches sockets: a front end (the RESP server, a script, the in-process
API) owns a Client and installs `push` (deliver an out-of-band reply: pub/sub messages, the
answer of a command that was blocked) and `kill` (close the connection).
"""

import time
from typing import Callable


class Client:
    def __init__(self, server, client_id: int, kind: str = "normal"):
        self.server = server
        self.id = client_id
        self.kind = kind
        self.name = b""
        self.db = server.dbs[0]
        self.resp3 = False
        self.sql_output = "resp"  # or "text": AlchemyDB's comma-separated rows
        # Pub/sub state lives here so every front end shares it.
        self.channels: set = set()
        self.patterns: dict = {}  # ordered: Redis answers PUNSUBSCRIBE-all in subscription order
        self._authenticated = not server.config["requirepass"]
        self._multi: list | None = None
        self.refresh()
        self.multi_error = False
        self.in_exec = False
        self.watched: list = []
        self.watch_dirty = False
        self.blocked = None
        self.closing = False
        self.created = time.time()
        self.last_interaction = self.created
        self.last_command = b"NULL"
        self.address = ""
        self.local_address = ""
        self.fd = -1  # the socket's descriptor when a network front owns the client
        self.muted = 0  # CLIENT REPLY: 0 on, -1 off, 1 skip the next reply
        self.push: Callable | None = None
        self.kill: Callable | None = None

    # `plain`: authenticated, not in MULTI, not subscribed, which lets Database.call pass
    # the checks of those states with one test. The setters keep it, and so does PubSub
    # (refresh) when subscriptions change.

    @property
    def authenticated(self) -> bool:
        return self._authenticated

    @authenticated.setter
    def authenticated(self, value: bool) -> None:
        self._authenticated = value
        self.refresh()

    @property
    def multi(self) -> list | None:
        """The commands queued since MULTI, None outside a transaction."""
        return self._multi

    @multi.setter
    def multi(self, value: list | None) -> None:
        self._multi = value
        self.refresh()

    def refresh(self) -> None:
        """Recompute `plain` after auth, transaction or subscription state changed."""
        self.plain = (self._authenticated and self._multi is None and not self.channels
                      and not self.patterns)

    @property
    def can_block(self) -> bool:
        """Blocking commands act non-blocking inside MULTI, scripts and the in-process API."""
        return (self.push is not None and self.multi is None and not self.in_exec
                and self.kind == "normal")

    @property
    def subscriptions(self) -> int:
        return len(self.channels) + len(self.patterns)
