// Prometheus metrics, one registry per app (tests run several servers in one process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { GenerationObserver } from '../generation/observer.js';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  observer: GenerationObserver;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpRequests = new Counter({
    name: 'lumengate_http_requests_total',
    help: 'HTTP requests by route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const ttft = new Histogram({
    name: 'lumengate_generation_time_to_first_token_seconds',
    help: 'Time from request to the first text delta, by model',
    labelNames: ['model'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'lumengate_generation_duration_seconds',
    help: 'Generation time from request to settlement, by model and status',
    labelNames: ['model', 'status'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  });
  const openStreams = new Gauge({ name: 'lumengate_open_streams', help: 'Streaming generations whose SSE response is open', registers: [registry] });
  const tokensCharged = new Counter({ name: 'lumengate_tokens_charged_total', help: 'Tokens charged to balances, by model', labelNames: ['model'] as const, registers: [registry] });
  const providerErrors = new Counter({
    name: 'lumengate_provider_errors_total',
    help: 'Failed upstream attempts (HTTP errors, network, timeouts), by provider',
    labelNames: ['provider'] as const,
    registers: [registry],
  });

  const observer: GenerationObserver = {
    onOpened({ stream }) {
      if (stream) openStreams.inc();
    },
    onFirstToken({ model, seconds }) {
      ttft.observe({ model }, seconds);
    },
    onProviderError({ provider }) {
      providerErrors.inc({ provider });
    },
    onSettled({ model, stream, opened, status, tokensSpent, seconds }) {
      if (stream && opened) openStreams.dec();
      duration.observe({ model, status }, seconds);
      if (tokensSpent > 0) tokensCharged.inc({ model }, tokensSpent);
    },
  };
  return { registry, httpRequests, observer };
}
