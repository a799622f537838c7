"""mod_wsgi auth hooks for the tests: each answer is chosen by the user name (or, for
allow_access, the X-Access header), so one script exercises every return convention."""
import hashlib
import json
import os
import time


def allow_access(environ, host):
    answer = environ.get('HTTP_X_ACCESS', 'true')
    if 'HTTP_X_REPORT' in environ:
        keys = ['REMOTE_ADDR', 'REQUEST_URI', 'REQUEST_METHOD', 'QUERY_STRING', 'SCRIPT_NAME', 'PATH_INFO', 'SERVER_NAME',
                'SERVER_PORT', 'HTTP_X_REPORT', 'HTTP_AUTHORIZATION', 'mod_wsgi.application_group', 'mod_wsgi.process_group',
                'FROM_SETENV']
        report = dict((k, environ.get(k)) for k in keys)
        report['host'] = host
        report['https'] = environ['mod_ssl.is_https']()
        report['version'] = list(environ['mod_wsgi.version'])
        environ['wsgi.errors'].write('access-report %s\n' % json.dumps(report, sort_keys=True))
    if answer == 'true':
        return True
    if answer == 'false':
        return False
    if answer == 'none':
        return None
    if answer == 'int':
        return 1
    if answer == 'raise':
        raise RuntimeError('access hook exploded')
    if answer == 'crash':
        os._exit(7)
    return True


def check_password(environ, user, password):
    environ['wsgi.errors'].write('check_password called for %s\n' % user)
    if user == 'spy':
        return password == 'secret'
    if user == 'alias':
        return 'canonical' if password == 'pw' else False
    if user == 'empty':
        return ''
    if user == 'int':
        return 1
    if user == 'bytes':
        return b'bytes'
    if user == 'raise':
        raise ValueError('check_password exploded')
    if user == 'crash':
        os._exit(3)
    if user == 'slow':
        time.sleep(6)
        return True
    if user in ('agent', 'agent-bytes', 'nogroups', 'staffer', 'badtype', 'notiter', 'grouperror'):
        return password == 'pw'
    return None


def realm_hash(user, realm, password):
    return hashlib.md5(('%s:%s:%s' % (user, realm, password)).encode('utf-8')).hexdigest()


def get_realm_hash(environ, user, realm):
    if user == 'spy':
        return realm_hash(user, realm, 'secret')
    if user == 'bytes':
        return realm_hash(user, realm, 'secret').encode('ascii')
    if user == 'empty':
        return ''
    if user == 'int':
        return 1
    if user == 'raise':
        raise KeyError('get_realm_hash exploded')
    return None


def groups_for_user(environ, user):
    if user == 'agent':
        return ['agents', 'staff']
    if user == 'agent-bytes':
        return [b'agents']
    if user == 'nogroups':
        return []
    if user == 'staffer':
        return ['staff']
    if user == 'badtype':
        return ['agents', 1]
    if user == 'notiter':
        return 5
    if user == 'grouperror':
        raise LookupError('groups_for_user exploded')
    return []
