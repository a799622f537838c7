import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProxyEntry, TrustedProxies, trustedProxiesFor } from '../../src/front/trusted-proxies';

describe('WSGITrustedProxies matching', () => {
  it('trusts listed addresses and subnets, IPv4 and IPv6, and nothing else', () => {
    const proxies = new TrustedProxies(['10.0.0.1', '192.168.0.0/16', 'fd00::/8', '::1']);
    for (const yes of ['10.0.0.1', '192.168.4.5', '192.168.255.255', 'fd12::1', '::1']) assert.equal(proxies.trusts(yes), true, yes);
    for (const no of ['10.0.0.2', '192.169.0.1', 'fe80::1', '::2', '', undefined, 'not-an-ip']) assert.equal(proxies.trusts(no), false, String(no));
  });

  it('matches IPv4 peers that a dual-stack listener reports as IPv4-mapped IPv6', () => {
    const proxies = new TrustedProxies(['127.0.0.0/8']);
    assert.equal(proxies.trusts('::ffff:127.0.0.1'), true);
    assert.equal(proxies.trusts('::ffff:10.0.0.1'), false);
  });

  it('an empty list trusts no one', () => {
    assert.equal(new TrustedProxies([]).trusts('127.0.0.1'), false);
  });

  it('parses entries with reasons for bad ones', () => {
    assert.deepEqual(parseProxyEntry('10.1.0.0/16'), { ok: true, address: '10.1.0.0', prefix: 16, family: 'ipv4' });
    assert.deepEqual(parseProxyEntry('2001:db8::/32'), { ok: true, address: '2001:db8::', prefix: 32, family: 'ipv6' });
    assert.equal(parseProxyEntry('10.0.0.0/x').ok, false);
    assert.equal(parseProxyEntry('2001:db8::/129').ok, false);
    assert.equal(parseProxyEntry('localhost').ok, false);
  });

  it('builds one matcher per settings list', () => {
    const list = ['10.0.0.1'];
    assert.equal(trustedProxiesFor(list), trustedProxiesFor(list));
  });
});
