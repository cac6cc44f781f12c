// The `local` provider: GGUF models run in-process by node-llama-cpp (llama.cpp on the CPU).
// Each model is loaded lazily once and shared; one llama context holds `sequences` independent
// sequences so that many streams generate at once, with a bounded queue in front of them.
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { LlamaChat, resolveChatWrapper, type ChatWrapper, type LlamaGrammar, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel } from 'node-llama-cpp';
import { ProviderError, ToolCallAssembler, type FinishReason, type Provider, type ProviderRequest, type ProviderStream, type StreamPart } from '../spec.js';
import { planRequest, refusedByLocal, type RequestPlan } from './request-plan.js';
import { GgufValidationError, validateGgufFile } from './gguf-validate.js';
import { ModelFileNotFoundError, modelsDirFrom, resolveLocalModelPath } from './model-files.js';
import { EventChannel } from './event-channel.js';
import { sharedLlama, withLlamaErrors } from './llama-instance.js';
import { PoolClosedError, PoolQueueFullError, SequencePool } from './sequence-pool.js';

/** Operator configuration of a `local` provider entry. */
export interface LocalProviderConfig {
  /** Where model files and `hf:` downloads live. Default: LUMENGATE_MODELS_DIR or ./data/models. */
  models_dir?: string;
  /** CPU threads for generation. Default: cores - 1 (at least 1, at most 8); see defaultThreads. */
  threads?: number;
  /** Streams generated at once per model (context sequences). Default 2. */
  sequences?: number;
  /** Requests waiting for a sequence before new ones get 503. Default 8. */
  max_queue?: number;
  /** Context size per sequence in tokens. Default: what the model was trained on, at most 4096. */
  context_size?: number;
  /** Temperature when the request gives none. Default 0.8. */
  default_temperature?: number;
}

export interface LocalProvider extends Provider {
  /** Loads a model now instead of on its first request (e.g. at startup); rejects like open() would. */
  preload(upstreamModel: string): Promise<void>;
  /** Free sequences and queued requests of a loaded model, for metrics and tests. */
  poolState(upstreamModel: string): { available: number; queued: number } | undefined;
}

/**
 * Thread count for this machine. llama.cpp's worker threads spin while waiting, so running as many
 * threads as cores starves Node's own thread: on a 2-core box 2 threads measured 2.4x (100M-param
 * model) to 40x (tiny model) slower than 1. Leave a core for the event loop.
 */
export function defaultThreads(cores = availableParallelism()): number {
  return Math.max(1, Math.min(8, cores - 1));
}

interface LoadedModel {
  model: LlamaModel;
  context: LlamaContext;
  chatWrapper: ChatWrapper;
  pool: SequencePool<LlamaContextSequence>;
}

