import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { app, rawExchange, startServer } from '../helpers/server';
import { eventually } from './ops-helpers';

/*
 * Access log directives whose values come from the response and the connection: %{Header}o for
 * headers the WSGI response sent, %X for whether the connection stayed open, %V for the host the
 * request named (UseCanonicalName Off).
 */

describe('access log format: what the response and connection did', () => {
  it('%{...}o gives the headers the application sent, %X whether the connection closed, %V the host asked for', async () => {
    const server = await startServer([app('response.wsgi'), '--access-log', '--access-log-format', 'LINE %U ct=%{Content-Type}o cookie=%{Set-Cookie}o none=%{X-None}o conn=%X v=%v V=%V']);
    try {
      await rawExchange(server.port, 'GET /headers HTTP/1.1\r\nHost: Other.Example:8080\r\n\r\nGET /list HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const line = (prefix: string): Promise<string> => eventually(`the access log line of ${prefix}`, async () => server.stdout.split('\n').find((l) => l.startsWith(`LINE ${prefix} `)));
      const headers = await line('/headers');
      assert.match(headers, / ct=text\/plain /);
      assert.match(headers, / cookie=a=1, b=2 /);
      assert.match(headers, / none=- /);
      assert.match(headers, / conn=\+ /, 'kept alive');
      assert.match(headers, / V=other\.example$/i);
      assert.doesNotMatch(headers, / v=other\.example /i, '%v is the virtual host\'s own name');
      const closing = await line('/list');
      assert.match(closing, / conn=- /, 'closed after the response (Connection: close)');
    } finally {
      await server.stop();
    }
  });
});
