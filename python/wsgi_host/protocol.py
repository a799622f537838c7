"""Framing of the wire protocol between a worker thread and the front end.

Mirrors src/protocol/frames.ts byte for byte: one type byte, a 4-byte big-endian payload length,
then the payload. Each worker thread owns one UNIX stream connection.
"""

import socket
import struct
import threading

HEADER = struct.Struct('>BI')
HEADER_SIZE = HEADER.size

# Front end to worker.
HEAD = 0x01
BODY = 0x02
BODY_END = 0x03
SHUTDOWN = 0x20
DUMP_STACKS = 0x21
INTERRUPT = 0x22
CREATE_INTERPRETER = 0x23

# Worker to front end.
RESPONSE_HEAD = 0x11
RESPONSE_BODY = 0x12
RESPONSE_END = 0x13
RESPONSE_FAIL = 0x14
LOG = 0x15
WANT_BODY = 0x16
RELOAD = 0x17
HELLO = 0x30
READY = 0x31
RESTART = 0x32
HEARTBEAT = 0x33
INTERPRETER_FAILED = 0x34

# Head flags set by the front end.
FLAG_BODY_ON_REQUEST = 1  # the body is sent only after WANT_BODY
FLAG_SCRIPT_RELOADING = 2  # WSGIScriptReloading On: check the script for changes first

# Log levels carried in LOG frames (Apache's severities).
LOG_EMERG, LOG_ALERT, LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG = range(8)

# Response bodies are cut into frames of at most this size so the front end never has to hold a
# large frame whole before it can pass it on.
MAX_BODY_FRAME = 256 * 1024

# Below this size a frame is sent as one joined buffer; above it, header and payload go out with
# one scatter-gather call instead of copying the payload.
_JOIN_LIMIT = 32 * 1024

RESPONSE_END_FRAME = HEADER.pack(RESPONSE_END, 0)
WANT_BODY_FRAME = HEADER.pack(WANT_BODY, 0)
RELOAD_FRAME = HEADER.pack(RELOAD, 0)
HEARTBEAT_FRAME = HEADER.pack(HEARTBEAT, 0)


class ConnectionClosed(Exception):
    """The front end closed the connection (or it broke)."""


def frame(kind, payload=b''):
    return HEADER.pack(kind, len(payload)) + payload


class Connection(object):
    """One UNIX stream connection to the front end, owned by one thread."""

    __slots__ = ('sock', 'reader', 'closed', 'lock')

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(path)
        except BaseException:
            self.sock.close()
            raise
        self.reader = self.sock.makefile('rb', buffering=65536)
        self.closed = False
        # Sends come from the serving thread, but also from any thread the application writes
        # wsgi.errors or print() from; whole frames must not interleave.
        self.lock = threading.Lock()

    def read_frame(self):
        """Returns (type, payload); raises ConnectionClosed at end of stream."""
        read = self.reader.read
        try:
            header = read(HEADER_SIZE)
            if len(header) < HEADER_SIZE:
                raise ConnectionClosed()
            kind, length = HEADER.unpack(header)
            payload = read(length) if length else b''
            if len(payload) < length:
                raise ConnectionClosed()
        except (OSError, ValueError, ConnectionClosed):
            self.closed = True
            raise ConnectionClosed()
        return kind, payload

    def send(self, data):
        """Sends bytes that already hold whole frames."""
        try:
            with self.lock:
                self.sock.sendall(data)
        except OSError:
            self.closed = True
            raise ConnectionClosed()

    def send_frame(self, kind, payload):
        length = len(payload)
        if length <= _JOIN_LIMIT:
            self.send(HEADER.pack(kind, length) + payload)
            return
        view = memoryview(payload)
        with self.lock:
            for start in range(0, length, MAX_BODY_FRAME):
                part = view[start:start + MAX_BODY_FRAME]
                self._send_vector([HEADER.pack(kind, len(part)), part])

    def _send_vector(self, buffers):
        sendmsg = self.sock.sendmsg
        try:
            while buffers:
                sent = sendmsg(buffers)
                while buffers and sent >= len(buffers[0]):
                    sent -= len(buffers[0])
                    buffers.pop(0)
                if sent:
                    buffers[0] = memoryview(buffers[0])[sent:]
        except OSError:
            self.closed = True
            raise ConnectionClosed()

    def close(self):
        self.closed = True
        try:
            self.reader.close()
        except Exception:
            pass
        try:
            self.sock.close()
        except Exception:
            pass
