"""The interpreters of a daemon process's application groups other than %{GLOBAL}.

mod_wsgi runs each application group in a Python sub-interpreter of its own, and %{GLOBAL} ("")
in the main interpreter, so applications in one process cannot see each other's modules. Here
each such interpreter runs a serving loop of its own: a control connection and one connection
per serving thread to the front end, so nothing crosses between interpreters. The loop is started
from a thread of the main interpreter that enters the new interpreter (the private module's
run_string) and stays there for the life of the loop; the loop starts the interpreter's serving
threads itself, with `threading`.

Where this Python cannot run such sub-interpreters (no _xxsubinterpreters / _interpreters module),
or the group asks for it (application-groups=processes), each application group runs in a process
of its own instead, started by this process and ending with it. The front end treats both alike:
an interpreter is a control connection and its threads' connections.
"""

import json
import os
import sys
import threading

from .protocol import ConnectionClosed, frame, INTERPRETER_FAILED, LOG_ERR, LOG_INFO

SUB_INTERPRETERS = 'sub-interpreters'
PROCESSES = 'processes'

# What the front end runs to start a daemon process (src/groups/process-group.ts); a process of
# its own for an application group starts the same way.
PROCESS_BOOTSTRAP = 'import sys; sys.path.insert(0, sys.argv.pop(1)); from wsgi_host.worker import main; main()'

# Runs inside a new sub-interpreter: it imports the runtime afresh, as any module there.
_SUB_BOOTSTRAP = ('import sys\n'
                  'sys.path.insert(0, %r)\n'
                  'from wsgi_host.worker import serve_application_group\n'
                  'serve_application_group(%r)\n')

# How long to wait, when the process stops, for its interpreters' loops to end (they end when the
# front end closes their control connections, which it does when it tells the process to stop).
_END_WAIT = 2.0


class SubInterpreterBackend(object):
    """Creates legacy sub-interpreters (shared GIL, threads allowed: what mod_wsgi creates) and
    runs code in them, through the private module of this Python version."""

    def __init__(self, module, create):
        self.module_name = module.__name__
        self.create = create
        self._run_string = module.run_string

    def run(self, interpreter_id, code):
        """Runs `code` in the interpreter, blocking this thread until it returns. Returns None, or
        the text of the exception that escaped it."""
        try:
            result = self._run_string(interpreter_id, code)
        except Exception as exc:  # RunFailedError (3.9 - 3.12): its message names the exception
            return str(exc) or type(exc).__name__
        if result is None:
            return None
        # 3.13+: an exception snapshot is returned rather than raised.
        return getattr(result, 'errdisplay', None) or getattr(result, 'formatted', None) or str(result)


def sub_interpreter_backend():
    """(backend, None) when this Python can run sub-interpreters with threads; (None, why) if not."""
    try:
        import _interpreters as module  # CPython 3.13+

        def create():
            return module.create('legacy')
    except ImportError:
        try:
            import _xxsubinterpreters as module  # CPython 3.8 - 3.12
        except ImportError:
            return None, ('this Python (%s) has no sub-interpreter support (neither _interpreters nor '
                          '_xxsubinterpreters)' % sys.version.split()[0])

        def create():
            # Isolated ones refuse threads (3.9 - 3.11) or daemon threads (3.12).
            return module.create(isolated=False)
    return SubInterpreterBackend(module, create), None


class GroupInterpreter(object):
    """One application group's interpreter as the main interpreter sees it."""

    def __init__(self, name, mode):
        self.name = name
        self.mode = mode
        self.ready = False
        self.failure = None
        # Set once it is ready or has failed; `ended` once its loop has ended (or it never ran).
        self.settled = threading.Event()
        self.ended = threading.Event()
        self.child = None

    def describe(self):
        if self.mode == PROCESSES:
            return "process of application group '%s'" % self.name
        return "sub-interpreter '%s'" % self.name


