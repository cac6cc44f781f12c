// Playground. Text models stream: model, system prompt, temperature; deltas are shown as they
// arrive and Stop aborts the fetch, which makes the gateway cancel the upstream request. Image models
// make an image from the prompt and tts models speak the text: a media job (POST /api/v2/generate
// with `wait: 0`, then GET /api/v2/generate/{id} until it ends), shown as an image or an audio player;
// Stop cancels a job still pending, from the moment it is submitted.
import { html, useEffect, useRef, useState, credits, fmt, modelLock } from '../lib.js';
import { api, publicApi, streamGeneration } from '../api.js';
import { ResultMedia } from './media.js';

/** Media categories the playground can run, and what its message box is for. */
const MEDIA = {
  image: { verb: 'Generate', placeholder: 'Describe the image…', label: 'Prompt' },
  tts: { verb: 'Speak', placeholder: 'Text to speak…', label: 'Text to speak' },
};
const playable = (m) => (m.category === 'text' && m.supports_streaming) || m.category in MEDIA;
/**
 * Polling a job: soon at first, so a quick one (local speech) shows at once, then every 1.5 s. The
 * submit does not wait for the job (`wait: 0`): a client that leaves does not stop a job, so Stop
 * needs its id, which a waiting request would only give when its wait is over.
 */
const POLL_MS = [250, 500, 1000, 1500];
const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });

/** The picker's groups: usable models first, then plan-locked, then unavailable (both disabled). */
const GROUPS = [
  { kind: null, label: 'Available on your plan' },
  { kind: 'plan', label: 'Needs a higher plan' },
  { kind: 'unavailable', label: 'Unavailable on this gateway' },
];

function ModelOption({ m, lock }) {
  const text = `${m.name} (${m.slug})${m.category === 'text' ? '' : ` · ${m.category}`} · ${credits(m.token_cost)}${lock ? ` · ${lock.reason}` : ''}`;
  return html`<option value=${m.slug} disabled=${!!lock} data-lock=${lock?.kind ?? ''} data-category=${m.category} title=${lock?.reason}>${text}</option>`;
}

