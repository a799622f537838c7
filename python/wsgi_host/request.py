"""One WSGI request in a worker thread: environ, wsgi.input, start_response, write() and the
response loop, following PEP 3333 and mod_wsgi's checks and messages."""

import marshal
import os
import re
import stat
import sys
import time

from . import protocol
from .protocol import (HEADER, BODY, BODY_END, RESPONSE_HEAD, RESPONSE_BODY, RESPONSE_FAIL,
                       RESPONSE_END_FRAME, WANT_BODY_FRAME, RELOAD_FRAME, FLAG_BODY_ON_REQUEST, FLAG_BODY_IN_REGION, SHARED_THRESHOLD,
                       FLAG_SENDFILE, FILE_FRAME, FILE_PIECE, FILE_TAKEN, RESPONSE_FILE,
                       ConnectionClosed, LOG_ERR, LOG_INFO)

_BAD_NAME = re.compile("[^!#$%&'*+\\-.^_`|~0-9A-Za-z]").search
_BAD_VALUE = re.compile('[\x00-\x08\x0a-\x1f\x7f]').search
# A final status: 1xx ones are interim responses, which a WSGI application cannot send (_checked_status says why).
_STATUS = re.compile('[2-9][0-9]{2}(?: [^\x00-\x1f\x7f]*)?\\Z').match

# Responses that never carry a body, so never get a Content-Length added.
_NO_BODY_STATUSES = frozenset(('100', '101', '102', '103', '204', '304'))

# Coalesce the items of a list or tuple response into one send up to this size: every item is
# already there, so joining them delays nothing (PEP 3333 forbids delaying yielded blocks).
_COALESCE_LIMIT = 64 * 1024


class ClientGone(OSError):
    """Raised in the application when the client connection has closed."""


class RequestTimeout(BaseException):
    """Raise (or have injected) to end a request with 504 Gateway Timeout (mod_wsgi 6)."""


class Input(object):
    """wsgi.input: the request body, streamed from the front end as the application reads it.

    Holds the body chunk being read and a position in it, so a read that a chunk can satisfy
    costs one slice (or nothing, when it wants the whole chunk) rather than buffer copies."""

    __slots__ = ('_req', '_chunk', '_pos', '_error')

    def __init__(self, req):
        self._req = req
        self._chunk = b''
        self._pos = 0
        self._error = False

    def _check(self, what):
        if self._req is None:
            raise RuntimeError('%s wsgi.input after request completed' % what)
        if self._error:
            raise OSError('mod_wsgi request data read error: input is already in error state')

    def _next_chunk(self):
        """Makes the next chunk of the body current; False at the end of the body."""
        try:
            chunk = self._req.next_body_chunk()
        except ConnectionClosed:
            self._error = True
            raise OSError('mod_wsgi request data read error: client connection closed')
        self._chunk = chunk
        self._pos = 0
        return bool(chunk)

    def _take(self, count):
        """Up to `count` bytes from the current chunk (count < 0: all of it)."""
        chunk = self._chunk
        pos = self._pos
        end = len(chunk) if count < 0 else min(len(chunk), pos + count)
        self._pos = end
        if pos == 0 and end == len(chunk):
            return chunk
        return chunk[pos:end]

    def read(self, size=-1):
        self._check('read() called on')
        if size is None:
            size = -1
        else:
            size = size.__index__()
        if size == 0:
            self._req.want_body()
            return b''
        if len(self._chunk) - self._pos >= size > 0:
            return self._take(size)
        parts = []
        wanted = size
        while True:
            if self._pos < len(self._chunk):
                part = self._take(wanted)
                parts.append(part)
                if wanted > 0:
                    wanted -= len(part)
                    if wanted == 0:
                        break
            elif not self._next_chunk():
                break
        return parts[0] if len(parts) == 1 else b''.join(parts)

    def readline(self, size=-1):
        self._check('readline() called on')
        if size is None:
            size = -1
        else:
            size = size.__index__()
        if size == 0:
            return b''
        parts = []
        wanted = size
        while True:
            chunk = self._chunk
            pos = self._pos
            if pos < len(chunk):
                limit = len(chunk) if wanted < 0 else min(len(chunk), pos + wanted)
                newline = chunk.find(b'\n', pos, limit)
                part = self._take((newline + 1 if newline >= 0 else limit) - pos)
                parts.append(part)
                if newline >= 0:
                    break
                if wanted > 0:
                    wanted -= len(part)
                    if wanted == 0:
                        break
            elif not self._next_chunk():
                break
        return parts[0] if len(parts) == 1 else b''.join(parts)

    def readlines(self, hint=-1):
        self._check('readlines() called on')
        if hint is None:
            hint = -1
        else:
            hint = hint.__index__()
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        self._check('iteration of')
        return self

    def __next__(self):
        if self._req is None:
            raise RuntimeError('iteration of wsgi.input attempted after request completed')
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self):
        if self._req is None:
            raise RuntimeError('close() called on wsgi.input after request completed')


