// The result object of a hot PostgreSQL statement (Db.pgQuery), which describes its columns once.
// For every result pg 8 builds, from the RowDescription message, a parser per column and a row
// template (a dictionary-mode object, then copied into a fast one): `Result.addFields`, the largest
// single function of a PostgreSQL + Redis request's CPU profile (2.5 % of busy samples, ~4 KB
// allocated per request; bench/NOTES.md, ninth session). A hot statement's text never changes, so
// neither do its columns: the first result's parsers and template are kept per statement text and
// reused while the columns (name, type, format) are the same; any difference describes them anew.
// The template is only ever copied (pg's parseRow spreads it into each row), never written.
import type pg from 'pg';

interface FieldDescription {
  name: string;
  dataTypeID: number;
  format?: string;
}

/** pg's Result, as far as this module reads and writes it (pg/lib/result.js). */
interface PgResult {
  fields: FieldDescription[];
  _parsers: unknown[] | undefined;
  _prebuiltEmptyResultObject: object | null;
  addFields(fields: FieldDescription[]): void;
}

interface Shape {
  /** The RowDescription's fields the parsers were built from (pg never changes them afterwards). */
  fields: FieldDescription[];
  parsers: unknown[] | undefined;
  template: object | null;
}

/** A statement's columns as last described, by statement text (the hot statements are a handful). */
const shapes = new Map<string, Shape>();

/** Whether `fields` are the columns `shape` was built for, in order. */
function sameColumns(shape: Shape['fields'], fields: FieldDescription[]): boolean {
  if (shape.length !== fields.length) return false;
  for (let i = 0; i < fields.length; i++) {
    const a = shape[i]!;
    const b = fields[i]!;
    if (a.name !== b.name || a.dataTypeID !== b.dataTypeID || a.format !== b.format) return false;
  }
  return true;
}

/** The class of a hot statement's result: pg's Result, describing the columns of `text` once. */
export function statementResultClass(pgModule: typeof pg): new (text: string) => PgResult {
  const Result = (pgModule as unknown as { Result: new (rowMode?: string, types?: unknown) => PgResult }).Result;
  return class StatementResult extends Result {
    constructor(private readonly text: string) {
      super();
    }

    override addFields(fields: FieldDescription[]): void {
      const shape = shapes.get(this.text);
      if (shape && sameColumns(shape.fields, fields)) {
        this.fields = fields;
        this._parsers = shape.parsers;
        this._prebuiltEmptyResultObject = shape.template;
        return;
      }
      super.addFields(fields);
      shapes.set(this.text, { fields, parsers: this._parsers, template: this._prebuiltEmptyResultObject });
    }
  };
}
