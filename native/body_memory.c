/*
 * body_memory: frees the memory of an ArrayBuffer now, by detaching it.
 *
 * A request body the front end buffered is passed on to a worker and then only waits for V8 to
 * collect it. Its pieces are ArrayBuffers whose memory is malloc's: until a scavenge finds them
 * dead, which under upload load (little JavaScript allocation per megabyte received) comes after
 * tens of megabytes of bodies, that memory stays in use, and the malloc heap grows to hold it.
 * Detaching an ArrayBuffer drops its hold on the memory at once; when nothing else shares it
 * (the caller checks that), the memory goes back to malloc and the next body reuses it.
 *
 * JavaScript cannot detach without keeping the memory (a transfer hands it to a new
 * ArrayBuffer, which is again V8's to collect), so this is a Node-API call.
 */
#include <stdbool.h>
#include <node_api.h>

/* free(arrayBuffer): true once detached; false for anything else, or an ArrayBuffer V8 will not detach. */
static napi_value free_now(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value result;
  bool is_array_buffer = false;
  bool detached = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc == 1 && napi_is_arraybuffer(env, argv[0], &is_array_buffer) == napi_ok && is_array_buffer) {
    detached = napi_detach_arraybuffer(env, argv[0]) == napi_ok;
    if (!detached) {
      /* A non-detachable buffer throws inside Node-API: the caller falls back, so clear it. */
      bool pending = false;
      napi_value ignored;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &ignored);
    }
  }
  if (napi_get_boolean(env, detached, &result) != napi_ok) return NULL;
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "free", NAPI_AUTO_LENGTH, free_now, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "free", fn) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
