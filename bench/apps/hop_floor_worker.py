"""The Python side of the hop-floor reference server (bench/servers/hop-floor-server.ts). Not a
WSGI server and not part of wsgi-host: one process, one thread, a loop over one UNIX socket.

Each request is a 4-byte big-endian length and a payload (a workload letter, then the request
body); each answer is a 4-byte length and the response body. It measures what one
front-end-to-Python round trip costs when Python does as little as possible."""
import hashlib
import os
import socket
import struct
import sys

HELLO = b'Hello world!'
DOWNLOAD = bytes(range(256)) * 4096
LENGTH = struct.Struct('>I')


def answer(kind, body):
    if kind == b'h':
        return HELLO
    if kind == b'd':
        return DOWNLOAD
    return hashlib.sha256(body).hexdigest().encode()


def main():
    # As wsgi-host's workers do by default (scheduling-policy=batch): a woken worker does not
    # preempt the front end. The floor of the design includes that choice.
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed here: the reference runs as before
    # And as wsgi-host's workers do, it goes back to the nice value the server started with
    # (passed as the second argument): it inherited the front end's raised priority.
    if len(sys.argv) > 2:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, int(sys.argv[2]))
        except OSError:
            pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sys.argv[1])
    # A buffered reader: read(n) returns exactly n bytes (or fewer only at end of stream), and a
    # small request costs one recv for both its length and its payload.
    rfile = sock.makefile('rb', buffering=65536)
    while True:
        head = rfile.read(4)
        if len(head) < 4:
            return
        (length,) = LENGTH.unpack(head)
        payload = rfile.read(length)
        if len(payload) < length:
            return
        body = answer(payload[:1], payload[1:])
        if len(body) < 65536:
            sock.sendall(LENGTH.pack(len(body)) + body)
        else:
            # No 1 MiB concatenation: two sends.
            sock.sendall(LENGTH.pack(len(body)))
            sock.sendall(body)


if __name__ == '__main__':
    main()
