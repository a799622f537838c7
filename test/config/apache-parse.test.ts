import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../../src/config/apache/index.js';
import { dir, FILE, parse, sec, where } from './apache-helpers.js';

describe('apache config syntax: lines', () => {
  it('skips comment and blank lines and ignores surrounding whitespace', () => {
    const r = parse('# a comment\n\n   \t\n   ServerName example.com   \n\t# indented comment\nListen 80\n');
    assert.deepEqual(r.nodes, [dir('ServerName', ['example.com'], 4), dir('Listen', ['80'], 6)]);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings, []);
  });

  it('keeps a # after a directive as arguments, as httpd does', () => {
    const r = parse('Listen 80 # http\n');
    assert.deepEqual(r.nodes, [dir('Listen', ['80', '#', 'http'], 1)]);
  });

  it('joins backslash-continued lines and reports the first physical line', () => {
    const r = parse('A one \\\n  two \\\n  three\nB\n');
    // rawArgs keeps the continued lines' own spacing, as httpd's line reader joins them.
    assert.deepEqual(r.nodes, [dir('A', ['one', 'two', 'three'], 1, undefined, 'one   two   three'), dir('B', [], 4)]);
  });

  it('joins with no space added: the next line continues the same word', () => {
    assert.deepEqual(parse('A ab\\\ncd\n').nodes, [dir('A', ['abcd'], 1)]);
  });

  it('continues only when the backslash is the very last character', () => {
    const r = parse('A x\\ \nB y\n');
    assert.deepEqual(r.nodes, [dir('A', ['x\\'], 1), dir('B', ['y'], 2)]);
  });

  it('accepts CRLF, including a CRLF continuation', () => {
    const r = parse('A 1\r\nB 2 \\\r\n  3\r\nC\r\n');
    assert.deepEqual(r.nodes, [dir('A', ['1'], 1), dir('B', ['2', '3'], 2, undefined, '2   3'), dir('C', [], 4)]);
  });

  it('treats a continued comment as one comment (httpd tests for # after joining)', () => {
    const r = parse('# comment \\\nNotADirective\nReal\n');
    assert.deepEqual(r.nodes, [dir('Real', [], 3)]);
  });

  it('handles a continuation into end of file and a final line without newline', () => {
    assert.deepEqual(parse('A b \\\n').nodes, [dir('A', ['b'], 1)]);
    // Without a newline after it the backslash is just a character (ap_cfg_getline).
    assert.deepEqual(parse('A b\\').nodes, [dir('A', ['b\\'], 1)]);
  });

  it('strips a UTF-8 byte order mark', () => {
    assert.deepEqual(parse('\uFEFFListen 80\n').nodes, [dir('Listen', ['80'], 1)]);
  });
});

describe('apache config syntax: arguments (ap_getword_conf)', () => {
  const args = (line: string): string[] => {
    const r = parse(`D ${line}\n`);
    assert.equal(r.nodes.length, 1);
    return (r.nodes[0] as { args: string[] }).args;
  };

  it('splits on whitespace (spaces and tabs)', () => {
    assert.deepEqual(args('a  b\tc'), ['a', 'b', 'c']);
  });

  it('removes double and single quotes around a word with spaces', () => {
    assert.deepEqual(args(`"a b" 'c d' e`), ['a b', 'c d', 'e']);
  });

  it('un-escapes the quote character inside quotes', () => {
    assert.deepEqual(args(String.raw`"say \"hi\"" 'it\'s' "it\'s"`), ['say "hi"', "it's", String.raw`it\'s`]);
  });

  it('keeps other backslashes but folds a doubled backslash, in and out of quotes', () => {
    assert.deepEqual(args(String.raw`"^/x\.php$" \d+ a\\b "c\\d" "e\\"`), [String.raw`^/x\.php$`, String.raw`\d+`, String.raw`a\b`, String.raw`c\d`, 'e\\']);
  });

  it('treats a quote inside a word as an ordinary character', () => {
    assert.deepEqual(args(`a"b c"`), ['a"b', 'c"']);
  });

  it('ends a quoted word at its closing quote even with text glued after it', () => {
    assert.deepEqual(args(`"a"b 'c'"d"`), ['a', 'b', 'c', 'd']);
  });

  it('takes the rest of the line for an unterminated quote', () => {
    assert.deepEqual(args(`x "abc  def`), ['x', 'abc  def']);
    assert.deepEqual(args(`'a "b" c`), ['a "b" c']);
  });

  it('keeps an empty quoted word as an empty argument', () => {
    assert.deepEqual(args(`"" ''`), ['', '']);
  });
});

