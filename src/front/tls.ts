import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type * as https from 'node:https';
import * as tls from 'node:tls';
import type { ListenerConfig, ServerConfig, TlsConfig, VirtualHostConfig } from '../config/model';
import { StartupError } from '../startup-error';

/**
 * TLS for the listeners: a listener serves TLS when start-server gave it a certificate, or when
 * the virtual hosts on its port have SSLEngine On; with several such virtual hosts the
 * certificate is chosen by the name the client asks for (SNI), as mod_ssl does.
 */

/** Reads a certificate, its key and chain, checking each so that a start-up error says which file is wrong and how. */
export function loadSecureContext(files: TlsConfig): { context: tls.SecureContext; cert: string; key: string } {
  const read = (file: string, what: string): string => {
    try {
      return fs.readFileSync(file, 'latin1');
    } catch (err) {
      throw new StartupError(`Cannot read the ${what} ${file} (${files.where}): ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}.`);
    }
  };
  const certText = read(files.certificateFile, 'SSLCertificateFile');
  const keyText = read(files.keyFile, 'SSLCertificateKeyFile');
  const chainText = files.chainFile !== null ? read(files.chainFile, 'SSLCertificateChainFile') : '';
  let certificate: crypto.X509Certificate;
  try {
    certificate = new crypto.X509Certificate(certText);
  } catch (err) {
    throw new StartupError(`The SSLCertificateFile ${files.certificateFile} (${files.where}) holds no PEM certificate (${(err as Error).message}); give the server's certificate, "-----BEGIN CERTIFICATE-----".`);
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(keyText);
  } catch (err) {
    throw new StartupError(`The SSLCertificateKeyFile ${files.keyFile} (${files.where}) holds no usable private key (${(err as Error).message}); give an unencrypted PEM private key.`);
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new StartupError(`The SSLCertificateKeyFile ${files.keyFile} does not belong to the certificate in ${files.certificateFile} (${files.where}): the key does not match the certificate's public key.`);
  }
  if (chainText !== '' && !/-----BEGIN CERTIFICATE-----/.test(chainText)) {
    throw new StartupError(`The SSLCertificateChainFile ${files.chainFile} (${files.where}) holds no PEM certificates.`);
  }
  const cert = chainText === '' ? certText : `${certText.trimEnd()}\n${chainText}`;
  try {
    return { context: tls.createSecureContext({ cert, key: keyText }), cert, key: keyText };
  } catch (err) {
    throw new StartupError(`Cannot use the certificate ${files.certificateFile} with key ${files.keyFile} (${files.where}): ${(err as Error).message}.`);
  }
}

/** Whether a virtual host answers on a listener (its address names the listener's port, on any or the same interface). */
function servesListener(vhost: VirtualHostConfig, listener: ListenerConfig): boolean {
  return vhost.addresses.some((a) => (a.port === listener.port || a.port === 0) && (a.host === '*' || a.host === '' || listener.host === '' || a.host === listener.host));
}

/** What a certificate answers to: the virtual host's ServerName and ServerAlias names. */
function namesOf(vhost: VirtualHostConfig): RegExp[] {
  return [vhost.serverName, ...vhost.serverAliases].map((name) => new RegExp('^' + name.toLowerCase().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$'));
}

/** The TLS options of a listener's server, or null for plain HTTP. */
export function tlsOptionsFor(listener: ListenerConfig, config: ServerConfig): https.ServerOptions | null {
  const handshake = config.timeouts.requestRead.handshake;
  const handshakeTimeout = handshake === null ? 120_000 : Math.max(handshake.timeout, handshake.maxTimeout) * 1000;
  if (listener.tls != null) {
    const loaded = loadSecureContext(listener.tls);
    return { cert: loaded.cert, key: loaded.key, handshakeTimeout };
  }
  const vhosts = config.virtualHosts.filter((v) => servesListener(v, listener));
  const secure = vhosts.filter((v) => v.tls != null);
  if (secure.length === 0) return null;
  const plain = vhosts.filter((v) => v.tls == null);
  if (plain.length > 0) {
    throw new StartupError(`Port ${listener.port} has virtual hosts with SSLEngine On (${secure.map((v) => v.id).join(', ')}) and without it (${plain.map((v) => v.id).join(', ')}); one port speaks either TLS or plain HTTP. Give them different ports.`);
  }
  const sites = secure.map((vhost) => ({ names: namesOf(vhost), ...loadSecureContext(vhost.tls!) }));
  const fallback = sites[0]!.context;
  return {
    cert: sites[0]!.cert,
    key: sites[0]!.key,
    handshakeTimeout,
    SNICallback: (servername, done) => {
      const name = servername.toLowerCase();
      const site = sites.find((s) => s.names.some((n) => n.test(name)));
      done(null, site?.context ?? fallback);
    },
  };
}
