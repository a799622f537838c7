import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { parseConfigText, type ConfigNode } from '../../src/config/apache/index.js';
import { matchesWildcard } from '../../src/config/apache/wildcard.js';
import { TempTree } from './apache-helpers.js';

const FILE = '/virtual/fuzz.conf';

// Pieces that exercise every syntactic path: tags, quotes, escapes, continuations, variables,
// conditionals and Define. Include and ServerRoot are left out on purpose: random paths must not
// make the test read the file system.
const PIECES = [
  '<', '>', '/', '"', "'", '\\', '${', '}', '$', '\n', '\r\n', '\\\n', '#', ' ', '\t', '!', ':', '=',
  'a', 'B', 'x', 'V', '<IfDefine ', '</IfDefine>', '<IfModule ', '</IfModule>', '<IfFile ', '</IfFile>',
  '<Dir', '</Dir>', '<Else>', '</else>', 'Define ', 'UnDefine ', '${V}', '${a:b}',
];

const configText = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { maxLength: 300 }).map((parts) => parts.join('')),
  fc.string({ maxLength: 400 }),
  fc.string({ maxLength: 400, unit: 'binary' }),
);

function* walk(nodes: ConfigNode[]): Generator<ConfigNode> {
  for (const n of nodes) {
    yield n;
    if (n.kind === 'section') yield* walk(n.children);
  }
}

describe('apache config parser: random input', () => {
  const root = new TempTree();
  after(() => root.remove());

  it('always returns, quickly, with every location inside the input', () => {
    fc.assert(
      fc.property(configText, fc.boolean(), (text, modules) => {
        const started = process.hrtime.bigint();
        const r = parseConfigText(text, FILE, {
          serverRoot: root.root,
          defines: ['a', 'B'],
          isModuleLoaded: () => modules,
          env: { V: 'x y' },
        });
        const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
        assert.ok(elapsedMs < 1000, `took ${elapsedMs} ms`);

        const physicalLines = text.split('\n').length;
        for (const d of [...r.errors, ...r.warnings]) {
          assert.equal(d.loc.file, FILE);
          assert.ok(Number.isInteger(d.loc.line) && d.loc.line >= 1 && d.loc.line <= physicalLines, `line ${d.loc.line} of ${physicalLines}`);
          assert.ok(d.message.length > 0);
        }
        for (const n of walk(r.nodes)) {
          assert.ok(n.loc.line >= 1 && n.loc.line <= physicalLines);
          assert.equal(n.key, n.name.toLowerCase());
        }
      }),
      { numRuns: 600 },
    );
  });
});

describe('Include wildcard matching', () => {
  // Reference: the same pattern as a RegExp, plus apr_fnmatch's leading-period rule.
  const PATTERN_PIECES: Array<[string, string]> = [
    ['a', 'a'], ['b', 'b'], ['.', '\\.'], ['*', '.*'], ['?', '.'], ['[ab]', '[ab]'], ['[!a]', '[^a]'], ['\\*', '\\*'],
  ];

  it('agrees with a RegExp reference on random patterns and names', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...PATTERN_PIECES), { maxLength: 8 }),
        fc.array(fc.constantFrom('a', 'b', '.', '*'), { maxLength: 8 }).map((c) => c.join('')),
        (pieces, name) => {
          const pattern = pieces.map(([glob]) => glob).join('');
          const regex = new RegExp(`^${pieces.map(([, re]) => re).join('')}$`, 's');
          const leadingDotOk = !name.startsWith('.') || pattern.startsWith('.');
          assert.equal(matchesWildcard(pattern, name), leadingDotOk && regex.test(name), `${pattern} vs ${name}`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('treats an unbalanced [ as an ordinary character and supports ranges', () => {
    assert.equal(matchesWildcard('a[b', 'a[b'), true);
    assert.equal(matchesWildcard('[a-c]x', 'bx'), true);
    assert.equal(matchesWildcard('[a-c]x', 'dx'), false);
    assert.equal(matchesWildcard('[^a-c]x', 'dx'), true);
    assert.equal(matchesWildcard('[]]', ']'), true);
    assert.equal(matchesWildcard('*', '.hidden'), false);
    assert.equal(matchesWildcard('[.]h', '.h'), false);
  });
});
