// Balance, plan and limits, and the credits-per-day chart.
import { html, useEffect, useState, credits, fmt, fmtTime } from '../lib.js';
import { api } from '../api.js';
import { UsageChart } from './usage-chart.js';

const limit = (n) => (n ? fmt(n) : 'Unlimited');

function Stat({ label, value, detail, testid }) {
  return html`
    <div class="card stat" data-testid=${testid}>
      <div class="stat-label">${label}</div>
      <div class="stat-value">${value}</div>
      ${detail && html`<div class="stat-detail">${detail}</div>`}
    </div>`;
}

export function Overview({ me, refreshMe }) {
  const [days, setDays] = useState(30);
  const [usage, setUsage] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    refreshMe();
  }, [refreshMe]);
  useEffect(() => {
    let live = true;
    setError(null);
    api(`/api/v2/user/usage?days=${days}`).then(
      (u) => live && setUsage(u),
      (err) => live && setError(err.message),
    );
    return () => {
      live = false;
    };
  }, [days]);

  const totals = new Map();
  for (const r of usage?.rows ?? []) {
    const t = totals.get(r.model_slug) ?? { tokens: 0, requests: 0 };
    t.tokens += r.tokens_spent;
    t.requests += r.requests;
    totals.set(r.model_slug, t);
  }
  const sorted = [...totals].sort((a, b) => b[1].tokens - a[1].tokens);

  return html`
    <section class="grid stats">
      <${Stat} testid="stat-balance" label="Balance" value=${html`${fmt(me.token_balance)}<small> credits</small>`}
        detail=${`${fmt(me.plan_tokens_remaining)} plan + ${fmt(me.bonus_tokens)} bonus · credits are prepaid, priced per request`} />
      <${Stat} testid="stat-plan" label="Plan" value=${html`<span class="capitalize">${me.plan}</span>`}
        detail=${me.plan_expires_at ? `Renews or expires ${fmtTime(me.plan_expires_at)}` : 'No expiry'} />
      <${Stat} testid="stat-limits" label="Rate limits" value=${html`${limit(me.rate_limit_hourly)}<small> / hour</small>`}
        detail=${`${limit(me.rate_limit_daily)} requests per day`} />
      <${Stat} testid="stat-used" label="Spent this month" value=${credits(me.tokens_used_this_period)} detail="since the 1st (UTC)" />
    </section>

    <section class="card">
      <div class="card-head">
        <h2>Credits spent per day by model</h2>
        <select aria-label="Period" value=${days} onChange=${(e) => setDays(Number(e.currentTarget.value))}>
          <option value="7">Last 7 days</option>
          <option value="30">Last 30 days</option>
          <option value="90">Last 90 days</option>
        </select>
      </div>
      ${error && html`<p class="error">${error}</p>`}
      ${usage && (usage.rows.length === 0 ? html`<p class="empty">No generations in this period yet. Try the <a href="#/playground">playground</a>.</p>` : html`<${UsageChart} usage=${usage} />`)}
      ${
        sorted.length > 0 &&
        html`
        <div class="table-wrap"><table class="table compact" data-testid="usage-totals">
          <thead><tr><th>Model</th><th class="num">Requests</th><th class="num">Credits spent</th></tr></thead>
          <tbody>${sorted.map(([slug, t]) => html`<tr><td><code>${slug}</code></td><td class="num">${fmt(t.requests)}</td><td class="num">${fmt(t.tokens)}</td></tr>`)}</tbody>
        </table></div>`
      }
    </section>`;
}
