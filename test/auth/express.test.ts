import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { basic, digestAuthorization, parseChallenge } from '../helpers/auth';
import { app, CLI, request, serverFixture } from '../helpers/server';

/*
 * start-server's access control flags, with mod_wsgi-express's meaning: each protects the whole
 * site (<Location />) with the given hook script.
 */

const HOOKS = app('auth/hooks.wsgi');
const ENVIRON = app('environ.wsgi');

function run(args: string[]): { status: number | null; stderr: string; stdout: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe('start-server --auth-user-script (Basic, the default --auth-type)', () => {
  const server = serverFixture([ENVIRON, '--auth-user-script', HOOKS]);
  before(server.start);
  after(server.stop);

  it('asks for credentials on every URL, with the realm HOST:PORT as mod_wsgi-express names it', async () => {
    const res = await request(`${server.get().url}/any/where`);
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="127.0.0.1:0"');
  });

  it('lets a valid user in; the application sees REMOTE_USER, AUTH_TYPE and (as in mod_wsgi-express) HTTP_AUTHORIZATION', async () => {
    const res = await request(`${server.get().url}/x`, { headers: { Authorization: basic('spy', 'secret') } });
    assert.equal(res.status, 200);
    const env = JSON.parse(res.text) as Record<string, unknown>;
    assert.equal(env['REMOTE_USER'], 'spy');
    assert.equal(env['AUTH_TYPE'], 'Basic');
    assert.equal(env['HTTP_AUTHORIZATION'], basic('spy', 'secret'));
    assert.equal((await request(`${server.get().url}/x`, { headers: { Authorization: basic('spy', 'nope') } })).status, 401);
  });
});

describe('start-server --auth-type Digest', () => {
  const server = serverFixture([ENVIRON, '--auth-user-script', HOOKS, '--auth-type', 'Digest']);
  before(server.start);
  after(server.stop);

  it('challenges with Digest and accepts a client that knows the password', async () => {
    const first = await request(`${server.get().url}/d`);
    assert.equal(first.status, 401);
    const { nonce, realm } = parseChallenge(first.headers['www-authenticate']);
    assert.equal(realm, '127.0.0.1:0');
    const res = await request(`${server.get().url}/d`, { headers: { Authorization: digestAuthorization({ user: 'spy', password: 'secret', realm: realm!, nonce: nonce!, method: 'GET', uri: '/d' }) } });
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.text) as Record<string, unknown>)['AUTH_TYPE'], 'Digest');
  });
});

describe('start-server --auth-group-script --auth-group, --host-access-script', () => {
  const server = serverFixture([ENVIRON, '--auth-user-script', HOOKS, '--auth-group-script', HOOKS, '--auth-group', 'agents', '--host-access-script', HOOKS]);
  before(server.start);
  after(server.stop);

  it('requires a valid user who is in the group', async () => {
    assert.equal((await request(`${server.get().url}/g`, { headers: { Authorization: basic('agent', 'pw') } })).status, 200);
    const res = await request(`${server.get().url}/g`, { headers: { Authorization: basic('staffer', 'pw') } });
    assert.equal(res.status, 401);
    assert.match(String(res.headers['www-authenticate']), /^Basic realm=/);
  });

  it('asks the host access script first: False is 403 whoever the user is', async () => {
    const res = await request(`${server.get().url}/g`, { headers: { Authorization: basic('agent', 'pw'), 'X-Access': 'false' } });
    assert.equal(res.status, 403);
  });
});

describe('start-server --auth-group without its script, bad --auth-type', () => {
  it('are refused with a usage error', () => {
    for (const [args, message] of [
      [['--auth-type', 'Form', '--auth-user-script', HOOKS], /--auth-type must be Basic or Digest, not "Form"/],
      [['--auth-group-script', HOOKS], /--auth-group-script needs --auth-user-script/],
      [['--auth-user-script', HOOKS, '--auth-group', 'x'], /--auth-group needs --auth-group-script/],
    ] as const) {
      const result = run(['start-server', ENVIRON, ...args]);
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, message);
    }
  });

  it('--help describes the flags', () => {
    const { stdout } = run(['start-server', '--help']);
    for (const flag of ['--host-access-script SCRIPT', '--auth-user-script SCRIPT', '--auth-type TYPE', '--auth-group-script SCRIPT', '--auth-group NAME']) {
      assert.match(stdout, new RegExp(`^  ${flag}`, 'm'), flag);
    }
  });
});
