// The reasoning state of tool calls (ToolCallState: Claude's signed thinking, Gemini's thought
// signatures) and every query on `tool_call_states`. A reasoning model's provider needs it back on
// the next turn of a tool loop, and clients send an earlier answer's calls back without it (they
// keep a message's text and calls, not what a provider attached): the gateway keeps it per
// account, keyed by the call's id, and puts it back into a later request of the same account
// that brings those calls back (docs/api.md, Reasoning in tool loops).
import type { Db } from '../db/connect.js';
import { nowIso } from '../db/connect.js';
import type { Message, ToolCall, ToolCallState } from '../providers/spec.js';

/** Most calls looked up for one request: the latest of its current turn (a tool loop that long is rare; older steps lose nothing Claude reads). */
export const MAX_RESTORED_CALLS = 256;

/** Keeps the state of a generation's calls that have one; a call id the account had before is given the new state. */
export async function keepToolCallStates(db: Db, accountId: number, generationId: number, calls: ToolCall[]): Promise<void> {
  const createdAt = nowIso();
  // One row per id (a statement may not update the same row twice), the last call's state winning.
  const byId = new Map(calls.flatMap((c) => (c.state ? [[c.id, c.state] as const] : [])));
  if (byId.size === 0) return;
  const rows = [...byId].map(([id, state]) => ({ account_id: accountId, call_id: id, generation_id: generationId, state_json: JSON.stringify(state), created_at: createdAt }));
  await db.kysely
    .insertInto('tool_call_states')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['account_id', 'call_id']).doUpdateSet((eb) => ({
        generation_id: eb.ref('excluded.generation_id'),
        state_json: eb.ref('excluded.state_json'),
        created_at: eb.ref('excluded.created_at'),
      })),
    )
    .execute();
}

/**
 * The messages with the kept state of their current turn's calls (after the last user message:
 * all that Claude and Gemini check) put back, looked up among the account's own calls only;
 * `messages` itself when there is nothing to look up or nothing kept.
 */
export async function restoreToolCallStates(db: Db, accountId: number, messages: Message[]): Promise<Message[]> {
  let turn = messages.length;
  while (turn > 0 && messages[turn - 1]!.role !== 'user') turn--;
  const ids = messages.slice(turn).flatMap((m) => (m.role === 'assistant' ? (m.toolCalls ?? []).map((c) => c.id) : []));
  if (ids.length === 0) return messages;
  const rows = await db.kysely
    .selectFrom('tool_call_states')
    .select(['call_id', 'state_json'])
    .where('account_id', '=', accountId)
    .where('call_id', 'in', [...new Set(ids.slice(-MAX_RESTORED_CALLS))])
    .execute();
  if (rows.length === 0) return messages;
  const kept = new Map(rows.map((r) => [r.call_id, JSON.parse(r.state_json) as ToolCallState]));
  return messages.map((m, i) => {
    if (i < turn || m.role !== 'assistant' || !m.toolCalls?.some((c) => kept.has(c.id))) return m;
    return { ...m, toolCalls: m.toolCalls.map((c) => (kept.has(c.id) ? { ...c, state: kept.get(c.id)! } : c)) };
  });
}

/** Deletes the state of a generation's calls (its owner deleted it: its reasoning goes with its text). */
export async function deleteToolCallStatesOf(db: Db, generationId: number): Promise<void> {
  await db.kysely.deleteFrom('tool_call_states').where('generation_id', '=', generationId).execute();
}

/** Deletes the state kept before `before` (an ISO instant); resolves with how many calls' state went. */
export async function sweepToolCallStates(db: Db, before: string): Promise<number> {
  const r = await db.kysely.deleteFrom('tool_call_states').where('created_at', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}
