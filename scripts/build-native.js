#!/usr/bin/env node
// Builds the native addons in native/ into dist/native/*.node with the C compiler and Node's own
// headers (they ship with Node, so no download; the node-api-headers package is the fallback):
// region_map (the front end maps workers' response regions; without it, it copies large
// response pieces out with pread), thread_policy (the front end's scheduling policy; without
// it, the front end stays under the default policy), startup_pages (the front end gives back
// the pages of the node binary and its libraries that only start-up needed; without it, they
// stay resident), body_memory (a buffered request body's memory is freed as soon as the
// worker has it; without it, at V8's next scavenge) and file_send (WSGIEnableSendfile sends a
// wsgi.file_wrapper's file with sendfile(2); without it, the front end reads and writes it).
// The front end works without any of them, so a missing compiler or header is a warning, not a
// failed build; WSGI_HOST_NATIVE=required makes it an error.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');

const root = path.resolve(__dirname, '..');
const ADDONS = [
  { name: 'region_map', without: 'the front end will copy large response pieces instead (slower downloads)' },
  { name: 'thread_policy', without: 'the front end will keep the default scheduling policy' },
  { name: 'startup_pages', without: 'the front end will keep the pages of the node binary that only start-up needed resident (about 17 MiB more RSS)' },
  { name: 'body_memory', without: 'buffered request bodies will be freed at V8\'s next scavenge instead of at once (more RSS under uploads)' },
  { name: 'file_send', without: 'WSGIEnableSendfile will read files into memory and write them instead of using sendfile(2) (slower file downloads)' },
];
const required = process.env.WSGI_HOST_NATIVE === 'required';

function giveUp(message) {
  if (required) {
    console.error(`build-native: ${message}`);
    process.exit(1);
  }
  console.warn(`build-native: ${message}; ${ADDONS.map((a) => a.without).join(', and ')}.`);
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

if (process.platform !== 'linux') giveUp(`the native addons are for Linux (memfd seals, per-thread scheduling policies), not ${process.platform}`);
const include = headerDir();
if (include === undefined) giveUp('no node_api.h next to Node, in /usr/include/node or in node_modules/node-api-headers (run npm install)');
const compiler = process.env.CC || 'cc';
for (const addon of ADDONS) {
  const source = path.join(root, 'native', `${addon.name}.c`);
  const target = path.join(root, 'dist', 'native', `${addon.name}.node`);
  try {
    // Rebuilt when its source or any shared header is newer than the addon.
    const inputs = [source, ...fs.readdirSync(path.join(root, 'native')).filter((f) => f.endsWith('.h')).map((f) => path.join(root, 'native', f))];
    if (inputs.every((file) => fs.statSync(target).mtimeMs >= fs.statSync(file).mtimeMs)) continue;
  } catch {
    // Not built yet.
  }
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const args = ['-O2', '-Wall', '-Wextra', '-Werror', '-fPIC', '-shared', `-DNODE_GYP_MODULE_NAME=${addon.name}`, `-I${include}`, source, '-o', `${target}.tmp`];
  const run = spawnSync(compiler, args, { stdio: 'inherit' });
  if (run.error !== undefined) giveUp(`cannot run the C compiler '${compiler}' (${run.error.message}); install gcc or set CC`);
  if (run.status !== 0) giveUp(`'${compiler} ${args.join(' ')}' failed`);
  fs.renameSync(`${target}.tmp`, target);
}
