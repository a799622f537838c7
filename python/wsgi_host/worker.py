"""A daemon process of a process group: connects its threads to the front end and serves requests.

Started by the front end's supervisor with its settings in the WSGI_HOST_WORKER environment
variable (JSON). One control connection carries process-level messages and logs; each of the
`threads` serving threads owns one connection and runs one request at a time on it.

The main interpreter serves application group %{GLOBAL}; each other application group gets an
interpreter of its own with its own control and serving connections (see interpreters.py).
"""

import atexit
import io
import json
import marshal
import os
import sys
import threading
import time
import types

from . import __version__, APACHE_VERSION, MOD_WSGI_VERSION
from . import memory
from . import process_control
from .loader import ScriptLoader
from .interpreters import InterpreterHost, report_start
from .protocol import (Connection, ConnectionClosed, ResponseRegion, frame, HEAD, HELLO, READY, LOG,
                       SHUTDOWN, DUMP_STACKS, INTERRUPT, CREATE_INTERPRETER, RESTART, HEARTBEAT_FRAME,
                       HEADER, LOG_ERR, LOG_INFO, LOG_WARNING, FLAG_SCRIPT_RELOADING, FLAG_AHEAD, FLAG_REGION_HELD, AUTH_CALL)
from .request import Request, FileWrapper, RequestTimeout

