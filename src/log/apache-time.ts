/** Timestamps in the forms Apache writes them. */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** The error log's "Wed Nov 25 11:08:59.123456 2026" (local time, microseconds). */
export function errorLogTime(epochMicros: number): string {
  const date = new Date(Math.floor(epochMicros / 1000));
  const micros = String(Math.floor(epochMicros % 1_000_000)).padStart(6, '0');
  return (
    `${DAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${pad2(date.getDate())} ` +
    `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}.${micros} ${date.getFullYear()}`
  );
}

/** The access log's %t: "25/Nov/2026:11:08:59 +0000" (local time with its offset). */
export function accessLogTime(epochMillis: number): string {
  const date = new Date(epochMillis);
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return (
    `${pad2(date.getDate())}/${MONTHS[date.getMonth()]}/${date.getFullYear()}:` +
    `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())} ` +
    `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`
  );
}

/** Wall-clock time in microseconds since the epoch. */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
