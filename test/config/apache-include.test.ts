import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseConfigFile, type ParseOptions, type ParseResult } from '../../src/config/apache/index.js';
import { dir, sec, TempTree, where } from './apache-helpers.js';

function withTree(files: Record<string, string>, body: (t: TempTree) => void): void {
  const tree = new TempTree(files);
  try {
    body(tree);
  } finally {
    tree.remove();
  }
}

function parseFile(t: TempTree, rel: string, extra: Partial<ParseOptions> = {}): ParseResult {
  return parseConfigFile(t.path(rel), { serverRoot: t.root, isModuleLoaded: () => false, env: {}, ...extra });
}

/** The first argument of every top-level directive: enough to see order and origin. */
function firstArgs(r: ParseResult): string[] {
  return r.nodes.map((n) => n.args[0] ?? '');
}

describe('apache config: Include of files', () => {
  it('splices an included file in place, relative to ServerRoot, with its own file:line', () => {
    withTree({ 'main.conf': 'A\nInclude conf/extra.conf\nB\n', 'conf/extra.conf': 'X 1\n\nY 2\n' }, (t) => {
      const r = parseFile(t, 'main.conf');
      const main = t.path('main.conf');
      const extra = t.path('conf/extra.conf');
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.nodes, [dir('A', [], 1, main), dir('X', ['1'], 1, extra), dir('Y', ['2'], 3, extra), dir('B', [], 3, main)]);
    });
  });

  it('puts nodes included inside a section into that section, and accepts quoted paths', () => {
    withTree({ 'main.conf': '<VirtualHost *>\n  Include "my conf/vh.conf"\n</VirtualHost>\n', 'my conf/vh.conf': 'ServerName a\n' }, (t) => {
      const r = parseFile(t, 'main.conf');
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.nodes, [sec('VirtualHost', ['*'], 1, [dir('ServerName', ['a'], 1, t.path('my conf/vh.conf'))], t.path('main.conf'))]);
    });
  });

  it('shares Define state across files in reading order', () => {
    withTree({ 'main.conf': 'Define a 1\nInclude inc.conf\nB ${b}\n', 'inc.conf': 'A ${a}\nDefine b 2\n' }, (t) => {
      const r = parseFile(t, 'main.conf');
      assert.deepEqual(r.warnings, []);
      assert.deepEqual(r.nodes, [dir('A', ['1'], 1, t.path('inc.conf')), dir('B', ['2'], 3, t.path('main.conf'))]);
    });
  });

  it('requires a section to be closed in the file that opened it', () => {
    withTree(
      { 'main.conf': '<VirtualHost *>\nInclude open.conf\n</VirtualHost>\nInclude open.conf\n</Directory>\n', 'open.conf': '<Directory /x>\nA\n' },
      (t) => {
        const r = parseFile(t, 'main.conf');
        const open = t.path('open.conf');
        assert.deepEqual(where(r.errors), [
          [`${open}:1`, '<Directory>'],
          [`${open}:1`, '<Directory>'],
          [`${t.path('main.conf')}:5`, '</Directory>'],
        ]);
        assert.match(r.errors[2]!.message, /^<\/Directory> without matching <Directory> section/);
      },
    );
  });

  it('reports a missing file for Include and ignores it for IncludeOptional', () => {
    withTree({ 'main.conf': 'A\nInclude missing.conf\nIncludeOptional missing.conf\nB\n' }, (t) => {
      const r = parseFile(t, 'main.conf');
      assert.deepEqual(where(r.errors), [[`${t.path('main.conf')}:2`, 'Include']]);
      assert.equal(
        r.errors[0]!.message,
        `Could not open configuration file ${t.path('missing.conf')}: no such file or directory (ENOENT); check the path, or use IncludeOptional if the file may be absent`,
      );
      assert.deepEqual(firstArgs(r), ['', '']);
    });
  });

  it('reports Include with a wrong number of arguments', () => {
    withTree({ 'main.conf': 'Include\nIncludeOptional a b\n' }, (t) => {
      const r = parseFile(t, 'main.conf');
      assert.deepEqual(where(r.errors), [
        [`${t.path('main.conf')}:1`, 'Include'],
        [`${t.path('main.conf')}:2`, 'IncludeOptional'],
      ]);
      assert.match(r.errors[0]!.message, /^Include takes exactly one argument: a file, directory or wildcard path/);
    });
  });

  it('reports an unreadable top file at line 0, and resolves a relative top file against ServerRoot', () => {
    withTree({ 'conf/httpd.conf': 'A\n' }, (t) => {
      const missing = parseFile(t, 'nope.conf');
      assert.deepEqual(missing.nodes, []);
      assert.deepEqual(where(missing.errors), [[`${t.path('nope.conf')}:0`, '']]);
      assert.match(missing.errors[0]!.message, /^Could not open configuration file .*nope\.conf: no such file or directory \(ENOENT\)$/);

      const directory = parseFile(t, 'conf');
      assert.match(directory.errors[0]!.message, /not a regular file/);

      const relative = parseConfigFile('conf/httpd.conf', { serverRoot: t.root, isModuleLoaded: () => false });
      assert.deepEqual(relative.nodes, [dir('A', [], 1, t.path('conf/httpd.conf'))]);
    });
  });
});

