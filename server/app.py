"""The server process: listening sockets, the event loop, periodic work, signals.

No threads, ever (DESIGN.md): listening sockets are made here from numeric addresses so the
loop never resolves names in a thread pool, and nothing else in the process starts one.
"""

import asyncio
import ipaddress
import logging
import os
import resource
import select
import signal
import socket
import sys

from alchemy.database import Database
from alchemy.errors import AlchemyError
from alchemy.persistence import StartupError
from alchemy_server.connection import Connection

log = logging.getLogger("alchemy")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed, plain asyncio otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def listening_socket(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((address, port))
    sock.listen(511)
    sock.setblocking(False)
    return sock


def raise_open_files_limit(wanted: int) -> None:
    """Let maxclients connections open, as Redis does at start-up: the soft descriptor limit
    is often 1024 while the hard one allows more."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < wanted:
            log.warning("Only %d open files allowed: maxclients %d needs %d", target,
                        wanted - 32, wanted)


class Server:
    def __init__(self, db: Database):
        self.db = db
        self.loop: asyncio.AbstractEventLoop | None = None
        self.listeners: list = []
        self.sockets: list = []  # the listening sockets
        self.connections: set = set()  # every open RESP Connection

    def run(self) -> None:
        config = self.db.config
        # Listeners, log and snapshot files take some descriptors besides the clients.
        raise_open_files_limit(config["maxclients"] + 32)
        try:
            self.db.persistence.load()
        except StartupError as e:
            log.error("Cannot start: %s", e)
            sys.exit(1)
        self.loop = loop = new_event_loop()
        asyncio.set_event_loop(loop)
        self.db.persistence.start(loop)  # forks the log writer before any socket exists
        self.sockets = sockets = [listening_socket(a, config["port"])
                                  for a in config["bind"].split()]
        for sock in sockets:
            self.listeners.append(loop.run_until_complete(
                loop.create_server(lambda: Connection(self), sock=sock)))
        port = sockets[0].getsockname()[1]
        self.db.server_info.update(tcp_port=port, process_id=os.getpid(),
                                   event_loop=type(loop).__module__.split(".")[0])
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.terminate)
        self.db.shutdown = self.stop
        self.db.busy_poll = self.answer_while_busy
        loop.call_soon(self._cron)
        log.info("Ready to accept connections on %s port %d", config["bind"], port)
        try:
            loop.run_forever()
        finally:
            for listener in self.listeners:
                listener.close()
            loop.close()
        log.info("Alchemy is now ready to exit, bye bye...")

    def terminate(self) -> None:
        """SIGTERM, SIGINT: save a snapshot when save points are set (as SHUTDOWN does), stop."""
        if self.db.config["save"]:
            try:
                self.db.persistence.final_save()
            except AlchemyError as e:
                log.warning("Saving before exit failed: %s", e.message)
        self.stop()

    def stop(self) -> None:
        log.info("Received shutdown request, stopping")
        try:
            self.db.persistence.stop()
        finally:
            if self.db.busy is not None:
                # SHUTDOWN NOSAVE while a script runs past its time limit: the loop could
                # only stop once the script returns, which may be never. Exit now.
                os._exit(0)
            self.loop.stop()

    def answer_while_busy(self) -> None:
        """Database.busy_poll: called from inside a script that runs past lua-time-limit,
        while the loop is stalled. Clients with something to read get their answers now
        (-BUSY, or SCRIPT KILL obeyed), new connections included: the usual way out of a
        runaway script is a new redis-cli sending SCRIPT KILL."""
        self._accept_while_busy()
        waiting = {conn.client.fd: conn for conn in self.connections
                   if conn.can_read_while_busy()}
        if not waiting:
            return
        poller = select.poll()
        for fd in waiting:
            poller.register(fd, select.POLLIN)
        for fd, _ in poller.poll(0):
            waiting[fd].read_while_busy()

    def _accept_while_busy(self) -> None:
        """Accept the connections waiting on the listening sockets. Each gets a Connection
        whose replies are sent directly until the loop, running again, takes it over."""
        for listener in self.sockets:
            while True:
                try:
                    sock, _ = listener.accept()
                except OSError:  # none left (EAGAIN), or none possible now (EMFILE)
                    break
                sock.setblocking(False)
                connection = Connection(self)
                connection.connection_made(EarlyTransport(sock))
                self.loop.call_soon(self._adopt, connection, sock)

    def _adopt(self, connection: Connection, sock: socket.socket) -> None:
        early = connection.transport
        if early.is_closing():  # refused (maxclients), QUIT, or CLIENT KILL meanwhile
            early.flush_and_close()
            connection.connection_lost(None)
            return
        self.loop.create_task(self.loop.connect_accepted_socket(lambda: connection, sock))

    def _cron(self) -> None:
        self.db.cron()
        self.db.persistence.cron()
        self.loop.call_later(1 / max(self.db.config["hz"], 1), self._cron)


class EarlyTransport:
    """The transport of a connection accepted while a script holds the loop (see
    Server.answer_while_busy): the few replies it gets then (-BUSY, SCRIPT KILL's) go out
    with send(); what the socket would not take waits for the loop's transport."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.unsent = b""
        self.closing = False

    def write(self, data: bytes) -> None:
        if not self.unsent:
            try:
                data = data[self.sock.send(data):]
            except BlockingIOError:
                pass
            except OSError:
                self.closing = True
                return
        self.unsent += data

    def get_extra_info(self, name: str, default=None):
        try:
            return {"peername": self.sock.getpeername, "sockname": self.sock.getsockname,
                    "socket": lambda: self.sock}[name]()
        except (KeyError, OSError):
            return default

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def flush_and_close(self) -> None:
        """Send what is left as far as the socket takes it now, then close."""
        try:
            self.sock.send(self.unsent)
        except OSError:
            pass
        self.sock.close()
