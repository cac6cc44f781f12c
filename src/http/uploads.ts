// Streamed multipart uploads (docs/api.md, "Input files"): the one file part of a form is written
// to a temp file in LUMENGATE_UPLOAD_DIR as it arrives (never held whole in memory) and cut off at
// INPUT_MAX_BYTES; the text fields are collected. The routes that take uploads register
// @fastify/multipart in their own encapsulated context with registerMultipart.
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError, badRequest, clip, unsupportedField } from '../core/errors.js';
import { INPUT_MAX_BYTES, type InputUpload } from '../jobs/inputs.js';

const MAX_FIELDS = 16;
const MAX_FIELD_BYTES = 64 * 1024;

/** @fastify/multipart for the routes of `app` (an encapsulated context) with the upload limits. */
export async function registerMultipart(app: FastifyInstance): Promise<void> {
  await app.register(multipart, {
    limits: { fileSize: INPUT_MAX_BYTES, files: 1, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, parts: MAX_FIELDS + 1, headerPairs: 100 },
  });
}

export interface UploadSpec {
  /** The form field of the file (`audio`, `file`). */
  fileField: string;
  /** The text fields the route takes; any other is refused naming it. */
  fields: ReadonlySet<string>;
  /** The temp directory (Settings.uploadDir). */
  dir: string;
}

export interface UploadedFile {
  path: string;
  bytes: number;
  filename: string;
  mimetype: string;
}

export interface Upload {
  fields: Record<string, string>;
  file: UploadedFile | undefined;
  /** Removes the temp file (idempotent; call it in a finally). */
  discard(): Promise<void>;
}

/**
 * Reads the multipart body: text fields into `fields`, the file into a temp file. Any refusal
 * (unknown field, second file, over the size cap) removes the temp file and drains the rest of
 * the request, so the client reads the error instead of a reset connection.
 */
export async function readUpload(req: FastifyRequest, spec: UploadSpec): Promise<Upload> {
  if (!req.isMultipart()) throw badRequest(`send multipart/form-data with the file in the "${spec.fileField}" field`, { fields: [{ path: spec.fileField, message: 'required' }] });
  const fields: Record<string, string> = {};
  let file: UploadedFile | undefined;
  let tempPath: string | undefined;
  const discard = async () => {
    if (tempPath) await rm(tempPath, { force: true });
  };
  try {
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== spec.fileField) throw unsupportedField(part.fieldname, `unknown field (the file goes in "${spec.fileField}")`);
        tempPath = join(spec.dir, `lumengate-upload-${randomUUID()}`);
        await pipeline(part.file, createWriteStream(tempPath));
        if (part.file.truncated) throw tooLarge(spec.fileField);
        file = { path: tempPath, bytes: (await stat(tempPath)).size, filename: part.filename, mimetype: part.mimetype };
        continue;
      }
      const name = part.fieldname;
      if (!spec.fields.has(name)) throw unsupportedField(name, 'unknown field');
      if (name in fields) throw unsupportedField(name, 'given more than once');
      if (part.valueTruncated)
        throw new GatewayError('payload_too_large', `${clip(name)}: over ${MAX_FIELD_BYTES} bytes`, { fields: [{ path: clip(name), message: `over ${MAX_FIELD_BYTES} bytes` }] });
      fields[name] = typeof part.value === 'string' ? part.value : JSON.stringify(part.value);
    }
    return { fields, file, discard };
  } catch (err) {
    await discard();
    // Unhook the parser and read the rest of the body into nothing: the answer is the refusal.
    req.raw.unpipe();
    req.raw.resume();
    throw refusalOf(err, spec.fileField);
  }
}

const tooLarge = (field: string) =>
  new GatewayError('payload_too_large', `${field}: the file is larger than ${INPUT_MAX_BYTES} bytes (25 MiB)`, {
    fields: [{ path: field, message: `over ${INPUT_MAX_BYTES} bytes` }],
    max_bytes: INPUT_MAX_BYTES,
  });

/** @fastify/multipart's and busboy's errors as our envelope. */
function refusalOf(err: unknown, fileField: string): unknown {
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return tooLarge(fileField);
    case 'FST_FILES_LIMIT':
      return unsupportedField(fileField, 'one file per request');
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new GatewayError('payload_too_large', `too many form fields (at most ${MAX_FIELDS})`);
    case 'FST_PROTO_VIOLATION':
      return badRequest('a form field name is not allowed');
    default:
      return badRequest(`malformed multipart body: ${clip((err as Error)?.message ?? String(err), 120)}`);
  }
}

/** The uploaded file as a job input: streamed from the temp file into the store. */
export function uploadInput(file: UploadedFile, field: string, f: { ext: string; mediaType: string }): InputUpload & { bytes: number } {
  return { field, ext: f.ext, mediaType: f.mediaType, bytes: file.bytes, ...(file.filename ? { filename: file.filename } : {}), body: () => createReadStream(file.path) };
}
