// Optional hooks the lifecycle calls at its milestones (metrics live in src/metrics/). They must be
// cheap: in-memory counters only, nothing per chunk beyond the first token.

export interface GenerationObserver {
  /** The upstream accepted the request; for a stream, the SSE response opens now. */
  onOpened?(info: { model: string; stream: boolean }): void;
  /** First text delta, `seconds` after runGeneration started. */
  onFirstToken?(info: { model: string; seconds: number }): void;
  /** One upstream attempt failed (HTTP error, network, timeout); not called for client disconnects. */
  onProviderError?(info: { provider: string; model: string }): void;
  /** Settled once: charged (`completed`) or released (`failed`). */
  onSettled?(info: { model: string; stream: boolean; opened: boolean; status: 'completed' | 'failed'; tokensSpent: number; seconds: number }): void;
}
