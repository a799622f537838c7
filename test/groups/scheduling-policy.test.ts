import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { serveSite, type Site } from '../helpers/server';

/**
 * scheduling-policy (WSGIDaemonProcess, --scheduling-policy): the threads that run requests run
 * under SCHED_BATCH by default, so that a worker woken by a request does not preempt the front
 * end; scheduling-policy=normal keeps SCHED_OTHER. Checked from inside the request thread itself,
 * in the main interpreter, in a sub-interpreter and in an application group's own process, since
 * each starts its threads differently.
 */

const POLICY_APP = [
  'import os',
  '',
  'NAMES = {os.SCHED_OTHER: "SCHED_OTHER", os.SCHED_BATCH: "SCHED_BATCH", os.SCHED_IDLE: "SCHED_IDLE"}',
  '',
  'def application(environ, start_response):',
  '    # 0: the calling thread (Linux keeps a policy per thread).',
  '    body = NAMES.get(os.sched_getscheduler(0), "other").encode()',
  "    start_response('200 OK', [('Content-Type', 'text/plain')])",
  '    return [body]',
  '',
].join('\n');

describe('scheduling-policy: the policy of the threads that run requests', { skip: process.platform === 'linux' ? false : 'Linux scheduling policies' }, () => {
  let site: Site | null = null;
  before(async () => {
    site = await serveSite(
      [
        'Listen 127.0.0.1:{{PORT}}',
        'ServerName localhost',
        'ErrorLog {{ROOT}}/error_log',
        'WSGIDaemonProcess batchy processes=1 threads=2',
        'WSGIDaemonProcess own processes=1 threads=1 application-groups=processes',
        'WSGIDaemonProcess plain processes=1 threads=2 scheduling-policy=normal',
        'WSGIScriptAlias /main {{ROOT}}/policy.wsgi process-group=batchy application-group=%{GLOBAL}',
        'WSGIScriptAlias /sub {{ROOT}}/policy.wsgi process-group=batchy application-group=elsewhere',
        'WSGIScriptAlias /own {{ROOT}}/policy.wsgi process-group=own application-group=apart',
        'WSGIScriptAlias /normal {{ROOT}}/policy.wsgi process-group=plain application-group=%{GLOBAL}',
        '',
      ].join('\n'),
      { 'policy.wsgi': POLICY_APP },
    );
  });
  after(async () => {
    await site?.stop();
  });

  for (const [path, expected, where] of [
    ['/main', 'SCHED_BATCH', 'the main interpreter, by default'],
    ['/sub', 'SCHED_BATCH', 'a sub-interpreter, by default'],
    ['/own', 'SCHED_BATCH', "an application group's own process, by default"],
    ['/normal', 'SCHED_OTHER', 'scheduling-policy=normal'],
  ] as const) {
    it(`${expected} in ${where}`, async () => {
      const response = await site!.get(path);
      const body = response.body.toString('utf8');
      assert.equal(response.status, 200, body);
      assert.equal(body, expected);
    });
  }
});
