"""Shows which interpreter a hook runs in: the application group, the process, and how many
hook scripts this interpreter has loaded (a module shared through sys.modules)."""
import os
import sys
import types

state = sys.modules.get('hook_namespace_state')
if state is None:
    state = sys.modules['hook_namespace_state'] = types.ModuleType('hook_namespace_state')
    state.loaded = 0
state.loaded += 1


def check_password(environ, user, password):
    return '%s|%d|%d' % (environ['mod_wsgi.application_group'] or 'GLOBAL', os.getpid(), state.loaded)
