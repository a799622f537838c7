import * as fs from 'node:fs';
import * as path from 'node:path';

/** The installed package's root: the directory holding package.json and python/. */
function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'python', 'wsgi_host'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`wsgi-host: cannot find its python/ directory above ${start}; the installation is incomplete`);
    dir = parent;
  }
}

export const PACKAGE_ROOT = findPackageRoot(__dirname);

/** The directory to put on the worker's sys.path to import the wsgi_host runtime package. */
export const PYTHON_RUNTIME_DIR = path.join(PACKAGE_ROOT, 'python');

export const WELCOME_SCRIPT = path.join(PYTHON_RUNTIME_DIR, 'wsgi_host', 'welcome.wsgi');

export const VERSION: string = (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
