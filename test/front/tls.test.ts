import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { app, freePort, rawExchange, request, startServe, startServer, waitForFileLine, type RunningServer } from '../helpers/server';

let dir = '';

/** A self-signed certificate for `name` made with the openssl command: PREFIX.crt and PREFIX.key. */
function makeCertificate(prefix: string, name: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${prefix}.key`, '-out', `${prefix}.crt`, '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`], { stdio: 'ignore' });
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-tls-'));
  makeCertificate(path.join(dir, 'localhost'), 'localhost');
  makeCertificate(path.join(dir, 'a'), 'a.example.test');
  makeCertificate(path.join(dir, 'b'), 'b.example.test');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface TlsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  peerName: string;
  protocol: string | null;
}

function httpsGet(port: number, urlPath: string, options: { servername?: string; host?: string } = {}): Promise<TlsResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: urlPath, servername: options.servername ?? 'localhost', rejectUnauthorized: false, agent: false, headers: options.host !== undefined ? { Host: options.host } : {} },
      (res) => {
        const socket = res.socket as tls.TLSSocket;
        const peer = socket.getPeerCertificate();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), peerName: String(peer.subject?.CN ?? ''), protocol: socket.getProtocol() }));
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

function httpsPort(server: RunningServer): number {
  const match = /Server URL \(HTTPS\)\s*: https:\/\/[^:]+:(\d+)\//.exec(server.stdout);
  assert.ok(match !== null, `no HTTPS URL in the banner:\n${server.stdout}`);
  return Number(match[1]);
}

describe('start-server --https-port --ssl-certificate', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer([app('hardening.wsgi'), '--https-port', '0', '--ssl-certificate', path.join(dir, 'localhost')]);
  });
  after(() => server.stop());

  it('serves HTTPS with the certificate; the application sees https and the HTTPS port', async () => {
    const port = httpsPort(server);
    const res = await httpsGet(port, '/secure?x=1');
    assert.equal(res.status, 200);
    assert.equal(res.peerName, 'localhost');
    const environ = JSON.parse(res.text).environ as Record<string, string>;
    assert.equal(environ['wsgi.url_scheme'], 'https');
    assert.equal(environ['REQUEST_SCHEME'], 'https');
    assert.equal(environ['SERVER_PORT'], String(port));
    assert.equal(environ['HTTPS'], undefined, 'mod_wsgi turns HTTPS into wsgi.url_scheme and removes it');
    assert.equal(environ['SSL_PROTOCOL'], undefined, 'SSL_* variables only with --ssl-environment');
  });

  it('the plain HTTP port goes on serving http', async () => {
    const res = await request(server.url + '/plain');
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.text).environ['wsgi.url_scheme'], 'http');
  });
});

describe('start-server --ssl-environment (SSLOptions +StdEnvVars)', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer([app('hardening.wsgi'), '--https-port', '0', '--ssl-certificate', path.join(dir, 'localhost'), '--ssl-environment']);
  });
  after(() => server.stop());

  it('passes the SSL_* variables of the connection', async () => {
    const res = await httpsGet(httpsPort(server), '/');
    const environ = JSON.parse(res.text).environ as Record<string, string>;
    assert.equal(environ['SSL_PROTOCOL'], res.protocol);
    assert.match(environ['SSL_CIPHER'] ?? '', /^[A-Z0-9_-]+$/);
    assert.equal(environ['SSL_TLS_SNI'], 'localhost');
    assert.equal(environ['SSL_SESSION_RESUMED'], 'Initial');
    assert.equal(environ['HTTPS'], undefined);
  });
});

describe('start-server --https-only --hsts-policy', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer([app('hardening.wsgi'), '--https-port', '0', '--ssl-certificate-file', path.join(dir, 'localhost.crt'), '--ssl-certificate-key-file', path.join(dir, 'localhost.key'), '--https-only', '--hsts-policy', 'max-age=600']);
  });
  after(() => server.stop());

  it('redirects plain HTTP to the same URL over HTTPS, without calling the application', async () => {
    const res = await request(server.url + '/page?q=1');
    assert.equal(res.status, 302);
    assert.equal(res.headers['location'], `https://localhost:${httpsPort(server)}/page?q=1`);
    assert.ok(!server.stderr.includes("uri='/page?q=1'"));
  });

  it('HTTPS responses carry the Strict-Transport-Security policy', async () => {
    const res = await httpsGet(httpsPort(server), '/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['strict-transport-security'], 'max-age=600');
  });
});