export function createLocalProvider(id: string, config: LocalProviderConfig = {}, env: NodeJS.ProcessEnv = process.env): LocalProvider {
  const modelsDir = modelsDirFrom(config.models_dir, env);
  const threads = positiveInt(config.threads, 'threads') ?? defaultThreads();
  const sequences = positiveInt(config.sequences, 'sequences') ?? 2;
  const maxQueue = config.max_queue ?? 8;
  if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new Error(`local provider ${id}: max_queue must be a non-negative integer`);
  const contextSize = positiveInt(config.context_size, 'context_size');
  const defaultTemperature = config.default_temperature ?? 0.8;

  const models = new Map<string, Promise<LoadedModel>>();
  const loaded = new Map<string, LoadedModel>();
  let closed = false;

  async function load(upstreamModel: string): Promise<LoadedModel> {
    let file: string;
    try {
      file = await resolveLocalModelPath(upstreamModel, modelsDir);
      // Checked in JS first: some malformed headers make llama.cpp abort the whole process.
      await validateGgufFile(file);
    } catch (err) {
      throw loadError(upstreamModel, err);
    }
    let ll: Llama;
    try {
      ll = await sharedLlama(threads);
    } catch (err) {
      throw new ProviderError(`llama.cpp backend unavailable: ${(err as Error)?.message ?? err}`, { status: 500, code: 'llama_unavailable', retryable: false, cause: err });
    }
    // "Failed to load model" alone says nothing; llama.cpp's log lines carry the reason.
    const attempt = await withLlamaErrors(() => ll.loadModel({ modelPath: file, gpuLayers: 0 }));
    if (!attempt.result) {
      const detail = attempt.lines.filter((l) => !/failed to load model$/i.test(l)).join('; ');
      throw loadError(upstreamModel, new Error(`${(attempt.error as Error)?.message}${detail ? `: ${detail}` : ''}`, { cause: attempt.error }));
    }
    const model: LlamaModel = attempt.result;
    try {
      const context = await model.createContext({
        sequences,
        threads,
        contextSize: contextSize ?? { max: Math.min(model.trainContextSize || 4096, 4096) },
      });
      const seqs = Array.from({ length: sequences }, () => context.getSequence());
      const entry: LoadedModel = {
        model,
        context,
        chatWrapper: resolveChatWrapper(model),
        pool: new SequencePool(seqs, maxQueue),
      };
      if (closed) {
        await model.dispose();
        throw new ProviderError(`local provider ${id} is closed`, { status: 503, code: 'provider_closed', retryable: false });
      }
      loaded.set(upstreamModel, entry);
      return entry;
    } catch (err) {
      await model.dispose().catch(() => {});
      throw err instanceof ProviderError ? err : loadError(upstreamModel, err);
    }
  }

  function getModel(upstreamModel: string): Promise<LoadedModel> {
    let p = models.get(upstreamModel);
    if (!p) {
      p = load(upstreamModel);
      models.set(upstreamModel, p);
      // A failed load is not cached: a fixed or newly pulled file is picked up by the next request.
      p.catch(() => models.delete(upstreamModel));
    }
    return p;
  }

  async function open(req: ProviderRequest): Promise<ProviderStream> {
    if (closed) throw new ProviderError(`local provider ${id} is closed`, { status: 503, code: 'provider_closed', retryable: false });
    if (req.signal.aborted) throw req.signal.reason;
    const plan = planRequest(req);
    // An abort stops the wait, not the load: the model stays loaded for the next request.
    const entry = await untilAborted(getModel(req.upstreamModel), req.signal);
    let sequence: LlamaContextSequence;
    try {
      sequence = await entry.pool.acquire(req.signal, req.tenant);
    } catch (err) {
      if (err instanceof PoolQueueFullError) {
        throw new ProviderError(`local model ${req.upstreamModel} is busy: ${err.message}`, { status: 503, code: 'model_busy', unavailable: true, cause: err });
      }
      if (err instanceof PoolClosedError) {
        throw new ProviderError(`local provider ${id} is closed`, { status: 503, code: 'provider_closed', retryable: false });
      }
      throw err;
    }
    const counted = { input: 0, output: 0 };
    return {
      parts: generate(entry, sequence, req, plan, counted),
      // llama.cpp counts as it goes: an aborted stream still reports what it evaluated and generated.
      usageSoFar: () => ({ input_tokens: counted.input, output_tokens: counted.output, total_tokens: counted.input + counted.output }),
    };
  }

  function generate(entry: LoadedModel, sequence: LlamaContextSequence, req: ProviderRequest, plan: RequestPlan, counted: { input: number; output: number }): AsyncIterable<StreamPart> {
    const channel = new EventChannel<StreamPart>();
    // Stops generation when the client aborts or when the consumer stops reading early.
    const stop = new AbortController();
    const onAbort = () => stop.abort(req.signal.reason);
    req.signal.addEventListener('abort', onAbort, { once: true });
    if (req.signal.aborted) onAbort();

    void (async () => {
      const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: entry.chatWrapper });
      try {
        // Every request starts from an empty sequence: output depends only on the request.
        await sequence.clearHistory();
        const before = sequence.tokenMeter.getState();
        let outputTokens = 0;
        const { output } = plan;
        // A forced tool call is JSON for us to parse, not text for the client.
        let forcedText = '';
        const common = {
          signal: stop.signal,
          stopOnAbortSignal: false,
          temperature: req.temperature ?? defaultTemperature,
          topP: req.topP,
          seed: req.seed,
          maxTokens: req.maxTokens ?? sequence.contextSize,
          customStopTriggers: req.stop?.length ? req.stop : undefined,
          // Same formula as OpenAI's (logit -= count * frequency + presence), over the last 64 generated tokens.
          repeatPenalty: req.frequencyPenalty !== undefined || req.presencePenalty !== undefined ? { frequencyPenalty: req.frequencyPenalty, presencePenalty: req.presencePenalty } : undefined,
          onTextChunk: (text: string) => {
            if (output.kind === 'forced-tool') forcedText += text;
            else if (text.length > 0) channel.push({ type: 'text-delta', delta: text });
          },
          onToken: (tokens: readonly unknown[]) => {
            outputTokens += tokens.length;
            counted.output = outputTokens;
            counted.input = sequence.tokenMeter.diff(before).usedInputTokens;
          },
        };
        const result =
          output.kind === 'functions'
            ? await chat.generateResponse(plan.history, { ...common, functions: output.functions, maxParallelFunctionCalls: req.parallelToolCalls === false ? 1 : undefined })
            : await chat.generateResponse(plan.history, { ...common, grammar: await grammarFor(entry, output) });
        let finishReason = finishReasonOf(result.metadata.stopReason);
        const calls = new ToolCallAssembler();
        const addCall = (name: string, args: unknown) => {
          for (const part of calls.fragment(calls.size, { id: newCallId(), name, arguments: JSON.stringify(args ?? {}) })) channel.push(part);
        };
        for (const call of result.functionCalls ?? []) addCall(call.functionName, call.params);
        if (output.kind === 'forced-tool') {
          const call = finishReason === 'length' ? undefined : parseForcedCall(forcedText);
          // Cut off before the grammar closed the JSON: what was generated is passed on as text.
          if (!call) channel.push({ type: 'text-delta', delta: forcedText });
          else addCall(call.name, call.arguments);
        }
        if (calls.size > 0) {
          for (const part of calls.finish()) channel.push(part);
          finishReason = 'tool-calls';
        }
        const inputTokens = sequence.tokenMeter.diff(before).usedInputTokens;
        channel.push({
          type: 'finish',
          finishReason,
          usage: { input_tokens: inputTokens, output_tokens: outputTokens, total_tokens: inputTokens + outputTokens },
        });
        channel.end();
      } catch (err) {
        if (req.signal.aborted) channel.fail(req.signal.reason);
        else if (stop.signal.aborted) channel.end();
        else channel.fail(new ProviderError(`local model ${req.upstreamModel} failed: ${(err as Error)?.message ?? err}`, { status: 500, cause: err }));
      } finally {
        req.signal.removeEventListener('abort', onAbort);
        chat.dispose({ disposeSequence: false });
        if (!closed) entry.pool.release(sequence);
      }
    })();

    return {
      async *[Symbol.asyncIterator]() {
        try {
          yield* channel;
        } finally {
          // Consumer left (break/return/throw) before the end: free the sequence now.
          if (!stop.signal.aborted) stop.abort(new Error('stream consumer stopped reading'));
        }
      },
    };
  }

  return {
    id,
    open,
    refuse: refusedByLocal,
    preload: async (upstreamModel) => {
      await getModel(upstreamModel);
    },
    async isReady(upstreamModel) {
      return resolveLocalModelPath(upstreamModel, modelsDir).then(
        () => true,
        () => false,
      );
    },
    poolState(upstreamModel) {
      const entry = loaded.get(upstreamModel);
      return entry && { available: entry.pool.available, queued: entry.pool.queued };
    },
    async close() {
      closed = true;
      const entries = await Promise.allSettled([...models.values()]);
      models.clear();
      loaded.clear();
      for (const e of entries) {
        if (e.status !== 'fulfilled') continue;
        e.value.pool.close(new PoolClosedError('provider closed'));
        await e.value.model.dispose().catch(() => {});
      }
    },
  };

  function positiveInt(value: number | undefined, name: string): number | undefined {
    if (value === undefined) return undefined;
    if (!Number.isInteger(value) || value < 1) throw new Error(`local provider ${id}: ${name} must be a positive integer`);
    return value;
  }
}

