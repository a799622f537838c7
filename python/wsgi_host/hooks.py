"""mod_wsgi's auth hooks, run in a hook process on behalf of the front end.

WSGIAccessScript's allow_access(environ, host), WSGIAuthUserScript's check_password(environ, user,
password) and get_realm_hash(environ, user, realm), and WSGIAuthGroupScript's
groups_for_user(environ, user). The front end sends a call as JSON on a thread's connection; the
answer is classified here by mod_wsgi's rules (wsgi_auth.c), so the front end gets one of a few
outcomes. Anything else a hook returns, and any exception it raises, is logged with mod_wsgi's
message and counts as a failure.

Each hook process serves one application group, so the hook scripts of an application group
share this interpreter's modules, as they share a sub-interpreter in mod_wsgi. A script is
loaded on first use as the module '_mod_wsgi_' + md5(path) and, with WSGIScriptReloading On,
loaded afresh when its modification time changes.
"""

import json
import os
import sys
import threading

from . import __version__, APACHE_VERSION, MOD_WSGI_VERSION
from .loader import exec_script, module_name
from .protocol import HEADER, LOG, AUTH_RESULT, LOG_ERR, frame


class HookErrors(object):
    """wsgi.errors of a hook call: lines go to the error log with the request's client."""

    def __init__(self, send_log):
        self._send_log = send_log
        self._partial = ''

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError('write() argument must be str, not %s' % type(text).__name__)
        text = self._partial + text
        cut = text.rfind('\n')
        if cut < 0:
            self._partial = text
            return
        self._partial = text[cut + 1:]
        self._send_log(LOG_ERR, text[:cut])

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if self._partial:
            text, self._partial = self._partial, ''
            self._send_log(LOG_ERR, text)

    def close(self):
        self.flush()

    def isatty(self):
        return False


class HookScripts(object):
    """The hook scripts loaded in this process, by path."""

    def __init__(self, describe_context):
        self._modules = {}
        self._lock = threading.Lock()
        self._describe_context = describe_context

    def get(self, path, application_group, reload, log):
        """The script's module, loading (or, if it changed, reloading) it; None if it cannot be
        loaded (the reason is logged)."""
        with self._lock:
            module = self._modules.get(path)
            if module is not None and reload and _changed(module, path):
                del self._modules[path]
                sys.modules.pop(module_name(path), None)
                module = None
            if module is None:
                module = self._load(path, application_group, log)
                if module is not None:
                    self._modules[path] = module
            return module

    def _load(self, path, application_group, log):
        context = self._describe_context(application_group)
        return exec_script(path, context, log, lambda exc: log_exception(log, exc, path, context))


def _changed(module, path):
    try:
        mtime = os.stat(path).st_mtime_ns // 1000
    except OSError:
        return True
    return getattr(module, '__mtime__', None) != mtime


def log_exception(log, exc, script, context):
    import traceback
    name = type(exc).__name__
    header = ("WSGI0174: [script %s] %s exception raised processing WSGI script '%s' for %s."
              % (script, name, script, context))
    text = ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    log(LOG_ERR, header + '\n' + text.rstrip('\n'))


_scripts = None
_scripts_lock = threading.Lock()


def _hook_scripts(worker):
    global _scripts
    with _scripts_lock:
        if _scripts is None:
            _scripts = HookScripts(worker.describe_context)
        return _scripts


def serve_call(worker, conn, payload):
    """Runs one hook call that arrived on `conn` and sends back its outcome."""

    def log(level, text):
        data = text.encode('utf-8', 'backslashreplace')
        conn.send(HEADER.pack(LOG, len(data) + 1) + bytes((level,)) + data)

    call = json.loads(payload.decode('utf-8'))
    hook = call['hook']
    script = call['script']
    group = call['group']
    context = worker.describe_context(group)
    errors = HookErrors(log)
    environ = call['environ']
    https = bool(call.get('https'))
    environ['wsgi.errors'] = errors
    environ['mod_wsgi.version'] = MOD_WSGI_VERSION
    environ['apache.version'] = APACHE_VERSION
    environ['wsgi_host.version'] = __version__
    environ['mod_ssl.is_https'] = lambda: 1 if https else 0
    environ['mod_ssl.var_lookup'] = lambda name: ('on' if https else 'off') if name == 'HTTPS' else None
    try:
        module = _hook_scripts(worker).get(script, group, call.get('reload', True), log)
        outcome = _run(hook, module, script, context, environ, call['args'], log)
    finally:
        try:
            errors.close()
        except Exception:
            pass
    conn.send(frame(AUTH_RESULT, json.dumps(outcome).encode('utf-8')))


