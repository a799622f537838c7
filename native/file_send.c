/*
 * file_send: sendfile(2) from a file to a client's socket.
 *
 * WSGIEnableSendfile hands the front end the file of a wsgi.file_wrapper response. Node has no
 * sendfile: without this addon the file is read into memory and written out, two copies. With
 * it the kernel passes the file's cached pages to the socket, as Apache's sendfile does.
 *
 * sendNow sends on the calling thread, as nginx does, when the range's first page is in the page
 * cache (a preadv2 probe with RWF_NOWAIT); the caller bounds the range, as nginx's
 * sendfile_max_chunk does. Otherwise, so that the disk never stops the event loop, send does it
 * on Node's thread pool, on duplicates of both descriptors, so neither can be closed and reused
 * under it (a client that leaves, a request that times out). The pool costs two thread
 * switches a call: for a cached 1 MiB file the front end spent about 290 µs of CPU through it,
 * about 240 on its own thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>
#include <node_api.h>

typedef struct {
  napi_async_work work;
  napi_ref callback;
  int socket_fd;
  int file_fd;
  off_t offset;
  size_t count;
  size_t sent;
  int error; /* errno of the call that stopped the transfer short; EAGAIN: the socket is full */
} Transfer;

static void run_transfer(napi_env env, void *data) {
  (void)env;
  Transfer *t = data;
  while (t->sent < t->count) {
    ssize_t n = sendfile(t->socket_fd, t->file_fd, &t->offset, t->count - t->sent);
    if (n > 0) {
      t->sent += (size_t)n;
    } else if (n == 0) {
      t->error = ENODATA; /* the file ended before the range did */
      return;
    } else if (errno != EINTR) {
      t->error = errno;
      return;
    }
  }
}

/*
 * callback(sent, error): error is '' when all was sent, 'EAGAIN' when the socket is full, 'EOF'
 * when the file ended first, else what went wrong.
 */
static void finish_transfer(napi_env env, napi_status status, void *data) {
  Transfer *t = data;
  napi_value callback, global, argv[2];
  const char *code = "";
  if (status != napi_ok) code = "ECANCELED";
  else if (t->error == EAGAIN || t->error == EWOULDBLOCK) code = "EAGAIN";
  else if (t->error == ENODATA) code = "EOF";
  else if (t->error != 0) code = strerror(t->error);
  if (napi_get_reference_value(env, t->callback, &callback) == napi_ok && napi_get_global(env, &global) == napi_ok &&
      napi_create_double(env, (double)t->sent, &argv[0]) == napi_ok && napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &argv[1]) == napi_ok)
    napi_call_function(env, global, callback, 2, argv, NULL);
  close(t->socket_fd);
  close(t->file_fd);
  napi_delete_reference(env, t->callback);
  napi_delete_async_work(env, t->work);
  free(t);
}

/* send(socketFd, fileFd, offset, count, callback): sends up to `count` bytes of the file from `offset`. */
static napi_value start_transfer(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], name;
  int32_t socket_fd, file_fd;
  int64_t offset, count;
  napi_valuetype callback_type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5 || napi_get_value_int32(env, argv[0], &socket_fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &file_fd) != napi_ok || napi_get_value_int64(env, argv[2], &offset) != napi_ok ||
      napi_get_value_int64(env, argv[3], &count) != napi_ok || napi_typeof(env, argv[4], &callback_type) != napi_ok ||
      callback_type != napi_function || socket_fd < 0 || file_fd < 0 || offset < 0 || count <= 0) {
    napi_throw_type_error(env, NULL, "send(socketFd, fileFd, offset, count, callback) takes two open descriptors, a range and a function");
    return NULL;
  }
  Transfer *t = calloc(1, sizeof *t);
  if (t == NULL) {
    napi_throw_error(env, NULL, "file_send: out of memory");
    return NULL;
  }
  t->socket_fd = fcntl(socket_fd, F_DUPFD_CLOEXEC, 0);
  t->file_fd = fcntl(file_fd, F_DUPFD_CLOEXEC, 0);
  t->offset = (off_t)offset;
  t->count = (size_t)count;
  if (t->socket_fd < 0 || t->file_fd < 0) {
    int saved = errno;
    if (t->socket_fd >= 0) close(t->socket_fd);
    if (t->file_fd >= 0) close(t->file_fd);
    free(t);
    char message[128];
    snprintf(message, sizeof message, "file_send: cannot duplicate a descriptor: %s", strerror(saved));
    napi_throw_error(env, NULL, message);
    return NULL;
  }
  bool referenced = false, created = false;
  if ((referenced = napi_create_reference(env, argv[4], 1, &t->callback) == napi_ok) == false ||
      napi_create_string_utf8(env, "wsgi-host:sendfile", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      (created = napi_create_async_work(env, NULL, name, run_transfer, finish_transfer, t, &t->work) == napi_ok) == false ||
      napi_queue_async_work(env, t->work) != napi_ok) {
    if (created) napi_delete_async_work(env, t->work);
    if (referenced) napi_delete_reference(env, t->callback);
    close(t->socket_fd);
    close(t->file_fd);
    free(t);
    napi_throw_error(env, NULL, "file_send: cannot queue the transfer");
    return NULL;
  }
  return NULL;
}

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif
/* sendNow's answer when the range's first page is not cached: the caller uses send instead. */
#define NOT_CACHED (-1000000)

/*
 * sendNow(socketFd, fileFd, offset, count): the bytes sent before the range ended or the socket
 * filled (0 only at the end of the file), NOT_CACHED, or -errno when nothing could be sent.
 */
static napi_value send_now(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  int32_t socket_fd, file_fd;
  int64_t offset, count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 || napi_get_value_int32(env, argv[0], &socket_fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &file_fd) != napi_ok || napi_get_value_int64(env, argv[2], &offset) != napi_ok ||
      napi_get_value_int64(env, argv[3], &count) != napi_ok || socket_fd < 0 || file_fd < 0 || offset < 0 || count <= 0) {
    napi_throw_type_error(env, NULL, "sendNow(socketFd, fileFd, offset, count) takes two open descriptors and a range");
    return NULL;
  }
  char probe;
  struct iovec iov = { .iov_base = &probe, .iov_len = 1 };
  ssize_t got = preadv2(file_fd, &iov, 1, (off_t)offset, RWF_NOWAIT);
  int64_t answer;
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    answer = NOT_CACHED;
  } else {
    /* An error of the probe itself (a kernel without RWF_NOWAIT: EOPNOTSUPP) is left to sendfile. */
    off_t position = (off_t)offset;
    int64_t sent = 0;
    int error = 0;
    while (sent < count) {
      ssize_t n = sendfile(socket_fd, file_fd, &position, (size_t)(count - sent));
      if (n > 0) {
        sent += n;
      } else if (n == 0) {
        break;
      } else if (errno != EINTR) {
        error = errno;
        break;
      }
    }
    answer = sent > 0 || error == 0 ? sent : -(int64_t)error;
  }
  if (napi_create_int64(env, answer, &result) != napi_ok) return NULL;
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn, now, not_cached;
  if (napi_create_function(env, "send", NAPI_AUTO_LENGTH, start_transfer, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "send", fn) != napi_ok ||
      napi_create_function(env, "sendNow", NAPI_AUTO_LENGTH, send_now, NULL, &now) != napi_ok ||
      napi_set_named_property(env, exports, "sendNow", now) != napi_ok ||
      napi_create_int64(env, NOT_CACHED, &not_cached) != napi_ok ||
      napi_set_named_property(env, exports, "NOT_CACHED", not_cached) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
