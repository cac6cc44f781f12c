// A raw HTTP client for SSE tests: the test sees every byte as it arrives and can cut the
// connection at any point (the way a dropped mobile connection does).
import { request, type Agent } from 'node:http';
import { sseFrames } from './harness.js';

export interface RawStream {
  status: number;
  headers: Record<string, unknown>;
  /** The complete frames received so far (a frame cut in half is not one). */
  frames(): Array<{ id?: string; data: any }>;
  /** Resolves once `cond` holds for the frames received (checked on every chunk, no polling). */
  until(cond: (frames: Array<{ id?: string; data: any }>) => boolean): Promise<void>;
  /** Resolves with the whole body when the server ends the response. */
  ended: Promise<string>;
  destroy(): void;
}

/** `agent: false`: a connection of its own, closed after the response (default: Node's keep-alive agent). */
export function rawStream(url: string, opts: { method: 'GET' | 'POST'; key: string; body?: unknown; headers?: Record<string, string>; agent?: Agent | false }): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${opts.key}`, ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers };
    const req = request(url, { method: opts.method, headers, ...(opts.agent !== undefined ? { agent: opts.agent } : {}) }, (res) => {
      let text = '';
      let watchers: Array<() => void> = [];
      const frames = () => sseFrames(text.slice(0, text.lastIndexOf('\n\n') + 2));
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
        watchers.forEach((w) => w());
      });
      res.on('error', () => {});
      const ended = new Promise<string>((r) => res.on('end', () => r(text)));
      resolve({
        status: res.statusCode!,
        headers: res.headers,
        frames,
        ended,
        destroy: () => req.destroy(),
        until: (cond) =>
          new Promise<void>((r, fail) => {
            const check = () => {
              if (!cond(frames())) return;
              watchers = watchers.filter((w) => w !== check);
              r();
            };
            watchers.push(check);
            res.once('close', () => fail(new Error(`stream closed before the condition held: ${text}`)));
            check();
          }),
      });
    });
    req.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e);
    });
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}

/** Checks that frames are one generation's events with consecutive sequence numbers from `from`; returns the text. */
export function contentOf(frames: Array<{ id?: string; data: any }>): string {
  return frames
    .filter((f) => f.data?.type === 'content_delta')
    .map((f) => f.data.delta)
    .join('');
}
