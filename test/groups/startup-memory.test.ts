/**
 * A daemon process gives back what only its start-up needed (python/wsgi_host/memory.py): the
 * clean pages of the Python binary and the libraries it mapped, and its malloc heap's free
 * pages. The test compares, from /proc, the worker's resident clean file pages after it has
 * served requests with those of a plain Python that imported the same modules and did nothing
 * else: without the release the worker, which did more, holds as many of them (measured: 1.0x; with it, 0.6x).
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { releasableResidentKb } from '../helpers/proc';
import { ROOT, app, request, serverFixture } from '../helpers/server';

const PYTHON_DIR = path.join(ROOT, 'python');

/** The same measure for a Python that only imported the worker's modules and the app's. */
async function importOnlyResidentKb(python: string): Promise<number> {
  const child = spawn(python, ['-c', 'import sys, urllib.parse, wsgi_host.worker; print("ready", flush=True); sys.stdin.read()'], {
    env: { ...process.env, PYTHONPATH: PYTHON_DIR },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the import-only Python did not start in 10 s')), 10_000);
      child.stdout.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code) => reject(new Error(`the import-only Python exited (${code})`)));
    });
    return releasableResidentKb(child.pid!);
  } finally {
    child.kill();
  }
}

describe('a daemon process\'s start-up memory', { skip: process.platform !== 'linux' && 'Linux only (/proc)' }, () => {
  const server = serverFixture(['--processes', '1', '--threads', '2', app('ops.wsgi')]);
  before(server.start);
  after(server.stop);

  it('is given back once the process is ready and after the script loads, and the process goes on serving', async () => {
    // Once when ready, once more after the first request loaded the script.
    const pid = Number((await request(`${server.get().url}/pid`)).text);
    const pattern = /Released start-up memory: ([\d.]+) MiB of file pages in (\d+) mappings .*, ([\d.]+) MiB of malloc heap/;
    const line = await server.get().waitForLog(pattern);
    const [, fileMib, mappings] = pattern.exec(line)!;
    assert.ok(Number(fileMib) > 1, `start-up had ${fileMib} MiB of file pages resident`);
    assert.ok(Number(mappings) >= 3, `the Python binary's and libc's read-only mappings were released (${mappings})`);

    for (let i = 0; i < 20; i++) {
      const reply = await request(`${server.get().url}/pid`);
      assert.equal(reply.status, 200);
      assert.equal(Number(reply.text), pid, 'one process serves them all');
    }
    const workerKb = releasableResidentKb(pid);
    const importOnlyKb = await importOnlyResidentKb(fs.readlinkSync(`/proc/${pid}/exe`));
    assert.ok(workerKb > 0, 'the worker still has the pages it runs');
    assert.ok(workerKb < 0.8 * importOnlyKb,
      `after serving, the worker has ${workerKb} kB of clean file pages resident, against ${importOnlyKb} kB in a Python that only imported its modules`);
  });

  it('drops only private, read-only file mappings that hold no copied page', () => {
    const smaps = [
      '00400000-00500000 r--p 00000000 08:01 1 /usr/bin/python3.11',
      'Rss:                 100 kB',
      'Anonymous:             0 kB',
      '00500000-00600000 r-xp 00100000 08:01 1 /usr/bin/python3.11',
      'Rss:                 200 kB',
      'Anonymous:             0 kB',
      // The relocated part: written once, then write-protected.
      '00600000-00610000 r--p 00200000 08:01 1 /usr/bin/python3.11',
      'Rss:                  64 kB',
      'Anonymous:             4 kB',
      '00610000-00620000 rw-p 00210000 08:01 1 /usr/bin/python3.11',
      'Rss:                  64 kB',
      'Anonymous:            60 kB',
      // A file mapped shared (mmap.ACCESS_READ): its pages are the file's, not this process's.
      '7f0000000000-7f0000100000 r--s 00000000 08:01 2 /srv/data.bin',
      'Rss:                 300 kB',
      'Anonymous:             0 kB',
      '7f0000100000-7f0000200000 rw-p 00000000 00:00 0',
      'Rss:                 400 kB',
      'Anonymous:           400 kB',
      '7f0000200000-7f0000201000 r-xp 00000000 00:00 0 [vdso]',
      'Rss:                   4 kB',
      'Anonymous:             0 kB',
      '7f0000300000-7f0000310000 r-xp 00000000 08:01 3 /usr/lib/x86_64-linux-gnu/libc.so.6',
      'Rss:                  40 kB',
      'Anonymous:             0 kB',
    ].join('\n');
    const script = 'import json, sys; from wsgi_host.memory import clean_file_mappings; print(json.dumps(clean_file_mappings(sys.stdin.read())))';
    const out = execFileSync('python3', ['-c', script], { input: smaps, env: { ...process.env, PYTHONPATH: PYTHON_DIR } }).toString();
    assert.deepEqual(JSON.parse(out), [
      [0x400000, 0x500000, 100],
      [0x500000, 0x600000, 200],
      [0x7f0000300000, 0x7f0000310000, 40],
    ]);
  });
});