CONFIG_VARIABLE = 'WSGI_HOST_WORKER'
RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Worker(object):
    """The state of this daemon process."""

    def __init__(self, config):
        self.config = config
        self.socket_path = config['socket']
        self.token = config['token']
        self.group = config['group']
        self.threads = int(config['threads'])
        # The application group this interpreter serves: '' is the main interpreter.
        self.application_group = config.get('applicationGroup', '')
        # In the main interpreter: the other application groups' interpreters.
        self.interpreters = None
        self.control = None
        self.stopping = False
        self.current = threading.local()
        self.loader = ScriptLoader(self.describe_context, float(config.get('startupTimeout') or 0), self._startup_timed_out,
                                   self._script_loaded)
        # Set once the process is ready, in an interpreter that owns its process (never in a
        # sub-interpreter): from then on, each script load gives back what it needed only once.
        self.releases_memory = False
        # queue-timeout, for requests sent ahead: the front end times out the ones in its queue.
        self.queue_timeout = float(config.get('queueTimeout') or 0)
        # Thread index -> thread ident, for interrupt-timeout.
        self.thread_idents = {}
        # Thread index -> whether it is running a request (one store each way: no lock on the
        # request path); a stopping process lets those requests finish.
        self.running = [False] * self.threads
        self.restart_requested = False
        self.static_environ = {
            'wsgi.version': (1, 0),
            'wsgi.multithread': self.threads > 1,
            'wsgi.multiprocess': bool(config.get('multiprocess')),
            'wsgi.run_once': bool(config.get('runOnce')),
            'wsgi.file_wrapper': FileWrapper,
            'wsgi.input_terminated': True,
            'mod_wsgi.version': MOD_WSGI_VERSION,
            'apache.version': APACHE_VERSION,
            'wsgi_host.version': __version__,
        }

    # -- logging ------------------------------------------------------------------------------

    def describe_context(self, application_group):
        interp = ("sub-interpreter '%s'" % application_group) if application_group else 'main interpreter'
        return "%s of daemon process '%s'" % (interp, self.group)

    def log(self, level, text):
        """A process-level log record (not tied to a request)."""
        control = self.control
        if control is not None and not control.closed:
            data = text.encode('utf-8', 'backslashreplace')
            try:
                control.send(HEADER.pack(LOG, len(data) + 1) + bytes((level,)) + data)
                return
            except ConnectionClosed:
                pass
        try:
            os.write(2, (text + '\n').encode('utf-8', 'backslashreplace'))
        except OSError:
            pass

    def log_exception(self, sink, exc, script):
        """Logs an application exception as mod_wsgi 6 does: a WSGI0174/0175 line naming the
        exception, then the traceback."""
        request = getattr(self.current, 'request', None)
        # Outside a request (a preload, WSGIImportScript) the interpreter's own group.
        group = self.application_group
        if request is not None and request.environ is not None:
            group = request.environ.get('mod_wsgi.application_group', group)
        context = self.describe_context(group)
        name = type(exc).__name__
        if isinstance(exc, SystemExit):
            header = ("WSGI0175: [script %s] %s exception raised by WSGI script '%s' for %s; ignored."
                      % (script, name, script, context))
        else:
            header = ("WSGI0174: [script %s] %s exception raised processing WSGI script '%s' for %s."
                      % (script, name, script, context))
        import traceback  # imported on first use: most processes never log an exception
        text = ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        sink(LOG_ERR, header + '\n' + text.rstrip('\n'))

    # -- serving ------------------------------------------------------------------------------

    def hello(self, role, thread, region=None):
        info = {'token': self.token, 'pid': os.getpid(), 'role': role, 'thread': thread,
                'tid': threading.get_native_id(), 'applicationGroup': self.application_group}
        if region is not None:
            info['region'] = region.describe()
        return frame(HELLO, json.dumps(info).encode('ascii'))

    def flush_thread_output(self, request):
        """Sends what this thread printed without a final newline during the request."""
        partials = self.current.partials
        if partials:
            for name in sorted(partials):
                request.log(LOG_ERR, partials[name])
            partials.clear()

    def request_restart(self, reason, immediate):
        """Asks the front end to replace this process: at once (immediate) or once a replacement
        is ready. Safe to call from signal handlers and any thread; asked once."""
        if self.restart_requested:
            return
        self.restart_requested = True
        message = json.dumps({'reason': reason, 'immediate': bool(immediate)}).encode('ascii')
        control = self.control
        if control is not None and not control.closed:
            try:
                control.send(frame(RESTART, message))
            except ConnectionClosed:
                pass

    def heartbeat(self):
        control = self.control
        if control is not None and not control.closed:
            try:
                control.send(HEARTBEAT_FRAME)
            except ConnectionClosed:
                pass

    def _startup_timed_out(self, path):
        self.log(LOG_ERR, "WSGI script '%s' failed to load within startup-timeout (%s seconds); restarting the daemon process."
                 % (path, self.config.get('startupTimeout')))
        self.request_restart('startup_timeout', immediate=True)

    def interrupt(self, index):
        """interrupt-timeout: raise RequestTimeout in the thread serving index `index`."""
        ident = self.thread_idents.get(index)
        if ident is not None and process_control.interrupt_thread(ident, RequestTimeout):
            self.log(LOG_INFO, 'Injected RequestTimeout into request thread %d.' % (index + 1))

    def serve_thread(self, index):
        """Runs requests on this thread's connection; reconnects when the front end drops it (it
        does so when a client goes away mid-request)."""
        self.current.partials = {}
        self.thread_idents[index] = threading.get_ident()
        failures = 0
        while not self.stopping:
            # A fresh region for every connection: after a connection is cut, the front end may
            # still be sending the old region's pieces to a client straight from its memory.
            region = ResponseRegion.create()
            try:
                conn = Connection(self.socket_path, region)
                conn.send(self.hello('request', index, region))
            except (OSError, ConnectionClosed):
                if region is not None:
                    region.close()
                failures += 1
                if failures > 50:
                    return
                time.sleep(min(0.01 * failures, 0.2))
                continue
            served = self.serve_connection(conn, index)
            conn.close()
            if region is not None:
                region.close()
            failures = 0 if served else failures + 1
            if failures:
                time.sleep(min(0.01 * failures, 0.2))

    def serve_connection(self, conn, index):
        served = 0
        current = self.current
        thread_id = index + 1
        try:
            while True:
                kind, payload = conn.read_frame()
                if kind != HEAD:
                    if kind == AUTH_CALL:
                        # Only hook processes get these: the hook code is loaded there alone.
                        from .hooks import serve_call
                        serve_call(self, conn, payload)
                        continue
                    return served  # out of step with the front end: start afresh
                served += 1
                request = Request(self, conn, payload)
                if not request.flags & (FLAG_AHEAD | FLAG_REGION_HELD):
                    # The front end sends a head only once it has taken everything the previous
                    # response left in the shared region. A head sent ahead (while the previous
                    # request ran), or while the front end still sends pieces straight from the
                    # region, releases nothing: region releases follow it as usual.
                    conn.outstanding = 0
                environ = request.environ
                now = environ['mod_wsgi.daemon_start'] = time.time()
                environ['mod_wsgi.thread_id'] = thread_id
                if request.flags & FLAG_AHEAD and self.queue_timeout > 0 and now - environ.get('mod_wsgi.queue_start', now) > self.queue_timeout:
                    # Sent ahead behind a request that then ran long: it waited past queue-timeout,
                    # so it gets mod_wsgi's 504 without running, as one from the queue would.
                    request.log(LOG_ERR, "WSGI0084: Queue timeout expired for WSGI daemon process '%s'." % self.group)
                    request.fail_unstarted(504)
                    continue
                current.request = request
                running = self.running
                running[index] = True
                try:
                    self.dispatch(request, environ)
                finally:
                    running[index] = False
                    current.request = None
        except ConnectionClosed:
            return served

    def dispatch(self, request, environ):
        if request.flags & FLAG_SCRIPT_RELOADING and self.loader.is_stale(request.script, request.log, self.log_exception):
            # mod_wsgi daemon mode: a changed script restarts the process, and the request that
            # noticed runs again in a fresh one.
            self.log(LOG_INFO, "Forcing restart of daemon process '%s' due to modification of script '%s'."
                     % (self.group, request.script))
            self.request_restart('script_reload', immediate=True)
            request.reject_stale()
            return
        app, status = self.loader.application(
            request.script, environ.get('mod_wsgi.callable_object', 'application'),
            environ.get('mod_wsgi.application_group', ''), request.log, self.log_exception)
        if app is None:
            request.fail_unstarted(status)
            return
        request.run(app)

    # -- process ------------------------------------------------------------------------------

    def run(self):
        """The main interpreter of the daemon process."""
        config = self.config
        self.control = Connection(self.socket_path)
        self.control.send(self.hello('control', -1))
        install_output_streams(self)
        if config.get('restrictStdout') or config.get('restrictStdin'):
            from .restrict import restrict_standard_streams
            restrict_standard_streams(config)
        install_mod_wsgi_module(self)
        process_control.install_signal_handlers(self)
        if config.get('restrictSignal', True):
            process_control.restrict_signal_registration(self)
        process_control.apply_process_settings(config, self.log)
        process_control.start_heartbeat(self)
        self.interpreters = InterpreterHost(self, RUNTIME_DIR)
        # The interpreters of preloaded application groups start (and preload) meanwhile; the
        # process is ready once they are.
        starting = [self.interpreters.ensure(name) for name in self.preloaded_groups()]
        self.preload_scripts()
        for interp in starting:
            interp.settled.wait()
        if config.get('reloadOnChanges'):
            process_control.start_reload_monitor(self)
        self.start_serving_threads()
        self.control.send(frame(READY, json.dumps(self.interpreters.describe()).encode('ascii')))
        self.start_releasing_memory()
        self.control_loop()

    def serve_application_group(self, ready_fd, own_process):
        """The serving loop of an application group's interpreter: a sub-interpreter, or where
        those cannot be used, a process of its own (`own_process`)."""
        config = self.config
        try:
            self.control = Connection(self.socket_path)
            self.control.send(self.hello('interpreter', -1))
            install_output_streams(self)
            install_mod_wsgi_module(self)
            if own_process:
                process_control.install_signal_handlers(self)
                process_control.apply_process_settings(config, self.log)
                process_control.start_heartbeat(self)
                process_control.watch_parent(self, config.get('parentPid'))
            if config.get('restrictSignal', True):
                process_control.restrict_signal_registration(self)
            self.preload_scripts()
            if config.get('reloadOnChanges'):
                process_control.start_reload_monitor(self)
            self.start_serving_threads()
            self.control.send(frame(READY))
            if own_process:
                self.start_releasing_memory()
        except BaseException:
            import traceback
            report_start(ready_fd, False, traceback.format_exc())
            return
        report_start(ready_fd, True)
        try:
            self.control_loop()
        finally:
            if not own_process:
                # A sub-interpreter is never finalized (see finish()): run its exit functions now.
                atexit._run_exitfuncs()

    def preloaded_groups(self):
        names = []
        for path in self.config.get('preload', ()):
            name = path.get('applicationGroup', '')
            if name and name not in names:
                names.append(name)
        return names

    def preload_scripts(self):
        """WSGIImportScript and preloaded script aliases for this interpreter's application group."""
        for path in self.config.get('preload', ()):
            if path.get('applicationGroup', '') != self.application_group:
                continue
            started = time.time()
            if self.loader.preload(path['script'], self.application_group, self.log, self.log_exception):
                self.log(LOG_INFO, "Preloaded WSGI script '%s' in %.3f seconds." % (path['script'], time.time() - started))

    def start_releasing_memory(self):
        """Once ready: gives back the start-up's leftovers (memory.py), now and after each later
        script load."""
        self.releases_memory = True
        self.release_memory()

    def _script_loaded(self):
        if self.releases_memory:
            self.release_memory()

    def release_memory(self):
        try:
            result = memory.release_startup_memory()
        except Exception as exc:  # memory, not correctness: never let it stop a process or a request
            self.log(LOG_INFO, 'Could not release start-up memory (%s); it stays resident.' % exc)
            return
        if result is not None:
            self.log(LOG_INFO, memory.describe_release(result))

    def start_serving_threads(self):
        for index in range(self.threads):
            thread = threading.Thread(target=self.serve_thread, args=(index,), name='wsgi-%d' % (index + 1))
            thread.daemon = True
            thread.start()

    def control_loop(self):
        grace = 0.0
        try:
            while True:
                kind, payload = self.control.read_frame()
                if kind == DUMP_STACKS:
                    self.dump_stacks(payload.decode('utf-8', 'replace'))
                elif kind == INTERRUPT:
                    self.interrupt(int(payload))
                elif kind == CREATE_INTERPRETER and self.interpreters is not None:
                    self.interpreters.requested(payload.decode('utf-8', 'surrogateescape'))
                elif kind == SHUTDOWN:
                    grace = _seconds(payload)
                    break
        except ConnectionClosed:
            pass  # the front end is gone: nobody would get what running requests still send
        finally:
            self.stopping = True
            self.finish_running_requests(grace)

    def finish_running_requests(self, grace):
        """mod_wsgi's shutdown: the requests still running may finish within shutdown-timeout
        (`grace`), after which the front end kills the process, exit functions or not."""
        if not any(self.running) or grace <= 0:
            return
        self.log(LOG_INFO, 'Waiting up to %g seconds (shutdown-timeout) for %d running request(s) to finish.'
                 % (grace, sum(self.running)))
        deadline = time.monotonic() + grace
        while any(self.running) and time.monotonic() < deadline:
            time.sleep(0.01)

    def finish(self, status):
        """Ends the main interpreter's process. Once a sub-interpreter exists the process exits
        without finalizing: CPython aborts a normal exit that leaves sub-interpreters (3.9 - 3.12),
        and they cannot be destroyed while threads they started are alive. The main interpreter's
        exit functions still run, as the sub-interpreters' own have when their loops ended."""
        self.stopping = True
        host = self.interpreters
        if host is None:
            return
        host.shutdown()
        if host.created_sub_interpreter:
            try:
                atexit._run_exitfuncs()
                for stream in (sys.stdout, sys.stderr):
                    stream.flush()
            finally:
                os._exit(status)

    def dump_stacks(self, reason):
        import traceback
        frames = sys._current_frames()
        names = dict((t.ident, t.name) for t in threading.enumerate())
        group = self.application_group
        if group:
            where = "daemon process %d, application group '%s'" % (os.getpid(), group)
        else:
            where = 'daemon process %d' % os.getpid()
        # The frames of every interpreter's threads are listed; each interpreter dumps its own.
        mine_only = bool(group) or (self.interpreters is not None and self.interpreters.created_sub_interpreter)
        lines = ['Stack traces of the threads of %s (%s):' % (where, reason)]
        for ident, stack in frames.items():
            if mine_only and ident not in names:
                continue
            lines.append('Thread %s (%s):' % (ident, names.get(ident, '?')))
            lines.extend(line.rstrip('\n') for line in traceback.format_stack(stack))
        self.log(LOG_WARNING, '\n'.join(lines))


