import { spawnSync } from 'node:child_process';
import { StartupError } from '../startup-error';

export interface PythonInfo {
  /** "3.11.2" */
  version: string;
  /** sys.executable as the interpreter reports it. */
  executable: string;
  /** sys.prefix (the virtualenv's, for a virtualenv's python). */
  prefix: string;
}

const PROBE = 'import sys, json; print(json.dumps([sys.version.split()[0], sys.executable, sys.prefix, list(sys.version_info[:2]), sys.implementation.name]))';

/** Runs the interpreter once to learn its version, and to fail early with a clear message. */
export function probePython(python: string): PythonInfo {
  const result = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', timeout: 20_000 });
  if (result.error !== undefined) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new StartupError(`Python interpreter '${python}' was not found; install Python 3.9 or later or point --python (WSGIDaemonProcess python-home=) at one.`);
    }
    throw new StartupError(`Python interpreter '${python}' could not be run: ${result.error.message}`);
  }
  if (result.status !== 0) {
    const why = (result.stderr || '').trim().split('\n').at(-1) ?? '';
    throw new StartupError(`Python interpreter '${python}' failed to start (exit status ${result.status ?? result.signal}): ${why}`);
  }
  let parsed: [string, string, string, [number, number], string];
  try {
    parsed = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as typeof parsed;
  } catch {
    throw new StartupError(`Python interpreter '${python}' did not answer like Python 3; is it really Python?`);
  }
  const [version, executable, prefix, [major, minor], implementation] = parsed;
  if (implementation !== 'cpython' || major < 3 || (major === 3 && minor < 9)) {
    throw new StartupError(`Python interpreter '${python}' is ${implementation} ${version}; wsgi-host needs CPython 3.9 or later.`);
  }
  return { version, executable, prefix };
}
