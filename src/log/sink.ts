import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LogTarget } from '../config/model';
import { makeDirectories } from '../util/fs';

/** Somewhere log lines go. */
export interface LineSink {
  write(line: string): void;
  /** Writes out anything held back; called before the process exits. */
  flush(): void;
  close(): void;
  /**
   * Opens its file afresh (after a rotation moved it away), as Apache reopens its logs on a
   * graceful restart; null, or why it could not (the old file then stays in use).
   */
  reopen(): string | null;
  readonly description: string;
}

/**
 * Appends lines to a file. Lines written in one turn of the event loop go out in one write, so a
 * busy access log costs one system call per turn, not one per request.
 */
class FileSink implements LineSink {
  private fd: number;
  private pending: string[] = [];
  private scheduled = false;

  constructor(readonly description: string) {
    makeDirectories(path.dirname(description));
    this.fd = fs.openSync(description, 'a', 0o644);
  }

  write(line: string): void {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0 || this.fd < 0) return;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    try {
      fs.writeSync(this.fd, text);
    } catch (err) {
      process.stderr.write(`wsgi-host: cannot write to log file ${this.description}: ${(err as Error).message}\n`);
    }
  }

  close(): void {
    this.flush();
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  reopen(): string | null {
    this.flush();
    let fd: number;
    try {
      makeDirectories(path.dirname(this.description));
      fd = fs.openSync(this.description, 'a', 0o644);
    } catch (err) {
      return `Cannot reopen the log file ${this.description}: ${(err as Error).message}; lines keep going to the file it had open. Check the directory's permissions for the server's user.`;
    }
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = fd;
    return null;
  }
}

/** Standard streams whose reader has gone (EPIPE): lines for them are dropped. */
const closedStreams = new WeakSet<NodeJS.WriteStream>();
const watchedStreams = new WeakSet<NodeJS.WriteStream>();

/**
 * Without a listener, a write to a standard stream whose reader went away (a closed terminal, a
 * dead pipe) is an uncaught error; logging that error writes to the same stream and fails again,
 * for ever. Once it fails, nothing more is written to it.
 */
function watchForClosedReader(stream: NodeJS.WriteStream): void {
  if (watchedStreams.has(stream)) return;
  watchedStreams.add(stream);
  stream.on('error', () => closedStreams.add(stream));
}

class StreamSink implements LineSink {
  constructor(
    private readonly stream: NodeJS.WriteStream,
    readonly description: string,
  ) {
    watchForClosedReader(stream);
  }

  write(line: string): void {
    if (closedStreams.has(this.stream) || this.stream.destroyed) return;
    this.stream.write(line + '\n');
  }

  flush(): void {}

  close(): void {}

  reopen(): string | null {
    return null;
  }
}

export function openSink(target: LogTarget): LineSink {
  switch (target.kind) {
    case 'stdout':
      return new StreamSink(process.stdout, 'standard output');
    case 'stderr':
      return new StreamSink(process.stderr, 'standard error');
    case 'file':
      return new FileSink(target.path);
  }
}

/** Keeps lines in memory; for tests of the log formats. */
export class MemorySink implements LineSink {
  readonly lines: string[] = [];
  readonly description = 'memory';
  write(line: string): void {
    this.lines.push(line);
  }
  flush(): void {}
  close(): void {}
  reopen(): string | null {
    return null;
  }
}