class OutputStream(io.TextIOBase):
    """sys.stdout and sys.stderr: text goes to the error log, a line at a time, with the context of
    the request the writing thread is running, if any (as mod_wsgi does since 4.5). A partial
    line written during a request is flushed when the request ends."""

    def __init__(self, worker, name):
        super().__init__()
        self._worker = worker
        self._name = name
        self._process_partial = ''
        self._lock = threading.Lock()

    @property
    def encoding(self):
        return 'utf-8'

    @property
    def errors(self):
        return 'backslashreplace'

    @property
    def name(self):
        return '<%s>' % self._name

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        raise io.UnsupportedOperation('%s is redirected to the error log and has no file descriptor' % self._name)

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError('write() argument must be str, not %s' % type(text).__name__)
        length = len(text)
        current = self._worker.current
        request = getattr(current, 'request', None)
        if request is not None:
            partials = current.partials
            text = partials.pop(self._name, '') + text
            cut = text.rfind('\n')
            if cut < 0:
                partials[self._name] = text
            else:
                if cut + 1 < len(text):
                    partials[self._name] = text[cut + 1:]
                try:
                    request.log(LOG_ERR, text[:cut])
                except ConnectionClosed:
                    pass
            return length
        with self._lock:
            text = self._process_partial + text
            cut = text.rfind('\n')
            if cut < 0:
                self._process_partial = text
                return length
            self._process_partial = text[cut + 1:]
        self._worker.log(LOG_ERR, text[:cut])
        return length

    def flush(self):
        with self._lock:
            text, self._process_partial = self._process_partial, ''
        if text:
            self._worker.log(LOG_ERR, text)


