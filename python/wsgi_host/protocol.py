"""Framing of the wire protocol between a worker thread and the front end.

Mirrors src/protocol/frames.ts byte for byte: one type byte, a 4-byte big-endian payload length,
then the payload. Each worker thread owns one UNIX stream connection.
"""

import collections
import mmap
import os
import socket
import struct
import threading

HEADER = struct.Struct('>BI')
HEADER_SIZE = HEADER.size

# Front end to worker.
HEAD = 0x01
BODY = 0x02
BODY_END = 0x03
REGION_RELEASED = 0x04
REGION_ACCEPTED = 0x05
FILE_TAKEN = 0x06
AUTH_CALL = 0x07
BODY_SHARED = 0x08
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
RESPONSE_BODY_SHARED = 0x18
RESPONSE_FILE = 0x19
AUTH_RESULT = 0x1a
HELLO = 0x30
READY = 0x31
RESTART = 0x32
HEARTBEAT = 0x33
INTERPRETER_FAILED = 0x34

# Head flags set by the front end.
FLAG_BODY_ON_REQUEST = 1  # the body is sent only after WANT_BODY
FLAG_SCRIPT_RELOADING = 2  # WSGIScriptReloading On: check the script for changes first
FLAG_SENDFILE = 4  # WSGIEnableSendfile On: the front end may send a wsgi.file_wrapper's file itself
FLAG_BODY_IN_REGION = 8  # a BODY_SHARED frame follows the head: the whole body is in the region
FLAG_AHEAD = 16  # sent while the previous request ran: not a release of the region
FLAG_REGION_HELD = 32  # the front end still sends from the region: not a release of it either

# Log levels carried in LOG frames (Apache's severities).
LOG_EMERG, LOG_ALERT, LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG = range(8)

# Response bodies are cut into frames of at most this size so the front end never has to hold a
# large frame whole before it can pass it on.
MAX_BODY_FRAME = 256 * 1024

# Below this size a frame is sent as one joined buffer; above it, header and payload go out with
# one scatter-gather call instead of copying the payload.
_JOIN_LIMIT = 32 * 1024

# Body pieces larger than this go through the thread's shared region (when the front end has
# it open) instead of the socket: the front end reads a socket 64 KiB at a time, a region in one go.
SHARED_THRESHOLD = 32 * 1024
# Each of the region's two halves holds one piece in flight.
REGION_HALF = 1024 * 1024
SHARED_FRAME = struct.Struct('>BIII')
# BODY_SHARED's payload: where the body lies in the region.
SHARED_BODY = struct.Struct('>II')
# RESPONSE_FILE: the file's descriptor in this process, the offset and the length to send.
FILE_FRAME = struct.Struct('>BIIQQ')
# Files are read in pieces of this size where the front end cannot send them itself.
FILE_PIECE = 256 * 1024

RESPONSE_END_FRAME = HEADER.pack(RESPONSE_END, 0)
WANT_BODY_FRAME = HEADER.pack(WANT_BODY, 0)
RELOAD_FRAME = HEADER.pack(RELOAD, 0)
HEARTBEAT_FRAME = HEADER.pack(HEARTBEAT, 0)


class ConnectionClosed(Exception):
    """The front end closed the connection (or it broke)."""


def frame(kind, payload=b''):
    return HEADER.pack(kind, len(payload)) + payload


class ResponseRegion(object):
    """A serving thread's shared response region: a memory file (memfd) the front end opens
    through /proc, in two halves so one piece can be written while the other is read."""

    __slots__ = ('fd', 'size', 'map')

    def __init__(self):
        self.fd = os.memfd_create('wsgi-host-response', os.MFD_CLOEXEC | getattr(os, 'MFD_ALLOW_SEALING', 0))
        try:
            self.size = 2 * REGION_HALF
            os.ftruncate(self.fd, self.size)
            self._seal()
            self.map = mmap.mmap(self.fd, self.size)
        except BaseException:
            os.close(self.fd)
            raise

    def _seal(self):
        """Seals the size: the front end then maps the region and sends pieces to the client straight
        from it (a mapping of a file that shrinks faults on the missing pages, and application code
        could truncate this one). Unsealed, the front end copies pieces out instead."""
        try:
            import fcntl
            fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
        except (ImportError, AttributeError, OSError):
            pass

    @classmethod
    def create(cls):
        """A region, or None where memfd is not available (not Linux, or too old a kernel) or
        WSGI_HOST_RESPONSE_REGION=off turns it off (everything then goes through the socket)."""
        if not hasattr(os, 'memfd_create') or os.environ.get('WSGI_HOST_RESPONSE_REGION') == 'off':
            return None
        try:
            return cls()
        except OSError:
            return None

    def describe(self):
        return {'fd': self.fd, 'size': self.size}

    def close(self):
        """Unmaps and closes the region; the memory lives on while the front end still maps it."""
        try:
            self.map.close()
        except BufferError:
            pass  # a view of it is still alive somewhere: the mapping goes with the last of them
        os.close(self.fd)


