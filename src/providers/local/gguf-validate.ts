// Strict GGUF header check run before a file reaches llama.cpp. llama.cpp aborts the whole process
// (GGML_ASSERT, division by zero) on some malformed hyperparameters, and an mmapped file that is
// shorter than its tensor table says raises SIGBUS; both would take the gateway down. This parser
// bounds every read by the file size (node-llama-cpp's readGgufFileInfo reads past the end as
// zeros, so a truncated or hostile header can loop or allocate without limit).
import { open, type FileHandle } from 'node:fs/promises';
import { GGML_MAX_DIMS, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufValueType, SCALAR_SIZE } from './gguf-format.js';

export class GgufValidationError extends Error {
  override readonly name = 'GgufValidationError';
}

/** [block size in elements, bytes per block] per ggml type id, from ggml's type_traits table. */
const GGML_TYPE_LAYOUT: Record<number, readonly [number, number]> = {
  0: [1, 4], // F32
  1: [1, 2], // F16
  2: [32, 18], // Q4_0
  3: [32, 20], // Q4_1
  6: [32, 22], // Q5_0
  7: [32, 24], // Q5_1
  8: [32, 34], // Q8_0
  9: [32, 36], // Q8_1
  10: [256, 84], // Q2_K
  11: [256, 110], // Q3_K
  12: [256, 144], // Q4_K
  13: [256, 176], // Q5_K
  14: [256, 210], // Q6_K
  15: [256, 292], // Q8_K
  16: [256, 66], // IQ2_XXS
  17: [256, 74], // IQ2_XS
  18: [256, 98], // IQ3_XXS
  19: [256, 50], // IQ1_S
  20: [32, 18], // IQ4_NL
  21: [256, 110], // IQ3_S
  22: [256, 82], // IQ2_S
  23: [256, 136], // IQ4_XS
  24: [1, 1], // I8
  25: [1, 2], // I16
  26: [1, 4], // I32
  27: [1, 8], // I64
  28: [1, 8], // F64
  29: [256, 56], // IQ1_M
  30: [1, 2], // BF16
  34: [256, 54], // TQ1_0
  35: [256, 66], // TQ2_0
  39: [32, 17], // MXFP4
  40: [64, 36], // NVFP4
  41: [128, 18], // Q1_0
  42: [64, 18], // Q2_0
};

/** llama.cpp asserts block_count <= LLAMA_MAX_LAYERS. */
const LLAMA_MAX_LAYERS = 512;

/** Longest string accepted in the header (chat templates are the longest real ones, ~100 KB). */
const MAX_STRING_BYTES = 16 * 1024 * 1024;

export type GgufScalar = number | bigint | boolean | string;

export interface GgufSummary {
  version: number;
  architecture: string;
  /** Scalar metadata values; arrays are represented by their length. */
  metadata: Map<string, GgufScalar | { arrayLength: number }>;
  tensorCount: number;
  fileSize: number;
  /** Byte offset where the tensor data section starts. */
  dataOffset: number;
}

/** Parses and checks the whole header of a GGUF file; throws GgufValidationError saying what is wrong. */
export async function validateGgufFile(path: string): Promise<GgufSummary> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new GgufValidationError(`cannot open model file ${path}: ${(err as Error).message}`);
  }
  try {
    const size = (await fh.stat()).size;
    return await parse(new BoundedReader(fh, size), size);
  } finally {
    await fh.close();
  }
}