describe('apache config: Include of directories and wildcards', () => {
  const tree = {
    'conf.d/b.conf': 'F b.conf\n',
    'conf.d/a.conf': 'F a.conf\n',
    'conf.d/B.conf': 'F B.conf\n',
    'conf.d/.hidden.conf': 'F .hidden.conf\n',
    'conf.d/sub/c.conf': 'F sub/c.conf\n',
    'conf.d/sub/a.conf': 'F sub/a.conf\n',
    'conf.d/d.conf/inner': 'F d.conf/inner\n',
    'conf.d/z.txt': 'F z.txt\n',
  };

  it('includes every file of a directory recursively, in byte order, dot files too', () => {
    withTree({ ...tree, 'main.conf': 'Include conf.d\n' }, (t) => {
      const r = parseFile(t, 'main.conf');
      assert.deepEqual(r.errors, []);
      assert.deepEqual(firstArgs(r), ['.hidden.conf', 'B.conf', 'a.conf', 'b.conf', 'd.conf/inner', 'sub/a.conf', 'sub/c.conf', 'z.txt']);
      assert.deepEqual(r.nodes[1]!.loc, { file: t.path('conf.d/B.conf'), line: 1 });
    });
  });

  it('expands * in byte order, skipping dot files, and reads a matched directory recursively', () => {
    withTree({ ...tree, 'main.conf': 'Include conf.d/*.conf\n' }, (t) => {
      const r = parseFile(t, 'main.conf');
      assert.deepEqual(r.errors, []);
      assert.deepEqual(firstArgs(r), ['B.conf', 'a.conf', 'b.conf', 'd.conf/inner']);
    });
  });

  it('supports ?, [...] and an explicit leading dot', () => {
    withTree({ ...tree, 'main.conf': 'Include conf.d/?.conf\nInclude conf.d/[ab].conf\nInclude conf.d/[!a-z].conf\nInclude conf.d/.*\n' }, (t) => {
      const r = parseFile(t, 'main.conf');
      assert.deepEqual(r.errors, []);
      assert.deepEqual(firstArgs(r), ['B.conf', 'a.conf', 'b.conf', 'd.conf/inner', 'a.conf', 'b.conf', 'B.conf', '.hidden.conf']);
    });
  });

  it('expands wildcards in directory components, matching directories only', () => {
    const files = { 'sites/one/site.conf': 'S one\n', 'sites/two/site.conf': 'S two\n', 'sites/file.conf': 'S file\n', 'main.conf': 'Include sites/*/site.conf\n' };
    withTree(files, (t) => {
      const r = parseFile(t, 'main.conf');
      assert.deepEqual(r.errors, []);
      assert.deepEqual(firstArgs(r), ['one', 'two']);
    });
  });

  it('fails Include, not IncludeOptional, when one matched directory lacks the file', () => {
    const files = { 'sites/one/site.conf': 'S one\n', 'sites/two/site.conf': 'S two\n', 'main.conf': 'Include sites/*/site.conf\nIncludeOptional sites/*/site.conf\n' };
    withTree(files, (t) => {
      t.mkdir('sites/three');
      const r = parseFile(t, 'main.conf');
      assert.deepEqual(where(r.errors), [[`${t.path('main.conf')}:1`, 'Include']]);
      assert.match(r.errors[0]!.message, /^Could not open configuration file .*sites\/three\/site\.conf: no such file/);
      assert.deepEqual(firstArgs(r), ['one', 'two', 'one', 'two']);
    });
  });

  it('fails Include when a wildcard matches nothing; IncludeOptional ignores it', () => {
    withTree({ ...tree, 'main.conf': 'A\nInclude conf.d/*.nomatch\nIncludeOptional conf.d/*.nomatch\nIncludeOptional nodir/*.conf\nInclude nodir/*.conf\n' }, (t) => {
      const r = parseFile(t, 'main.conf');
      const main = t.path('main.conf');
      assert.deepEqual(where(r.errors), [
        [`${main}:2`, 'Include'],
        [`${main}:5`, 'Include'],
      ]);
      assert.equal(
        r.errors[0]!.message,
        `No matches for the wildcard '*.nomatch' in '${t.path('conf.d')}'; Include requires at least one match (use IncludeOptional to allow none) (relative paths are resolved against ServerRoot ${t.root})`,
      );
      assert.match(r.errors[1]!.message, /^Could not open directory .*nodir: no such file or directory \(ENOENT\)/);
      assert.deepEqual(firstArgs(r), ['']);
    });
  });

  it('includes nothing and reports nothing for an empty directory', () => {
    withTree({ 'main.conf': 'Include empty\n' }, (t) => {
      t.mkdir('empty');
      const r = parseFile(t, 'main.conf');
      assert.deepEqual([r.nodes, r.errors], [[], []]);
    });
  });
});

