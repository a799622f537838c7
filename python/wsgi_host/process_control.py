"""Process-level settings and watchers of a daemon process: resource limits, priority, process
title, signals, the heartbeat the front end uses to detect a stuck interpreter, and the
--reload-on-changes monitor."""

import os
import resource
import signal
import sys
import threading
import time

from .protocol import LOG_INFO, LOG_WARNING


def apply_process_settings(config, log):
    """WSGIDaemonProcess umask, cpu-priority, scheduling-policy, memory-limit,
    virtual-memory-limit, cpu-time-limit, stack-size and switch-interval, applied before any
    application code runs (and before the serving threads start: they inherit the policy)."""
    umask = config.get('umask')
    if umask is not None:
        os.umask(umask)
    apply_scheduling_policy(config.get('schedulingPolicy'), log)
    apply_priority(config.get('cpuPriority') or 0, config.get('startingPriority'), log)
    for key, limit, name in (('memoryLimit', resource.RLIMIT_DATA, 'memory-limit'),
                             ('virtualMemoryLimit', resource.RLIMIT_AS, 'virtual-memory-limit')):
        value = config.get(key) or 0
        if value:
            try:
                resource.setrlimit(limit, (value, value))
            except (OSError, ValueError) as exc:
                log(LOG_WARNING, 'Unable to set %s of %d bytes for daemon process: %s' % (name, value, exc))
    cpu = config.get('cpuTimeLimit') or 0
    if cpu:
        try:
            # The soft limit sends SIGXCPU (a graceful restart); the hard one, a little later,
            # kills a process that ignores it.
            seconds = int(cpu) if cpu >= 1 else 1
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
        except (OSError, ValueError) as exc:
            log(LOG_WARNING, 'WSGI0076: Unable to set CPU time limit of %s seconds for daemon process: %s' % (cpu, exc))
    stack = config.get('stackSize') or 0
    if stack:
        try:
            threading.stack_size(stack)
        except (ValueError, RuntimeError) as exc:
            log(LOG_WARNING, 'Unable to set thread stack size of %d bytes: %s' % (stack, exc))
    interval = config.get('switchInterval')
    if interval:
        sys.setswitchinterval(interval)


def apply_priority(priority, starting, log):
    """cpu-priority, or without one the nice value the server started with: the front end may run
    at a higher priority (WSGIFrontEndPriority), and this process inherited that from it. Set on
    the main thread before any other starts (Linux keeps a nice value per thread; new threads take
    their creator's)."""
    target = priority if priority else starting
    if target is None:
        return
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) == target:
            return
        os.setpriority(os.PRIO_PROCESS, 0, target)
    except OSError as exc:
        if priority:
            log(LOG_WARNING, 'WSGI0075: Unable to set CPU priority of %d for daemon process: %s' % (priority, exc))
        else:
            log(LOG_WARNING, "Unable to give the daemon process the server's starting priority (nice %d) instead of the front end's: %s" % (target, exc))


def apply_scheduling_policy(policy, log):
    """scheduling-policy=batch: SCHED_BATCH, under which a thread the front end wakes with a
    request waits for the CPU's current task to block or use up its slice instead of preempting
    it. That task is often the front end, which every request passes through; preempted, it stalls
    them all (on 2 cores with 2 processes it was preempted about once every 3 requests; without
    that, hello served about 1.10x as many requests per second, with the 99th percentile
    latency under full load sometimes higher). Any user may choose it; a system without it (not
    Linux) keeps its default policy."""
    if policy not in ('batch', 'normal'):
        return
    batch = getattr(os, 'SCHED_BATCH', None)
    if batch is None:
        return
    # Set in either case: the process inherited the front end's policy, which may be the other one.
    wanted, name = (batch, 'SCHED_BATCH') if policy == 'batch' else (os.SCHED_OTHER, 'SCHED_OTHER')
    try:
        if os.sched_getscheduler(0) != wanted:
            os.sched_setscheduler(0, wanted, os.sched_param(0))
    except OSError as exc:
        log(LOG_WARNING, 'Unable to set scheduling policy %s for daemon process: %s' % (name, exc))