function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function loadError(upstreamModel: string, err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const message = (err as Error)?.message ?? String(err);
  if (err instanceof ModelFileNotFoundError) {
    return new ProviderError(`local model ${upstreamModel}: ${message}`, { status: 500, code: 'model_file_missing', retryable: false, unavailable: true, cause: err });
  }
  if (err instanceof GgufValidationError) {
    return new ProviderError(`local model ${upstreamModel} is not a valid GGUF file: ${message}`, { status: 500, code: 'model_file_invalid', retryable: false, cause: err });
  }
  return new ProviderError(`local model ${upstreamModel} could not be loaded: ${message}`, { status: 500, code: 'model_load_failed', retryable: false, cause: err });
}

/** The grammar that constrains a `json` or `forced-tool` answer. */
function grammarFor(entry: LoadedModel, output: RequestPlan['output']): Promise<LlamaGrammar> | undefined {
  const llama = entry.model.llama;
  // The schema is request data: node-llama-cpp's generic (a TS type for parse()) does not apply.
  const fromSchema = (schema: object) => llama.createGrammarForJsonSchema(schema as never);
  if (output.kind === 'json') return output.schema ? fromSchema(output.schema) : llama.getGrammarFor('json');
  if (output.kind === 'forced-tool') return fromSchema(output.schema);
  return undefined;
}

function parseForcedCall(text: string): { name: string; arguments: unknown } | undefined {
  try {
    const v = JSON.parse(text) as { name?: unknown; arguments?: unknown };
    return typeof v.name === 'string' ? { name: v.name, arguments: v.arguments ?? {} } : undefined;
  } catch {
    return undefined;
  }
}

/** Tool call ids in OpenAI's shape; the client echoes them back with the tool results. */
function newCallId(): string {
  return `call_${randomBytes(12).toString('base64url')}`;
}

function finishReasonOf(stopReason: string): FinishReason {
  switch (stopReason) {
    case 'maxTokens':
      return 'length';
    case 'functionCalls':
      return 'tool-calls';
    default:
      return 'stop'; // eogToken, stopGenerationTrigger, customStopTrigger
  }
}
