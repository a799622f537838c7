import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { app, CLI, freePort, rawExchange, request, ROOT, sleep, startServe, waitForFileLine, type RunningServer } from '../helpers/server';

const EXAMPLE = path.join(ROOT, 'examples', 'apache-site');

async function waitForLines(file: string, pattern: RegExp, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((l) => pattern.test(l)).length : 0) < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} lines matching ${pattern} in ${file}`);
    await sleep(50);
  }
}

function get(server: RunningServer, host: string, urlPath: string, headers: Record<string, string> = {}): ReturnType<typeof request> {
  return request(`http://127.0.0.1:${server.port}${urlPath}`, { headers: { Host: host, ...headers } });
}

describe('the example Apache + mod_wsgi site, run unchanged', () => {
  let server: RunningServer;
  let logs: string;
  before(async () => {
    logs = path.join(EXAMPLE, 'logs');
    fs.rmSync(logs, { recursive: true, force: true });
    server = await startServe(path.join(EXAMPLE, 'httpd.conf'), { env: { HTTP_PORT: String(await freePort()) } });
    await waitForLines(path.join(logs, 'www-error.log'), /Daemon process 'www' \(pid=\d+\) is ready/, 2);
    await waitForFileLine(path.join(logs, 'api-error.log'), /Daemon process 'api' \(pid=\d+\) is ready/);
  });
  after(async () => {
    await server.stop();
    fs.rmSync(logs, { recursive: true, force: true });
  });

  it('serves each virtual host from its own process group: two sets of processes', async () => {
    const wwwPids = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const res = await get(server, 'www.example.test', '/');
      assert.equal(res.status, 200);
      wwwPids.add(/process (\d+) of group 'www'/.exec(res.text)![1]!);
    }
    const api = JSON.parse((await get(server, 'api.example.test', '/v1/whoami')).text) as { pid: number; group: string };
    assert.equal(api.group, 'api');
    assert.equal(wwwPids.size, 2, 'www has processes=2');
    assert.ok(!wwwPids.has(String(api.pid)), 'the api group is a different process');
  });

  it('chooses the virtual host by Host, ServerAlias included, the first one by default', async () => {
    assert.match((await get(server, 'example.test', '/')).text, /group 'www'/);
    assert.match((await get(server, 'unknown.example', '/')).text, /group 'www'/);
    assert.equal((await get(server, 'api.example.test', '/')).status, 403, 'the api host maps / to the denied document root');
  });

  it('serves static files through Alias before WSGIScriptAlias /', async () => {
    const css = await get(server, 'www.example.test', '/static/style.css');
    assert.equal(css.status, 200);
    assert.equal(css.headers['content-type'], 'text/css');
    assert.match(css.text, /font-family/);
    assert.ok(css.headers['etag'] !== undefined && css.headers['last-modified'] !== undefined);
    const robots = await get(server, 'www.example.test', '/robots.txt');
    assert.match(robots.text, /User-agent/);
  });

  it('uses the group python-path, passes Authorization where WSGIPassAuthorization is On', async () => {
    const items = JSON.parse((await get(server, 'api.example.test', '/v1/items')).text) as { items: Record<string, number> };
    assert.deepEqual(items.items, { apples: 3, pears: 5 });
    const who = JSON.parse((await get(server, 'api.example.test', '/v1/whoami', { Authorization: 'Bearer t' })).text) as Record<string, unknown>;
    assert.equal(who['authorization'], 'Bearer t');
    assert.equal(who['script_name'], '/v1');
  });

  it('writes each virtual host\'s requests and application output to its own logs', async () => {
    await get(server, 'www.example.test', '/log-me');
    await get(server, 'api.example.test', '/v1/items');
    await waitForFileLine(path.join(logs, 'www-error.log'), /\[wsgi:error\] \[pid \d+:tid \d+\] \[request_id [^\]]+\] \[client 127\.0\.0\.1:\d+\] www served \/log-me/);
    await waitForFileLine(path.join(logs, 'api-error.log'), /\[wsgi:error\] .*\[client 127\.0\.0\.1:\d+\] api served items/);
    await waitForFileLine(path.join(logs, 'www-access.log'), /"GET \/log-me HTTP\/1\.1" 200 \d+ "-" "-" \d+$/);
    await waitForFileLine(path.join(logs, 'api-access.log'), /"GET \/v1\/items HTTP\/1\.1" 200 \d+ "-" "-"$/);
    const www = fs.readFileSync(path.join(logs, 'www-error.log'), 'utf8');
    assert.doesNotMatch(www, /api served/, 'no cross-talk between the sites\' logs');
  });
});