describe('apache config syntax: names and sections', () => {
  it('keeps names as written and lower-cases the key', () => {
    const r = parse('servername a\nSERVERNAME b\nServerName c\n');
    assert.deepEqual(r.nodes.map((n) => [n.name, n.key]), [
      ['servername', 'servername'],
      ['SERVERNAME', 'servername'],
      ['ServerName', 'servername'],
    ]);
  });

  it('builds nested sections with arguments and locations', () => {
    const text = [
      '<VirtualHost *:80 *:8080>',
      '  ServerName example.com',
      '  <Directory "/srv/my app">',
      '    <Files ~ "\\.wsgi$">',
      '      Require all granted',
      '    </Files>',
      '  </Directory>',
      '  <Location />',
      '  </Location>',
      '</VirtualHost>',
      'After',
    ].join('\n');
    const r = parse(text);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.nodes, [
      sec('VirtualHost', ['*:80', '*:8080'], 1, [
        dir('ServerName', ['example.com'], 2),
        sec('Directory', ['/srv/my app'], 3, [sec('Files', ['~', '\\.wsgi$'], 4, [dir('Require', ['all', 'granted'], 5)])]),
        sec('Location', ['/'], 8, []),
      ]),
      dir('After', [], 11),
    ]);
  });

  it('matches closing tags case-insensitively and allows sections with no arguments', () => {
    const r = parse('<directory /x>\n<Else>\n</ELSE>\n</DIRECTORY>\n');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.nodes, [sec('directory', ['/x'], 1, [sec('Else', [], 2, [])])]);
  });

  it("keeps a '>' inside a quoted argument", () => {
    const r = parse('<If "%{HTTP_HOST} == \'a>b\'">\n</If>\n');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.nodes, [sec('If', ["%{HTTP_HOST} == 'a>b'"], 1, [])]);
  });

  it("reports a section line that does not end with '>' and still parses its contents", () => {
    const r = parse('<Directory /x\n  Require all granted\n</Directory>\n');
    assert.deepEqual(where(r.errors), [[`${FILE}:1`, '<Directory>']]);
    assert.match(r.errors[0]!.message, /^<Directory> directive missing closing '>'; the line must end with '>'/);
    assert.deepEqual(r.nodes, [sec('Directory', ['/x'], 1, [dir('Require', ['all', 'granted'], 2)])]);
  });

  it("reports text after the closing '>'", () => {
    const r = parse('A\n<Directory /x> Require all granted\n</Directory>\n');
    assert.deepEqual(where(r.errors), [[`${FILE}:2`, '<Directory>']]);
    assert.match(r.errors[0]!.message, /missing closing '>'/);
  });

  it('reports a stray closing tag and names the missing opener', () => {
    const r = parse('A\n</Directory>\nB\n');
    assert.deepEqual(where(r.errors), [[`${FILE}:2`, '</Directory>']]);
    assert.match(r.errors[0]!.message, /^<\/Directory> without matching <Directory> section; remove it, or add/);
    assert.deepEqual(r.nodes, [dir('A', [], 1), dir('B', [], 3)]);
  });

  it('reports a mismatched closing tag naming both sections, and recovers', () => {
    const r = parse('<VirtualHost *>\n<Directory /x>\nA\n</VirtualHost>\nB\n');
    assert.deepEqual(where(r.errors), [[`${FILE}:4`, '</VirtualHost>']]);
    assert.match(r.errors[0]!.message, /^Expected <\/Directory> but saw <\/VirtualHost>; <Directory> was opened on line 2/);
    // </VirtualHost> closed both, so B is back at the top level.
    assert.deepEqual(r.nodes, [sec('VirtualHost', ['*'], 1, [sec('Directory', ['/x'], 2, [dir('A', [], 3)])]), dir('B', [], 5)]);
  });

  it('takes a closing tag that matches nothing open as a misspelled close of the innermost section', () => {
    const r = parse('<Directory /x>\nA\n</Directroy>\nB\n');
    assert.deepEqual(where(r.errors), [[`${FILE}:3`, '</Directroy>']]);
    assert.match(r.errors[0]!.message, /^Expected <\/Directory> but saw <\/Directroy>; <Directory> was opened on line 1 and must be closed before <\/Directroy>$/);
    assert.deepEqual(r.nodes, [sec('Directory', ['/x'], 1, [dir('A', [], 2)]), dir('B', [], 4)]);
  });

  it('reports every section left open at end of file, at the line it opened on', () => {
    const r = parse('A\n<VirtualHost *>\n  <Directory /x>\n  B\n');
    assert.deepEqual(where(r.errors), [
      [`${FILE}:2`, '<VirtualHost>'],
      [`${FILE}:3`, '<Directory>'],
    ]);
    assert.equal(r.errors[0]!.message, `<VirtualHost> section opened on line 2 was not closed; add </VirtualHost> before the end of ${FILE}`);
    assert.equal(r.errors[1]!.message, `<Directory> section opened on line 3 was not closed; add </Directory> before the end of ${FILE}`);
  });

  it("reports a closing tag without '>', an empty name, and text after a closing tag", () => {
    const r = parse('<Directory /x>\n</Directory\n<>\n</>\n<Location />\n</Location> junk\n');
    assert.deepEqual(where(r.errors), [
      [`${FILE}:2`, '</Directory>'],
      [`${FILE}:3`, '<'],
      [`${FILE}:4`, '</>'],
    ]);
    assert.match(r.errors[0]!.message, /^<\/Directory directive missing closing '>'; write the closing tag as <\/Directory>$/);
    assert.match(r.errors[1]!.message, /^Section name missing after '<'/);
    assert.match(r.errors[2]!.message, /^Closing tag without a section name/);
    assert.deepEqual(where(r.warnings), [[`${FILE}:6`, '</Location>']]);
    assert.match(r.warnings[0]!.message, /^Text after <\/Location> is ignored \(junk\)/);
    assert.deepEqual(r.nodes, [sec('Directory', ['/x'], 1, []), sec('Location', ['/'], 5, [])]);
  });

  it('does not overflow on very deep nesting', () => {
    const depth = 20000;
    const r = parse('<a>\n'.repeat(depth) + '</a>\n'.repeat(depth));
    assert.deepEqual(r.errors, []);
    let n = r.nodes[0];
    let levels = 0;
    while (n && n.kind === 'section') {
      levels++;
      n = n.children[0];
    }
    assert.equal(levels, depth);
  });
});

