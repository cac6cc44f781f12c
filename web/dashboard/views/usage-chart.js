// Stacked bars of credits per UTC day, one colour per model, drawn with uPlot.
import { html, useEffect, useRef, useState } from '../lib.js';
import uPlot from '/dashboard/vendor/uplot.mjs';

const PALETTE = ['#4f46e5', '#0ea5e9', '#10b981', '#f59e0b', '#ef4444', '#8b5cf6', '#ec4899', '#14b8a6', '#64748b'];
const DAY = 86_400;
const INTEGER_INCREMENTS = [1, 2, 5].flatMap((m) => Array.from({ length: 10 }, (_, e) => m * 10 ** e)).sort((a, b) => a - b);

/** Every day of the window (seconds at UTC midnight), and per model the credits of each day. */
function toSeries(usage) {
  const start = Date.parse(`${usage.from}T00:00:00Z`) / 1000;
  const xs = Array.from({ length: usage.days }, (_, i) => start + i * DAY);
  const models = [...new Set(usage.rows.map((r) => r.model_slug))].sort();
  const values = models.map(() => xs.map(() => 0));
  for (const r of usage.rows) {
    const i = Math.round((Date.parse(`${r.day}T00:00:00Z`) / 1000 - start) / DAY);
    if (i >= 0 && i < xs.length) values[models.indexOf(r.model_slug)][i] += r.tokens_spent;
  }
  return { xs, models, values };
}

/** True while the system asks for dark colours; the chart is redrawn when it changes. */
function useDarkScheme() {
  const mq = matchMedia('(prefers-color-scheme: dark)');
  const [dark, setDark] = useState(mq.matches);
  useEffect(() => {
    const onChange = (e) => setDark(e.matches);
    mq.addEventListener('change', onChange);
    return () => mq.removeEventListener('change', onChange);
  }, []);
  return dark;
}

export function UsageChart({ usage }) {
  const el = useRef(null);
  const dark = useDarkScheme();
  useEffect(() => {
    const box = el.current;
    // Axis and grid colours come from the stylesheet's variables (light or dark).
    const css = getComputedStyle(box);
    const color = (name) => css.getPropertyValue(name).trim();
    const { xs, models, values } = toSeries(usage);
    // Stacking: model i is drawn at the running sum of models 0..i, tallest first so each bar
    // shows its own segment; the legend shows each model's own value.
    const stacked = values.map((_, i) => xs.map((_, d) => values.slice(0, i + 1).reduce((s, v) => s + v[d], 0)));
    const order = models.map((_, i) => i).reverse();
    const bars = uPlot.paths.bars({ size: [0.7, 48], gap: 1 });
    const opts = {
      width: box.clientWidth,
      height: 280,
      padding: [12, 12, 0, 4],
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      scales: { x: { time: true, range: [xs[0] - DAY / 2, xs[xs.length - 1] + DAY / 2] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        {
          stroke: color('--muted'),
          grid: { show: false },
          ticks: { stroke: color('--border') },
          values: (_u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleDateString('en-GB', { day: '2-digit', month: 'short', timeZone: 'UTC' })),
        },
        // Credits are whole numbers: integer ticks only.
        { stroke: color('--muted'), grid: { stroke: color('--grid') }, ticks: { show: false }, size: 50, incrs: INTEGER_INCREMENTS },
      ],
      series: [
        { label: 'Day', value: (_u, t) => (t == null ? 'all' : new Date(t * 1000).toLocaleDateString('en-GB', { day: '2-digit', month: 'short', year: 'numeric', timeZone: 'UTC' })) },
        ...order.map((i) => ({
          label: models[i],
          fill: PALETTE[i % PALETTE.length],
          stroke: PALETTE[i % PALETTE.length],
          width: 0,
          paths: bars,
          points: { show: false },
          // Under the cursor: that day's credits; otherwise the model's total for the period.
          value: (_u, _v, _s, idx) => (idx == null ? values[i].reduce((a, b) => a + b, 0) : values[i][idx]).toLocaleString('en-US'),
        })),
      ],
    };
    const plot = new uPlot(opts, [xs, ...order.map((i) => stacked[i])], box);
    const resize = new ResizeObserver(() => plot.setSize({ width: box.clientWidth, height: 280 }));
    resize.observe(el.current);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [usage, dark]);
  return html`<div class="chart" ref=${el} data-testid="usage-chart"></div>`;
}
