"""Gives back the memory a daemon process needed only to start: the pages of its binaries and
libraries that starting touched, and the malloc heap that loading the application freed.

A process that has just imported its application holds, resident, every page of the Python
binary, libc and the extension modules that the import machinery, unmarshalling and module
initialisation ran or read once: about 2.5 MiB for a hello-world worker, before any request.
Those are clean copies of their files, so dropping this process's mappings of them
(MADV_DONTNEED) loses nothing: the code a request runs comes back from the page cache on its
first touch, without I/O, and the page cache itself, shared with other processes, is left
alone. The front end does the same to the node binary (native/startup_pages.c).

Only private, read-only file mappings with no copied-on-write page are dropped: a mapping that
holds a written page (the relocated part the loader write-protects after start-up, code a
debugger patched) would come back as the file's bytes, so it is kept whole.

Reached through ctypes, imported here only, when the release runs: a Python without ctypes
keeps its pages, which costs memory, not correctness.
"""

MADV_DONTNEED = 4

_STATUS = '/proc/self/status'
_SMAPS = '/proc/self/smaps'


def clean_file_mappings(smaps_text):
    """(start, end, resident kB) of each private, read-only file mapping in `smaps_text` (the
    text of /proc/<pid>/smaps) that holds no anonymous (copied-on-write) page."""
    found = []
    current = None
    for line in smaps_text.splitlines():
        fields = line.split(None, 5)
        if not fields:
            continue
        if len(fields) >= 5 and '-' in fields[0] and len(fields[1]) == 4:
            # A mapping's first line: range, permissions, offset, device, inode, then its path.
            if current is not None and current[3] == 0:
                found.append(tuple(current[:3]))
            path = fields[5] if len(fields) > 5 else ''
            perms = fields[1]
            if path.startswith('/') and perms[1] != 'w' and perms[3] == 'p':
                start, end = (int(bound, 16) for bound in fields[0].split('-'))
                # Anonymous unknown until its line is read: not clean until proven so.
                current = [start, end, 0, -1]
            else:
                current = None
        elif current is not None:
            if fields[0] == 'Rss:':
                current[2] = int(fields[1])
            elif fields[0] == 'Anonymous:':
                current[3] = int(fields[1])
    if current is not None and current[3] == 0:
        found.append(tuple(current[:3]))
    return found


def _status_kb(name):
    with open(_STATUS, 'rb') as status:
        for line in status:
            if line.startswith(name):
                return int(line.split()[1])
    return 0


def release_startup_memory():
    """Drops this process's clean file pages and trims its malloc heap. Returns (file kB that
    were resident in the dropped mappings, how many mappings, anonymous kB the trim gave back),
    or None where this Python cannot do it (no ctypes, no /proc, no madvise)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
    except (ImportError, OSError, AttributeError):
        return None
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    madvise.restype = ctypes.c_int
    try:
        with open(_SMAPS, 'r') as smaps:
            mappings = clean_file_mappings(smaps.read())
        anonymous_before = _status_kb(b'RssAnon:')
    except OSError:
        return None
    released_kb = 0
    count = 0
    for start, end, resident_kb in mappings:
        if resident_kb and madvise(start, end - start, MADV_DONTNEED) == 0:
            released_kb += resident_kb
            count += 1
    trim = getattr(libc, 'malloc_trim', None)  # glibc's; other C libraries may lack it
    if trim is not None:
        trim.argtypes = (ctypes.c_size_t,)
        trim(0)
    trimmed_kb = max(0, anonymous_before - _status_kb(b'RssAnon:'))
    return released_kb, count, trimmed_kb


def describe_release(result):
    """The log line for release_startup_memory's result."""
    released_kb, count, trimmed_kb = result
    return ('Released start-up memory: %.1f MiB of file pages in %d mappings (what the process '
            'still runs comes back from the page cache as it runs), %.1f MiB of malloc heap.'
            % (released_kb / 1024.0, count, trimmed_kb / 1024.0))