class Errors(object):
    """wsgi.errors: text written here goes to the error log with the request's context, a line
    at a time; a partial line is flushed when the request ends."""

    __slots__ = ('_req', '_partial')

    def __init__(self, req):
        self._req = req
        self._partial = ''

    def write(self, text):
        req = self._req
        if req is None:
            raise RuntimeError('write() called on wsgi.errors after request completed')
        if not isinstance(text, str):
            raise TypeError('write() argument must be str, not %s' % type(text).__name__)
        text = self._partial + text
        cut = text.rfind('\n')
        if cut < 0:
            self._partial = text
            return
        self._partial = text[cut + 1:]
        req.log(LOG_ERR, text[:cut])

    def writelines(self, lines):
        if self._req is None:
            raise RuntimeError('writelines() called on wsgi.errors after request completed')
        for line in lines:
            self.write(line)

    def flush(self):
        req = self._req
        if req is None:
            raise RuntimeError('flush() called on wsgi.errors after request completed')
        if self._partial:
            text, self._partial = self._partial, ''
            req.log(LOG_ERR, text)

    def isatty(self):
        return False

    def fileno(self):
        raise OSError('wsgi.errors log object has no file descriptor')

    def _expire(self):
        if self._partial:
            try:
                self.flush()
            except ConnectionClosed:
                pass
        self._req = None

    @property
    def closed(self):
        return False

    def writable(self):
        return True

    def readable(self):
        return False


class FileWrapper(object):
    """wsgi.file_wrapper: iterates a file-like object in blocks and closes it with the response."""

    __slots__ = ('filelike', 'blksize', 'closed', '__weakref__')

    def __init__(self, filelike, blksize=8192):
        blksize = blksize.__index__()
        if blksize < 0:
            raise ValueError('blksize must not be negative')
        self.filelike = filelike
        self.blksize = blksize or 8192
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self):
        if self.closed:
            raise ValueError('I/O operation on closed file')
        data = self.filelike.read(self.blksize)
        if not data:
            raise StopIteration
        if not isinstance(data, bytes):
            raise TypeError('file wrapper read() must return bytes, not %s' % type(data).__name__)
        return data

    def close(self):
        self.closed = True
        close = getattr(self.filelike, 'close', None)
        if close is not None:
            close()