def install_output_streams(worker):
    sys.stdout = OutputStream(worker, 'stdout')
    sys.stderr = OutputStream(worker, 'stderr')


def install_mod_wsgi_module(worker):
    """A `mod_wsgi` module for applications that look for one, with mod_wsgi's attributes."""
    module = types.ModuleType('mod_wsgi')
    module.version = MOD_WSGI_VERSION
    module.process_group = worker.group
    module.application_group = worker.application_group
    module.maximum_processes = int(worker.config.get('processes', 1))
    module.threads_per_process = worker.threads
    module.RequestTimeout = RequestTimeout
    module.FileWrapper = FileWrapper
    sys.modules['mod_wsgi'] = module


def check_marshal_latin1():
    """The front end writes latin-1 request strings with marshal's one-byte string types; make
    sure this interpreter decodes them byte for byte (every CPython since 3.4 does)."""
    return marshal.loads(b'z\x02\xe9\xff') == '\xe9\xff'


def configure_path(config):
    """sys.path as mod_wsgi arranges it: home first, then python-path entries (with their .pth
    files), and not the bootstrap's own location or the current directory."""
    import site
    runtime_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:] = [p for p in sys.path if p not in ('', '.', runtime_dir)]
    for directory in config.get('pythonPath', ()):
        site.addsitedir(directory)
    home = config.get('home')
    if home:
        sys.path.insert(0, home)