describe('TLS start-up errors name the file and what is wrong', () => {
  it('a missing certificate file', async () => {
    const server = await startServer([app('hardening.wsgi'), '--https-port', '0', '--ssl-certificate', path.join(dir, 'missing')], { expectFailure: true });
    assert.notEqual(await server.waitForExit(), 0);
    assert.match(server.stderr, new RegExp(`Cannot read the SSLCertificateFile ${path.join(dir, 'missing.crt').replace(/[.]/g, '\\.')} .*no such file`));
    await server.stop();
  });

  it('a key that belongs to another certificate', async () => {
    const server = await startServer([app('hardening.wsgi'), '--https-port', '0', '--ssl-certificate-file', path.join(dir, 'a.crt'), '--ssl-certificate-key-file', path.join(dir, 'b.key')], { expectFailure: true });
    assert.notEqual(await server.waitForExit(), 0);
    assert.match(server.stderr, /The SSLCertificateKeyFile .*b\.key does not belong to the certificate in .*a\.crt/);
    await server.stop();
  });

  it('a file that is no certificate', async () => {
    const server = await startServer([app('hardening.wsgi'), '--https-port', '0', '--ssl-certificate-file', path.join(dir, 'a.key'), '--ssl-certificate-key-file', path.join(dir, 'a.key')], { expectFailure: true });
    assert.notEqual(await server.waitForExit(), 0);
    assert.match(server.stderr, /The SSLCertificateFile .*a\.key .* holds no PEM certificate/);
    await server.stop();
  });

  it('certificate flags without --https-port are a usage error', async () => {
    const server = await startServer([app('hardening.wsgi'), '--ssl-certificate', path.join(dir, 'localhost')], { expectFailure: true });
    assert.notEqual(await server.waitForExit(), 0);
    assert.match(server.stderr, /--ssl-certificate needs --https-port/);
    await server.stop();
  });
});

describe('SSLEngine in virtual hosts: SNI chooses the certificate (serve -f)', () => {
  let server: RunningServer;
  let tlsPort = 0;
  before(async () => {
    const httpPort = await freePort();
    tlsPort = await freePort();
    const conf = path.join(dir, 'sni.conf');
    fs.writeFileSync(
      conf,
      [
        `ServerRoot ${dir}`,
        `Listen 127.0.0.1:${httpPort}`,
        `Listen 127.0.0.1:${tlsPort} https`,
        'ServerName main.example.test',
        `ErrorLog ${path.join(dir, 'error.log')}`,
        'LogLevel info',
        'WSGIDaemonProcess sni threads=2',
        'WSGIProcessGroup sni',
        `WSGIScriptAlias / ${app('hardening.wsgi')}`,
        `SSLCertificateFile ${path.join(dir, 'a.crt')}`,
        `SSLCertificateKeyFile ${path.join(dir, 'a.key')}`,
        `<VirtualHost *:${tlsPort}>`,
        '  ServerName a.example.test',
        '  SSLEngine On',
        '</VirtualHost>',
        `<VirtualHost *:${tlsPort}>`,
        '  ServerName b.example.test',
        '  SSLEngine on',
        `  SSLCertificateFile ${path.join(dir, 'b.crt')}`,
        `  SSLCertificateKeyFile ${path.join(dir, 'b.key')}`,
        '</VirtualHost>',
      ].join('\n') + '\n',
    );
    server = await startServe(conf);
    assert.match(server.stdout, new RegExp(`https://127\\.0\\.0\\.1:${tlsPort}/`));
  });
  after(() => server.stop());

  it('each name gets its own certificate, and its own virtual host', async () => {
    const a = await httpsGet(tlsPort, '/', { servername: 'a.example.test', host: 'a.example.test' });
    assert.equal(a.peerName, 'a.example.test');
    assert.equal(JSON.parse(a.text).environ['SERVER_NAME'], 'a.example.test');
    const b = await httpsGet(tlsPort, '/', { servername: 'b.example.test', host: 'b.example.test' });
    assert.equal(b.peerName, 'b.example.test');
    assert.equal(JSON.parse(b.text).environ['wsgi.url_scheme'], 'https');
  });

  it('a Host whose virtual host has another certificate than the SNI name\'s gets 421 (mod_ssl\'s AH02032)', async () => {
    const crossed = await httpsGet(tlsPort, '/', { servername: 'a.example.test', host: 'b.example.test' });
    assert.equal(crossed.status, 421);
    assert.equal(crossed.peerName, 'a.example.test');
    await waitForFileLine(path.join(dir, 'error.log'), /AH02032: Hostname a\.example\.test provided via SNI and hostname b\.example\.test provided via HTTP have no compatible SSL setup/);
    // The same certificate (an unknown name falls back to the first host's) is not misdirected.
    assert.equal((await httpsGet(tlsPort, '/', { servername: 'other.example.test', host: 'a.example.test' })).status, 200);
  });

  it('an unknown name gets the first virtual host\'s certificate', async () => {
    const other = await httpsGet(tlsPort, '/', { servername: 'other.example.test', host: 'other.example.test' });
    assert.equal(other.status, 200);
    assert.equal(other.peerName, 'a.example.test');
  });

  it('plain HTTP sent to the HTTPS port gets a 400 page in plain HTTP saying so, as from mod_ssl', async () => {
    const raw = (await rawExchange(tlsPort, 'GET / HTTP/1.1\r\nHost: a.example.test\r\n\r\n', 3000)).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(raw, /You're speaking plain HTTP to an SSL-enabled server port/);
    await waitForFileLine(path.join(dir, 'error.log'), /SSL handshake failed: HTTP spoken on HTTPS port; trying to send HTML error page/);
  });

  it('the plain listener stays plain HTTP', async () => {
    const res = await request(`http://127.0.0.1:${server.port}/`, { headers: { Host: 'main.example.test' } });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.text).environ['wsgi.url_scheme'], 'http');
  });
});
