/*
 * startup_pages: gives back the pages of the node binary (the executable, and libnode where
 * node is built against it) and of the libraries it maps that only start-up needed.
 *
 * Node's binary is about 95 MiB, and starting it leaves about 38 MiB of it resident for good:
 * the dynamic symbol and relocation tables the loader read once, V8's start-up snapshot and
 * the JavaScript sources of Node's own modules it deserialized or compiled, and code that ran
 * once; libc, libstdc++ and the others add 2 to 3 MiB of the same. Those pages are clean copies
 * of their files, so dropping this process's mappings of them (MADV_DONTNEED) loses nothing: a
 * page the front end still uses comes back from the page cache on its next touch, without I/O,
 * and the page cache itself is left alone for other processes.
 *
 * Only mappings that cannot differ from their file are dropped: private, read-only ones with no
 * private (copied-on-write) page. A read-only mapping can hold written pages (the relocated
 * part the loader write-protects after start-up); dropping those would bring the file's
 * unrelocated bytes back, so such a mapping is kept whole. A shared mapping's pages are the
 * file's own, not this process's, and are left alone.
 *
 * The Python workers do the same to themselves (python/wsgi_host/memory.py).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <node_api.h>
#include "throw_errno.h"

struct mapping {
  uintptr_t start, end;
  /* Private, read-only and of a file: a candidate, if it holds no copied page. */
  int private_readonly_file;
  long long rss_kb;
  long long anonymous_kb;
};

struct totals {
  double released_bytes;
  double resident_before_bytes;
  uint32_t mappings;
};

static void release_if_clean(const struct mapping *m, struct totals *t) {
  if (!m->private_readonly_file || m->anonymous_kb != 0 || m->end <= m->start) return;
  if (madvise((void *)m->start, m->end - m->start, MADV_DONTNEED) != 0) return;
  t->released_bytes += (double)(m->end - m->start);
  t->resident_before_bytes += (double)m->rss_kb * 1024;
  t->mappings++;
}

/*
 * release(): { releasedBytes, residentBeforeBytes, mappings }: the size of the clean mappings
 * dropped, how much of them was resident just before, and how many there were.
 */
static napi_value release_pages(napi_env env, napi_callback_info info) {
  (void)info;
  FILE *smaps = fopen("/proc/self/smaps", "r");
  if (smaps == NULL) return throw_errno(env, "opening /proc/self/smaps failed");

  struct totals totals = {0, 0, 0};
  struct mapping current;
  int have = 0;
  char line[PATH_MAX + 256];
  while (fgets(line, sizeof line, smaps) != NULL) {
    unsigned long start, end;
    char perms[8];
    int path_at = 0;
    /* A mapping's first line: range, permissions, offset, device, inode, then its path, if any. */
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path_at) == 3 && path_at > 0) {
      if (have) release_if_clean(&current, &totals);
      char *path = line + path_at;
      path[strcspn(path, "\n")] = '\0';
      current.start = start;
      current.end = end;
      /* perms is "rwxp": the second letter says writable, the fourth private (p) or shared (s). */
      current.private_readonly_file = path[0] == '/' && strlen(perms) == 4 && perms[1] != 'w' && perms[3] == 'p';
      /* Unknown until its fields are read: not clean until proven so. */
      current.rss_kb = 0;
      current.anonymous_kb = -1;
      have = 1;
      continue;
    }
    long long kb;
    if (sscanf(line, "Rss: %lld kB", &kb) == 1) current.rss_kb = kb;
    else if (sscanf(line, "Anonymous: %lld kB", &kb) == 1) current.anonymous_kb = kb;
  }
  if (have) release_if_clean(&current, &totals);
  fclose(smaps);

  napi_value result, value;
  if (napi_create_object(env, &result) != napi_ok) return NULL;
  napi_create_double(env, totals.released_bytes, &value);
  napi_set_named_property(env, result, "releasedBytes", value);
  napi_create_double(env, totals.resident_before_bytes, &value);
  napi_set_named_property(env, result, "residentBeforeBytes", value);
  napi_create_uint32(env, totals.mappings, &value);
  napi_set_named_property(env, result, "mappings", value);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "release", NAPI_AUTO_LENGTH, release_pages, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "release", fn) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
