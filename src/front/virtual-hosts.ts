import type { VirtualHostConfig } from '../config/model';

/**
 * Chooses the virtual host for a request as Apache does: among the <VirtualHost> blocks whose
 * address matches the connection's local address and port (exact address before "*"), the one
 * whose ServerName or ServerAlias matches the Host header, else the first of them; if no block
 * matches the address, the main server.
 */
export class VirtualHostTable {
  /** Per local address and port: the candidate virtual hosts, worked out once. */
  private readonly byAddress = new Map<string, VirtualHostConfig[]>();

  constructor(
    private readonly mainServer: VirtualHostConfig,
    private readonly vhosts: readonly VirtualHostConfig[],
  ) {}

  select(localAddress: string, localPort: number, hostname: string | null): VirtualHostConfig {
    if (this.vhosts.length === 0) return this.mainServer;
    const key = `${localAddress}|${localPort}`;
    let candidates = this.byAddress.get(key);
    if (candidates === undefined) {
      candidates = this.vhosts.filter((v) => v.addresses.some((a) => a.host === localAddress && (a.port === 0 || a.port === localPort)));
      if (candidates.length === 0) {
        candidates = this.vhosts.filter((v) => v.addresses.some((a) => (a.host === '' || a.host === '*') && (a.port === 0 || a.port === localPort)));
      }
      this.byAddress.set(key, candidates);
    }
    if (candidates.length === 0) return this.mainServer;
    if (hostname !== null && candidates.length > 1) {
      for (const vhost of candidates) {
        if (vhost.serverName.toLowerCase() === hostname) return vhost;
        if (vhost.serverAliases.some((alias) => matchesAlias(alias, hostname))) return vhost;
      }
    }
    return candidates[0]!;
  }
}

function matchesAlias(alias: string, hostname: string): boolean {
  const pattern = alias.toLowerCase();
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === hostname;
  const regex = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  return regex.test(hostname);
}