class InterpreterHost(object):
    """Starts and keeps the application groups' interpreters of this daemon process (run in its
    main interpreter)."""

    def __init__(self, worker, runtime_dir):
        self.worker = worker
        self.runtime_dir = runtime_dir
        self.backend = None
        requested = worker.config.get('applicationGroups') or SUB_INTERPRETERS
        if requested == SUB_INTERPRETERS:
            self.backend, self.why = sub_interpreter_backend()
        else:
            self.why = 'application-groups=processes'
        self.mode = SUB_INTERPRETERS if self.backend is not None else PROCESSES
        self._lock = threading.Lock()
        self._interpreters = {}
        # Once a sub-interpreter exists, the process must not finalize normally: CPython aborts
        # ("remaining subinterpreters") when the main interpreter ends before them.
        self.created_sub_interpreter = False
        # The sub-interpreters' ids, kept for the life of the process: in 3.9 - 3.12 dropping the
        # last reference to one ends the interpreter, which aborts while its threads still run.
        self._ids = []

    def describe(self):
        """For the front end's start-up log."""
        info = {'applicationGroups': self.mode}
        if self.mode == PROCESSES:
            info['why'] = self.why
        elif self.backend is not None:
            info['module'] = self.backend.module_name
        return info

    # -- creating -----------------------------------------------------------------------------

    def ensure(self, name):
        """Starts the interpreter of application group `name` unless it is running or starting;
        returns it (wait on its `settled` event to know how it went)."""
        with self._lock:
            current = self._interpreters.get(name)
            if current is not None and not current.ended.is_set():
                return current
            interp = GroupInterpreter(name, self.mode)
            self._interpreters[name] = interp
        try:
            if self.mode == SUB_INTERPRETERS:
                self._start_sub_interpreter(interp)
            else:
                self._start_process(interp)
        except Exception:
            import traceback
            self._failed(interp, traceback.format_exc())
        return interp

    def requested(self, name):
        """The front end asks for the interpreter of `name`: it has none for this process."""
        current = self._interpreters.get(name)
        if current is None or current.ended.is_set() or not current.ready:
            self.ensure(name)
            return
        # The front end has already lost it (its control connection closed) while its loop has
        # not quite ended: start a new one once it has.
        def replace():
            if current.ended.wait(10):
                self.ensure(name)
            else:
                self._failed(GroupInterpreter(name, self.mode), 'the previous interpreter of this application group did not stop')
        thread = threading.Thread(target=replace, name='wsgi-interp-replace')
        thread.daemon = True
        thread.start()

    def _start_sub_interpreter(self, interp):
        worker = self.worker
        read_end, write_end = os.pipe()
        config = dict(worker.config, applicationGroup=interp.name, readyFd=write_end)
        code = _SUB_BOOTSTRAP % (self.runtime_dir, json.dumps(config))
        backend = self.backend
        worker.log(LOG_INFO, "Creating sub-interpreter '%s' in daemon process '%s'." % (interp.name, worker.group))

        def run():
            try:
                interpreter_id = backend.create()
            except Exception as exc:
                interp.failure = 'Unable to create a sub-interpreter: %s: %s' % (type(exc).__name__, exc)
            else:
                self._ids.append(interpreter_id)
                self.created_sub_interpreter = True
                interp.failure = backend.run(interpreter_id, code)
                if interp.failure is not None and interp.ready and not worker.stopping:
                    worker.log(LOG_ERR, "The serving loop of %s in daemon process '%s' failed: %s"
                               % (interp.describe(), worker.group, interp.failure))
            finally:
                os.close(write_end)
                interp.ended.set()

        _start_thread(run, 'wsgi-interp')
        _start_thread(lambda: self._watch_start(interp, read_end), 'wsgi-interp-start')

    def _start_process(self, interp):
        import subprocess  # only this fallback starts processes
        worker = self.worker
        read_end, write_end = os.pipe()
        config = dict(worker.config, applicationGroup=interp.name, readyFd=write_end, role='interpreter',
                      parentPid=os.getpid())
        environment = dict(os.environ)
        environment['WSGI_HOST_WORKER'] = json.dumps(config)
        argv = [sys.executable] + list(config.get('pythonFlags') or ()) + ['-c', PROCESS_BOOTSTRAP, self.runtime_dir]
        try:
            child = subprocess.Popen(argv, env=environment, pass_fds=(write_end,), stdin=subprocess.DEVNULL)
        except OSError as exc:
            os.close(read_end)
            self._failed(interp, 'Unable to start a process for it: %s' % exc)
            return
        finally:
            os.close(write_end)
        interp.child = child
        worker.log(LOG_INFO, "Started process %d for application group '%s' of daemon process '%s' (application groups run in processes of their own: %s)."
                   % (child.pid, interp.name, worker.group, self.why))

        def watch():
            self._watch_start(interp, read_end)
            status = child.wait()
            interp.ended.set()
            if interp.ready and not worker.stopping:
                worker.log(LOG_ERR, "The process %d of application group '%s' of daemon process '%s' exited with status %s."
                           % (child.pid, interp.name, worker.group, status))

        _start_thread(watch, 'wsgi-interp-start')

    def _watch_start(self, interp, read_end):
        """Waits for the interpreter's word on its start: b'+' when it serves, b'-' and why when
        it failed, nothing if it ended first."""
        chunks = []
        try:
            first = os.read(read_end, 1)
            if first == b'+':
                interp.ready = True
                interp.settled.set()
                return
            while True:
                data = os.read(read_end, 65536)
                if not data:
                    break
                chunks.append(data)
        finally:
            os.close(read_end)
        if first == b'-':
            message = b''.join(chunks).decode('utf-8', 'replace')
        elif interp.child is not None:
            message = 'Its process exited with status %s before it was ready.' % interp.child.wait()
        else:
            interp.ended.wait(_END_WAIT)
            message = interp.failure or 'It ended before it was ready.'
        self._failed(interp, message)

    def _failed(self, interp, message):
        worker = self.worker
        interp.failure = message
        interp.ended.set()
        interp.settled.set()
        worker.log(LOG_ERR, "WSGI0103: Python based handlers will not be available for %s in daemon process '%s'.\n%s"
                   % (interp.describe(), worker.group, message.rstrip('\n')))
        control = worker.control
        if control is not None and not control.closed:
            lines = message.strip().splitlines()
            data = json.dumps({'applicationGroup': interp.name, 'message': lines[-1] if lines else 'unknown error'})
            try:
                control.send(frame(INTERPRETER_FAILED, data.encode('utf-8')))
            except ConnectionClosed:
                pass

    # -- stopping -----------------------------------------------------------------------------

    def shutdown(self):
        """Lets the interpreters' loops end (the front end has closed their connections), then
        stops any process of an application group still running."""
        interpreters = list(self._interpreters.values())
        for interp in interpreters:
            interp.ended.wait(_END_WAIT)
        for interp in interpreters:
            child = interp.child
            if child is not None and child.poll() is None:
                try:
                    child.terminate()
                except OSError:
                    pass


def _start_thread(target, name):
    thread = threading.Thread(target=target, name=name)
    thread.daemon = True
    thread.start()
    return thread


def report_start(ready_fd, ok, message=''):
    """Tells the main interpreter how this interpreter's start went (see _watch_start)."""
    if ready_fd is None:
        return
    data = b'+' if ok else b'-' + message.encode('utf-8', 'backslashreplace')
    try:
        while data:
            data = data[os.write(ready_fd, data):]
    except OSError:
        pass
