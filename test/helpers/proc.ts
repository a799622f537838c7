import * as fs from 'node:fs';

/**
 * kB resident in `pid`'s mappings that a start-up release drops (native/startup_pages.c,
 * python/wsgi_host/memory.py): private, read-only file mappings holding no copied page.
 */
export function releasableResidentKb(pid: number): number {
  let releasable = false;
  let rss = 0;
  let total = 0;
  const close = (): void => {
    if (releasable) total += rss;
  };
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header !== null) {
      close();
      const [, perms, file] = header;
      releasable = file!.startsWith('/') && perms![1] !== 'w' && perms![3] === 'p';
      rss = 0;
    } else if (line.startsWith('Rss:')) {
      rss = Number(/(\d+)/.exec(line)![1]);
    } else if (line.startsWith('Anonymous:') && Number(/(\d+)/.exec(line)![1]) > 0) {
      releasable = false;
    }
  }
  close();
  return total;
}
