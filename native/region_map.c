/*
 * region_map: maps a worker's response region (a sealed memfd) read-only into the front end, so
 * a large response piece goes from the worker's memory to the client's socket with the socket's
 * own copy only; without it the front end first copies each piece out with pread.
 *
 * A piece a slow client holds up is snapshotted (made a private copy, in place) before the
 * worker may reuse its half of the region.
 *
 * Only a region sealed against shrinking is mapped: a mapping of a file that shrinks under it
 * faults (SIGBUS) on the pages past the new end, and the worker runs application code that could
 * truncate its own file. Sealed, the pages stay for as long as the mapping does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <node_api.h>
#include "throw_errno.h"

#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#endif
#ifndef F_SEAL_SHRINK
#define F_SEAL_SHRINK 0x0002
#endif

/*
 * V8 is not told of the mapping's size (napi_adjust_external_memory): told, it collected
 * differently under hello load, where no piece is ever lent (the server's RSS 101-103 MiB
 * instead of 108-114), and in a noisy A/B the front end spent about 2 us more per request.
 * So the mapping of a region whose worker is gone goes at the next full collection, not
 * sooner: a few MiB of shared memory for a while after a process is replaced.
 */
static void unmap_region(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

/*
 * map(fd, size): an ArrayBuffer over the first `size` bytes of `fd`, or null when the file is
 * not sealed against shrinking or is shorter than `size` (the caller then reads with pread).
 * The mapping lives until the ArrayBuffer and every view of it are garbage.
 */
static napi_value map_region(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_value result;
  int32_t fd;
  int64_t size;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &size) != napi_ok ||
      fd < 0 || size <= 0) {
    napi_throw_type_error(env, NULL, "map(fd, size) takes an open file descriptor and a positive size");
    return NULL;
  }
  napi_get_null(env, &result);
  int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0 || !(seals & F_SEAL_SHRINK)) return result;
  struct stat st;
  if (fstat(fd, &st) != 0) return throw_errno(env, "fstat of the region failed");
  if (st.st_size < size) return result;
  void *memory = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
  if (memory == MAP_FAILED) return throw_errno(env, "mmap of the region failed");
  if (napi_create_external_arraybuffer(env, memory, (size_t)size, unmap_region, (void *)(uintptr_t)size, &result) != napi_ok) {
    munmap(memory, (size_t)size);
    napi_throw_error(env, NULL, "could not wrap the region's mapping in an ArrayBuffer");
    return NULL;
  }
  return result;
}

/*
 * snapshot(mapping, offset, length): the pages holding [offset, offset + length) of a mapping
 * from map() become a private copy of what they hold now, in place: views of them (a piece a
 * slow client's socket has not written yet) keep their bytes, while the worker may write new
 * ones to its file. The copy is moved over the range with mremap, so there is no moment at
 * which the range holds anything else. The rest of the mapping still shows the file; the caller
 * maps the region afresh for later pieces, since this range no longer does.
 */
static napi_value snapshot_range(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *data;
  size_t size;
  int64_t offset, length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_arraybuffer_info(env, argv[0], &data, &size) != napi_ok ||
      napi_get_value_int64(env, argv[1], &offset) != napi_ok || napi_get_value_int64(env, argv[2], &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "snapshot(mapping, offset, length) takes a mapping from map() and a range of it");
    return NULL;
  }
  long page = sysconf(_SC_PAGESIZE);
  if (offset < 0 || length <= 0 || offset % page != 0 || (size_t)(offset + length) > size) {
    napi_throw_range_error(env, NULL, "snapshot: the range must start on a page boundary and lie inside the mapping");
    return NULL;
  }
  size_t span = ((size_t)length + (size_t)page - 1) / (size_t)page * (size_t)page;
  if ((size_t)offset + span > size) span = size - (size_t)offset;
  char *target = (char *)data + offset;
  void *copy = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (copy == MAP_FAILED) return throw_errno(env, "snapshot: mmap of the copy failed");
  memcpy(copy, target, span);
  if (mremap(copy, span, span, MREMAP_MAYMOVE | MREMAP_FIXED, target) == MAP_FAILED) {
    int saved = errno;
    munmap(copy, span);
    errno = saved;
    return throw_errno(env, "snapshot: mremap over the range failed");
  }
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "map", NAPI_AUTO_LENGTH, map_region, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "map", fn) != napi_ok ||
      napi_create_function(env, "snapshot", NAPI_AUTO_LENGTH, snapshot_range, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "snapshot", fn) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
