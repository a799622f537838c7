/**
 * Puts a reference server's node process where wsgi-host's front end is by default: nice -10
 * where permitted (WSGIFrontEndPriority) and SCHED_BATCH where the native addon is built
 * (WSGIFrontEndSchedulingPolicy), so the references are measured on the same terms. Either may
 * be refused (no root, no compiler); the reference then runs as started, as wsgi-host would.
 * Returns the nice value the process started with, for the processes it starts to go back to.
 */
import * as os from 'node:os';
import * as path from 'node:path';

export function takeFrontEndScheduling(): number {
  const startingNice = os.getPriority(0);
  try {
    os.setPriority(0, -10);
  } catch {
    // Not permitted here.
  }
  try {
    const addon = require(path.resolve(__dirname, '..', '..', 'native', 'thread_policy.node')) as { set(policy: string): string };
    addon.set('batch');
  } catch {
    // Not built, or not Linux.
  }
  return startingNice;
}
