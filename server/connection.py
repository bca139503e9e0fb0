"""One RESP connection: bytes in, requests to the engine, replies out.

The protocol object only moves bytes. Framing is alchemy.resp.RequestReader; every request
goes through Database.call; replies of one read are written with a single transport.write,
which is what makes pipelining cheap.

The replies of a read that wrote leave once the log has the writes (AppendLog.released:
fsynced under `appendfsync always`, in the writer's pipe otherwise); until then they are
`held`, and released in order (AppendLog.hold). A read that left Database.dirty
as it was handed the log nothing (a write is logged only when it changed data).
"""

import asyncio
from collections import deque
import os
import time

from alchemy.reply import NO_REPLY, Encoded, Status
from alchemy.resp import BULK_HEADERS, INTEGERS, ProtocolError, RequestReader, write_reply


class Connection(asyncio.Protocol):
    def __init__(self, front):
        self.front = front
        self.db = front.db
        self.transport = None
        self.client = None
        self.out: list | None = None  # replies of the read being processed
        self.reader = None
        self.paused = False
        # Replies waiting for the log, one entry per AppendLog.hold: bytes, or a list of
        # them when later replies wait behind the hold's.
        self.held: deque = deque()

    # -- asyncio callbacks -----------------------------------------------------------

    def connection_made(self, transport) -> None:
        if self.transport is not None:
            self._take_over(transport)
            return
        self.transport = transport
        db = self.db
        if len(db.clients) >= db.config["maxclients"]:
            db.stats.rejected_connections += 1
            transport.write(b"-ERR max number of clients reached\r\n")
            transport.close()
            return
        self.front.connections.add(self)
        client = self.client = db.new_client()
        client.push = self.push
        client.kill = self.close
        client.address = _address(transport.get_extra_info("peername"))
        client.local_address = _address(transport.get_extra_info("sockname"))
        sock = transport.get_extra_info("socket")
        client.fd = sock.fileno() if sock is not None else -1
        db.stats.connections += 1
        config = db.config
        self.reader = RequestReader(config["proto-max-bulk-len"],
                                    config["client-query-buffer-limit"])

    def _take_over(self, transport) -> None:
        """The loop's own transport for a connection accepted while a script held the loop
        (server.app.EarlyTransport): what that one could not send yet goes first."""
        early, self.transport = self.transport, transport
        sock = transport.get_extra_info("socket")
        self.client.fd = sock.fileno() if sock is not None else -1
        if early.unsent:
            transport.write(early.unsent)

    def connection_lost(self, exc) -> None:
        self.front.connections.discard(self)
        if self.client is not None:
            self.db.drop_client(self.client)
            self.client.push = None

    def pause_writing(self) -> None:
        # The client does not read its replies: stop reading its requests until it does.
        self.paused = True
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        self.transport.resume_reading()

    # -- request processing ----------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Take in data (b"" to go on after a blocked command) and run every complete
        request buffered, in order, unless the client is blocked; the replies of one read
        leave in one write. A request that blocks the client gives the ones after it back
        to the reader; a client that closes drops them. One frame for all of it: without
        pipelining a read is one request, and each call costs about as much as a short
        command."""
        client, db, reader = self.client, self.db, self.reader
        if client is None or client.push is None:
            return
        if data:
            db.stats.net_input_bytes += len(data)
            client.last_interaction = time.time()
            try:
                reader.feed(data)
            except ProtocolError as e:
                self._protocol_error(e)
                return
        call = db.call
        log = db.log
        dirty = db.dirty
        out = self.out = []
        try:
            # One take has every complete request; a second only raises the protocol error
            # the reader found after them (their replies go out first, as in Redis).
            while client.blocked is None and not client.closing:
                try:
                    requests = iter(reader.take())
                except ProtocolError as e:
                    out.append(_error_line(e))
                    client.closing = True
                    break
                for request in requests:
                    if client.closing:
                        break
                    if not request:
                        continue
                    reply = call(client, request)
                    # Waiters are served before the next request runs, as Redis does after
                    # each command: a pipelined LPUSH k x; LPOP k leaves x to the client
                    # waiting on k.
                    if db.ready:
                        db.serve_ready()
                    if reply is NO_REPLY:
                        self._arm_timeout()
                        if client.blocked is not None:
                            reader.unread(list(requests))
                            break
                        continue
                    if client.muted:  # CLIENT REPLY OFF (-1), or SKIP of this reply (1)
                        client.muted -= client.muted > 0
                        continue
                    # write_reply's commonest cases, here without a call.
                    kind = type(reply)
                    if kind is bytes and len(reply) < 4096:
                        out += (BULK_HEADERS[len(reply)], reply, b"\r\n")
                    elif kind is Status:
                        out.append(reply.encoded)
                    elif kind is int:
                        out.append(INTEGERS[reply] if 0 <= reply < 1024 else b":%d\r\n" % reply)
                    elif kind is Encoded:  # a SELECT's rows
                        out.append(reply)
                    elif reply is None:  # a miss (GET, HGET, LPOP of nothing)
                        out.append(b"_\r\n" if client.resp3 else b"$-1\r\n")
                    else:
                        write_reply(out, reply, client.resp3)
                if reader.error is None:
                    break
        finally:
            self.out = None
            if out:
                self._reply(b"".join(out), log, dirty)
        if client.closing and not self.held:
            self.transport.close()

    # -- while a script runs past its time limit -------------------------------------

    def can_read_while_busy(self) -> bool:
        """Not the connection running the script (its `out` is in use), nor one whose
        requests must wait anyway (blocked, paused, closing)."""
        client = self.client
        return (client is not None and client.push is not None and self.out is None
                and client.blocked is None and not client.closing and not self.paused
                and client.fd >= 0)

    def read_while_busy(self) -> None:
        """The loop is stalled inside a script: read what this client sent, straight from
        its socket, and answer each complete request as Database.call_while_busy does
        (-BUSY, or SCRIPT KILL, SHUTDOWN NOSAVE, ...). An unfinished request stays in the
        reader, where the next data_received finds it."""
        try:
            data = os.read(self.client.fd, 65536)
        except OSError:  # nothing to read after all, or a reset the loop will report
            return
        if not data:
            return  # end of file: the loop sees it too once the script ends
        self.db.stats.net_input_bytes += len(data)
        out: list = []
        try:
            self.reader.feed(data)
            while not self.client.closing and (requests := self.reader.take()):
                for request in requests:
                    if self.client.closing:
                        break
                    if request:
                        write_reply(out, self.db.call_while_busy(self.client, request),
                                    self.client.resp3)
        except ProtocolError as e:
            out.append(_error_line(e))
            self.client.closing = True
        if out:
            self._send(b"".join(out))
        if self.client.closing and not self.held:
            self.transport.close()

    def push(self, reply) -> None:
        """Deliver an out-of-band reply (pub/sub message, answer of a blocked command)."""
        if self.out is not None:
            write_reply(self.out, reply, self.client.resp3)
            return
        chunk: list = []
        write_reply(chunk, reply, self.client.resp3)
        self._reply(b"".join(chunk), self.db.log, -1)
        if self.client.blocked is None:
            # A blocked command was answered: go on with requests pipelined behind it.
            asyncio.get_running_loop().call_soon(self._resume)

    def _resume(self) -> None:
        if self.client.push is not None and self.out is None:
            self.data_received(b"")

    def _arm_timeout(self) -> None:
        blocked = self.client.blocked
        if blocked is not None and blocked[2] is not None:
            delay = max(blocked[2] - time.monotonic(), 0)
            asyncio.get_running_loop().call_later(delay, self._blocked_timeout)

    def _blocked_timeout(self) -> None:
        self.db.expire_blocked()

    def _reply(self, data: bytes, log, dirty: int) -> None:
        """Send data, or hold it while it may show writes the log has not released: writes
        since the server's `dirty` count was `dirty` (-1: any) and `log` was the log.
        Replies leave in order: behind held ones, data waits too."""
        current = self.db.log
        # Held until the log's one pipe write of this loop pass (or its fsync): cheaper
        # than a pipe write per read.
        if current is not None and (current is not log or self.db.dirty != dirty) \
                and current.hold(self):
            self.held.append(data)
            return
        held = self.held
        if held:  # behind them: released with the last hold's replies
            last = held[-1]
            if type(last) is list:
                last.append(data)
            else:
                held[-1] = [last, data]
            return
        self.db.stats.net_output_bytes += len(data)
        self.transport.write(data)

    def _send(self, data: bytes) -> None:
        """Send data now, or behind the replies held."""
        self._reply(data, self.db.log, self.db.dirty)

    def release_held(self) -> None:
        """The log has the writes of the oldest hold: send its replies."""
        data = self.held.popleft()
        if type(data) is list:
            data = b"".join(data)
        transport = self.transport
        if not transport.is_closing():
            self.db.stats.net_output_bytes += len(data)
            transport.write(data)
            if self.client.closing and not self.held:
                transport.close()

    def _protocol_error(self, error: ProtocolError) -> None:
        self._send(_error_line(error))
        self.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _error_line(error: ProtocolError) -> bytes:
    return b"-ERR " + str(error).encode() + b"\r\n"


def _address(info) -> str:
    if not info:
        return ""
    if isinstance(info, tuple):
        host, port = info[0], info[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(info)