class Request(object):
    """Runs one request: decodes the head, calls the application, sends the response."""

    __slots__ = ('worker', 'conn', 'environ', 'flags', 'status', 'head', 'head_sent', 'content_length',
                 'sent', 'finished', 'body_done', 'want_pending', 'input', 'errors', 'script', 'shared_body')

    def __init__(self, worker, conn, payload):
        self.worker = worker
        self.conn = conn
        flags, environ = marshal.loads(payload)
        environ.update(worker.static_environ)
        self.environ = environ
        self.flags = flags
        self.status = None  # the validated status line, once start_response was called
        self.head = None  # the encoded head frame, until it is sent
        self.head_sent = False
        self.content_length = None  # the declared Content-Length: its text until the head is sent
        self.sent = 0
        self.finished = False
        self.body_done = False
        self.want_pending = bool(flags & FLAG_BODY_ON_REQUEST)
        # A body the front end put in the region comes first; BODY_END follows on the socket.
        self.shared_body = conn.take_shared_body() if flags & FLAG_BODY_IN_REGION else None
        self.input = environ['wsgi.input'] = Input(self)
        self.errors = environ['wsgi.errors'] = Errors(self)
        # A WSGIHandlerScript's code serves the file named by SCRIPT_FILENAME.
        self.script = environ.get('mod_wsgi.handler_script') or environ.get('SCRIPT_FILENAME', '')

    # -- request body -------------------------------------------------------------------------

    def want_body(self):
        if self.want_pending:
            self.want_pending = False
            self.conn.send(WANT_BODY_FRAME)

    def next_body_chunk(self):
        if self.body_done:
            return b''
        shared = self.shared_body
        if shared is not None:
            self.shared_body = None
            if shared:
                return shared
        if self.want_pending:
            self.want_body()
        kind, payload = self.conn.read_frame()
        if kind == BODY:
            return payload
        if kind == BODY_END:
            self.body_done = True
            return b''
        raise ConnectionClosed()

    def _drain_body(self):
        """Consumes the rest of the request stream so the connection is ready for the next one."""
        conn = self.conn
        while not self.body_done:
            kind, _ = conn.read_frame()
            if kind == BODY_END:
                self.body_done = True
            elif kind != BODY:
                raise ConnectionClosed()

    # -- logging ------------------------------------------------------------------------------

    def log(self, level, text):
        """Sends a log record that the front end writes with this request's context."""
        data = text.encode('utf-8', 'backslashreplace')
        self.conn.send(HEADER.pack(protocol.LOG, len(data) + 1) + bytes((level,)) + data)

    # -- response -----------------------------------------------------------------------------

    def start_response(self, status, headers, exc_info=None):
        if self.finished:
            raise RuntimeError('start_response() called after request completed')
        if not isinstance(headers, list):
            raise TypeError('start_response() argument 2 must be list, not %s' % type(headers).__name__)
        if exc_info is not None:
            if not isinstance(exc_info, tuple):
                raise RuntimeError("start_response() argument 'exc_info' must be a 3-tuple or None")
            if self.head_sent:
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.head_sent:
            raise RuntimeError('start_response() called more than once without exc_info')

        if type(status) is not str or not _STATUS(status):
            status = _checked_status(status)
        parts = [status]
        append = parts.append
        content_length = None
        for header in headers:
            if type(header) is not tuple:
                if not isinstance(header, tuple):
                    raise TypeError('each header must be a 2-tuple, not %s' % type(header).__name__)
            if len(header) != 2:
                raise ValueError('each header must be a 2-tuple, got length %d' % len(header))
            name, value = header
            if type(name) is not str or type(value) is not str or not name or _BAD_NAME(name) or _BAD_VALUE(value):
                name, value = _checked_header(name, value)
            if len(name) == 14 and name.lower() == 'content-length':
                content_length = value
            append(name)
            append(value)
        try:
            encoded = '\0'.join(parts).encode('latin-1')
        except UnicodeEncodeError:
            for part in parts:
                part.encode('latin-1')  # raises naming the offending string
            raise
        self.status = status
        self.content_length = content_length
        self.head = encoded
        return self.write

    def write(self, data):
        """The write() callable returned by start_response (legacy streaming)."""
        if self.finished:
            raise RuntimeError('write() called after request completed')
        if not isinstance(data, bytes):
            raise TypeError('write() argument must be bytes, not %s' % type(data).__name__)
        if data:
            try:
                self._output(data)
            except ConnectionClosed:
                raise ClientGone('mod_wsgi client connection closed')

    def _take_head(self, complete_length=-1):
        """The head frame if it has not been sent yet (b'' if it has); applies Content-Length.

        `complete_length` is the length of the whole body when it is known to be all there: the
        head then declares it, as Apache's content-length filter does for a response that is
        complete in one piece.
        """
        if self.head_sent:
            return b''
        if self.status is None:
            raise RuntimeError('start_response() must be called before response content is produced')
        declared = self.content_length
        head = self.head
        if declared is not None:
            self.content_length = _parse_content_length(declared)
        else:
            self.content_length = -1
            # Not for HEAD with nothing generated: many applications skip the body for HEAD, and
            # a 0 would contradict the length GET has (Apache drops such a header too).
            if complete_length > 0 or (complete_length == 0 and self.environ['REQUEST_METHOD'] != 'HEAD'):
                if self.status[:3] not in _NO_BODY_STATUSES:
                    head += b'\0Content-Length\0%d' % complete_length
        self.head_sent = True
        self.head = None
        return HEADER.pack(RESPONSE_HEAD, len(head)) + head

    def _clip(self, data):
        """Cuts output beyond a declared Content-Length, as mod_wsgi does."""
        limit = self.content_length
        if limit >= 0:
            room = limit - self.sent
            if len(data) > room:
                data = data[:room] if room > 0 else b''
        self.sent += len(data)
        return data

    def _output(self, data):
        head = self._take_head()
        data = self._clip(data)
        conn = self.conn
        if len(data) <= SHARED_THRESHOLD:
            if data:
                conn.send(head + HEADER.pack(RESPONSE_BODY, len(data)) + data)
            elif head:
                conn.send(head)
            return
        if conn.region_ok:
            conn.send(conn.shared_frames(data, head))
            return
        if head:
            conn.send(head)
        conn.send_frame(RESPONSE_BODY, data)

    def _prepare_tail(self, last=b''):
        """Readies the rest of a successful response (head if still pending, the last bytes of
        body) to go out with the end frame once close() has been called."""
        head = self._take_head(self.sent + len(last) if not self.head_sent else -1)
        last = self._clip(last)
        if len(last) > SHARED_THRESHOLD:
            conn = self.conn
            if conn.region_ok:
                return conn.shared_frames(last, head) + RESPONSE_END_FRAME
            if head:
                conn.send(head)
            conn.send_frame(RESPONSE_BODY, last)
            return RESPONSE_END_FRAME
        if last:
            return head + HEADER.pack(RESPONSE_BODY, len(last)) + last + RESPONSE_END_FRAME
        return head + RESPONSE_END_FRAME

    def run(self, app):
        """Calls the application and sends its response. Returns when the connection is ready for
        the next request; raises ConnectionClosed if it is not usable any more."""
        environ = self.environ
        environ['mod_wsgi.application_start'] = time.time()
        result = None
        tail = None
        failure = 0
        try:
            result = app(environ, self.start_response)
            kind = type(result)
            if kind is list or kind is tuple:
                tail = self._send_sequence(result)
            elif kind is FileWrapper:
                tail = self._send_file(result)
            else:
                tail = self._send_iterable(result)
        except (ConnectionClosed, ClientGone):
            failure = -1
        except RequestTimeout:
            failure = 504
            self._log(LOG_INFO, 'Request interrupted by RequestTimeout after headers sent; response truncated.'
                      if self.head_sent else 'Request interrupted by RequestTimeout; thread recovered.')
        except BaseException as exc:  # the application's errors, SystemExit included
            failure = 500
            self._log_app_exception(exc)
        if result is not None:
            self._close_iterable(result)
        self._end(failure, tail)

    def _close_iterable(self, result):
        kind = type(result)
        if kind is list or kind is tuple:
            return  # the usual response: nothing to close, and no AttributeError to raise and format
        try:
            close = result.close
        except AttributeError:
            return
        except BaseException as exc:
            self._log(LOG_ERR, "WSGI0194: Lookup of 'close' attribute on WSGI response iterable raised an exception.")
            self._log_app_exception(exc)
            return
        try:
            close()
        except RequestTimeout:
            pass
        except BaseException as exc:
            self._log_app_exception(exc)

    def _log(self, level, text):
        try:
            self.log(level, text)
        except ConnectionClosed:
            pass

    def _log_app_exception(self, exc):
        try:
            self.worker.log_exception(self.log, exc, self.script)
        except ConnectionClosed:
            pass

    def _send_sequence(self, items):
        if len(items) == 1:
            item = items[0]
            if not isinstance(item, bytes):
                raise TypeError('response iterable must yield bytes, not %s' % type(item).__name__)
            return self._prepare_tail(item)
        total = 0
        for item in items:
            if not isinstance(item, bytes):
                return self._send_iterable(items)
            total += len(item)
        if total <= _COALESCE_LIMIT:
            return self._prepare_tail(b''.join(items))
        return self._send_iterable(items)

    def _send_iterable(self, result):
        # Each block goes out as it comes, the last one too: PEP 3333 forbids holding a block back
        # while the application produces the next, and the code after a generator's last yield (or
        # an exception there) must not delay or replace a response whose body is complete.
        output = self._output
        for item in result:
            if not isinstance(item, bytes):
                raise TypeError('response iterable must yield bytes, not %s' % type(item).__name__)
            if item:
                output(item)
        return self._prepare_tail()

    def _send_file(self, wrapper):
        """wsgi.file_wrapper over a regular file, as mod_wsgi sends one: from the file's current
        position to its end (or to the declared Content-Length), with a Content-Length added
        when none was declared. With WSGIEnableSendfile the front end reads the file itself and
        this thread is done at once; otherwise the file is read in large pieces, straight into
        the shared region when there is one."""
        source = _file_source(wrapper)
        if source is None:
            return self._send_iterable(wrapper)
        fd, offset, length = source
        head = self._take_head(self.sent + length)
        if self.content_length >= 0:
            length = min(length, max(0, self.content_length - self.sent))
        conn = self.conn
        if self.environ['REQUEST_METHOD'] == 'HEAD' or length == 0:
            self.sent += length
            return head + RESPONSE_END_FRAME
        if self.flags & FLAG_SENDFILE:
            conn.send(head + FILE_FRAME.pack(RESPONSE_FILE, FILE_FRAME.size - HEADER.size, fd, offset, length))
            head = b''
            # The file must stay open until the front end has its own descriptor for it.
            if conn.wait_for(FILE_TAKEN) == b'\x01':
                self.sent += length
                return RESPONSE_END_FRAME
        if conn.region_ok:
            frames, done = conn.shared_frames_from_file(fd, offset, length, head)
            self.sent += done
            return frames + RESPONSE_END_FRAME
        if head:
            conn.send(head)
        done = 0
        while done < length:
            data = os.pread(fd, min(FILE_PIECE, length - done), offset + done)
            if not data:
                break
            conn.send_frame(RESPONSE_BODY, data)
            done += len(data)
        self.sent += done
        return RESPONSE_END_FRAME

    def reject_stale(self):
        """The application's code here is out of date: the front end runs the request in a fresh
        process instead (nothing of it has been read or answered yet)."""
        self.finished = True
        conn = self.conn
        try:
            self.errors._expire()
            conn.send(RELOAD_FRAME)
            self._drain_body()
        except ConnectionClosed:
            conn.closed = True
        finally:
            self.input._req = None
            self.environ = None
        if conn.closed:
            raise ConnectionClosed()

    def fail_unstarted(self, status):
        """Ends a request whose application could not be called (it failed to load, say)."""
        self._end(status, None)

    def _end(self, failure, tail):
        """Tells the front end how the request ended and readies the connection for the next."""
        self.finished = True
        conn = self.conn
        try:
            self.errors._expire()
            self.worker.flush_thread_output(self)
            if not conn.closed:
                if failure == 0:
                    conn.send(tail)
                elif failure > 0:
                    code = b'%d' % failure
                    conn.send(HEADER.pack(RESPONSE_FAIL, len(code)) + code)
                self._drain_body()
        except ConnectionClosed:
            conn.closed = True
        finally:
            self.input._req = None
            self.environ = None
        if conn.closed:
            raise ConnectionClosed()