describe('apache config: include cycles and depth', () => {
  it('reports a cycle at the Include that closes it', () => {
    withTree({ 'main.conf': 'Include a.conf\n', 'a.conf': 'A\nInclude b.conf\n', 'b.conf': 'Include a.conf\nB\n' }, (t) => {
      const r = parseFile(t, 'main.conf');
      assert.deepEqual(where(r.errors), [[`${t.path('b.conf')}:1`, 'Include']]);
      assert.equal(
        r.errors[0]!.message,
        `Include cycle: ${t.path('a.conf')} -> ${t.path('b.conf')} -> ${t.path('a.conf')}; a file must not include itself, directly or through other files`,
      );
      assert.deepEqual(r.nodes.map((n) => n.name), ['A', 'B']);
    });
  });

  it('reports a file that includes itself through a wildcard but still reads the others', () => {
    withTree({ 'conf/main.conf': 'M\nInclude conf/*.conf\n', 'conf/other.conf': 'O\n' }, (t) => {
      const r = parseFile(t, 'conf/main.conf');
      assert.deepEqual(where(r.errors), [[`${t.path('conf/main.conf')}:2`, 'Include']]);
      assert.match(r.errors[0]!.message, /^Include cycle: /);
      assert.deepEqual(r.nodes.map((n) => n.name), ['M', 'O']);
    });
  });

  it('allows 128 nested Includes and reports the 129th', () => {
    const files: Record<string, string> = {};
    for (let i = 0; i <= 129; i++) files[`f${i}.conf`] = i < 129 ? `Include f${i + 1}.conf\nL ${i}\n` : 'L 129\n';
    withTree(files, (t) => {
      const r = parseFile(t, 'f0.conf');
      assert.deepEqual(where(r.errors), [[`${t.path('f128.conf')}:1`, 'Include']]);
      assert.match(r.errors[0]!.message, /^Exceeded the maximum include depth of 128 while including .*f129\.conf/);
      assert.equal(r.nodes.length, 129);
      assert.deepEqual(r.nodes[0], dir('L', ['128'], 2, t.path('f128.conf')));
      assert.deepEqual(r.nodes[128], dir('L', ['0'], 2, t.path('f0.conf')));
    });
  });
});