def _run(hook, module, script, context, environ, args, log):
    failed = _FAILED[hook]
    if module is None:
        return failed
    function = module.__dict__.get(hook)
    if function is None:
        log(LOG_ERR, _MISSING[hook] % script)
        return failed
    try:
        result = function(environ, *args)
        return _CLASSIFY[hook](result, script, log)
    except BaseException as exc:
        log_exception(log, exc, script, context)
        return failed


def _allow_access(result, script, log):
    if result is None:
        return {'result': 'decline'}
    if result is True:
        return {'result': 'allow'}
    if result is False:
        return {'result': 'deny'}
    log(LOG_ERR, "WSGI0055: Result returned from 'allow_access' in '%s' must be a boolean or None." % script)
    return {'result': 'deny'}


def _check_password(result, script, log):
    if result is None:
        return {'result': 'not-found'}
    if result is True:
        return {'result': 'granted'}
    if result is False:
        return {'result': 'denied'}
    if isinstance(result, str):
        # mod_wsgi takes the UTF-8 bytes of the name; the front end keeps names as bytes in
        # latin-1 strings, as the environ carries them.
        name = result.encode('utf-8')
        if not name:
            log(LOG_ERR, 'WSGI0176: Basic auth provider returned empty user name string.')
            return {'result': 'error'}
        return {'result': 'granted', 'user': name.decode('latin-1')}
    log(LOG_ERR, 'WSGI0177: Basic auth provider must return True, False, None or user name as string.')
    return {'result': 'error'}


def _get_realm_hash(result, script, log):
    if result is None:
        return {'result': 'not-found'}
    if isinstance(result, str):
        try:
            result = result.encode('latin-1')
        except UnicodeEncodeError:
            raise TypeError("Digest auth provider must return None or string object, value "
                            "containing non 'latin-1' characters found")
    elif not isinstance(result, bytes):
        log(LOG_ERR, 'WSGI0179: Digest auth provider must return None or string object.')
        return {'result': 'error'}
    if not result:
        log(LOG_ERR, 'WSGI0178: Digest auth provider returned empty realm hash.')
        return {'result': 'error'}
    return {'result': 'found', 'hash': result.decode('latin-1')}


def _groups_for_user(result, script, log):
    try:
        items = iter(result)
    except TypeError:
        log(LOG_ERR, "WSGI0051: Result returned from 'groups_for_user' in '%s' is not iterable; "
                     "expected an iterable sequence of byte strings." % script)
        raise
    groups = []
    for item in items:
        if isinstance(item, str):
            try:
                item = item.encode('latin-1')
            except UnicodeEncodeError:
                log(LOG_ERR, "WSGI0049: Item returned from 'groups_for_user' in '%s' is a string containing "
                             "characters that cannot be encoded as latin-1; expected a byte string." % script)
                return {'result': 'error'}
        if not isinstance(item, bytes):
            log(LOG_ERR, "WSGI0050: Item returned from 'groups_for_user' in '%s' is not a byte string." % script)
            return {'result': 'error'}
        groups.append(item.decode('latin-1'))
    return {'result': 'groups', 'groups': groups}


_CLASSIFY = {
    'allow_access': _allow_access,
    'check_password': _check_password,
    'get_realm_hash': _get_realm_hash,
    'groups_for_user': _groups_for_user,
}

_FAILED = {
    'allow_access': {'result': 'deny'},
    'check_password': {'result': 'error'},
    'get_realm_hash': {'result': 'error'},
    'groups_for_user': {'result': 'error'},
}

_MISSING = {
    'allow_access': "WSGI0056: Target WSGI host access script '%s' does not provide 'allow_access' callable.",
    'check_password': "WSGI0043: Target WSGI user authentication script '%s' does not provide 'Basic' auth provider.",
    'get_realm_hash': "WSGI0046: Target WSGI user authentication script '%s' does not provide 'Digest' auth provider.",
    'groups_for_user': "WSGI0052: Target WSGI group authentication script '%s' does not provide 'groups_for_user' callable.",
}
