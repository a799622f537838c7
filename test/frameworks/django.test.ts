import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { app, request, serverFixture, systemPython, type Response } from '../helpers/server';

/**
 * A hand-written Django site (test/apps/django_site), as Debian packages Django
 * (python3-django), served by real worker processes mounted at /site, as
 * `WSGIScriptAlias /site .../testsite/wsgi.py` with `python-path=.../django_site` would serve it.
 * DEBUG is False, as in production.
 */

const PYTHON = systemPython();
const SITE = app('django_site');

/** Why Django cannot be used here, or null if it can. */
function frameworkProblem(): string | null {
  if (PYTHON === null) return 'no /usr/bin/python3 on this machine';
  try {
    execFileSync(PYTHON, ['-c', 'import django'], { stdio: 'pipe' });
    return null;
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? err);
    return `${PYTHON} cannot import django: ${stderr.trim().split('\n').pop()}`;
  }
}

const PROBLEM = frameworkProblem();
const ALLOW_SKIP = process.env['WSGI_HOST_ALLOW_FRAMEWORK_SKIP'] === '1';
const SKIP =
  PROBLEM === null ? false : ALLOW_SKIP ? `Django unavailable (${PROBLEM}); skipped because WSGI_HOST_ALLOW_FRAMEWORK_SKIP=1` : 'Django unavailable: see the failing test above';

if (PROBLEM !== null && !ALLOW_SKIP) {
  // Not a skip: CI installs the framework, so its absence is an error in the environment.
  it('Django can be imported by Debian\'s Python', () => {
    assert.fail(
      `Django is required for these tests but ${PROBLEM}.\n` +
        'Install it with: apt-get install python3-flask python3-django\n' +
        '(or set WSGI_HOST_ALLOW_FRAMEWORK_SKIP=1 to skip the framework tests)',
    );
  });
}