def _file_source(wrapper):
    """(descriptor, offset, length to its end) of a file wrapper's regular file, or None when it
    wraps something else (a socket, a pipe, a file-like object without a descriptor)."""
    filelike = wrapper.filelike
    try:
        fd = filelike.fileno()
        offset = filelike.tell()
        info = os.fstat(fd)
    except Exception:
        return None
    if not stat.S_ISREG(info.st_mode) or not isinstance(fd, int) or not isinstance(offset, int) or offset < 0:
        return None
    return fd, offset, max(0, info.st_size - offset)


def _checked_status(status):
    if not isinstance(status, str):
        raise TypeError('must be str, not %s' % type(status).__name__)
    raw = status.encode('latin-1')
    if len(raw) < 3 or not raw[:3].isdigit() or raw[3:4].isdigit():
        raise ValueError('status code must be a 3 digit integer: %r' % raw)
    if raw[:1] in (b'0', b'1'):
        # A 1xx answer is interim: sent as the response, it leaves the client waiting for the
        # real one, and the next response on the connection would be taken for it.
        raise ValueError('status code must be a final status (200 to 999), not an interim or invalid one: %r' % raw)
    if len(raw) == 3:
        return str(status)
    if raw[3:4] != b' ':
        raise ValueError('no space following status code: %r' % raw)
    if _STATUS(status):
        return str(status)
    raise ValueError('control character in status reason phrase: %r' % raw)


