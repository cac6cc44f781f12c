// Option parsers and options shared by the client commands (`lumengate chat`, `lumengate generate`).
import { InvalidArgumentError, type Command } from 'commander';

/** A commander parser for a number from `min` to `max`; `unit` is said in the error ("seconds"). */
export const numberFrom =
  (min: number, max: number, unit = '') =>
  (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`must be a number ${unit ? `of ${unit} ` : ''}from ${min} to ${max}`);
    return n;
  };

/** --url and --key: which gateway to call and with which key (their environment variables as defaults). */
export const withGateway = (cmd: Command): Command =>
  cmd.option('--url <url>', 'gateway URL (env LUMENGATE_URL)', process.env.LUMENGATE_URL ?? 'http://127.0.0.1:8080').option('--key <key>', 'API key (env LUMENGATE_API_KEY)');
