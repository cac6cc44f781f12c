// Generation history with filters (model, status, category) and cursor pagination.
import { html, useCallback, useEffect, useRef, useState, credits, fmt, fmtTime, outcome } from '../lib.js';
import { api, publicApi } from '../api.js';
import { ResultMedia } from './media.js';

const STATUSES = ['completed', 'failed', 'pending'];
const CATEGORIES = ['text', 'image', 'video', 'audio', 'tts', 'stt', 'tool'];

function query(filters, cursor) {
  const q = new URLSearchParams({ limit: '20' });
  for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
  if (cursor) q.set('cursor', cursor);
  return `/api/v2/user/history?${q}`;
}

function Row({ g }) {
  const [open, setOpen] = useState(false);
  // History items carry finish_reason (older gateways: only in result_metadata).
  const reason = g.finish_reason ?? g.result_metadata?.finish_reason ?? null;
  const o = outcome(g, reason);
  return html`
    <tr class="clickable" onClick=${() => setOpen(!open)} data-testid="history-row" data-id=${g.id} data-status=${g.status} data-outcome=${o.kind}>
      <td class="nowrap muted" data-label="Time">${fmtTime(g.created_at)}</td>
      <td data-label="Model"><code>${g.model_slug}</code></td>
      <td data-label="Status"><span class=${`badge status-${o.kind}`} data-testid="history-outcome">${o.label}</span></td>
      <td class="prompt-cell" data-label="Prompt">${g.prompt ?? html`<span class="muted">—</span>`}</td>
      <td class="num" data-label="Credits">${fmt(g.tokens_spent)}</td>
    </tr>
    ${
      open &&
      html`
      <tr class="detail"><td colspan="5">
        <div class="detail-grid">
          <div><div class="stat-label">Generation</div>#${g.id} · ${g.category} · finished ${fmtTime(g.completed_at)}${reason ? ` · ${reason}` : ''} · ${g.status === 'failed' ? 'not charged' : credits(g.tokens_spent)}</div>
          ${g.error && html`<div><div class="stat-label">Error</div><span class="error">${g.error}</span></div>`}
          ${
            g.result_url || g.result_metadata?.expired_at
              ? html`<div><div class="stat-label">Result</div><${ResultMedia} g=${g} testid="history-result" /></div>`
              : html`<div><div class="stat-label">Result</div><div class="output small" data-testid="history-result-text">${g.result_text ?? '—'}</div></div>`
          }
          ${g.result_url && g.result_text && html`<div><div class="stat-label">Text</div><div class="output small" data-testid="history-result-text">${g.result_text}</div></div>`}
        </div>
      </td></tr>`
    }`;
}

export function History() {
  const [models, setModels] = useState([]);
  const [filters, setFilters] = useState({ model_slug: '', status: '', category: '' });
  const [items, setItems] = useState([]);
  const [total, setTotal] = useState(0);
  const [cursor, setCursor] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState(null);
  // Only the latest request may fill the list: when the filters change twice quickly, the older
  // answer can arrive last and must not replace the newer one.
  const latest = useRef(0);

  useEffect(() => {
    publicApi('/api/v2/models').then(
      (r) => setModels(r.models),
      () => {},
    );
  }, []);

  const load = useCallback(
    async (more) => {
      const seq = ++latest.current;
      setLoading(true);
      setError(null);
      try {
        const page = await api(query(filters, more ? cursor : null));
        if (seq !== latest.current) return;
        setItems((cur) => (more ? [...cur, ...page.items] : page.items));
        setTotal(page.total);
        setCursor(page.next_cursor);
      } catch (err) {
        if (seq === latest.current) setError(err.message);
      } finally {
        if (seq === latest.current) setLoading(false);
      }
    },
    [filters, cursor],
  );

  useEffect(() => {
    load(false);
  }, [filters]);
  const set = (k) => (e) => {
    const value = e.currentTarget.value;
    setFilters((f) => ({ ...f, [k]: value }));
  };

  return html`
    <section class="card">
      <div class="card-head">
        <h2>History <span class="muted count">${fmt(total)} generation${total === 1 ? '' : 's'}</span></h2>
        <div class="filters">
          <select aria-label="Model" name="model" value=${filters.model_slug} onChange=${set('model_slug')}>
            <option value="">All models</option>
            ${models.map((m) => html`<option value=${m.slug}>${m.slug}</option>`)}
          </select>
          <select aria-label="Status" name="status" value=${filters.status} onChange=${set('status')}>
            <option value="">Any status</option>
            ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
          </select>
          <select aria-label="Category" name="category" value=${filters.category} onChange=${set('category')}>
            <option value="">All categories</option>
            ${CATEGORIES.map((c) => html`<option value=${c}>${c}</option>`)}
          </select>
          <button class="ghost" onClick=${() => load(false)} disabled=${loading}>Refresh</button>
        </div>
      </div>
      ${error && html`<p class="error">${error}</p>`}
      ${
        items.length === 0 && !loading
          ? html`<p class="empty">No generations match these filters.</p>`
          : html`
          <div class="table-wrap"><table class="table stack" data-testid="history-table">
            <thead><tr><th>Time</th><th>Model</th><th>Status</th><th>Prompt</th><th class="num">Credits</th></tr></thead>
            <tbody>${items.map((g) => html`<${Row} key=${g.id} g=${g} />`)}</tbody>
          </table></div>`
      }
      ${cursor && html`<div class="more"><button class="ghost" onClick=${() => load(true)} disabled=${loading}>Load more</button></div>`}
    </section>`;
}