async function parse(r: BoundedReader, fileSize: number): Promise<GgufSummary> {
  if (fileSize < 24) throw new GgufValidationError(`file is ${fileSize} bytes, too short for a GGUF header`);
  const magic = (await r.bytes(4)).toString('latin1');
  if (magic !== GGUF_MAGIC) throw new GgufValidationError(`not a GGUF file (magic ${JSON.stringify(magic)})`);
  const version = await r.u32();
  if (version !== 2 && version !== 3) throw new GgufValidationError(`unsupported GGUF version ${version}`);
  const tensorCount = await r.count('tensor count', 24);
  const kvCount = await r.count('metadata key/value count', 13);

  const metadata = new Map<string, GgufScalar | { arrayLength: number }>();
  for (let i = 0; i < kvCount; i++) {
    const key = await r.string();
    if (key.length === 0) throw new GgufValidationError(`metadata key ${i} is empty`);
    if (metadata.has(key)) throw new GgufValidationError(`duplicate metadata key ${key}`);
    const type = await r.u32();
    if (type === GgufValueType.Array) {
      const itemType = await r.u32();
      if (itemType === GgufValueType.Array) throw new GgufValidationError(`metadata ${key}: nested arrays are not supported`);
      const minItem = itemType === GgufValueType.String ? 8 : SCALAR_SIZE[itemType as GgufValueType];
      if (minItem === undefined) throw new GgufValidationError(`metadata ${key}: unknown array item type ${itemType}`);
      const length = await r.count(`metadata ${key} array length`, minItem);
      if (itemType === GgufValueType.String) for (let j = 0; j < length; j++) await r.string();
      else await r.skip(length * minItem);
      metadata.set(key, { arrayLength: length });
    } else {
      metadata.set(key, await readScalar(r, type, key));
    }
  }

  const architecture = metadata.get('general.architecture');
  if (typeof architecture !== 'string' || architecture === '') throw new GgufValidationError('metadata general.architecture is missing');
  checkHyperparameters(metadata, architecture);
  const alignmentValue = metadata.get('general.alignment') ?? GGUF_DEFAULT_ALIGNMENT;
  const alignment = typeof alignmentValue === 'number' ? alignmentValue : 0;
  if (alignment <= 0 || (alignment & (alignment - 1)) !== 0) throw new GgufValidationError('general.alignment is not a power of two');

  const tensors: Array<{ name: string; offset: number; bytes: number }> = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = await r.string();
    if (names.has(name)) throw new GgufValidationError(`duplicate tensor ${name}`);
    names.add(name);
    const nDims = await r.u32();
    if (nDims < 1 || nDims > GGML_MAX_DIMS) throw new GgufValidationError(`tensor ${name} has ${nDims} dimensions`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const n = await r.u64();
      if (n < 1n || n > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufValidationError(`tensor ${name} has dimension ${n}`);
      dims.push(Number(n));
    }
    const type = await r.u32();
    const layout = GGML_TYPE_LAYOUT[type];
    if (!layout) throw new GgufValidationError(`tensor ${name} has unsupported ggml type ${type}`);
    const [blockSize, blockBytes] = layout;
    if (dims[0]! % blockSize !== 0) throw new GgufValidationError(`tensor ${name}: row of ${dims[0]} is not a multiple of the block size ${blockSize}`);
    const elements = dims.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(elements)) throw new GgufValidationError(`tensor ${name} is too large`);
    const offset = await r.u64();
    if (offset % BigInt(alignment) !== 0n) throw new GgufValidationError(`tensor ${name} data offset ${offset} is not aligned`);
    tensors.push({ name, offset: Number(offset), bytes: (elements / blockSize) * blockBytes });
  }

  const dataOffset = Math.ceil(r.position / alignment) * alignment;
  for (const t of tensors) {
    const end = dataOffset + t.offset + t.bytes;
    if (end > fileSize) {
      throw new GgufValidationError(`tensor ${t.name} ends at byte ${end} but the file has ${fileSize} bytes: the file is truncated (incomplete download?)`);
    }
  }
  return { version, architecture, metadata, tensorCount, fileSize, dataOffset };
}