def _checked_header(name, value):
    """Validates a header that failed the fast checks; returns it as plain strs or raises with
    mod_wsgi's message."""
    if not isinstance(name, str):
        raise TypeError('must be str, not %s' % type(name).__name__)
    raw_name = name.encode('latin-1')
    if not name:
        raise ValueError('header name is empty')
    for char in name:
        if char == ' ':
            raise ValueError('space character in header name: %r' % raw_name)
        if char < ' ' or char == '\x7f':
            raise ValueError('control character in header name: %r' % raw_name)
    if _BAD_NAME(name):
        # Stricter than mod_wsgi, which passes separators through: HTTP/1.1 allows only token
        # characters in a field name, and clients and proxies reject the rest.
        raise ValueError('invalid character in header name: %r' % raw_name)
    if not isinstance(value, str):
        raise TypeError('must be str, not %s' % type(value).__name__)
    raw_value = value.encode('latin-1')
    if '\r' in value or '\n' in value:
        raise ValueError('carriage return/line feed character in header value: %r' % raw_value)
    if _BAD_VALUE(value):
        raise ValueError('control character in header value: %r' % raw_value)
    return str(name), str(value)


def _parse_content_length(value):
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        raise ValueError("invalid Content-Length header value: '%s'" % value)
    return int(text)