class Connection(object):
    """One UNIX stream connection to the front end, owned by one thread."""

    __slots__ = ('sock', 'reader', 'closed', 'lock', 'region', 'region_ok', 'outstanding', 'next_half', 'pending')

    def __init__(self, path, region=None):
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
        self.region = region
        # The front end says (REGION_ACCEPTED) whether it could open the region.
        self.region_ok = False
        # Region halves holding pieces the front end has not released yet (0, 1 or 2).
        self.outstanding = 0
        self.next_half = 0
        # Frames read while waiting for a release, to be returned by read_frame in order.
        self.pending = collections.deque()

    def read_frame(self):
        """Returns (type, payload); raises ConnectionClosed at end of stream. Region bookkeeping
        frames are handled here and never returned."""
        if self.pending:
            return self.pending.popleft()
        while True:
            kind, payload = self._read_frame()
            if not self._region_bookkeeping(kind):
                return kind, payload

    def _region_bookkeeping(self, kind):
        """Applies a region frame (a release, or whether the front end opened the region);
        False for any other kind of frame."""
        if kind == REGION_RELEASED:
            self.outstanding -= 1
        elif kind == REGION_ACCEPTED:
            self.region_ok = True
        else:
            return False
        return True

    def shared_frames(self, data, prefix=b''):
        """Puts `data` (bytes or memoryview) in the shared region and returns the frames that
        announce it, after `prefix` (frames that must go first); waits for the front end to
        release a half when both are in use."""
        view = memoryview(data)
        total = len(view)
        frames = [prefix] if prefix else []
        region_map = self.region.map
        for start in range(0, total, REGION_HALF):
            part = view[start:start + REGION_HALF]
            if self.outstanding >= 2:
                if frames:
                    self.send(b''.join(frames))
                    frames = []
                self._wait_for_release()
            offset = self.next_half * REGION_HALF
            length = len(part)
            region_map[offset:offset + length] = part
            self.next_half ^= 1
            self.outstanding += 1
            frames.append(SHARED_FRAME.pack(RESPONSE_BODY_SHARED, 8, offset, length))
        return b''.join(frames)

    def shared_frames_from_file(self, fd, offset, length, prefix=b''):
        """As shared_frames, for `length` bytes of file `fd` from `offset`, read straight into the
        region. Returns (frames, bytes read): fewer than `length` if the file is shorter."""
        frames = [prefix] if prefix else []
        region_map = self.region.map
        done = 0
        while done < length:
            if self.outstanding >= 2:
                if frames:
                    self.send(b''.join(frames))
                    frames = []
                self._wait_for_release()
            start = self.next_half * REGION_HALF
            want = min(REGION_HALF, length - done)
            with memoryview(region_map) as whole:
                with whole[start:start + want] as target:
                    got = os.preadv(fd, [target], offset + done)
            if got <= 0:
                break
            self.next_half ^= 1
            self.outstanding += 1
            frames.append(SHARED_FRAME.pack(RESPONSE_BODY_SHARED, 8, start, got))
            done += got
        return b''.join(frames), done

    def take_shared_body(self):
        """Reads the BODY_SHARED frame that follows a head flagged FLAG_BODY_IN_REGION and copies
        the body out of the region at once: the region is free again before the application runs
        (its response may be written there)."""
        kind, payload = self.read_frame()
        region = self.region
        if kind != BODY_SHARED or len(payload) != SHARED_BODY.size or region is None:
            self.closed = True
            raise ConnectionClosed()
        offset, length = SHARED_BODY.unpack(payload)
        if offset + length > region.size:
            self.closed = True
            raise ConnectionClosed()
        return region.map[offset:offset + length]

    def wait_for(self, wanted):
        """Reads until a frame of kind `wanted` arrives and returns its payload; other frames are
        kept for read_frame."""
        while True:
            kind, payload = self._read_frame()
            if kind == wanted:
                return payload
            if not self._region_bookkeeping(kind):
                self.pending.append((kind, payload))

    def _wait_for_release(self):
        while self.outstanding >= 2:
            kind, payload = self._read_frame()
            if not self._region_bookkeeping(kind):
                self.pending.append((kind, payload))

    def _read_frame(self):
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
