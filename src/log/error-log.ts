import type { LogLevelName } from '../config/model';
import { errorLogTime, nowMicros } from './apache-time';
import type { LineSink } from './sink';

export const LOG_LEVELS: readonly LogLevelName[] = ['emerg', 'alert', 'crit', 'error', 'warn', 'notice', 'info', 'debug'];

export function levelRank(level: LogLevelName): number {
  return LOG_LEVELS.indexOf(level);
}

export function isLogLevel(value: string): value is LogLevelName {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** Who a log line is about: the process and thread that wrote it, and the client it served. */
export interface LogContext {
  pid?: number;
  tid?: number;
  /** "ip:port" of the client. */
  client?: string;
  /** The id of the request the line is about (Apache's %L). */
  requestId?: string;
}

/**
 * An Apache-format error log: "[time] [module:level] [pid N:tid N] [request_id ID] [client ip:port] message",
 * filtered by LogLevel with per-module overrides (LogLevel warn wsgi:info).
 */
export class ErrorLog {
  private readonly defaultRank: number;
  private readonly moduleRanks: Map<string, number>;

  constructor(
    private readonly sink: LineSink,
    level: LogLevelName,
    moduleLevels: Record<string, LogLevelName> = {},
  ) {
    this.defaultRank = levelRank(level);
    this.moduleRanks = new Map(Object.entries(moduleLevels).map(([module, lvl]) => [module, levelRank(lvl)]));
  }

  get description(): string {
    return this.sink.description;
  }

  enabled(module: string, level: LogLevelName): boolean {
    return levelRank(level) <= (this.moduleRanks.get(module) ?? this.defaultRank);
  }

  /** Logs a message; each line of a multi-line message becomes its own log line, as in Apache. */
  log(module: string, level: LogLevelName, message: string, context: LogContext = {}): void {
    if (!this.enabled(module, level)) return;
    const pid = context.pid ?? process.pid;
    const tid = context.tid ?? pid;
    const prefix =
      `[${errorLogTime(nowMicros())}] [${module}:${level}] [pid ${pid}:tid ${tid}] ` +
      (context.requestId ? `[request_id ${context.requestId}] ` : '') +
      (context.client ? `[client ${context.client}] ` : '');
    for (const line of message.split('\n')) {
      if (line.length > 0) this.sink.write(prefix + line);
    }
  }

  error(module: string, message: string, context?: LogContext): void {
    this.log(module, 'error', message, context);
  }

  warn(module: string, message: string, context?: LogContext): void {
    this.log(module, 'warn', message, context);
  }

  notice(module: string, message: string, context?: LogContext): void {
    this.log(module, 'notice', message, context);
  }

  info(module: string, message: string, context?: LogContext): void {
    this.log(module, 'info', message, context);
  }

  debug(module: string, message: string, context?: LogContext): void {
    this.log(module, 'debug', message, context);
  }

  flush(): void {
    this.sink.flush();
  }

  close(): void {
    this.sink.close();
  }
}
