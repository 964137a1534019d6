"""A fault front for PostgreSQL: a TCP proxy that reads the wire protocol's messages, so it can
lose one statement's answer after the server did the work, or cut a connection before the
statement reached the server. The app is the only client of PostgreSQL in this project; the
tools' services (AWS, Kubernetes, registries, git) have theirs in the Rust test kit
(tests/src/faults.rs).

A statement is a Query (simple protocol), or in the extended protocol (psycopg's prepared
statements) an Execute and the Sync after it; a Sync without an Execute (preparing a statement)
is not one. Its answer ends with ReadyForQuery. `lose_next_answer()` swallows the answer
of the next statement that ends, then closes both sides: the server has committed, the client
sees its connection closed. `cut_next()` closes both sides instead of forwarding the next Sync
or Query: the server aborts the statement's implicit transaction.
"""

import queue
import socket
import struct
import threading

# The untyped first messages of a session: SSLRequest and GSSENCRequest are answered with one
# byte ('S'/'N'/'G'), then the client sends another; the StartupMessage (protocol 3.x) is not.
_ONE_BYTE_ANSWER = {80877103, 80877104}


def _read_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _typed(sock):
    """One typed message: (type, the whole message)."""
    head = _read_exactly(sock, 5)
    (length,) = struct.unpack("!I", head[1:])
    return head[:1], head + _read_exactly(sock, length - 4)


class PostgresFaults:
    def __init__(self, upstream_port, host="127.0.0.1"):
        self._upstream = (host, upstream_port)
        self._listener = socket.create_server((host, 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._armed = None  # "lose" or "cut"
        self.lost = 0
        self.cut = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, user="postgres", database="postgres"):
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def lose_next_answer(self):
        with self._lock:
            self._armed = "lose"

    def cut_next(self):
        with self._lock:
            self._armed = "cut"

    def close(self):
        self._listener.close()

    def _take(self):
        with self._lock:
            armed, self._armed = self._armed, None
            return armed

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(self._upstream)
            _Session(self, client, server).start()


class _Session:
    """One client connection and its server connection."""

    def __init__(self, faults, client, server):
        self.faults, self.client, self.server = faults, client, server
        # What the server answers next during the untyped start: one byte, or typed messages.
        self.start_answers = queue.Queue()
        self.swallowing = threading.Event()

    def start(self):
        threading.Thread(target=self._client_to_server, daemon=True).start()
        threading.Thread(target=self._server_to_client, daemon=True).start()

    def _close(self):
        self.start_answers.put(False)  # a server side still waiting for the start stops
        for sock in (self.client, self.server):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _client_to_server(self):
        try:
            while True:  # the untyped start of the session
                (length,) = struct.unpack("!I", _read_exactly(self.client, 4))
                body = _read_exactly(self.client, length - 4)
                (code,) = struct.unpack("!I", body[:4])
                one_byte = code in _ONE_BYTE_ANSWER
                self.start_answers.put(one_byte)
                self.server.sendall(struct.pack("!I", length) + body)
                if not one_byte:
                    break
            executed = False  # an Execute since the last Sync
            while True:
                kind, message = _typed(self.client)
                ends_statement = kind == b"Q" or (kind == b"S" and executed)
                executed = kind == b"E" or (executed and kind != b"S")
                if ends_statement:
                    armed = self.faults._take()
                    if armed == "cut":
                        self.faults.cut += 1
                        self._close()
                        return
                    if armed == "lose":
                        self.swallowing.set()  # before the server can answer
                self.server.sendall(message)
        except (ConnectionError, OSError):
            self._close()

    def _server_to_client(self):
        try:
            # The server says nothing before the client has: its first answers follow the
            # client's first messages.
            while self.start_answers.get():
                self.client.sendall(_read_exactly(self.server, 1))
            while True:
                kind, message = _typed(self.server)
                if not self.swallowing.is_set():
                    self.client.sendall(message)
                elif kind == b"Z":  # the end of the answer the client will never see
                    self.faults.lost += 1
                    self._close()
                    return
        except (ConnectionError, OSError):
            self._close()
