"""Loads WSGI script files the way mod_wsgi does.

A script is compiled and executed as a module named "_mod_wsgi_" + md5 of its absolute path, with
__file__ set to the path and __mtime__ to its modification time, so two mounts of one file share a
module. A failed load caches nothing: the next request tries again.
"""

import os
import sys
import threading
import time
import types

from .protocol import LOG_ERR

try:
    # CPython's own md5: hashlib would load OpenSSL (megabytes of resident memory) for one hash.
    from _md5 import md5 as _md5
except ImportError:
    from hashlib import md5 as _md5

NOT_FOUND = 404
SERVER_ERROR = 500


def module_name(path):
    return '_mod_wsgi_' + _md5(path.encode('utf-8', 'surrogateescape')).hexdigest()


class ScriptLoader(object):
    """Keeps the loaded script modules of one interpreter."""

    def __init__(self, describe_context, startup_timeout=0, on_startup_timeout=None, on_loaded=None):
        # Only fully executed modules are here: other threads must never see a module whose
        # code is still running.
        self._loaded = {}
        self._lock = threading.RLock()
        self._describe_context = describe_context
        # startup-timeout: when a script has kept failing to load for this long since the first
        # attempt, the process is restarted (mod_wsgi's cure for a stuck import).
        self._startup_timeout = startup_timeout
        self._on_startup_timeout = on_startup_timeout
        self._first_failure = {}
        # Called, outside the lock, each time a script has been executed: loading is start-up
        # work whose leftovers the process can give back.
        self._on_loaded = on_loaded

    def is_stale(self, path, log, log_exception):
        """mod_wsgi's script reloading check, made on every request once the script is loaded:
        stale if its modification time differs from __mtime__ (or it cannot be examined), or if
        the script's reload_required(path) says so. A reload_required that raises is logged and
        means not stale."""
        module = self._loaded.get(path)
        if module is None:
            return False
        try:
            mtime = os.stat(path).st_mtime_ns // 1000
        except OSError:
            return True
        # The module's own namespace, not getattr: a missing name costs no AttributeError.
        namespace = module.__dict__
        if namespace.get('__mtime__') != mtime:
            return True
        check = namespace.get('reload_required')
        if check is None:
            return False
        try:
            return bool(check(path))
        except BaseException as exc:
            log_exception(log, exc, path)
            return False

    def loaded(self, path):
        return self._loaded.get(path)

    def application(self, path, callable_name, application_group, log, log_exception):
        """Returns (callable, 0), or (None, status) after logging why there is none."""
        module = self._loaded.get(path)
        if module is None:
            module = self._load(path, application_group, log, log_exception, watched=True)
            if module is None:
                return None, SERVER_ERROR
        app = getattr(module, callable_name, None)
        if app is None:
            log(LOG_ERR, "WSGI0089: Target WSGI script '%s' does not contain WSGI application '%s'."
                % (path, callable_name))
            return None, NOT_FOUND
        return app, 0

    def preload(self, path, application_group, log, log_exception):
        return self._load(path, application_group, log, log_exception) is not None

    def _load(self, path, application_group, log, log_exception, watched=False):
        with self._lock:
            module = self._loaded.get(path)
            if module is not None:
                return module
            first = self._first_failure.get(path) or time.time()
            # A load that never returns (an import waiting on a lock or a network service) is
            # cured too, as mod_wsgi's monitor does, not only one that keeps failing. (A preload is
            # watched by the front end, which waits for the process to be ready.)
            watch = self._watch(path, first) if watched else None
            try:
                module = self._exec_script(path, application_group, log, log_exception)
            finally:
                if watch is not None:
                    watch.cancel()
            if module is None:
                self._first_failure.setdefault(path, first)
                if self._startup_timeout and time.time() - first > self._startup_timeout and self._on_startup_timeout \
                        and (watch is None or not watch.fired):
                    self._on_startup_timeout(path)
                return None
            self._first_failure.pop(path, None)
        if self._on_loaded is not None:
            self._on_loaded()
        return module

    def _watch(self, path, first):
        """A timer that reports the startup timeout for `path` if its load is still running when
        startup-timeout has passed since `first`; None when there is no startup-timeout."""
        if not self._startup_timeout or self._on_startup_timeout is None:
            return None
        watch = _LoadWatch(max(0.0, first + self._startup_timeout - time.time()), self._on_startup_timeout, path)
        watch.start()
        return watch

    def _exec_script(self, path, application_group, log, log_exception):
        module = exec_script(path, self._describe_context(application_group), log,
                             lambda exc: log_exception(log, exc, path))
        if module is not None:
            self._loaded[path] = module
        return module


class _LoadWatch(threading.Thread):
    """Calls `report(path)` after `delay` seconds unless cancelled first."""

    def __init__(self, delay, report, path):
        threading.Thread.__init__(self, name='wsgi-host startup-timeout watch', daemon=True)
        self._delay = delay
        self._report = report
        self._path = path
        self._cancelled = threading.Event()
        self.fired = False

    def cancel(self):
        self._cancelled.set()

    def run(self):
        if not self._cancelled.wait(self._delay):
            self.fired = True
            self._report(self._path)


def exec_script(path, context, log, log_exception):
    """Compiles and runs a script as its module (_mod_wsgi_ + md5 of the path) with mod_wsgi's
    messages; the module, or None after logging why not. `log_exception(exc)` logs a traceback."""
    try:
        with open(path, 'rb') as source_file:
            source = source_file.read()
            mtime = os.fstat(source_file.fileno()).st_mtime_ns // 1000
        code = compile(source, path, 'exec', dont_inherit=True)
    except BaseException as exc:
        log(LOG_ERR, "WSGI0105: Could not read or compile WSGI script '%s' for %s." % (path, context))
        log_exception(exc)
        return None
    name = module_name(path)
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except SystemExit:
        sys.modules.pop(name, None)
        log(LOG_ERR, "WSGI0107: SystemExit exception raised when doing exec of Python script file '%s'."
            % path)
        return None
    except BaseException as exc:
        sys.modules.pop(name, None)
        log(LOG_ERR, "WSGI0109: Unable to execute Python script file '%s'." % path)
        log_exception(exc)
        return None
    # The module may have replaced itself in sys.modules, as modules are allowed to.
    module = sys.modules.get(name, module)
    module.__mtime__ = mtime
    return module
