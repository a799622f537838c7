/* Shared by the native addons: a JavaScript Error saying what failed and errno's reason. */
#ifndef WSGI_HOST_THROW_ERRNO_H
#define WSGI_HOST_THROW_ERRNO_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <node_api.h>

static inline napi_value throw_errno(napi_env env, const char *what) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, message);
  return NULL;
}

#endif