def _seconds(payload):
    """The seconds a shutdown message gives running requests (0 if it names none)."""
    try:
        return max(0.0, float(payload.decode('ascii')))
    except ValueError:
        return 0.0


def main():
    raw = os.environ.pop(CONFIG_VARIABLE, None)
    if raw is None:
        sys.stderr.write('wsgi_host.worker is started by the wsgi-host front end, not by hand.\n')
        sys.exit(2)
    config = json.loads(raw)
    if not check_marshal_latin1():
        sys.stderr.write('This Python (%s) decodes marshal strings differently from CPython; '
                         'wsgi-host needs CPython 3.9 or later.\n' % sys.version.split()[0])
        sys.exit(3)
    sys.argv = ['mod_wsgi']
    if config.get('displayName'):
        process_control.set_process_title(config['displayName'])
    configure_path(config)
    worker = Worker(config)
    if config.get('role') == 'interpreter':
        # A process of its own for one application group (where sub-interpreters are not used).
        try:
            worker.serve_application_group(config.get('readyFd'), own_process=True)
        except (ConnectionClosed, SystemExit):
            pass
        return
    status = 0
    try:
        worker.run()
    except (ConnectionClosed, SystemExit):
        pass
    except BaseException:
        import traceback
        traceback.print_exc()
        status = 1
    worker.finish(status)
    if status:
        sys.exit(status)


def serve_application_group(raw_config):
    """Entry point of a sub-interpreter: serves its application group until the front end closes
    its control connection."""
    config = json.loads(raw_config)
    ready_fd = config.get('readyFd')
    try:
        sys.argv = ['mod_wsgi']
        configure_path(config)
        worker = Worker(config)
    except BaseException:
        import traceback
        report_start(ready_fd, False, traceback.format_exc())
        return
    worker.serve_application_group(ready_fd, own_process=False)


if __name__ == '__main__':
    main()
