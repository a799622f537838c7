/*
 * thread_policy: the Linux scheduling policy of the calling thread, for the front end's main
 * thread (WSGIFrontEndSchedulingPolicy). Node has no binding for sched_setscheduler, and the
 * policy is a per-thread attribute, so it has to be set from the thread itself.
 *
 * SCHED_BATCH needs no privilege and keeps the thread's nice value: a thread under it that is
 * woken does not preempt the task on its core; it runs when that task blocks or its slice ends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <node_api.h>
#include "throw_errno.h"

static napi_value policy_name(napi_env env, int policy) {
  const char *name = policy == SCHED_BATCH ? "batch" : policy == SCHED_OTHER ? "normal" : "other";
  napi_value result;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &result);
  return result;
}

/* get(): 'batch', 'normal' or 'other' (a real-time or idle policy someone else chose). */
static napi_value get_policy(napi_env env, napi_callback_info info) {
  (void)info;
  int policy = sched_getscheduler(0);
  if (policy < 0) return throw_errno(env, "sched_getscheduler failed");
  return policy_name(env, policy & ~SCHED_RESET_ON_FORK); /* the flag is not a policy */
}

/* set(name): 'batch' or 'normal' for the calling thread; throws with the system's reason. */
static napi_value set_policy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[16];
  size_t length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], name, sizeof name, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "set(policy) takes 'batch' or 'normal'");
    return NULL;
  }
  int policy;
  if (strcmp(name, "batch") == 0) policy = SCHED_BATCH;
  else if (strcmp(name, "normal") == 0) policy = SCHED_OTHER;
  else {
    napi_throw_type_error(env, NULL, "set(policy) takes 'batch' or 'normal'");
    return NULL;
  }
  struct sched_param param;
  memset(&param, 0, sizeof param);
  /* Processes the front end starts inherit the policy; the daemon processes set their own. */
  if (sched_setscheduler(0, policy, &param) != 0) return throw_errno(env, "sched_setscheduler failed");
  return policy_name(env, policy);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    {"get", NULL, get_policy, NULL, NULL, NULL, napi_default, NULL},
    {"set", NULL, set_policy, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