describe('apache config syntax: Define, UnDefine and ${VAR}', () => {
  it('substitutes Define values, then environment variables, before splitting into words', () => {
    const r = parse('Define root "/srv/my site"\nDefine pair "a b"\nDocumentRoot ${root}/htdocs\nX ${pair} ${HOME}\n', {
      env: { HOME: '/home/u', root: '/from-env' },
    });
    assert.deepEqual(r.nodes, [dir('DocumentRoot', ['/srv/my', 'site/htdocs'], 3), dir('X', ['a', 'b', '/home/u'], 4)]);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual([...r.defines], [['root', '/srv/my site'], ['pair', 'a b']]);
  });

  it('substitutes inside quotes and in directive and section names', () => {
    const r = parse('Define d Directory\nDefine n Server\n<${d} "/x/${n}">\n${n}Name a\n</${d}>\n');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.nodes, [sec('Directory', ['/x/Server'], 3, [dir('ServerName', ['a'], 4)])]);
  });

  it('warns about an undefined variable and leaves it as written', () => {
    const r = parse('A\nLogFile ${LOGDIR}/x ${ALSO}\n');
    assert.deepEqual(r.nodes, [dir('A', [], 1), dir('LogFile', ['${LOGDIR}/x', '${ALSO}'], 2)]);
    assert.deepEqual(where(r.warnings), [
      [`${FILE}:2`, 'LogFile'],
      [`${FILE}:2`, 'LogFile'],
    ]);
    assert.match(r.warnings[0]!.message, /^Config variable \$\{LOGDIR\} is not defined, so it is left as written; define it with "Define LOGDIR value" or set the environment variable LOGDIR/);
    assert.match(r.warnings[1]!.message, /^Config variable \$\{ALSO\} is not defined/);
    assert.deepEqual(r.errors, []);
  });

  it('applies Define and UnDefine in order and keeps them out of the tree', () => {
    const r = parse('A ${v}\nDefine v 1\nB ${v}\nUnDefine v\nC ${v}\n');
    assert.deepEqual(r.nodes, [dir('A', ['${v}'], 1), dir('B', ['1'], 3), dir('C', ['${v}'], 5)]);
    assert.deepEqual(where(r.warnings), [
      [`${FILE}:1`, 'A'],
      [`${FILE}:5`, 'C'],
    ]);
    assert.deepEqual([...r.defines], []);
  });

  it('gives Define precedence over the environment', () => {
    const r = parse('Define X def\nA ${X}\nUnDefine X\nB ${X}\n', { env: { X: 'env' } });
    assert.deepEqual(r.nodes, [dir('A', ['def'], 2), dir('B', ['env'], 4)]);
  });

  it('treats a Define without value as defined for IfDefine but not as a ${} value (as httpd)', () => {
    const r = parse('Define FLAG\n<IfDefine FLAG>\nA ${FLAG}\n</IfDefine>\n');
    assert.deepEqual(r.nodes, [dir('A', ['${FLAG}'], 3)]);
    assert.equal(r.warnings.length, 1);
    assert.deepEqual([...r.defines], [['FLAG', '']]);
  });

  it('does not rescan substituted text and leaves ${ without } alone', () => {
    const r = parse('Define a ${b}\nDefine b x\nA ${a} $HOME ${unterminated\n');
    assert.deepEqual(r.nodes, [dir('A', ['${b}', '$HOME', '${unterminated'], 3)]);
    // Only Define a ${b} itself warned (b was not defined yet).
    assert.deepEqual(where(r.warnings), [[`${FILE}:1`, 'Define']]);
  });

  it('does not warn for names with a colon (RewriteMap-style ${map:key})', () => {
    const r = parse('RewriteRule ^/(.*) ${map:$1}\n');
    assert.deepEqual(r.nodes, [dir('RewriteRule', ['^/(.*)', '${map:$1}'], 1)]);
    assert.deepEqual(r.warnings, []);
  });

  it('lists -D names in defines and lets Define give them a value or UnDefine remove them', () => {
    const r = parse('Define B 2\nUnDefine C\n', { defines: ['A', 'C'] });
    assert.deepEqual([...r.defines].sort(), [['A', ''], ['B', '2']]);
  });

  it('reports Define / UnDefine with wrong arguments', () => {
    const r = parse('Define\nDefine a b c\nDefine a:b 1\nUnDefine\nUnDefine x y\nDefine ""\n');
    assert.deepEqual(where(r.errors), [
      [`${FILE}:1`, 'Define'],
      [`${FILE}:2`, 'Define'],
      [`${FILE}:3`, 'Define'],
      [`${FILE}:4`, 'UnDefine'],
      [`${FILE}:5`, 'UnDefine'],
      [`${FILE}:6`, 'Define'],
    ]);
    assert.match(r.errors[0]!.message, /^Define takes one or two arguments: Define NAME \[value\]/);
    assert.match(r.errors[2]!.message, /^Variable name must not contain ':'/);
    assert.match(r.errors[3]!.message, /^UnDefine takes exactly one argument: UnDefine NAME/);
    assert.deepEqual(r.nodes, []);
  });

  it('ignores a line that substitution leaves empty', () => {
    const r = parse('Define E ""\n${E}\nA\n');
    assert.deepEqual(r.nodes, [dir('A', [], 3)]);
  });
});