async function readScalar(r: BoundedReader, type: number, key: string): Promise<GgufScalar> {
  switch (type) {
    case GgufValueType.String:
      return r.string();
    case GgufValueType.Uint64:
      return r.u64();
    case GgufValueType.Int64:
      return (await r.bytes(8)).readBigInt64LE();
    case GgufValueType.Bool: {
      const b = (await r.bytes(1))[0]!;
      if (b > 1) throw new GgufValidationError(`metadata ${key}: invalid boolean ${b}`);
      return b === 1;
    }
    default: {
      const size = SCALAR_SIZE[type as GgufValueType];
      if (size === undefined) throw new GgufValidationError(`metadata ${key}: unknown value type ${type}`);
      const b = await r.bytes(size);
      switch (type as GgufValueType) {
        case GgufValueType.Uint8:
          return b.readUInt8();
        case GgufValueType.Int8:
          return b.readInt8();
        case GgufValueType.Uint16:
          return b.readUInt16LE();
        case GgufValueType.Int16:
          return b.readInt16LE();
        case GgufValueType.Uint32:
          return b.readUInt32LE();
        case GgufValueType.Int32:
          return b.readInt32LE();
        case GgufValueType.Float32:
          return b.readFloatLE();
        default:
          return b.readDoubleLE();
      }
    }
  }
}

/**
 * llama.cpp derives tensor shapes and head sizes from these; a zero or negative value makes it
 * assert or divide by zero (process abort) instead of returning an error.
 */
function checkHyperparameters(metadata: GgufSummary['metadata'], arch: string): void {
  for (const suffix of ['embedding_length', 'block_count', 'feed_forward_length', 'attention.head_count']) {
    const key = `${arch}.${suffix}`;
    const value = metadata.get(key);
    if (value === undefined) continue; // not every architecture has every key; llama.cpp reports missing ones itself
    const ok = typeof value === 'object' ? value.arrayLength > 0 : typeof value !== 'string' && typeof value !== 'boolean' && value > 0;
    if (!ok) throw new GgufValidationError(`metadata ${key} must be positive`);
  }
  const layers = metadata.get(`${arch}.block_count`);
  if (typeof layers === 'number' && layers > LLAMA_MAX_LAYERS) throw new GgufValidationError(`metadata ${arch}.block_count ${layers} exceeds ${LLAMA_MAX_LAYERS}`);
}

/** Sequential reader that refuses to read past the end of the file. */
class BoundedReader {
  position = 0;
  private buffer = Buffer.alloc(0);
  private bufferStart = 0;
  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
  ) {}

  async bytes(n: number): Promise<Buffer> {
    this.ensureInFile(n);
    const rel = this.position - this.bufferStart;
    if (rel + n > this.buffer.length) await this.fill(n);
    const start = this.position - this.bufferStart;
    this.position += n;
    return this.buffer.subarray(start, start + n);
  }
  async skip(n: number): Promise<void> {
    this.ensureInFile(n);
    this.position += n;
  }
  async u32(): Promise<number> {
    return (await this.bytes(4)).readUInt32LE();
  }
  async u64(): Promise<bigint> {
    return (await this.bytes(8)).readBigUInt64LE();
  }
  /** A u64 count of items that each take at least `minItemBytes`: must fit in the rest of the file. */
  async count(what: string, minItemBytes: number): Promise<number> {
    const n = await this.u64();
    const remaining = BigInt(this.size - this.position);
    if (n * BigInt(minItemBytes) > remaining) throw new GgufValidationError(`${what} ${n} does not fit in the file: corrupt or truncated header`);
    return Number(n);
  }
  async string(): Promise<string> {
    const n = await this.u64();
    if (n > BigInt(MAX_STRING_BYTES)) throw new GgufValidationError(`string of ${n} bytes in the header: corrupt file`);
    return (await this.bytes(Number(n))).toString('utf8');
  }

  private ensureInFile(n: number): void {
    if (this.position + n > this.size) {
      throw new GgufValidationError(`header ends past the end of the file (byte ${this.position + n} of ${this.size}): the file is truncated or corrupt`);
    }
  }
  private async fill(n: number): Promise<void> {
    const length = Math.min(Math.max(n, 1 << 20), this.size - this.position);
    const buf = Buffer.alloc(length);
    const { bytesRead } = await this.fh.read(buf, 0, length, this.position);
    if (bytesRead < n) throw new GgufValidationError(`could not read the header at byte ${this.position}: the file changed while reading`);
    this.buffer = buf.subarray(0, bytesRead);
    this.bufferStart = this.position;
  }
}
