import { CONDITION_USAGE, isConditionKey, testCondition } from './conditions.js';
import { logicalLines, trimConfigSpace } from './logical-lines.js';
import type { ParseSession } from './parse-session.js';
import { applyDefine, applyInclude, applyServerRoot, applyUnDefine } from './read-time-directives.js';
import { parseCloseTag, parseOpenTag } from './section-tags.js';
import type { ConfigNode, SectionNode, SourceLocation } from './types.js';
import { expandVariables } from './variables.js';
import { readWord, splitWords } from './words.js';

/**
 * One open `<...>` in the file being read. Sections never span files (httpd builds each file's
 * tree with its own parent chain), so every file has its own stack and must close what it opens.
 * The stack is explicit rather than recursive so deep nesting cannot overflow the JS stack.
 */
interface Frame {
  /**
   * section: a real section node; spliced: a true conditional whose contents join the enclosing
   * level; skipped: a false conditional (or anything inside one), read only to find its end.
   */
  mode: 'section' | 'spliced' | 'skipped';
  name: string;
  key: string;
  loc: SourceLocation;
  /** Where nodes inside this frame go (for `spliced`, the enclosing level's list). */
  children: ConfigNode[];
  /** True when this frame or any enclosing one is skipped; kept per frame to make it O(1). */
  skipping: boolean;
}

export class FileParser {
  private readonly stack: Frame[] = [];

  constructor(
    private readonly session: ParseSession,
    private readonly file: string,
    private readonly root: ConfigNode[],
  ) {}

  parse(text: string): void {
    for (const { text: line, line: lineNo } of logicalLines(text)) {
      const loc = { file: this.file, line: lineNo };
      if (this.top()?.skipping) this.skipLine(line, loc);
      else this.processLine(line, loc);
    }
    for (const frame of this.stack) {
      const tag = `<${frame.name}>`;
      this.session.sink.error(
        frame.loc,
        tag,
        `${tag} section opened on line ${frame.loc.line} was not closed; add </${frame.name}> before the end of ${this.file}`,
      );
    }
  }

  private top(): Frame | undefined {
    return this.stack[this.stack.length - 1];
  }

  private target(): ConfigNode[] {
    return this.top()?.children ?? this.root;
  }

  private push(mode: Frame['mode'], name: string, loc: SourceLocation, children: ConfigNode[]): void {
    const skipping = mode === 'skipped' || (this.top()?.skipping ?? false);
    this.stack.push({ mode, name, key: name.toLowerCase(), loc, children, skipping });
  }

  /**
   * Inside a false conditional httpd only looks for section starts and ends (ap_soak_end_container):
   * no ${VAR} substitution, no Define, no Include, so nothing there can warn or have effects.
   */
  private skipLine(line: string, loc: SourceLocation): void {
    const first = readWord(line, 0).word;
    if (first.startsWith('</')) {
      this.closeSection(line, loc);
    } else if (first.startsWith('<')) {
      const name = parseOpenTag(line).name;
      if (name !== '') this.push('skipped', name, loc, []);
    }
  }

  private processLine(rawLine: string, loc: SourceLocation): void {
    const expansion = expandVariables(rawLine, (name) => this.session.lookupVariable(name));
    const line = trimConfigSpace(expansion.text);
    const first = readWord(line, 0);
    for (const name of expansion.undefinedNames) {
      this.session.sink.warning(
        loc,
        displayName(first.word),
        `Config variable \${${name}} is not defined, so it is left as written; define it with "Define ${name} value" or set the environment variable ${name} before starting the server`,
      );
    }
    if (first.word === '') return; // substitution left nothing (httpd ignores an empty name too)

    if (first.word.startsWith('</')) this.closeSection(line, loc);
    else if (first.word.startsWith('<')) this.openSection(line, loc);
    else this.directive(first.word, splitWords(line.slice(first.end)), line.slice(first.end).trim(), loc);
  }

