#!/usr/bin/env node
// Builds native/region_map.c into dist/native/region_map.node with the C compiler and Node's own
// headers (they ship with Node, so no download; the node-api-headers package is the fallback). The front end works without it (it then copies
// large response pieces out of the worker's region with pread), so a missing compiler or header
// is a warning, not a failed build; WSGI_HOST_NATIVE=required makes it an error.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');

const root = path.resolve(__dirname, '..');
const source = path.join(root, 'native', 'region_map.c');
const target = path.join(root, 'dist', 'native', 'region_map.node');
const required = process.env.WSGI_HOST_NATIVE === 'required';

function giveUp(message) {
  if (required) {
    console.error(`build-native: ${message}`);
    process.exit(1);
  }
  console.warn(`build-native: ${message}; the front end will copy large response pieces instead (slower downloads).`);
  process.exit(0);
}

function headerDir() {
  const candidates = [
    path.join(path.dirname(process.execPath), '..', 'include', 'node'),
    path.join(os.homedir(), '.cache', 'node-gyp', process.versions.node, 'include', 'node'),
    '/usr/include/node',
    // The Node-API headers alone, from npm (a devDependency), for a Node installed without its headers.
    path.join(root, 'node_modules', 'node-api-headers', 'include'),
  ];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
}

if (process.platform !== 'linux') giveUp(`the region mapping is for Linux (memfd seals), not ${process.platform}`);
const include = headerDir();
if (include === undefined) giveUp('no node_api.h next to Node, in /usr/include/node or in node_modules/node-api-headers (run npm install)');
try {
  if (fs.statSync(target).mtimeMs >= fs.statSync(source).mtimeMs) process.exit(0);
} catch {
  // Not built yet.
}
fs.mkdirSync(path.dirname(target), { recursive: true });
const compiler = process.env.CC || 'cc';
const args = ['-O2', '-Wall', '-Wextra', '-Werror', '-fPIC', '-shared', '-DNODE_GYP_MODULE_NAME=region_map', `-I${include}`, source, '-o', `${target}.tmp`];
const run = spawnSync(compiler, args, { stdio: 'inherit' });
if (run.error !== undefined) giveUp(`cannot run the C compiler '${compiler}' (${run.error.message}); install gcc or set CC`);
if (run.status !== 0) giveUp(`'${compiler} ${args.join(' ')}' failed`);
fs.renameSync(`${target}.tmp`, target);
