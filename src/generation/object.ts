// The generation object of docs/api.md: a superset of every documented shape, explicit nulls.
import type { Generation } from '../db/schema.js';
import { resultFilesOf, type ResultFile } from '../storage/files.js';
import type { UrlSigner } from '../storage/signed-urls.js';
import type { TokenLogprob } from '../providers/spec.js';

/** What rendering result_url needs: the signer, and the gateway's origin for absolute URLs. */
export interface ResultLinks {
  signer: UrlSigner;
  /** e.g. "https://api.example.com"; without it result_url is a path on the gateway. */
  baseUrl?: string;
}

export interface GenerationObject {
  id: number;
  status: Generation['status'];
  model_slug: string;
  model: string;
  result_text: string | null;
  content: string | null;
  /** Tool calls the model made, in OpenAI's shape (docs/api.md); null when there were none. */
  tool_calls: { id: string; type: 'function'; function: { name: string; arguments: string } }[] | null;
  /** The model's reasoning summary where the provider returns one. */
  reasoning: string | null;
  /** The answer's tokens with their log probabilities, where `logprobs` was asked for and the provider returns them. */
  logprobs: TokenLogprob[] | null;
  /** The model's refusal, where it declined instead of answering (docs/api.md). */
  refusal: string | null;
  result_url: string | null;
  thumbnail_url: string | null;
  error: string | null;
  tokens_spent: number;
  tokens_used: number;
  balance_remaining: number | null;
  processing_ms: number | null;
  result_metadata: Record<string, unknown> | null;
  usage: unknown;
  created_at: string;
  completed_at: string | null;
}

/**
 * The order of an answer whose kind of part changed (result_json.segments): runs of one kind, each
 * ending at a character of the text or refusal, or at a count of tool calls. Kept off the object
 * (its JSON is the documented shape) and read by answerSegments; absent for older results.
 */
export type SegmentKind = 'text' | 'refusal' | 'tool_calls';
export type Segment = [kind: SegmentKind, end: number];
const segmentsByObject = new WeakMap<GenerationObject, Segment[]>();
export const answerSegments = (g: GenerationObject): Segment[] | undefined => segmentsByObject.get(g);

export function generationObject(
  g: Pick<Generation, 'id' | 'status' | 'model_slug' | 'result_text' | 'result_json' | 'error' | 'tokens_spent' | 'processing_ms' | 'usage_json' | 'finish_reason' | 'created_at' | 'completed_at'>,
  balanceRemaining: number | null,
  links?: ResultLinks,
): GenerationObject {
  const files = fileFields(g.result_json, links);
  const structured = g.result_json
    ? (JSON.parse(g.result_json) as { tool_calls?: { id: string; name: string; arguments: string }[]; reasoning?: string | null; logprobs?: TokenLogprob[]; refusal?: string; segments?: Segment[] })
    : {};
  const o: GenerationObject = {
    id: g.id,
    status: g.status,
    model_slug: g.model_slug,
    model: g.model_slug,
    result_text: g.result_text,
    content: g.result_text,
    tool_calls: structured.tool_calls?.length ? structured.tool_calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })) : null,
    reasoning: structured.reasoning ?? null,
    logprobs: structured.logprobs ?? null,
    refusal: structured.refusal ?? null,
    result_url: files.result_url,
    thumbnail_url: files.thumbnail_url,
    error: g.error,
    tokens_spent: g.tokens_spent,
    tokens_used: g.tokens_spent,
    balance_remaining: balanceRemaining,
    processing_ms: g.processing_ms,
    result_metadata: g.finish_reason || files.metadata ? { ...(g.finish_reason ? { finish_reason: g.finish_reason } : {}), ...files.metadata } : null,
    usage: g.usage_json ? JSON.parse(g.usage_json) : null,
    created_at: g.created_at,
    completed_at: g.completed_at,
  };
  if (structured.segments) segmentsByObject.set(o, structured.segments);
  return o;
}

/**
 * result_url, thumbnail_url and result_metadata of a generation with files (docs/api.md): the main
 * file is the first not named thumbnail.*; URLs are signed now, so every read gets a fresh one.
 */
function fileFields(resultJson: string | null, links: ResultLinks | undefined): { result_url: string | null; thumbnail_url: string | null; metadata: Record<string, unknown> | null } {
  const { files, files_expired_at } = resultFilesOf(resultJson);
  const main = files?.find((f) => !isThumbnail(f)) ?? files?.[0];
  if (!main) return { result_url: null, thumbnail_url: null, metadata: null };
  const thumb = files?.find(isThumbnail);
  const url = (f: ResultFile | undefined) => (f && links && !files_expired_at ? (links.baseUrl ?? '') + links.signer.sign(f.key) : null);
  const metadata: Record<string, unknown> = {
    mime_type: main.media_type,
    bytes: main.bytes,
    width: main.width ?? null,
    height: main.height ?? null,
    duration: main.duration ?? null,
    format: main.format ?? /\.([A-Za-z0-9]+)$/.exec(main.name)?.[1]?.toLowerCase() ?? null,
    ...(files_expired_at ? { expired_at: files_expired_at } : {}),
  };
  return { result_url: url(main), thumbnail_url: url(thumb === main ? undefined : thumb), metadata };
}

const isThumbnail = (f: ResultFile) => f.name.startsWith('thumbnail.');