  private openSection(line: string, loc: SourceLocation): void {
    const tag = parseOpenTag(line);
    const sink = this.session.sink;
    if (tag.name === '') {
      sink.error(loc, '<', `Section name missing after '<'; a section starts with <Name args...> and ends with </Name>`);
      return;
    }
    const display = `<${tag.name}>`;
    if (!tag.wellFormed) {
      // Keep going as if the '>' were there: the matching </Name> most likely follows.
      sink.error(loc, display, `${display} directive missing closing '>'; the line must end with '>' and have nothing after it, as in <${tag.name} arguments>`);
    }

    const key = tag.name.toLowerCase();
    if (isConditionKey(key)) {
      let raw = tag.rawArgs;
      const negate = raw.startsWith('!'); // httpd only honours '!' as the very first character
      if (negate) raw = raw.slice(1);
      const args = splitWords(raw);
      const arg = args[0];
      if (arg === undefined || arg === '') {
        sink.error(loc, display, `${display} directive requires additional arguments: write ${CONDITION_USAGE[key]}`);
        this.push('skipped', tag.name, loc, []);
        return;
      }
      if (args.length > 1) {
        sink.warning(loc, display, `${display} tests only its first argument '${arg}'; ${args.slice(1).map((a) => `'${a}'`).join(', ')} ignored. Nest another ${display} to require several`);
      }
      const holds = testCondition(key, arg, this.session) !== negate;
      if (holds) this.push('spliced', tag.name, loc, this.target());
      else this.push('skipped', tag.name, loc, []);
      return;
    }

    const node: SectionNode = { kind: 'section', name: tag.name, key, args: splitWords(tag.rawArgs), children: [], loc };
    this.target().push(node);
    this.push('section', tag.name, loc, node.children);
  }

  private closeSection(line: string, loc: SourceLocation): void {
    const tag = parseCloseTag(line);
    const display = `</${tag.name}>`;
    const sink = this.session.sink;
    if (!tag.wellFormed) {
      sink.error(loc, display, `</${tag.name} directive missing closing '>'; write the closing tag as ${display}`);
    } else if (tag.trailing !== '') {
      sink.warning(loc, display, `Text after ${display} is ignored (${tag.trailing}); a closing tag must be alone on its line`);
    }
    if (tag.name === '') {
      sink.error(loc, display, `Closing tag without a section name; write </Name> to close the section opened with <Name ...>`);
      return;
    }

    const top = this.top();
    if (top === undefined) {
      sink.error(loc, display, `${display} without matching <${tag.name}> section; remove it, or add the <${tag.name} ...> line it is meant to close`);
      return;
    }
    const key = tag.name.toLowerCase();
    if (top.key === key) {
      this.stack.pop();
      return;
    }
    sink.error(
      loc,
      display,
      `Expected </${top.name}> but saw ${display}; <${top.name}> was opened on line ${top.loc.line} and must be closed before ${display}`,
    );
    // Recover the likely intent so one slip does not cascade into errors for the rest of the
    // file: a tag naming an outer section means the inner ones were left open, so close them
    // all; a tag naming nothing open is most likely a misspelling of the innermost one.
    let match = this.stack.length - 1;
    for (let i = this.stack.length - 1; i >= 0; i--) {
      if (this.stack[i]!.key === key) {
        match = i;
        break;
      }
    }
    this.stack.length = match;
  }

  private directive(name: string, args: string[], rawArgs: string, loc: SourceLocation): void {
    const key = name.toLowerCase();
    const site = { session: this.session, name, args, loc };
    switch (key) {
      case 'define':
        return applyDefine(site);
      case 'undefine':
        return applyUnDefine(site);
      case 'include':
      case 'includeoptional':
        return applyInclude(site, key === 'includeoptional', this.target());
      case 'serverroot':
        applyServerRoot(site, this.stack.find((f) => f.mode === 'section')?.name);
        break; // kept in the tree (httpd drops it after executing it) so the semantic layer sees it
    }
    this.target().push({ kind: 'directive', name, key, args, rawArgs, loc });
  }
}

/** How a line's directive is named in diagnostics: `Include`, `<Directory>`, `</Location>`. */
function displayName(firstWord: string): string {
  if (firstWord.startsWith('</')) return firstWord.endsWith('>') ? firstWord : `${firstWord}>`;
  if (firstWord.startsWith('<')) {
    const name = firstWord.slice(1);
    const gt = name.indexOf('>');
    return `<${gt >= 0 ? name.slice(0, gt) : name}>`;
  }
  return firstWord;
}
