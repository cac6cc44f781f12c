// Streaming playground: model, system prompt, temperature; deltas are shown as they arrive and
// Stop aborts the fetch, which makes the gateway cancel the upstream request.
import { html, useEffect, useRef, useState, credits, fmt, modelLock } from '../lib.js';
import { publicApi, streamGeneration } from '../api.js';

/** The picker's groups: usable models first, then plan-locked, then unavailable (both disabled). */
const GROUPS = [
  { kind: null, label: 'Available on your plan' },
  { kind: 'plan', label: 'Needs a higher plan' },
  { kind: 'unavailable', label: 'Unavailable on this gateway' },
];

function ModelOption({ m, lock }) {
  const text = `${m.name} (${m.slug}) · ${credits(m.token_cost)}${lock ? ` · ${lock.reason}` : ''}`;
  return html`<option value=${m.slug} disabled=${!!lock} data-lock=${lock?.kind ?? ''} title=${lock?.reason}>${text}</option>`;
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
  const controller = useRef(null);

  useEffect(() => {
    publicApi('/api/v2/models?category=text').then((r) => {
      const streaming = r.models.filter((m) => m.supports_streaming);
      setModels(streaming);
      setModel((cur) => cur || streaming.find((m) => !modelLock(m, me.plan))?.slug || '');
    });
    return () => controller.current?.abort();
  }, []);

  const send = async (e) => {
    e?.preventDefault();
    if (!prompt.trim() || !model || state === 'streaming') return;
    const abort = new AbortController();
    controller.current = abort;
    setOutput('');
    setDeltas(0);
    setInfo(null);
    setState('streaming');
    let generationId = null;
    try {
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
        setInfo(generationId ? { id: generationId } : null);
      } else {
        setState('error');
        setInfo({ id: generationId, error: err.message });
      }
    } finally {
      // After an error event the response may still be open: close it (a no-op once complete).
      abort.abort();
      controller.current = null;
      refreshMe();
    }
  };
  const stop = () => controller.current?.abort();
  const streaming = state === 'streaming';
  const locks = new Map(models.map((m) => [m.slug, modelLock(m, me.plan)]));
  const selected = models.find((m) => m.slug === model);
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
        <label for="pg-system">System prompt</label>
        <textarea id="pg-system" rows="3" value=${system} onInput=${(e) => setSystem(e.currentTarget.value)} disabled=${streaming}></textarea>
        <label for="pg-temperature">Temperature <output>${temperature.toFixed(1)}</output></label>
        <input id="pg-temperature" type="range" min="0" max="2" step="0.1" value=${temperature}
          onInput=${(e) => setTemperature(Number(e.currentTarget.value))} disabled=${streaming} />
        <label for="pg-prompt">Message</label>
        <textarea id="pg-prompt" rows="5" placeholder="Ask something…" value=${prompt} onInput=${(e) => setPrompt(e.currentTarget.value)}
          onKeyDown=${(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send(e);
          }} disabled=${streaming}></textarea>
        <div class="actions">
          <button class="primary" type="submit" disabled=${streaming || !prompt.trim() || !model || !!locks.get(model)}>Send</button>
          <button class="danger" type="button" onClick=${stop} disabled=${!streaming}>Stop</button>
          <span class="hint">Ctrl+Enter sends</span>
        </div>
      </form>
      <div class="card output-card">
        <div class="card-head">
          <h2>Response</h2>
          <span class=${`badge state-${state}`} data-testid="stream-state">${{ idle: 'Ready', streaming: 'Streaming…', done: 'Done', stopped: 'Stopped', error: 'Error' }[state]}</span>
        </div>
        <div class="output" data-testid="output" aria-live="polite">${output || html`<span class="muted">${streaming ? 'Waiting for the first token…' : 'The answer streams here as it is generated.'}</span>`}</div>
        <div class="output-meta" data-testid="output-meta">
          ${deltas > 0 && html`<span>${fmt(deltas)} deltas</span>`}
          ${info?.id && html`<span>Generation <a href="#/history">#${info.id}</a></span>`}
          ${info?.tokens !== undefined && html`<span>${credits(info.tokens)} charged · balance ${credits(info.balance)}</span>`}
          ${state === 'stopped' && html`<span>Stopped: the upstream request was closed. Content already delivered is charged (see History).</span>`}
          ${info?.error && html`<span class="error">${info.error}</span>`}
        </div>
      </div>
    </section>`;
}
