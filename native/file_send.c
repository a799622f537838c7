/*
 * file_send: sendfile(2) from a file to a client's socket, on Node's thread pool.
 *
 * WSGIEnableSendfile hands the front end the file of a wsgi.file_wrapper response. Node has no
 * sendfile: without this addon the file is read into memory and written out, two copies. With
 * it the kernel passes the file's cached pages to the socket, as Apache's sendfile does.
 *
 * On the thread pool because sendfile reads the file: a file not in the page cache would stop
 * the event loop for the disk. The call works on duplicates of both descriptors, so neither can
 * be closed and reused under it (a client that leaves, a request that times out).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
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
  if (napi_create_reference(env, argv[4], 1, &t->callback) != napi_ok ||
      napi_create_string_utf8(env, "wsgi-host:sendfile", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, run_transfer, finish_transfer, t, &t->work) != napi_ok ||
      napi_queue_async_work(env, t->work) != napi_ok) {
    close(t->socket_fd);
    close(t->file_fd);
    free(t);
    napi_throw_error(env, NULL, "file_send: cannot queue the transfer");
    return NULL;
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "send", NAPI_AUTO_LENGTH, start_transfer, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "send", fn) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
