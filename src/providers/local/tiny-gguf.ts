// Writes a tiny but real llama-architecture GGUF model (a few hundred KB of seeded random F32
// weights, byte-level SPM vocabulary) so tests and the bench can run llama.cpp without
// downloading weights. Layout follows ggml's docs/gguf.md and llama.cpp's gguf-py writer:
// header, metadata key/values, tensor infos, padding to the alignment, aligned tensor data.
import { writeFile } from 'node:fs/promises';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgmlType, GgufValueType, TokenType } from './gguf-format.js';

export interface TinyGgufOptions {
  /** PRNG seed for the weights; the same seed gives a byte-identical file. */
  seed?: number;
  embeddingLength?: number;
  blockCount?: number;
  feedForwardLength?: number;
  headCount?: number;
  headCountKv?: number;
  contextLength?: number;
  /** Jinja chat template stored as tokenizer.chat_template; none by default. */
  chatTemplate?: string;
  /** Leave a required tensor out (the file stays a well-formed GGUF that llama.cpp rejects). */
  omitTensor?: string;
}

type Value =
  | { type: GgufValueType.String; value: string }
  | { type: GgufValueType.Uint32; value: number }
  | { type: GgufValueType.Float32; value: number }
  | { type: GgufValueType.Bool; value: boolean }
  | { type: GgufValueType.Array; itemType: GgufValueType.String; value: string[] }
  | { type: GgufValueType.Array; itemType: GgufValueType.Float32 | GgufValueType.Int32; value: number[] };

interface Tensor {
  name: string;
  /** ggml order: dims[0] is the row length (innermost). */
  dims: number[];
  data: Float32Array;
}

const BOS_ID = 1;
const EOS_ID = 2;
const FIRST_BYTE_ID = 3;
/** SentencePiece's word marker U+2581, which the SPM tokenizer substitutes for spaces. */
const SPACE_ID = FIRST_BYTE_ID + 256;
const VOCAB_SIZE = SPACE_ID + 1;

/** Token id of a raw byte in the tiny vocabulary. */
export function tinyByteToken(byte: number): number {
  return FIRST_BYTE_ID + byte;
}

