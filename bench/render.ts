/**
 * Rewrites docs/benchmarks.md from a saved run, e.g. after changing the report's layout:
 * `node dist/bench/render.js .bench/RUN-ID/results.json`. Nothing is measured.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeDocs } from './docs';
import { DOCS_FILE } from './paths';
import type { RunResult } from './results';

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: node dist/bench/render.js .bench/RUN-ID/results.json\n');
  process.exit(2);
}
const run = JSON.parse(fs.readFileSync(file, 'utf8')) as RunResult;
writeDocs(run, path.resolve(file));
process.stdout.write(`wrote ${DOCS_FILE} from ${file}\n`);
