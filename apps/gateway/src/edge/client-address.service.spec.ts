import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../config/app-config.js';
import { ClientAddressService } from './client-address.service.js';

const service = (trustedProxies?: string): ClientAddressService =>
  new ClientAddressService(loadConfig({ JWT_SECRET: 'unit-test-secret-0123456789', ...(trustedProxies === undefined ? {} : { TRUSTED_PROXIES: trustedProxies }) }));

/** Only what proxy-addr reads from a request: the peer address and the X-Forwarded-For header. */
const request = (peer: string | undefined, forwardedFor?: string): IncomingMessage =>
  ({ socket: { remoteAddress: peer }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }) as unknown as IncomingMessage;

describe('ClientAddressService', () => {
  it('uses X-Forwarded-For from a trusted proxy (loopback by default)', () => {
    assert.equal(service().of(request('127.0.0.1', '203.0.113.7')), '203.0.113.7');
    assert.equal(service().of(request('::1', '2001:db8::5')), '2001:db8::5');
    assert.equal(service().of(request('::ffff:127.0.0.1', '203.0.113.7')), '203.0.113.7');
  });

  it('ignores X-Forwarded-For from an untrusted peer: a client cannot spoof its address', () => {
    assert.equal(service().of(request('198.51.100.2', '203.0.113.7')), '198.51.100.2');
    assert.equal(service('10.0.0.5').of(request('127.0.0.1', '203.0.113.7')), '127.0.0.1');
  });

  it('walks back through trusted hops only, stopping at the first untrusted one', () => {
    const behindTwoProxies = service('10.0.0.0/8');
    assert.equal(behindTwoProxies.of(request('10.0.0.2', '203.0.113.7, 10.0.0.9')), '203.0.113.7');
    // The client put "1.1.1.1" in its own header; the first untrusted hop (198.51.100.9) is the real client.
    assert.equal(behindTwoProxies.of(request('10.0.0.2', '1.1.1.1, 198.51.100.9')), '198.51.100.9');
  });

  it('returns the peer when there is no or a garbage X-Forwarded-For header', () => {
    assert.equal(service().of(request('127.0.0.1')), '127.0.0.1');
    assert.equal(service().of(request('127.0.0.1', 'not an address')), '127.0.0.1');
    assert.equal(service().of(request('127.0.0.1', '<script>, 127.0.0.9')), '127.0.0.1');
  });

  it('does not throw for a request whose socket is gone', () => {
    assert.equal(service().of(request(undefined, '203.0.113.7')), 'unknown');
  });

  it('refuses an invalid TRUSTED_PROXIES at boot with a clear error', () => {
    assert.throws(
      () => service('not-an-ip'),
      (error: unknown) => error instanceof ConfigError && /TRUSTED_PROXIES/.test(error.message),
    );
  });
});