function multipart(parts: { name: string; filename?: string; contentType?: string; data: Buffer | string }[]): { body: Buffer; contentType: string } {
  const boundary = `----wsgi-host-${crypto.randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if (part.filename !== undefined) head += `; filename="${part.filename}"`;
    head += '\r\n';
    if (part.contentType !== undefined) head += `Content-Type: ${part.contentType}\r\n`;
    chunks.push(Buffer.from(head + '\r\n', 'utf8'), Buffer.from(part.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

function json<T = Record<string, unknown>>(res: Response): T {
  assert.match(String(res.headers['content-type']), /^application\/json/, `not JSON (${res.status}): ${res.text}`);
  return JSON.parse(res.body.toString('utf8')) as T;
}

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

describe('Django site mounted at /site (DEBUG off, 2 processes x 3 threads)', { skip: SKIP }, () => {
  const dbDir = path.join(os.tmpdir(), `wsgi-host-django-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  // No __pycache__ directories in the source tree.
  const env = { DJANGO_SITE_DB: path.join(dbDir, 'site.sqlite3'), PYTHONDONTWRITEBYTECODE: '1' };
  const server = serverFixture(
    [
      path.join(SITE, 'testsite', 'wsgi.py'),
      '--python', PYTHON ?? '/usr/bin/python3',
      '--python-path', SITE,
      '--mount-point', '/site',
      '--processes', '2',
      '--threads', '3',
    ],
    { env },
  );
  before(async () => {
    // As a deployment would: create the database with manage.py before serving.
    fs.mkdirSync(dbDir, { recursive: true });
    execFileSync(PYTHON!, [path.join(SITE, 'manage.py'), 'migrate', '--noinput', '-v', '0'], {
      cwd: SITE,
      env: { ...process.env, ...env },
      stdio: 'pipe',
    });
    await server.start();
  });
  after(async () => {
    await server.stop();
    fs.rmSync(dbDir, { recursive: true, force: true });
  });

  const base = (): string => server.get().url;
  const url = (p: string): string => `${base()}/site${p}`;

  it('routes with path parameters and converters; APPEND_SLASH redirects within the mount', async () => {
    const res = await request(url('/items/42/some-slug/'));
    assert.equal(res.status, 200);
    assert.deepEqual(json(res), { item_id: 42, item_id_type: 'int', slug: 'some-slug', self: '/site/items/42/some-slug/' });
    // Security and clickjacking middleware ran.
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');

    const noSlash = await request(url('/items/42/some-slug?x=1'));
    assert.equal(noSlash.status, 301);
    assert.equal(noSlash.headers['location'], '/site/items/42/some-slug/?x=1');

    // The int converter does not match: Django's 404.
    assert.equal((await request(url('/items/forty-two/some-slug/'))).status, 404);
  });

  it('reads request.GET, repeated and non-ASCII values, and answers JSON', async () => {
    const res = await request(url('/search/?q=caf%C3%A9+au+lait&tag=a&tag=b&tag=%E2%9C%93'));
    assert.equal(res.status, 200);
    const out = json(res);
    assert.equal(out['q'], 'café au lait');
    assert.deepEqual(out['tags'], ['a', 'b', '✓']);
    assert.equal(out['missing'], 'default');
    assert.equal(out['method'], 'GET');
  });

  it('takes a CSRF-exempt form POST (request.POST) alongside query arguments', async () => {
    const res = await request(url('/form/?via=query'), { method: 'POST', headers: FORM, body: 'name=Ren%C3%A9+Magritte&color=red&color=blue&empty=' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(json(res), {
      name: 'René Magritte',
      colors: ['red', 'blue'],
      fields: ['color', 'empty', 'name'],
      via: 'query',
      content_type: 'application/x-www-form-urlencoded',
    });
    const get = await request(url('/form/'));
    assert.equal(get.status, 405);
    assert.equal(get.headers['allow'], 'POST');
  });

  it('enforces CSRF on other views: 403 without the token, 200 with cookie and token', async () => {
    const rejected = await request(url('/protected/'), { method: 'POST', headers: FORM, body: 'value=x' });
    assert.equal(rejected.status, 403);
    assert.match(rejected.text, /Forbidden/);

    const page = await request(url('/protected/'));
    assert.equal(page.status, 200);
    const setCookie = page.headers['set-cookie'] ?? [];
    const cookie = /^csrftoken=([A-Za-z0-9]+);/.exec(setCookie.find((c) => c.startsWith('csrftoken=')) ?? '');
    assert.ok(cookie, `no csrftoken cookie in ${JSON.stringify(setCookie)}`);
    assert.match(setCookie[0]!, /; Path=\/; SameSite=Lax$/);
    const token = /name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"/.exec(page.text);
    assert.ok(token, page.text);
    assert.match(page.text, /<form method="post" action="\/site\/protected\/">/);

    const accepted = await request(url('/protected/'), {
      method: 'POST',
      headers: { ...FORM, Cookie: `csrftoken=${cookie[1]}` },
      body: `csrfmiddlewaretoken=${token[1]}&value=hello+there`,
    });
    assert.equal(accepted.status, 200, accepted.text);
    assert.deepEqual(json(accepted), { ok: true, value: 'hello there' });

    // The token in a header (as JavaScript clients send it) works too.
    const viaHeader = await request(url('/protected/'), {
      method: 'POST',
      headers: { ...FORM, Cookie: `csrftoken=${cookie[1]}`, 'X-CSRFToken': token[1]! },
      body: 'value=h',
    });
    assert.equal(viaHeader.status, 200, viaHeader.text);
  });

  it('receives multipart file uploads intact (hash checked), in memory and in a temporary file', async () => {
    for (const [size, storage] of [[10, 'InMemoryUploadedFile'], [300_000, 'InMemoryUploadedFile'], [3 * 1024 * 1024 + 5, 'TemporaryUploadedFile']] as const) {
      const data = crypto.randomBytes(size);
      const form = multipart([
        { name: 'note', data: `größe ${size}` },
        { name: 'file', filename: `data-${size}.bin`, contentType: 'application/x-test', data },
      ]);
      const res = await request(url('/upload/'), { method: 'POST', headers: { 'Content-Type': form.contentType }, body: form.body });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(json(res), {
        name: `data-${size}.bin`,
        content_type: 'application/x-test',
        size,
        declared_size: size,
        sha256: crypto.createHash('sha256').update(data).digest('hex'),
        storage,
        note: `größe ${size}`,
      });
    }
  });

  it('redirects with 302 to a reverse()d URL that includes the mount point', async () => {
    const res = await request(url('/go/'));
    assert.equal(res.status, 302);
    assert.equal(res.headers['location'], '/site/items/7/seven/');
    const followed = json(await request(`${base()}${res.headers['location']}`));
    assert.equal(followed['item_id'], 7);
  });

  it('renders templates: inheritance, {% url %} under /site, filters, auto-escaping', async () => {
    const res = await request(url('/hello/%3Cb%3EZo%C3%AB/'));
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    const html = res.body.toString('utf8');
    assert.match(html, /<title>Hello &lt;b&gt;Zoë<\/title>/);
    assert.match(html, /<h1 id="greeting">Hello, &lt;b&gt;Zoë!<\/h1>/);
    assert.match(html, /<p id="upper">&lt;B&gt;ZOË<\/p>/);
    assert.match(html, /<li><a href="\/site\/items\/1\/one\/">One<\/a><\/li>/);
    assert.match(html, /<li><a href="\/site\/items\/2\/two\/">Two<\/a><\/li>/);
    assert.match(html, /<a id="search" href="\/site\/search\/\?q=%3Cb%3EZo%C3%AB">/);
    assert.match(html, /<footer>at \/site\/hello\/&lt;b&gt;Zoë\/<\/footer>/);
    assert.doesNotMatch(html, /<b>/);
  });

  it('builds URLs with SCRIPT_NAME: reverse(), request.path, build_absolute_uri()', async () => {
    const u = json(await request(url('/urls/?z=1&y=%20')));
    assert.deepEqual(u, {
      reverse_item: '/site/items/5/five/',
      reverse_index: '/site/',
      absolute: `${base()}/site/search/`,
      absolute_self: `${base()}/site/urls/?z=1&y=%20`,
      path: '/site/urls/',
      path_info: '/urls/',
      script_name: '/site',
      full_path: '/site/urls/?z=1&y=%20',
      host: `127.0.0.1:${server.get().port}`,
    });
    const viaHost = json(await request(url('/urls/'), { headers: { Host: 'example.test:8080' } }));
    assert.equal(viaHost['absolute'], 'http://example.test:8080/site/search/');
    // A host outside ALLOWED_HOSTS: Django's 400 (DisallowedHost), not a crash.
    const disallowed = await request(url('/urls/'), { headers: { Host: 'evil.test' } });
    assert.equal(disallowed.status, 400);
    assert.match(disallowed.text, /Bad Request \(400\)/);
  });

  it('maps only the mount point to the site', async () => {
    // The mount point itself: SCRIPT_NAME=/site, PATH_INFO='', which Django treats as '/'.
    const bare = await request(`${base()}/site`);
    assert.equal(bare.status, 200);
    assert.equal(bare.text, 'django index');
    for (const outside of ['/', '/sitemap.xml', '/search/', '/other/site/']) {
      const res = await request(`${base()}${outside}`);
      assert.equal(res.status, 404, outside);
      assert.doesNotMatch(res.text, /Nothing at/, `${outside} reached Django`);
    }
  });

  it("answers unknown URLs and Http404 with Django's 404 handler and the site's 404.html", async () => {
    for (const p of ['/no/such/page/', '/notes/999999/']) {
      const res = await request(url(p));
      assert.equal(res.status, 404, p);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.match(res.text, new RegExp(`<h1>Nothing at /site${p}</h1>`));
      assert.doesNotMatch(res.text, /Traceback|Page not found \(404\)/); // not the DEBUG page
    }
  });

  it('stores and reads models through the ORM, visible from every process', async () => {
    const texts = Array.from({ length: 12 }, (_, i) => `note ${i} ✓`);
    const created = await Promise.all(
      texts.map(async (text) => {
        const res = await request(url('/notes/'), { method: 'POST', headers: FORM, body: `text=${encodeURIComponent(text)}` });
        assert.equal(res.status, 201, res.text);
        const note = json<{ id: number; text: string }>(res);
        assert.equal(note.text, text);
        assert.equal(res.headers['location'], `${base()}/site/notes/${note.id}/`);
        return note;
      }),
    );
    assert.equal(new Set(created.map((n) => n.id)).size, texts.length);
    // Read each back several times so that both processes serve reads.
    for (const note of created) {
      for (let i = 0; i < 2; i++) assert.equal(json(await request(url(`/notes/${note.id}/`)))['text'], note.text);
    }
    const list = json<{ notes: { id: number; text: string }[] }>(await request(url('/notes/')));
    assert.deepEqual(list.notes.map((n) => n.text).sort(), [...texts].sort());
  });

  it('answers an exception in a view with the DEBUG-off 500 page and logs the traceback', async () => {
    const marker = crypto.randomBytes(6).toString('hex');
    const res = await request(url(`/boom/?marker=${marker}`));
    assert.equal(res.status, 500);
    assert.match(res.text, /<h1>Server Error \(500\)<\/h1>/);
    assert.doesNotMatch(res.text, new RegExp(marker)); // no traceback for the client

    const s = server.get();
    await s.waitForLog(new RegExp(`ValueError: django-boom-${marker}$`));
    const lines = s.logLines();
    const last = lines.findIndex((l) => l.endsWith(`ValueError: django-boom-${marker}`));
    const first = lines.findIndex((l) => /\[wsgi:error\] .*ERROR django\.request: Internal Server Error: \/site\/boom\/$/.test(l));
    assert.ok(first >= 0 && first < last, 'django.request logs "Internal Server Error: /site/boom/" before the traceback');
    const traceback = lines.slice(first, last + 1);
    for (const line of traceback) assert.match(line, /^\[[^\]]+\] \[wsgi:error\] \[pid \d+:tid \d+\] \[request_id [^\]]+\] \[client 127\.0\.0\.1:\d+\] /, line);
    assert.ok(traceback.some((l) => l.endsWith('Traceback (most recent call last):')));
    assert.ok(traceback.some((l) => /File ".*test\/apps\/django_site\/testsite\/views\.py", line \d+, in boom$/.test(l)));
  });

  it('serves 40 concurrent requests correctly across both processes', async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, async (_, n) => {
        const res = await request(url(`/search/?q=req-${n}&tag=${n}`));
        assert.equal(res.status, 200, res.text);
        return json<{ q: string; tags: string[]; pid: number }>(res);
      }),
    );
    results.forEach((r, n) => {
      assert.equal(r.q, `req-${n}`);
      assert.deepEqual(r.tags, [String(n)]);
    });
    assert.equal(new Set(results.map((r) => r.pid)).size, 2);
  });
});