def set_process_title(title):
    """Shows `title` as this process's command line in ps (display-name=), by overwriting the
    memory the kernel reads /proc/self/cmdline from; also sets the short name (comm)."""
    try:
        with open('/proc/self/stat', 'rb') as f:
            # Fields after the command name, which is in parentheses and may hold spaces.
            fields = f.read().rsplit(b')', 1)[1].split()
        # arg_start and arg_end are fields 48 and 49 of stat; fields[0] here is field 3.
        arg_start, arg_end = int(fields[45]), int(fields[46])
        room = arg_end - arg_start
        data = title.encode('utf-8', 'replace')[:room - 1]
        with open('/proc/self/mem', 'r+b', buffering=0) as mem:
            mem.seek(arg_start)
            mem.write(data + b'\0' * (room - len(data)))
    except (OSError, ValueError, IndexError):
        pass
    short = title.encode('utf-8', 'replace')[:15]
    try:
        # Writing comm is prctl(PR_SET_NAME) without loading ctypes (and libffi) into every worker.
        with open('/proc/self/comm', 'wb', buffering=0) as comm:
            comm.write(short)
        return
    except OSError:
        pass
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        PR_SET_NAME = 15
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(short), 0, 0, 0)
    except (OSError, AttributeError, ImportError):
        pass


def install_signal_handlers(worker):
    """SIGINT restarts the process at once and SIGUSR1 gracefully (mod_wsgi's signals); SIGTERM
    stops it; SIGXCPU (cpu-time-limit) restarts it gracefully. The front end carries out the
    restart, so the group never runs short of processes."""

    def restart_now(signum, frame):
        worker.request_restart('shutdown_signal', immediate=True)

    def restart_gracefully(signum, frame):
        worker.request_restart('graceful_signal', immediate=False)

    def cpu_limit(signum, frame):
        worker.request_restart('cpu_time_limit', immediate=False)

    signal.signal(signal.SIGINT, restart_now)
    signal.signal(signal.SIGUSR1, restart_gracefully)
    signal.signal(signal.SIGXCPU, cpu_limit)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))


def restrict_signal_registration(worker):
    """WSGIRestrictSignal On (mod_wsgi's default): applications may not install signal handlers,
    which would take over the process's own signals; such calls are logged and ignored."""
    original = signal.signal
    daemon_pid = os.getpid()

    def guarded(signalnum, handler):
        if os.getpid() != daemon_pid:
            # A child the application forked is its own process: its signals are its own, as
            # mod_wsgi's intercept lets them be.
            return original(signalnum, handler)
        import traceback
        stack = ''.join(traceback.format_stack()[:-1])
        worker.log(LOG_INFO, 'Callback registration for signal %d ignored.\n%s' % (signalnum, stack.rstrip('\n')))
        # As mod_wsgi: the handler given comes back, so code that checks what it set is content.
        return handler

    signal.signal = guarded
    return original


def start_heartbeat(worker, interval=1.0):
    """Sends a heartbeat every `interval` seconds from a thread that needs the GIL to run: if
    the interpreter is stuck, the heartbeats stop and the front end (deadlock-timeout) notices."""

    def beat():
        while not worker.stopping:
            time.sleep(interval)
            worker.heartbeat()

    thread = threading.Thread(target=beat, name='wsgi-heartbeat')
    thread.daemon = True
    thread.start()


def watch_parent(worker, parent_pid, interval=1.0):
    """In a process of its own for an application group: ends it if the daemon process that
    started it is gone (it would otherwise live on, holding the application's resources)."""
    if not parent_pid:
        return

    def watch():
        while True:
            if os.getppid() != parent_pid:
                os._exit(0)
            time.sleep(interval)

    thread = threading.Thread(target=watch, name='wsgi-parent-watch')
    thread.daemon = True
    thread.start()


def start_reload_monitor(worker, interval=1.0):
    """--reload-on-changes: restarts the process when the file of any imported module changes,
    as mod_wsgi-express's monitor does."""

    def files():
        for module in list(sys.modules.values()):
            path = getattr(module, '__file__', None)
            if path and isinstance(path, str):
                if path.endswith('.pyc') or path.endswith('.pyo'):
                    path = path[:-1]
                yield path

    def watch():
        seen = {}
        while not worker.stopping:
            for path in files():
                try:
                    mtime = os.stat(path).st_mtime_ns
                except OSError:
                    continue
                before = seen.setdefault(path, mtime)
                if mtime != before:
                    worker.log(LOG_INFO, "Restarting daemon process '%s' because '%s' changed (reload-on-changes)." % (worker.group, path))
                    worker.request_restart('reload_on_changes', immediate=True)
                    return
            time.sleep(interval)

    thread = threading.Thread(target=watch, name='wsgi-reload-monitor')
    thread.daemon = True
    thread.start()


def interrupt_thread(ident, exception):
    """Raises `exception` in the thread `ident` at its next Python instruction (interrupt-timeout)."""
    import ctypes  # only here: most processes never interrupt a thread
    count = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exception))
    return count == 1
