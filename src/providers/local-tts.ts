// Speech in-process with eSpeak NG (provider type "local-tts", enabled without any env): English,
// Russian and the other eSpeak voices, WAV out, priced by characters. The synthesis runs in one
// worker thread (local-tts-worker.ts), started on first use and one job at a time.
import { Worker } from 'node:worker_threads';
import type { ProviderConfig } from './config.js';
import { mediaOnlyProvider, num, str } from './media-http.js';
import { ProviderError, type MediaKind, type MediaProgress, type MediaRequest, type Provider } from './spec.js';
import type { SpeakAnswer, SpeakJob } from './local-tts-worker.js';

/** eSpeak's default speed; `speed` 1.0 maps to it. */
const BASE_WPM = 175;
/** Voice names as eSpeak spells them: "en", "en-us", "ru", "de+f3" (variant). */
const VOICE = /^[a-z]{2,3}(-[a-z0-9]{2,8})*(\+[a-z0-9]{1,8})?$/i;

/** The Style C options start() and voiceOf read (src/providers/media-options.ts); eSpeak makes WAV only, so `format` is not one. */
const SPEECH_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'speed', 'voice_id', 'language']);

export function localTtsMediaOptions(kind: MediaKind): ReadonlySet<string> {
  return kind === 'tts' ? SPEECH_OPTIONS : new Set();
}

export function localTtsProvider(id: string, _cfg: ProviderConfig): Provider {
  let worker: Worker | undefined;
  let nextId = 0;
  const pending = new Map<number, { resolve(wav: Uint8Array): void; reject(err: unknown): void }>();

  function ensureWorker(): Worker {
    if (worker) return worker;
    const w = new Worker(new URL('./local-tts-worker.js', import.meta.url));
    w.on('message', (a: SpeakAnswer) => {
      const p = pending.get(a.id);
      pending.delete(a.id);
      if (pending.size === 0) w.unref();
      if ('error' in a) p?.reject(new ProviderError(`local speech failed: ${a.error}`, { retryable: false }));
      else p?.resolve(new Uint8Array(a.wav));
    });
    w.on('error', (err) => failAll(new ProviderError(`local speech worker failed: ${err.message}`, { cause: err })));
    w.on('exit', () => {
      if (worker === w) worker = undefined;
      failAll(new ProviderError('local speech worker exited'));
    });
    worker = w;
    return w;
  }

  function failAll(err: ProviderError): void {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  }

  function speak(job: Omit<SpeakJob, 'id'>, signal: AbortSignal): Promise<Uint8Array> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const w = ensureWorker();
    const jobId = ++nextId;
    // The worker holds the process open only while it has work.
    w.ref();
    return new Promise((resolve, reject) => {
      // A job cannot be stopped mid-synthesis (under a second); an abort just stops waiting for it.
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => signal.removeEventListener('abort', onAbort);
      pending.set(jobId, {
        resolve: (v) => {
          done();
          resolve(v);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      w.postMessage({ id: jobId, ...job } satisfies SpeakJob);
    });
  }

  const media = {
    async start(req: MediaRequest): Promise<MediaProgress> {
      if (req.kind !== 'tts') throw new ProviderError(`local speech serves tts models only, not ${req.kind}`, { status: 400, retryable: false });
      const text = req.prompt ?? '';
      const speed = num(req.options, 'speed') ?? 1;
      const wav = await speak({ text, voice: voiceOf(req, text), wordsPerMinute: Math.round(Math.min(4, Math.max(0.25, speed)) * BASE_WPM) }, req.signal);
      const duration = wavSeconds(wav);
      return {
        state: 'done',
        result: {
          files: [{ data: wav, mediaType: 'audio/wav', metadata: { format: 'wav', ...(duration !== undefined ? { duration } : {}) } }],
          measured: { characters: [...text].length },
        },
      };
    },
    close: async () => {
      failAll(new ProviderError('local speech closed'));
      await worker?.terminate();
    },
  };
  return { ...mediaOnlyProvider(id, media), isReady: async () => true };
}

/** voice_id when it is an eSpeak voice, else the language option, else Russian for Cyrillic text and English otherwise. */
export function voiceOf(req: MediaRequest, text: string): string {
  for (const key of ['voice_id', 'language']) {
    const v = str(req.options, key);
    if (v && VOICE.test(v)) return v.toLowerCase();
  }
  return /[\u0400-\u04FF]/.test(text) ? 'ru' : 'en';
}

/** Seconds of audio in a PCM WAV: data bytes / byte rate (header fields at fixed offsets for eSpeak's output). */
export function wavSeconds(wav: Uint8Array): number | undefined {
  if (wav.length < 44) return undefined;
  const view = new DataView(wav.buffer, wav.byteOffset, wav.byteLength);
  const byteRate = view.getUint32(28, true);
  return byteRate > 0 ? Math.round(((wav.length - 44) / byteRate) * 1000) / 1000 : undefined;
}
