import { execFileSync } from 'node:child_process';

/** First line of a command's output (stdout, else stderr), or null if it cannot run. */
export function commandOutput(command: string, args: string[]): string | null {
  try {
    const out = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
    return out.trim();
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    const text = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
    return text.length > 0 ? text : null;
  }
}

/** The installed version of a Debian package, or null. */
export function debianPackage(name: string): string | null {
  const out = commandOutput('dpkg-query', ['-W', '-f', '${Version}', name]);
  return out !== null && /^\d/.test(out) ? out : null;
}