/** The model as bytes. */
export function buildTinyGguf(opts: TinyGgufOptions = {}): Buffer {
  const nEmbd = opts.embeddingLength ?? 64;
  const nLayer = opts.blockCount ?? 2;
  const nFf = opts.feedForwardLength ?? 128;
  const nHead = opts.headCount ?? 4;
  const nHeadKv = opts.headCountKv ?? 2;
  const nCtx = opts.contextLength ?? 2048;
  const headDim = nEmbd / nHead;
  if (!Number.isInteger(headDim)) throw new Error('embeddingLength must be a multiple of headCount');
  const rand = mulberry32(opts.seed ?? 1);

  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [TokenType.Unknown, TokenType.Control, TokenType.Control];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.Byte);
  }
  tokens.push('\u2581');
  types.push(TokenType.Normal);

  const metadata: Array<[string, Value]> = [
    ['general.architecture', str('llama')],
    ['general.name', str('lumengate-tiny')],
    ['general.file_type', u32(0)], // ALL_F32
    ['llama.context_length', u32(nCtx)],
    ['llama.embedding_length', u32(nEmbd)],
    ['llama.block_count', u32(nLayer)],
    ['llama.feed_forward_length', u32(nFf)],
    ['llama.attention.head_count', u32(nHead)],
    ['llama.attention.head_count_kv', u32(nHeadKv)],
    ['llama.attention.layer_norm_rms_epsilon', f32(1e-5)],
    ['llama.rope.dimension_count', u32(headDim)],
    ['llama.rope.freq_base', f32(10000)],
    ['llama.vocab_size', u32(VOCAB_SIZE)],
    ['tokenizer.ggml.model', str('llama')],
    ['tokenizer.ggml.tokens', { type: GgufValueType.Array, itemType: GgufValueType.String, value: tokens }],
    ['tokenizer.ggml.scores', { type: GgufValueType.Array, itemType: GgufValueType.Float32, value: tokens.map(() => 0) }],
    ['tokenizer.ggml.token_type', { type: GgufValueType.Array, itemType: GgufValueType.Int32, value: types }],
    ['tokenizer.ggml.bos_token_id', u32(BOS_ID)],
    ['tokenizer.ggml.eos_token_id', u32(EOS_ID)],
    ['tokenizer.ggml.unknown_token_id', u32(0)],
    ['tokenizer.ggml.add_bos_token', { type: GgufValueType.Bool, value: true }],
    ['tokenizer.ggml.add_eos_token', { type: GgufValueType.Bool, value: false }],
    ['tokenizer.ggml.add_space_prefix', { type: GgufValueType.Bool, value: false }],
  ];
  if (opts.chatTemplate !== undefined) metadata.push(['tokenizer.chat_template', str(opts.chatTemplate)]);

  const uniform = (n: number, scale: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
    return a;
  };
  const ones = (n: number) => new Float32Array(n).fill(1);
  const matrix = (cols: number, rows: number, gain = 1): Tensor['data'] => uniform(cols * rows, gain / Math.sqrt(cols));
  // Sharp attention and a strong FFN make the output depend on the whole prompt; with the usual
  // 1/sqrt(n) init a random net ignores the prompt and falls into the same loop every time.
  const QK_GAIN = 3;
  const FF_GAIN = 3;

  // Output projection: large enough that logits spread out (std ~4), and zero rows for the
  // special tokens and non-printable bytes so sampling almost never ends the stream early or
  // emits invalid UTF-8: generations run until maxTokens and stream readable ASCII gibberish.
  const output = uniform(nEmbd * VOCAB_SIZE, 1);
  for (let id = 0; id < VOCAB_SIZE; id++) {
    const byte = id - FIRST_BYTE_ID;
    const printable = id === SPACE_ID || byte === 0x0a || (byte >= 0x20 && byte <= 0x7e);
    if (!printable) output.fill(0, id * nEmbd, (id + 1) * nEmbd);
  }

  const tensors: Tensor[] = [
    { name: 'token_embd.weight', dims: [nEmbd, VOCAB_SIZE], data: uniform(nEmbd * VOCAB_SIZE, 1) },
    { name: 'output_norm.weight', dims: [nEmbd], data: ones(nEmbd) },
    { name: 'output.weight', dims: [nEmbd, VOCAB_SIZE], data: output },
  ];
  const kvDim = headDim * nHeadKv;
  for (let i = 0; i < nLayer; i++) {
    tensors.push(
      { name: `blk.${i}.attn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) },
      { name: `blk.${i}.attn_q.weight`, dims: [nEmbd, nEmbd], data: matrix(nEmbd, nEmbd, QK_GAIN) },
      { name: `blk.${i}.attn_k.weight`, dims: [nEmbd, kvDim], data: matrix(nEmbd, kvDim, QK_GAIN) },
      { name: `blk.${i}.attn_v.weight`, dims: [nEmbd, kvDim], data: matrix(nEmbd, kvDim) },
      { name: `blk.${i}.attn_output.weight`, dims: [nEmbd, nEmbd], data: matrix(nEmbd, nEmbd) },
      { name: `blk.${i}.ffn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) },
      { name: `blk.${i}.ffn_gate.weight`, dims: [nEmbd, nFf], data: matrix(nEmbd, nFf, FF_GAIN) },
      { name: `blk.${i}.ffn_up.weight`, dims: [nEmbd, nFf], data: matrix(nEmbd, nFf, FF_GAIN) },
      { name: `blk.${i}.ffn_down.weight`, dims: [nFf, nEmbd], data: matrix(nFf, nEmbd, FF_GAIN) },
    );
  }
  return encode(
    metadata,
    tensors.filter((t) => t.name !== opts.omitTensor),
  );
}

export async function writeTinyGguf(path: string, opts: TinyGgufOptions = {}): Promise<void> {
  await writeFile(path, buildTinyGguf(opts));
}

/**
 * A copy of the tiny model cut short. `at` is 'tensor-data' (header intact, weights missing: the
 * usual interrupted download) or 'metadata' (cut inside the key/value section).
 */
export async function writeTruncatedGguf(path: string, at: 'tensor-data' | 'metadata' = 'tensor-data'): Promise<void> {
  const full = buildTinyGguf();
  const cut = at === 'metadata' ? 200 : Math.floor(full.length * 0.6);
  await writeFile(path, full.subarray(0, cut));
}

export type GgufCorruption =
  /** Random bytes, no GGUF magic. */
  | 'garbage'
  /** GGUF magic, then a key/value count of 2^62. */
  | 'huge-kv-count'
  /** A tensor with a zero dimension (llama.cpp asserts and aborts the process on those). */
  | 'zero-dimension'
  /** llama.block_count = 0: llama.cpp's GGML_ASSERT aborts the whole process on this one. */
  | 'zero-block-count'
  /** llama.attention.head_count = 0: also a process abort in llama.cpp (zero-sized tensor shape). */
  | 'zero-head-count'
  /** Well-formed GGUF that lacks a required tensor: only llama.cpp itself can notice. */
  | 'missing-tensor';

export async function writeCorruptGguf(path: string, kind: GgufCorruption): Promise<void> {
  await writeFile(path, buildCorruptGguf(kind));
}