export function Playground({ me, refreshMe }) {
  const [models, setModels] = useState([]);
  const [model, setModel] = useState('');
  const [system, setSystem] = useState('You are a helpful assistant.');
  const [temperature, setTemperature] = useState(0.7);
  const [prompt, setPrompt] = useState('');
  const [output, setOutput] = useState('');
  const [deltas, setDeltas] = useState(0);
  // idle | streaming | done | stopped | error
  const [state, setState] = useState('idle');
  const [info, setInfo] = useState(null);
  // The finished media generation (image, speech) to show.
  const [media, setMedia] = useState(null);
  // The pending media job Stop cancels.
  const [jobId, setJobId] = useState(null);
  const controller = useRef(null);
  const selected = models.find((m) => m.slug === model);
  // image | tts for a media model (a job), null for a streaming text model.
  const mediaKind = selected && selected.category in MEDIA ? selected.category : null;
  const mode = MEDIA[mediaKind];

  useEffect(() => {
    publicApi('/api/v2/models').then((r) => {
      const usable = r.models.filter(playable);
      setModels(usable);
      setModel((cur) => cur || usable.find((m) => m.category === 'text' && !modelLock(m, me.plan))?.slug || '');
    });
    return () => controller.current?.abort();
  }, []);

  /** A media job: submit, then poll until it is no longer pending. */
  const runJob = async (abort) => {
    let g = await api('/api/v2/generate', { method: 'POST', body: { model, prompt, wait: 0 }, signal: abort.signal });
    setInfo({ id: g.id });
    for (let polls = 0; g.status === 'pending'; polls++) {
      setJobId(g.id);
      await sleep(POLL_MS[Math.min(polls, POLL_MS.length - 1)], abort.signal);
      g = await api(`/api/v2/generate/${g.id}`, { signal: abort.signal });
    }
    setJobId(null);
    if (g.status === 'failed') throw Object.assign(new Error(g.error || 'the generation failed'), { generationId: g.id });
    setMedia(g);
    setInfo({ id: g.id, tokens: g.tokens_spent, balance: g.balance_remaining });
  };

  const send = async (e) => {
    e?.preventDefault();
    if (!prompt.trim() || !model || state === 'streaming') return;
    const abort = new AbortController();
    controller.current = abort;
    setOutput('');
    setDeltas(0);
    setInfo(null);
    setMedia(null);
    setJobId(null);
    setState('streaming');
    let generationId = null;
    try {
      if (mediaKind) {
        await runJob(abort);
        setState('done');
        return;
      }
      const body = { model, messages: [...(system.trim() ? [{ role: 'system', content: system }] : []), { role: 'user', content: prompt }], temperature };
      await streamGeneration(body, {
        signal: abort.signal,
        onEvent(ev) {
          if (ev.type === 'generation_start') generationId = ev.id;
          else if (ev.type === 'content_delta') {
            setOutput((o) => o + ev.delta);
            setDeltas((n) => n + 1);
          } else if (ev.type === 'generation_end') setInfo({ id: ev.id, tokens: ev.tokens_spent, balance: ev.balance_remaining });
          else if (ev.type === 'error') throw Object.assign(new Error(ev.message), { code: ev.code });
        },
      });
      setState('done');
    } catch (err) {
      if (abort.signal.aborted) {
        setState('stopped');
        setInfo((cur) => (generationId ? { id: generationId } : cur?.id ? { id: cur.id } : null));
      } else {
        setState('error');
        setInfo((cur) => ({ id: generationId ?? err.generationId ?? cur?.id ?? null, error: err.message }));
      }
    } finally {
      // After an error event the response may still be open: close it (a no-op once complete).
      abort.abort();
      controller.current = null;
      refreshMe();
    }
  };
  const stop = () => {
    // A pending job is cancelled at the gateway (its hold released); the page stops polling.
    if (jobId) api(`/api/v2/generate/${jobId}/cancel`, { method: 'POST', body: {} }).catch(() => {});
    controller.current?.abort();
  };
  const streaming = state === 'streaming';
  const locks = new Map(models.map((m) => [m.slug, modelLock(m, me.plan)]));

  const lockCount = (kind) => [...locks.values()].filter((l) => l?.kind === kind).length;

  return html`
    <section class="playground">
      <form class="card controls" onSubmit=${send}>
        <h2>Playground</h2>
        <label for="pg-model">Model</label>
        <select id="pg-model" value=${model} onChange=${(e) => setModel(e.currentTarget.value)} disabled=${streaming}>
          ${GROUPS.map((g) => {
            const ms = models.filter((m) => (locks.get(m.slug)?.kind ?? null) === g.kind);
            return ms.length > 0 && html`<optgroup label=${g.label}>${ms.map((m) => html`<${ModelOption} m=${m} lock=${locks.get(m.slug)} />`)}</optgroup>`;
          })}
        </select>
        <p class="hint model-note" data-testid="model-note">
          ${selected ? `${credits(selected.token_cost)} per request · ${selected.min_plan} plan and up · ` : ''}Your plan: <span class="capitalize">${me.plan}</span>.
          ${lockCount('plan') > 0 && ` ${lockCount('plan')} need a higher plan.`}
          ${lockCount('unavailable') > 0 && ` ${lockCount('unavailable')} unavailable here.`}
        </p>
        ${
          !mode &&
          html`
          <label for="pg-system">System prompt</label>
          <textarea id="pg-system" rows="3" value=${system} onInput=${(e) => setSystem(e.currentTarget.value)} disabled=${streaming}></textarea>
          <label for="pg-temperature">Temperature <output>${temperature.toFixed(1)}</output></label>
          <input id="pg-temperature" type="range" min="0" max="2" step="0.1" value=${temperature}
            onInput=${(e) => setTemperature(Number(e.currentTarget.value))} disabled=${streaming} />`
        }
        <label for="pg-prompt">${mode ? mode.label : 'Message'}</label>
        <textarea id="pg-prompt" rows="5" placeholder=${mode ? mode.placeholder : 'Ask something…'} value=${prompt} onInput=${(e) => setPrompt(e.currentTarget.value)}
          onKeyDown=${(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send(e);
          }} disabled=${streaming}></textarea>
        <div class="actions">
          <button class="primary" type="submit" data-testid="pg-send" disabled=${streaming || !prompt.trim() || !model || !!locks.get(model)}>${mode ? mode.verb : 'Send'}</button>
          <button class="danger" type="button" onClick=${stop} disabled=${!streaming || (mediaKind && !jobId)}>Stop</button>
          <span class="hint">Ctrl+Enter sends</span>
        </div>
      </form>
      <div class="card output-card">
        <div class="card-head">
          <h2>Response</h2>
          <span class=${`badge state-${state}`} data-testid="stream-state">${{ idle: 'Ready', streaming: mode ? 'Generating…' : 'Streaming…', done: 'Done', stopped: 'Stopped', error: 'Error' }[state]}</span>
        </div>
        ${
          mode
            ? html`<div class="output" data-testid="output" aria-live="polite">${
                media
                  ? html`<${ResultMedia} g=${media} testid="pg-result" />`
                  : html`<span class="muted">${streaming ? (jobId ? `Generation #${jobId} is running…` : 'Generating…') : mediaKind === 'tts' ? 'The speech plays here when it is ready.' : 'The image appears here when it is ready.'}</span>`
              }</div>`
            : html`<div class="output" data-testid="output" aria-live="polite">${output || html`<span class="muted">${streaming ? 'Waiting for the first token…' : 'The answer streams here as it is generated.'}</span>`}</div>`
        }
        <div class="output-meta" data-testid="output-meta">
          ${deltas > 0 && html`<span>${fmt(deltas)} deltas</span>`}
          ${info?.id && html`<span>Generation <a href="#/history">#${info.id}</a></span>`}
          ${info?.tokens !== undefined && html`<span>${credits(info.tokens)} charged · balance ${credits(info.balance)}</span>`}
          ${state === 'stopped' && !mode && html`<span>Stopped: the upstream request was closed. Content already delivered is charged (see History).</span>`}
          ${state === 'stopped' && mode && html`<span>Stopped: the job was cancelled and its credits released (see History).</span>`}
          ${info?.error && html`<span class="error">${info.error}</span>`}
        </div>
      </div>
    </section>`;
}