describe('apache config syntax: IfDefine and IfModule', () => {
  const mods = (name: string): boolean => name === 'mod_wsgi.c' || name === 'alias_module';

  it('splices true IfDefine contents into the parent and drops false ones', () => {
    const r = parse('<IfDefine ON>\nA\n</IfDefine>\n<IfDefine OFF>\nB\n</IfDefine>\nC\n', { defines: ['ON'] });
    assert.deepEqual(r.nodes, [dir('A', [], 2), dir('C', [], 7)]);
    assert.deepEqual(r.errors, []);
  });

  it('honours negation, also with a space after !', () => {
    const r = parse('<IfDefine !ON>\nA\n</IfDefine>\n<IfDefine !OFF>\nB\n</IfDefine>\n<IfDefine ! OFF>\nC\n</IfDefine>\n', {
      defines: ['ON'],
    });
    assert.deepEqual(r.nodes, [dir('B', [], 5), dir('C', [], 8)]);
  });

  it('asks the caller about IfModule names exactly as written', () => {
    const asked: string[] = [];
    const r = parse(
      '<IfModule mod_wsgi.c>\nA\n</IfModule>\n<IfModule wsgi_module>\nB\n</IfModule>\n<IfModule !mod_ssl.c>\nC\n</IfModule>\n<IfModule "alias_module">\nD\n</IfModule>\n',
      { isModuleLoaded: (n) => (asked.push(n), mods(n)) },
    );
    assert.deepEqual(r.nodes, [dir('A', [], 2), dir('C', [], 8), dir('D', [], 11)]);
    assert.deepEqual(asked, ['mod_wsgi.c', 'wsgi_module', 'mod_ssl.c', 'alias_module']);
  });

  it('nests conditionals and splices into an enclosing real section', () => {
    const text = [
      '<VirtualHost *:80>', // 1
      '  <IfModule mod_wsgi.c>', // 2
      '    <IfDefine DAEMON>', // 3
      '      WSGIDaemonProcess app', // 4
      '    </IfDefine>', // 5
      '    <IfDefine !DAEMON>', // 6
      '      WSGIRestrictEmbedded Off', // 7
      '    </IfDefine>', // 8
      '    WSGIScriptAlias / /srv/app.wsgi', // 9
      '  </IfModule>', // 10
      '</VirtualHost>', // 11
    ].join('\n');
    const r = parse(text, { isModuleLoaded: mods, defines: ['DAEMON'] });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.nodes, [
      sec('VirtualHost', ['*:80'], 1, [dir('WSGIDaemonProcess', ['app'], 4), dir('WSGIScriptAlias', ['/', '/srv/app.wsgi'], 9)]),
    ]);
  });

  it('does nothing inside a false branch: no Define, no substitution warnings, no Include', () => {
    const r = parse('<IfDefine NOPE>\nDefine X 1\nA ${UNDEFINED}\nInclude /does/not/exist\n<Directory ${ALSO}>\n</Directory>\n</IfDefine>\nB ${X}\n');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(where(r.warnings), [[`${FILE}:8`, 'B']]);
    assert.deepEqual(r.nodes, [dir('B', ['${X}'], 8)]);
    assert.deepEqual([...r.defines], []);
  });

  it('still requires a false branch to be balanced', () => {
    const r = parse('<IfDefine NOPE>\n<Directory /x>\n</Location>\n</IfDefine>\nA\n');
    assert.deepEqual(where(r.errors), [[`${FILE}:3`, '</Location>']]);
    assert.match(r.errors[0]!.message, /^Expected <\/Directory> but saw <\/Location>/);
    assert.deepEqual(r.nodes, [dir('A', [], 5)]);
  });

  it('reports an unclosed conditional at the line it opened on', () => {
    const r = parse('A\n<IfModule mod_x.c>\nB\n');
    assert.deepEqual(where(r.errors), [[`${FILE}:2`, '<IfModule>']]);
    assert.match(r.errors[0]!.message, /^<IfModule> section opened on line 2 was not closed; add <\/IfModule>/);
    const t = parse('<IfDefine ON>\nB\n', { defines: ['ON'] });
    assert.deepEqual(where(t.errors), [[`${FILE}:1`, '<IfDefine>']]);
    assert.deepEqual(t.nodes, [dir('B', [], 2)]);
  });

  it('reports a missing argument and skips the contents', () => {
    const r = parse('<IfDefine>\nA\n</IfDefine>\n<IfModule !>\nB\n</IfModule>\n<IfFile "">\nC\n</IfFile>\n');
    assert.deepEqual(where(r.errors), [
      [`${FILE}:1`, '<IfDefine>'],
      [`${FILE}:4`, '<IfModule>'],
      [`${FILE}:7`, '<IfFile>'],
    ]);
    assert.match(r.errors[0]!.message, /^<IfDefine> directive requires additional arguments: write <IfDefine NAME> or <IfDefine !NAME>/);
    assert.match(r.errors[1]!.message, /^<IfModule> directive requires additional arguments: write <IfModule name>/);
    assert.match(r.errors[2]!.message, /^<IfFile> directive requires additional arguments: write <IfFile path>/);
    assert.deepEqual(r.nodes, []);
  });

  it('warns that only the first IfModule argument is tested', () => {
    const r = parse('<IfModule mod_wsgi.c mod_ssl.c>\nA\n</IfModule>\n', { isModuleLoaded: mods });
    assert.deepEqual(r.nodes, [dir('A', [], 2)]);
    assert.deepEqual(where(r.warnings), [[`${FILE}:1`, '<IfModule>']]);
    assert.match(r.warnings[0]!.message, /tests only its first argument 'mod_wsgi.c'; 'mod_ssl.c' ignored/);
  });

  it('leaves IfDirective / IfSection to the semantic layer as ordinary sections', () => {
    const r = parse('<IfDirective WSGIDaemonProcess>\nA\n</IfDirective>\n');
    assert.deepEqual(r.nodes, [sec('IfDirective', ['WSGIDaemonProcess'], 1, [dir('A', [], 2)])]);
  });
});

describe('formatDiagnostic', () => {
  it('prints file:line: directive: message', () => {
    assert.equal(
      formatDiagnostic({ loc: { file: '/etc/x.conf', line: 12 }, directive: 'WSGIDaemonProcess', message: 'bad' }),
      '/etc/x.conf:12: WSGIDaemonProcess: bad',
    );
    assert.equal(formatDiagnostic({ loc: { file: '/etc/x.conf', line: 0 }, directive: '', message: 'unreadable' }), '/etc/x.conf: unreadable');
  });
});
