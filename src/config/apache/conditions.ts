import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The parse-time conditional sections httpd evaluates while reading (EXEC_ON_READ in core.c).
 * Their contents are either spliced into the enclosing level or skipped, so the tree handed to
 * the semantic layer never contains them. <IfDirective>/<IfSection> are not here: whether a
 * directive exists is the semantic layer's knowledge, so they stay ordinary sections.
 */

export type ConditionKey = 'ifdefine' | 'ifmodule' | 'iffile';

export interface ConditionContext {
  isDefined(name: string): boolean;
  isModuleLoaded(name: string): boolean;
  serverRoot(): string;
}

export function isConditionKey(key: string): key is ConditionKey {
  return key === 'ifdefine' || key === 'ifmodule' || key === 'iffile';
}

/** What to write, for the "requires additional arguments" message. */
export const CONDITION_USAGE: Record<ConditionKey, string> = {
  ifdefine: '<IfDefine NAME> or <IfDefine !NAME>, NAME given with -D or Define',
  ifmodule: '<IfModule name> or <IfModule !name>, name like mod_wsgi.c or wsgi_module',
  iffile: '<IfFile path> or <IfFile !path>, path absolute or relative to ServerRoot',
};

export function testCondition(key: ConditionKey, arg: string, ctx: ConditionContext): boolean {
  switch (key) {
    case 'ifdefine':
      return ctx.isDefined(arg);
    case 'ifmodule':
      return ctx.isModuleLoaded(arg);
    case 'iffile':
      // Anything that exists counts (file, directory, ...), as with httpd's apr_stat test.
      try {
        fs.statSync(path.resolve(ctx.serverRoot(), arg));
        return true;
      } catch {
        return false;
      }
  }
}
