/**
 * The front end's process title, so `ps` shows which server a process is: "wsgi-host: front end
 * (www.example.test:8080, api.example.test:8080) -f /etc/site/httpd.conf". Daemon processes set
 * their own ((wsgi:GROUP), or display-name) in python/wsgi_host/process_control.py.
 *
 * On Linux the title replaces the command line in place, so it can be no longer than the command
 * line the server was started with (Node cuts it there); the names come first for that reason.
 */
import type { ServerConfig } from '../config/model';

export function frontEndTitle(config: ServerConfig, bound: { host: string; port: number }[]): string {
  const ports = [...new Set(bound.map((a) => a.port))];
  const names: string[] = [];
  const add = (name: string): void => {
    if (name !== '' && !names.includes(name)) names.push(name);
  };
  for (const port of ports) add(`${config.mainServer.serverName}:${port}`);
  for (const vhost of config.virtualHosts) {
    const port = vhost.addresses.find((a) => a.port > 0)?.port ?? ports[0];
    add(port === undefined ? vhost.serverName : `${vhost.serverName}:${port}`);
  }
  return `wsgi-host: front end (${names.join(', ')})` + (config.configFile !== null ? ` -f ${config.configFile}` : '');
}

export function setFrontEndTitle(config: ServerConfig, bound: { host: string; port: number }[]): void {
  try {
    process.title = frontEndTitle(config, bound);
  } catch {
    // not every platform lets a process rename itself
  }
}