export function buildCorruptGguf(kind: GgufCorruption): Buffer {
  switch (kind) {
    case 'garbage': {
      const rand = mulberry32(7);
      return Buffer.from(Array.from({ length: 4096 }, () => Math.floor(rand() * 256)));
    }
    case 'huge-kv-count': {
      const b = Buffer.alloc(64);
      b.write(GGUF_MAGIC, 0, 'latin1');
      b.writeUInt32LE(GGUF_VERSION, 4);
      b.writeBigUInt64LE(0n, 8);
      b.writeBigUInt64LE(1n << 62n, 16);
      return b;
    }
    case 'zero-dimension':
      return patchUint64After(buildTinyGguf(), 'output_norm.weight', 4, 0n);
    case 'zero-block-count':
      return patchUint32After(buildTinyGguf(), 'llama.block_count', 4, 0);
    case 'zero-head-count':
      // The first occurrence is the head_count key itself (head_count_kv is written after it).
      return patchUint32After(buildTinyGguf(), 'llama.attention.head_count', 4, 0);
    case 'missing-tensor':
      return buildTinyGguf({ omitTensor: 'output_norm.weight' });
  }
}

// --- encoding ---------------------------------------------------------------------------------

function encode(metadata: Array<[string, Value]>, tensors: Tensor[]): Buffer {
  const w = new ByteWriter();
  w.raw(Buffer.from(GGUF_MAGIC, 'latin1'));
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const [key, value] of metadata) {
    w.string(key);
    w.u32(value.type);
    writeValue(w, value);
  }
  let offset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GgmlType.F32);
    w.u64(offset);
    offset = align(offset + t.data.byteLength, GGUF_DEFAULT_ALIGNMENT);
  }
  w.padTo(GGUF_DEFAULT_ALIGNMENT);
  for (const t of tensors) {
    w.raw(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    w.padTo(GGUF_DEFAULT_ALIGNMENT);
  }
  return w.finish();
}

function writeValue(w: ByteWriter, v: Value): void {
  switch (v.type) {
    case GgufValueType.String:
      return w.string(v.value);
    case GgufValueType.Uint32:
      return w.u32(v.value);
    case GgufValueType.Float32:
      return w.f32(v.value);
    case GgufValueType.Bool:
      return w.u8(v.value ? 1 : 0);
    case GgufValueType.Array:
      w.u32(v.itemType);
      w.u64(v.value.length);
      if (v.itemType === GgufValueType.String) for (const s of v.value) w.string(s);
      else if (v.itemType === GgufValueType.Float32) for (const n of v.value) w.f32(n);
      else for (const n of v.value) w.i32(n);
  }
}

class ByteWriter {
  private chunks: Buffer[] = [];
  private length = 0;
  raw(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  private fixed(size: number, put: (b: Buffer) => void): void {
    const b = Buffer.alloc(size);
    put(b);
    this.raw(b);
  }
  u8(n: number): void {
    this.fixed(1, (b) => b.writeUInt8(n));
  }
  u32(n: number): void {
    this.fixed(4, (b) => b.writeUInt32LE(n));
  }
  i32(n: number): void {
    this.fixed(4, (b) => b.writeInt32LE(n));
  }
  f32(n: number): void {
    this.fixed(4, (b) => b.writeFloatLE(n));
  }
  u64(n: number): void {
    this.fixed(8, (b) => b.writeBigUInt64LE(BigInt(n)));
  }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.raw(bytes);
  }
  padTo(alignment: number): void {
    const pad = align(this.length, alignment) - this.length;
    if (pad > 0) this.raw(Buffer.alloc(pad));
  }
  finish(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Overwrites the u32 that sits `skip` bytes after the (length-prefixed) string `marker`. */
function patchUint32After(file: Buffer, marker: string, skip: number, value: number): Buffer {
  const at = file.indexOf(Buffer.from(marker, 'utf8')) + Buffer.byteLength(marker) + skip;
  file.writeUInt32LE(value, at);
  return file;
}

/** Overwrites the u64 that sits `skip` bytes after the string `marker` (a tensor info). */
function patchUint64After(file: Buffer, marker: string, skip: number, value: bigint): Buffer {
  const at = file.indexOf(Buffer.from(marker, 'utf8')) + Buffer.byteLength(marker) + skip;
  file.writeBigUInt64LE(value, at);
  return file;
}

/** Small seeded PRNG (mulberry32): deterministic weights without a dependency. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function str(value: string): Value {
  return { type: GgufValueType.String, value };
}
function u32(value: number): Value {
  return { type: GgufValueType.Uint32, value };
}
function f32(value: number): Value {
  return { type: GgufValueType.Float32, value };
}