describe('apache config: ServerRoot and IfFile', () => {
  it('resolves later relative Includes against a new ServerRoot and keeps the directive', () => {
    withTree({ 'a.conf': 'X root\n', 'other/a.conf': 'X other\n' }, (t) => {
      const main = t.write('main.conf', `Include a.conf\nServerRoot "${t.path('other')}"\nInclude a.conf\n`);
      const r = parseFile(t, 'main.conf');
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.nodes, [
        dir('X', ['root'], 1, t.path('a.conf')),
        dir('ServerRoot', [t.path('other')], 2, main, `"${t.path('other')}"`),
        dir('X', ['other'], 1, t.path('other/a.conf')),
      ]);
      assert.equal(r.serverRoot, t.path('other'));
    });
  });

  it('reports a ServerRoot that is not a directory and keeps the old one', () => {
    withTree({ 'file': '' }, (t) => {
      const main = t.write('main.conf', `ServerRoot ${t.path('file')}\nServerRoot\n`);
      const r = parseFile(t, 'main.conf');
      assert.deepEqual(where(r.errors), [
        [`${main}:1`, 'ServerRoot'],
        [`${main}:2`, 'ServerRoot'],
      ]);
      assert.equal(r.errors[0]!.message, `ServerRoot must be a valid directory: ${t.path('file')} does not exist or is not a directory; give the absolute path of an existing directory`);
      assert.equal(r.serverRoot, t.root);
      assert.deepEqual(r.nodes.map((n) => n.name), ['ServerRoot', 'ServerRoot']);
    });
  });

  it('warns about ServerRoot inside a section but applies it, as httpd does', () => {
    withTree({}, (t) => {
      const main = t.write('main.conf', `<VirtualHost *>\nServerRoot ${t.path('sub')}\n</VirtualHost>\n`);
      t.mkdir('sub');
      const r = parseFile(t, 'main.conf');
      assert.deepEqual(where(r.warnings), [[`${main}:2`, 'ServerRoot']]);
      assert.match(r.warnings[0]!.message, /inside <VirtualHost> still changes the global ServerRoot/);
      assert.equal(r.serverRoot, t.path('sub'));
    });
  });

  it('tests IfFile against the current ServerRoot, with negation', () => {
    withTree({ 'present.conf': '', 'sub/only-in-sub': '' }, (t) => {
      t.write(
        'main.conf',
        [
          '<IfFile present.conf>', // 1
          'A', // 2
          '</IfFile>',
          '<IfFile !present.conf>', // 4
          'B',
          '</IfFile>',
          '<IfFile missing>', // 7
          'C',
          '</IfFile>',
          `<IfFile "${t.path('sub')}">`, // 10: absolute, and a directory counts
          'D', // 11
          '</IfFile>',
          `ServerRoot ${t.path('sub')}`, // 13
          '<IfFile only-in-sub>', // 14
          'E', // 15
          '</IfFile>',
        ].join('\n'),
      );
      const r = parseFile(t, 'main.conf');
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.nodes.map((n) => `${n.name}@${n.loc.line}`), ['A@2', 'D@11', 'ServerRoot@13', 'E@15']);
    });
  });
});

describe('apache config: fixture files', () => {
  it('parses the checked-in example configuration', () => {
    const fixtures = path.resolve(__dirname, '../../../test/fixtures/apache');
    const r = parseConfigFile('httpd.conf', {
      serverRoot: fixtures,
      defines: ['WSGI_DAEMON'],
      isModuleLoaded: (name) => name === 'mod_wsgi.c' || name === 'wsgi_module',
      env: { APP_HOME: '/srv/app' },
    });
    const file = (rel: string): string => path.join(fixtures, rel);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(r.nodes, [
      dir('ServerName', ['localhost'], 3, file('httpd.conf')),
      dir('Listen', ['8080'], 4, file('httpd.conf')),
      sec('VirtualHost', ['*:8080'], 1, [
        dir('ServerName', ['app.example.com'], 2, file('sites/app.conf')),
        dir('WSGIDaemonProcess', ['app', 'processes=2', 'threads=15', 'python-home=/srv/app/venv', 'display-name=%{GROUP}'], 5, file('sites/app.conf'), 'app processes=2 threads=15             python-home=/srv/app/venv             display-name=%{GROUP}'),
        dir('WSGIProcessGroup', ['app'], 8, file('sites/app.conf')),
        dir('WSGIScriptAlias', ['/', '/srv/app/app.wsgi'], 11, file('sites/app.conf')),
        sec('Directory', ['/srv/app'], 12, [dir('Require', ['all', 'granted'], 13, file('sites/app.conf'))], file('sites/app.conf')),
      ], file('sites/app.conf')),
    ]);
    assert.equal(r.defines.get('PORT'), '8080');
  });
});
