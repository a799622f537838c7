import type { ConfigDiagnostic, SourceLocation } from './types.js';

/**
 * Renders a diagnostic the way compilers and `apachectl configtest` users expect to read it:
 * `/etc/x.conf:12: WSGIDaemonProcess: <message>`. Parts that do not apply (line 0 for a file that
 * could not be read, no directive) are left out rather than printed as noise.
 */
export function formatDiagnostic(d: ConfigDiagnostic): string {
  const where = d.loc.line > 0 ? `${d.loc.file}:${d.loc.line}` : d.loc.file;
  return d.directive ? `${where}: ${d.directive}: ${d.message}` : `${where}: ${d.message}`;
}

/** Collects errors and warnings in the order they are found, which is the order users fix them. */
export class DiagnosticSink {
  readonly errors: ConfigDiagnostic[] = [];
  readonly warnings: ConfigDiagnostic[] = [];

  error(loc: SourceLocation, directive: string, message: string): void {
    this.errors.push({ loc: { ...loc }, directive, message });
  }

  warning(loc: SourceLocation, directive: string, message: string): void {
    this.warnings.push({ loc: { ...loc }, directive, message });
  }
}
