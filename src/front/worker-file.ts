/**
 * WSGIEnableSendfile: the front end sends a wsgi.file_wrapper's file itself, reading it through
 * its own descriptor for the worker's open file (/proc/PID/fd/N), so the worker thread is free
 * as soon as it has handed the file over. (Node has no sendfile(2): the file is read in large
 * pieces and written to the client with flow control.)
 */
import * as fs from 'node:fs';

/** A descriptor of the same open file as `workerFd` in process `pid` (a process this front end started), or null. */
export function openWorkerFile(pid: number, workerFd: number): number | null {
  let fd = -1;
  try {
    fd = fs.openSync(`/proc/${pid}/fd/${workerFd}`, fs.constants.O_RDONLY);
    if (fs.fstatSync(fd).isFile()) return fd;
    fs.closeSync(fd);
    return null;
  } catch {
    if (fd >= 0) fs.closeSync(fd);
    return null;
  }
}

export interface FileSink {
  /** Writes a piece to the client; false when the client is behind. */
  write(piece: Buffer): boolean;
  /** Calls `resume` once the client has caught up. */
  onceDrained(resume: () => void): void;
  /** The whole range was sent. */
  done(): void;
  /** Reading failed part way. */
  failed(err: Error): void;
}

/** Sends `length` bytes of `fd` from `offset` to `sink`; closes `fd` when done. Returns a stopper. */
export function sendWorkerFile(fd: number, offset: number, length: number, sink: FileSink): () => void {
  const stream = fs.createReadStream('', { fd, start: offset, end: offset + length - 1, highWaterMark: 1024 * 1024, autoClose: true });
  stream.on('data', (piece: Buffer | string) => {
    if (!sink.write(piece as Buffer)) {
      stream.pause();
      sink.onceDrained(() => stream.resume());
    }
  });
  stream.on('end', () => sink.done());
  stream.on('error', (err) => sink.failed(err));
  return () => stream.destroy();
}
