// The logger Fastify gives every request (`req.log`, `reply.log`), made when it is first needed.
// Fastify asks for a pino child per request, and pino's child() serializes the request-id binding
// through the redaction paths (src/logging.ts) on every call: work and garbage on every request,
// although at the usual levels (warn and above) most requests never write a line. The child is
// made the first time a line at an enabled level is written or a grandchild is asked for; what a
// line contains, its bindings and its redaction are pino's, exactly as before.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString, LogFn } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type Parent = FastifyBaseLogger & { isLevelEnabled?(level: LevelWithSilentOrString): boolean };

export class RequestLogger implements FastifyBaseLogger {
  #child: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: Parent,
    private readonly bindings: Bindings,
  ) {}

  /** True once the pino child exists (a line was written at an enabled level, or it was asked for). */
  get made(): boolean {
    return this.#child !== undefined;
  }

  get level(): LevelWithSilentOrString {
    return this.#child?.level ?? this.parent.level;
  }
  set level(level: LevelWithSilentOrString) {
    this.#real().level = level;
  }

  fatal(...args: unknown[]): void {
    this.#write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#write('error', args);
  }
  warn(...args: unknown[]): void {
    this.#write('warn', args);
  }
  info(...args: unknown[]): void {
    this.#write('info', args);
  }
  debug(...args: unknown[]): void {
    this.#write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#write('trace', args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options);
  }

  #real(): FastifyBaseLogger {
    return (this.#child ??= this.parent.child(this.bindings));
  }

  #write(level: Level, args: unknown[]): void {
    // Without isLevelEnabled (not a pino logger) the child is made and decides.
    if (this.#child === undefined && this.parent.isLevelEnabled?.(level) === false) return;
    this.#real()[level](...(args as Parameters<LogFn>));
  }
}

/**
 * Fastify's `childLoggerFactory`: a lazy child for the usual request, pino's own child at once
 * when the route asks for a level or serializers of its own (Fastify passes them as options).
 */
export function requestLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  for (const _ in options) return logger.child(bindings, options);
  return new RequestLogger(logger, bindings);
}