/** A temporary site: a config file written from `text` with {{ROOT}}, {{PORT}} and {{APPS}} filled in. */
async function site(text: string): Promise<{ dir: string; file: string; port: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-site-'));
  const port = await freePort();
  const file = path.join(dir, 'httpd.conf');
  fs.writeFileSync(file, text.replaceAll('{{ROOT}}', dir).replaceAll('{{PORT}}', String(port)).replaceAll('{{APPS}}', path.join(ROOT, 'test', 'apps')));
  return { dir, file, port };
}

describe('URL mapping, handlers and access', () => {
  let server: RunningServer;
  let dir: string;
  before(async () => {
    const s = await site(`
Listen 127.0.0.1:{{PORT}}
ServerName mapping.test
ErrorLog {{ROOT}}/error_log
LogLevel info
DocumentRoot {{ROOT}}/htdocs
WSGIDaemonProcess main threads=4
WSGIDaemonProcess other threads=2
WSGIProcessGroup main
WSGIApplicationGroup %{GLOBAL}

# First match wins among script aliases, so the longer prefix comes first.
WSGIScriptAlias /app/special {{APPS}}/response.wsgi process-group=other
WSGIScriptAlias /app {{APPS}}/environ.wsgi
WSGIScriptAlias /scripts/ {{ROOT}}/scripts/
Alias /files {{ROOT}}/files

<Location /app/grouped>
    WSGIProcessGroup other
</Location>
<Directory {{ROOT}}/htdocs/private>
    Require all denied
</Directory>
<Directory {{ROOT}}/htdocs/listed>
    Options +Indexes
</Directory>
<Directory {{ROOT}}/htdocs/cgi>
    Options +ExecCGI
    AddHandler wsgi-script .wsgi
</Directory>
<Directory {{ROOT}}/htdocs/nocgi>
    AddHandler wsgi-script .wsgi
</Directory>
<Directory {{ROOT}}/htdocs/nolinks>
    Options -FollowSymLinks
</Directory>
<Location /env>
    SetEnv SITE_COLOUR blue
</Location>
<Directory {{ROOT}}/files>
    Options +ExecCGI
    AddHandler wsgi-script .wsgi
</Directory>
WSGIHandlerScript env-handler {{ROOT}}/env_handler.wsgi
<Directory {{ROOT}}/htdocs/handled>
    SetHandler env-handler
</Directory>
`);
    dir = s.dir;
    for (const sub of ['htdocs/private', 'htdocs/listed', 'htdocs/cgi', 'htdocs/nocgi', 'htdocs/nolinks', 'files', 'scripts', 'outside']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
    fs.writeFileSync(path.join(dir, 'htdocs/index.html'), 'home page');
    fs.writeFileSync(path.join(dir, 'htdocs/private/secret.txt'), 'secret');
    fs.writeFileSync(path.join(dir, 'htdocs/listed/a.txt'), 'a');
    fs.writeFileSync(path.join(dir, 'htdocs/listed/b.txt'), 'b');
    fs.writeFileSync(path.join(dir, 'outside/passwd'), 'outside the mapped directory');
    fs.writeFileSync(path.join(dir, 'files/data.txt'), 'aliased file');
    fs.copyFileSync(app('environ.wsgi'), path.join(dir, 'htdocs/cgi/env.wsgi'));
    fs.copyFileSync(app('environ.wsgi'), path.join(dir, 'htdocs/nocgi/env.wsgi'));
    fs.copyFileSync(app('environ.wsgi'), path.join(dir, 'scripts/one.wsgi'));
    fs.symlinkSync(path.join(dir, 'outside/passwd'), path.join(dir, 'htdocs/link-out'));
    fs.symlinkSync(path.join(dir, 'htdocs/index.html'), path.join(dir, 'htdocs/nolinks/link-in'));
    fs.writeFileSync(path.join(dir, 'htdocs/nolinks/plain.txt'), 'plain');
    fs.copyFileSync(app('environ.wsgi'), path.join(dir, 'files/env.wsgi'));
    fs.mkdirSync(path.join(dir, 'htdocs/handled'));
    fs.writeFileSync(path.join(dir, 'htdocs/handled/page.txt'), 'page');
    fs.writeFileSync(
      path.join(dir, 'env_handler.wsgi'),
      "import json\ndef handle_request(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'application/json')])\n    return [json.dumps({k: repr(environ.get(k)) for k in ('mod_wsgi.request_handler', 'apache.version', 'CONTEXT_PREFIX')}).encode()]\n",
    );
    server = await startServe(s.file);
    await waitForFileLine(path.join(dir, 'error_log'), /Daemon process 'other' .* is ready/);
  });
  after(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const environ = async (urlPath: string): Promise<Record<string, unknown>> => JSON.parse((await get(server, 'mapping.test', urlPath)).text) as Record<string, unknown>;

  it('takes the first WSGIScriptAlias that matches, at segment boundaries', async () => {
    assert.equal((await get(server, 'mapping.test', '/app/special/list')).text, 'chunk1-chunk2-chunk3');
    const env = await environ('/app/x');
    assert.equal(env['SCRIPT_NAME'], '/app');
    assert.equal(env['mod_wsgi.process_group'], 'main');
    assert.equal((await get(server, 'mapping.test', '/application')).status, 404);
  });

  it('lets WSGIScriptAlias options and <Location> choose the process group', async () => {
    assert.equal((await environ('/app/grouped/y'))['mod_wsgi.process_group'], 'other');
    assert.equal((await environ('/app/z'))['mod_wsgi.process_group'], 'main');
  });

  it('maps WSGIScriptAlias to a directory of scripts', async () => {
    const env = await environ('/scripts/one.wsgi/extra/path');
    assert.equal(env['SCRIPT_NAME'], '/scripts/one.wsgi');
    assert.equal(env['PATH_INFO'], '/extra/path');
    assert.equal((await get(server, 'mapping.test', '/scripts/missing.wsgi')).status, 404);
    assert.equal((await get(server, 'mapping.test', '/scripts/')).status, 403);
  });

  it('gives the environ mod_wsgi gives: CONTEXT_PREFIX and CONTEXT_DOCUMENT_ROOT of an Alias, the handler\'s name, apache.version', async () => {
    const aliased = await environ('/files/env.wsgi/p');
    assert.equal(aliased['CONTEXT_PREFIX'], '/files');
    assert.equal(aliased['CONTEXT_DOCUMENT_ROOT'], path.join(dir, 'files'));
    assert.equal(aliased['SCRIPT_NAME'], '/files/env.wsgi');
    assert.equal(aliased['mod_wsgi.request_handler'], 'wsgi-script');
    const scripted = await environ('/app/x');
    assert.equal(scripted['CONTEXT_PREFIX'], '', 'WSGIScriptAlias sets no context, as in mod_wsgi');
    assert.equal(scripted['CONTEXT_DOCUMENT_ROOT'], path.join(dir, 'htdocs'));
    const handled = JSON.parse((await get(server, 'mapping.test', '/handled/page.txt')).text) as Record<string, string>;
    assert.equal(handled['mod_wsgi.request_handler'], "'env-handler'");
    assert.equal(handled['apache.version'], '(2, 4, 71)');
    assert.equal(handled['CONTEXT_PREFIX'], "''");
  });

  it('runs .wsgi files through AddHandler only where Options ExecCGI is on', async () => {
    const env = await environ('/cgi/env.wsgi/more');
    assert.equal(env['SCRIPT_NAME'], '/cgi/env.wsgi');
    assert.equal(env['PATH_INFO'], '/more');
    assert.equal((await get(server, 'mapping.test', '/nocgi/env.wsgi')).status, 403);
    await waitForFileLine(path.join(dir, 'error_log'), /WSGI0134: Options ExecCGI is off in this directory/);
  });

  it('serves DocumentRoot and Alias files, with DirectoryIndex and listings only where Options Indexes', async () => {
    assert.equal((await get(server, 'mapping.test', '/')).text, 'home page');
    assert.equal((await get(server, 'mapping.test', '/files/data.txt')).text, 'aliased file');
    const listing = await get(server, 'mapping.test', '/listed/');
    assert.equal(listing.status, 200);
    assert.match(listing.text, /Index of \/listed/);
    assert.match(listing.text, /a\.txt[\s\S]*b\.txt/);
    assert.equal((await get(server, 'mapping.test', '/files/')).status, 403, 'no index file and no Options Indexes');
  });

  it('refuses what Require all denied protects', async () => {
    assert.equal((await get(server, 'mapping.test', '/private/secret.txt')).status, 403);
    await waitForFileLine(path.join(dir, 'error_log'), /AH01630: client denied by server configuration: .*private\/secret\.txt/);
  });

  it('follows symbolic links only with FollowSymLinks', async () => {
    assert.equal((await get(server, 'mapping.test', '/link-out')).text, 'outside the mapped directory', 'FollowSymLinks is on by default, as in Apache');
    assert.equal((await get(server, 'mapping.test', '/nolinks/plain.txt')).text, 'plain');
    assert.equal((await get(server, 'mapping.test', '/nolinks/link-in')).status, 403);
  });

  for (const attempt of ['/../outside/passwd', '/%2e%2e/outside/passwd', '/files/..%2f..%2foutside/passwd', '/files/%2e%2e/%2e%2e/outside/passwd', '/files/..\\..\\outside\\passwd', '/files/data.txt%00.html', '/%2e%2e%5c%2e%2e%5coutside%5cpasswd']) {
    it(`never serves a file outside the mapped directory: ${attempt}`, async () => {
      const raw = (await rawExchange(server.port, `GET ${attempt} HTTP/1.1\r\nHost: mapping.test\r\nConnection: close\r\n\r\n`)).toString('latin1');
      assert.match(raw, /^HTTP\/1\.1 (400|403|404) /);
      assert.doesNotMatch(raw, /outside the mapped directory/);
    });
  }

  it('passes SetEnv variables to the application', async () => {
    const raw = (await rawExchange(server.port, 'GET /env HTTP/1.1\r\nHost: mapping.test\r\nConnection: close\r\n\r\n')).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 404/, '/env itself is no script');
    const env = await environ('/app/env');
    assert.equal(env['SITE_COLOUR'], undefined, 'only under <Location /env>');
  });
});

describe('embedded mode (%{GLOBAL})', () => {
  it('runs in a built-in process group and says so once in the log', async () => {
    const s = await site(`
Listen 127.0.0.1:{{PORT}}
ErrorLog {{ROOT}}/error_log
WSGIScriptAlias / {{APPS}}/environ.wsgi
SetEnv FROM_CONFIG yes
`);
    const server = await startServe(s.file);
    try {
      const env = JSON.parse((await request(`http://127.0.0.1:${server.port}/`)).text) as Record<string, unknown>;
      assert.equal(env['mod_wsgi.process_group'], '');
      assert.equal(env['mod_wsgi.application_group'], `${os.hostname().toLowerCase()}:${server.port}|`, '%{RESOURCE}, the default application group');
      assert.equal(env['FROM_CONFIG'], 'yes');
      await waitForFileLine(path.join(s.dir, 'error_log'), /WSGIProcessGroup %\{GLOBAL\} \(mod_wsgi's embedded mode\) is served by a built-in process group/);
    } finally {
      await server.stop();
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
  });

  it('answers 500 with WSGIRestrictEmbedded On', async () => {
    const s = await site(`
Listen 127.0.0.1:{{PORT}}
ErrorLog {{ROOT}}/error_log
WSGIRestrictEmbedded On
WSGIScriptAlias / {{APPS}}/environ.wsgi
`);
    const server = await startServe(s.file);
    try {
      assert.equal((await request(`http://127.0.0.1:${server.port}/`)).status, 500);
      await waitForFileLine(path.join(s.dir, 'error_log'), /WSGI0143: Embedded mode of mod_wsgi disabled by runtime configuration/);
    } finally {
      await server.stop();
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
  });
});

describe('check-config', () => {
  it('prints "Syntax OK" for a good file', () => {
    const result = spawnSync(process.execPath, [CLI, 'check-config', '-f', path.join(EXAMPLE, 'httpd.conf')], { encoding: 'utf8', env: { ...process.env, HTTP_PORT: '8080' } });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, 'Syntax OK\n');
  });

  it('names a file it cannot read without a line or directive that do not apply, and its help writes -f and -D with one dash', () => {
    const missing = path.join(os.tmpdir(), 'wsgi-host-no-such-dir', 'httpd.conf');
    const result = spawnSync(process.execPath, [CLI, 'check-config', '-f', missing], { encoding: 'utf8' });
    assert.equal(result.status, 1);
    assert.ok(result.stderr.startsWith(`${missing}: Could not open configuration file`), result.stderr);
    const help = spawnSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8' }).stdout;
    assert.match(help, /^ {2}-f FILE /m);
    assert.match(help, /^ {2}-D NAME /m);
  });

  it('prints every error with its file, line and directive, and fails', async () => {
    const s = await site(`Listen {{PORT}}
WSGIDaemonProcess bad processes=two
Frobnicate on
<Directory /x>
  WSGIScriptAlias / /y.wsgi
</Directory>
`);
    const result = spawnSync(process.execPath, [CLI, 'check-config', '-f', s.file], { encoding: 'utf8' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, new RegExp(`${s.file}:2: WSGIDaemonProcess: option 'processes' needs a whole number of at least 1, not "two"`));
    assert.match(result.stderr, new RegExp(`${s.file}:3: Frobnicate: Invalid command 'Frobnicate'`));
    assert.match(result.stderr, new RegExp(`${s.file}:5: WSGIScriptAlias: not allowed in <directory>`));
    assert.match(result.stderr, /3 errors in /);
    const skipped = spawnSync(process.execPath, [CLI, 'check-config', '-f', s.file, '--skip-unsupported'], { encoding: 'utf8' });
    assert.equal(skipped.status, 1, 'the other errors remain errors');
    assert.match(skipped.stderr, /warning: .*:3: Frobnicate: .*ignored because of --skip-unsupported/);
    fs.rmSync(s.dir, { recursive: true, force: true });
  });
});

describe('start-up errors', () => {
  it('refuses a daemon process group named to run as root, saying where (mod_wsgi: "WSGI process blocked from running as root")', { skip: process.getuid?.() !== 0 ? 'user= takes effect only when started as root' : false }, async () => {
    const s = await site(`ServerName root.test
Listen 127.0.0.1:{{PORT}}
WSGIDaemonProcess asroot user=root
WSGIScriptAlias / {{APPS}}/environ.wsgi process-group=asroot
`);
    try {
      const result = spawnSync(process.execPath, [CLI, 'serve', '-f', s.file], { encoding: 'utf8', timeout: 30_000 });
      assert.notEqual(result.status, 0);
      assert.ok(result.stderr.includes(`WSGI process blocked from running as root (user= of daemon process group 'asroot' at ${s.file}:3)`), result.stderr);
    } finally {
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
  });

  it('a port in use names the Listen line that asked for it', async () => {
    const s = await site(`ServerName busy.test
Listen 127.0.0.1:{{PORT}}
WSGIScriptAlias / {{APPS}}/environ.wsgi
`);
    const net = await import('node:net');
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(s.port, '127.0.0.1', () => resolve()));
    try {
      const result = spawnSync(process.execPath, [CLI, 'serve', '-f', s.file], { encoding: 'utf8', timeout: 30_000 });
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, new RegExp(`Address 127\\.0\\.0\\.1:${s.port} is already in use; change the Listen at ${s.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2\\.`));
    } finally {
      holder.close();
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
  });
});

describe('SIGHUP', () => {
  it('re-reads a good file without dropping a request, and keeps serving when the new file is broken', async () => {
    const s = await site(`
Listen 127.0.0.1:{{PORT}}
ErrorLog {{ROOT}}/error_log
LogLevel info
WSGIDaemonProcess site threads=2
WSGIScriptAlias /app {{APPS}}/lifecycle.wsgi process-group=site application-group=%{GLOBAL}
`);
    const server = await startServe(s.file);
    const base = `http://127.0.0.1:${server.port}`;
    try {
      await waitForFileLine(path.join(s.dir, 'error_log'), /Daemon process 'site' .* is ready/);
      const oldPid = (await request(`${base}/app/pid`)).text;
      // Keep requests flowing while the configuration changes under them.
      let stop = false;
      const statuses: number[] = [];
      const load = (async () => {
        while (!stop) statuses.push((await request(`${base}/app/order?tag=x&seconds=0.01`)).status);
      })();
      fs.writeFileSync(
        s.file,
        fs.readFileSync(s.file, 'utf8').replace('threads=2', 'threads=3') + `WSGIScriptAlias /new ${app('response.wsgi')} process-group=site application-group=%{GLOBAL}\n`,
      );
      server.child.kill('SIGHUP');
      await waitForFileLine(path.join(s.dir, 'error_log'), /The new configuration is in place/, 20_000);
      await sleep(300);
      stop = true;
      await load;
      assert.ok(statuses.length > 5);
      assert.deepEqual([...new Set(statuses)], [200], 'every request during the reload succeeded');
      assert.equal((await request(`${base}/new/list`)).text, 'chunk1-chunk2-chunk3', 'the new mount serves');
      assert.notEqual((await request(`${base}/app/pid`)).text, oldPid, 'the changed group runs new processes');
      await waitForFileLine(path.join(s.dir, 'error_log'), /Process group 'site' of the previous configuration has stopped/);

      fs.writeFileSync(s.file, fs.readFileSync(s.file, 'utf8') + 'WSGIDaemonProcess broken threads=lots\n');
      server.child.kill('SIGHUP');
      await waitForFileLine(path.join(s.dir, 'error_log'), /The configuration has errors; the running configuration stays in place/, 20_000);
      await waitForFileLine(path.join(s.dir, 'error_log'), /WSGIDaemonProcess: option 'threads' needs a whole number/);
      assert.equal((await request(`${base}/new/list`)).status, 200, 'still serving the last good configuration');
    } finally {
      await server.stop();
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
  });
});

describe('SIGHUP and log files', () => {
  it('opens the logs afresh, so a rotated log starts a new file, and closes logs the new file no longer names', async () => {
    const s = await site(`
Listen 127.0.0.1:{{PORT}}
ErrorLog {{ROOT}}/error_log
LogLevel info
CustomLog {{ROOT}}/access_log "%U%q %>s"
CustomLog {{ROOT}}/extra_log "%U%q"
WSGIDaemonProcess site threads=2
WSGIScriptAlias / {{APPS}}/response.wsgi process-group=site application-group=%{GLOBAL}
`);
    const server = await startServe(s.file);
    const base = `http://127.0.0.1:${server.port}`;
    const file = (name: string): string => path.join(s.dir, name);
    const openLogs = (): string[] =>
      fs.readdirSync(`/proc/${server.child.pid}/fd`).flatMap((fd) => {
        try {
          return [fs.readlinkSync(`/proc/${server.child.pid}/fd/${fd}`)];
        } catch {
          return [];
        }
      }).filter((target) => target.startsWith(s.dir));
    try {
      assert.equal((await request(`${base}/list?before`)).status, 200);
      await waitForFileLine(file('access_log'), /^\/list\?before 200$/);
      await waitForFileLine(file('extra_log'), /^\/list\?before$/);
      assert.ok(openLogs().includes(file('extra_log')), 'the second access log is open');
      // What logrotate does: move the file away, then signal the server.
      fs.renameSync(file('access_log'), file('access_log.1'));
      fs.writeFileSync(s.file, fs.readFileSync(s.file, 'utf8').replace(/^CustomLog .*extra_log.*$/m, ''));
      server.child.kill('SIGHUP');
      await waitForFileLine(file('error_log'), /The new configuration is in place/, 20_000);
      assert.equal((await request(`${base}/list?after`)).status, 200);
      await waitForFileLine(file('access_log'), /^\/list\?after 200$/);
      assert.equal(fs.readFileSync(file('access_log.1'), 'utf8'), '/list?before 200\n', 'the rotated file got nothing more');
      assert.doesNotMatch(fs.readFileSync(file('extra_log'), 'utf8'), /after/);
      const deadline = Date.now() + 10_000;
      while (openLogs().includes(file('extra_log')) && Date.now() < deadline) await sleep(50);
      assert.ok(!openLogs().includes(file('extra_log')), 'the log no longer named is closed');
      assert.ok(openLogs().includes(file('access_log')), 'the reopened log is open');
      assert.ok(!openLogs().includes(file('access_log.1')), 'the rotated file is closed');
    } finally {
      await server.stop();
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
  });
});

describe('port-based virtual hosts, scoped groups and per-directory WSGI settings', () => {
  let server: RunningServer;
  let s: { dir: string; file: string; port: number };
  let second: number;
  before(async () => {
    second = await freePort();
    s = await site(`
Listen 127.0.0.1:{{PORT}}
Listen 127.0.0.1:${'{{SECOND}}'}
ErrorLog {{ROOT}}/error_log
LogLevel info
<VirtualHost *:{{PORT}}>
    ServerName first.test
    WSGIDaemonProcess first threads=2
    WSGIScriptAlias /borrow {{APPS}}/environ.wsgi process-group=second
    WSGIScriptAlias / {{APPS}}/environ.wsgi process-group=first application-group=%{GLOBAL}
</VirtualHost>
<VirtualHost *:${'{{SECOND}}'}>
    ServerName second.test
    DocumentRoot {{ROOT}}/docs
    WSGIDaemonProcess second threads=2
    WSGIProcessGroup second
    WSGIApplicationGroup %{GLOBAL}
    WSGIHandlerScript text-handler {{APPS}}/handler.wsgi
    AddHandler text-handler .txt
    WSGIScriptAlias /app {{APPS}}/response.wsgi
    WSGIScriptAlias /head-app {{APPS}}/response.wsgi
    <Location /head-app>
        WSGIMapHEADToGET On
    </Location>
    <Location /app/override>
        WSGIErrorOverride On
    </Location>
</VirtualHost>
`.replaceAll('{{SECOND}}', String(second)));
    fs.mkdirSync(path.join(s.dir, 'docs'));
    fs.writeFileSync(path.join(s.dir, 'docs', 'note.txt'), 'a note');
    server = await startServe(s.file);
    await waitForLines(path.join(s.dir, 'error_log'), /is ready/, 2);
  });
  after(async () => {
    await server.stop();
    fs.rmSync(s.dir, { recursive: true, force: true });
  });

  it('chooses the virtual host by the port the connection came in on', async () => {
    const first = JSON.parse((await request(`http://127.0.0.1:${s.port}/`, { headers: { Host: 'second.test' } })).text) as Record<string, unknown>;
    assert.equal(first['mod_wsgi.process_group'], 'first', 'port decides before the Host header');
    const note = await request(`http://127.0.0.1:${second}/note.txt`, { headers: { Host: 'first.test' } });
    assert.equal(note.text, 'handled note.txt: a note', 'the other port is the other virtual host');
  });

  it('refuses a process group defined in another virtual host (WSGI0152)', async () => {
    assert.equal((await request(`http://127.0.0.1:${s.port}/borrow`)).status, 500);
    await waitForFileLine(path.join(s.dir, 'error_log'), /WSGI0152: Daemon process called 'second' cannot be accessed by this WSGI application/);
  });

  it('applies WSGIMapHEADToGET On: the application sees GET for HEAD, the client gets no body', async () => {
    const head = await request(`http://127.0.0.1:${second}/head-app/method`, { method: 'HEAD' });
    assert.equal(head.headers['x-method'], 'GET');
    assert.equal(head.body.length, 0);
    const elsewhere = await request(`http://127.0.0.1:${second}/app/method`, { method: 'HEAD' });
    assert.equal(elsewhere.headers['x-method'], 'HEAD', 'Auto (the default) leaves HEAD alone');
  });

  it('applies WSGIErrorOverride: the server\'s error page replaces the application\'s error body', async () => {
    const overridden = await request(`http://127.0.0.1:${second}/app/override/nothing-here`);
    assert.equal(overridden.status, 404);
    assert.match(overridden.text, /<h1>Not Found<\/h1>/);
    assert.doesNotMatch(overridden.text, /no such test route/);
    const plain = await request(`http://127.0.0.1:${second}/app/nothing-here`);
    assert.equal(plain.status, 404);
    assert.match(plain.text, /no such test route/);
  });
});
