/**
 * The SQL of the inbox over its tables (InboxSchema.ts): the de-duplication record, parked source streams
 * and the messages held behind them, dead letters, and the per-consumer progress row. Every function runs
 * inside the caller's transaction; `lockParked` locks the parked row so that the consumer loop and an
 * operator's retry or skip of the same stream never interleave. `claim` opens a batch's transaction with
 * one statement: the fencing check of the lease token, the de-duplication check of the whole batch, and
 * the locks on the batch's parked streams.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import type { InboxMessage } from "./InboxMessage.ts"
import { SCHEMA } from "./InboxSchema.ts"

export interface ParkedRow {
  readonly stream_id: string
  readonly message_id: string
  readonly error: string
  readonly attempts: number
  readonly parked_at: Date
  readonly waiting: bigint
}

export interface HeldRow {
  readonly seq: bigint
  readonly message_id: string
  readonly subject: string
  readonly headers: Readonly<Record<string, string>>
  readonly payload: string
}

export interface ConsumerRow {
  readonly handled: bigint
  readonly last_seq: bigint | null
  readonly last_position: bigint | null
  readonly last_stream: string | null
  readonly last_handled_at: Date | null
}

export interface Claim {
  /** False when `token` no longer holds the consumer's lease: commit nothing. */
  readonly held: boolean
  readonly handled: ReadonlyArray<string>
  readonly parked: ReadonlyArray<string>
}

export const make = (pg: PgClient.PgClient) => {
  const sql = pg
  const t = (name: string) => sql(`${SCHEMA}.${name}`)

  const isHandled = (consumer: string, id: string) =>
    Effect.map(
      sql<{ readonly one: number }>`SELECT 1 AS one FROM ${t("handled")} WHERE consumer = ${consumer} AND message_id = ${id}`,
      (rows) => rows.length > 0
    )

  /** The parked row of `stream`, locked until the caller commits (undefined: the stream flows). */
  const lockParked = (consumer: string, stream: string) =>
    Effect.map(
      sql<{ readonly error: string; readonly attempts: number }>`
        SELECT error, attempts FROM ${t("parked_streams")} WHERE consumer = ${consumer} AND stream_id = ${stream} FOR UPDATE`,
      (rows) => rows[0]
    )

  /**
   * The lease is locked `FOR SHARE` until the caller commits, so a take-over (which replaces the token)
   * waits for this transaction: a transaction that saw its token commits before anyone else consumes.
   */
  const claim = (consumer: string, token: string, ids: ReadonlyArray<string>, streams: ReadonlyArray<string>) =>
    Effect.map(
      sql<{ readonly held: boolean; readonly handled: ReadonlyArray<string>; readonly parked: ReadonlyArray<string> }>`
        WITH lease AS (SELECT 1 FROM ${t("leases")} WHERE consumer = ${consumer} AND token = ${token} FOR SHARE),
        parked AS (
          SELECT stream_id FROM ${t("parked_streams")} WHERE consumer = ${consumer} AND stream_id = ANY(${[...streams]}::text[])
          FOR UPDATE)
        SELECT EXISTS (SELECT 1 FROM lease) AS held,
          ARRAY(SELECT message_id FROM ${t("handled")} WHERE consumer = ${consumer} AND message_id = ANY(${[...ids]}::text[])) AS handled,
          ARRAY(SELECT stream_id FROM parked) AS parked`,
      (rows): Claim => rows[0] ?? { held: false, handled: [], parked: [] }
    )

  /** The de-duplication records of `messages` (distinct ids, broker order) in one statement, and the progress. */
  const recordMany = (consumer: string, messages: ReadonlyArray<InboxMessage>) =>
    Effect.gen(function*() {
      const last = messages[messages.length - 1]
      if (last === undefined) return
      yield* sql`
        INSERT INTO ${t("handled")} (consumer, message_id, stream_id, seq)
        SELECT ${consumer}, * FROM unnest(${messages.map((m) => m.id)}::text[], ${messages.map((m) => m.stream)}::text[],
          ${messages.map((m) => m.seq)}::bigint[])`
      const position = messages.reduce<bigint | null>((p, m) => m.position ?? p, null)
      yield* sql`
        INSERT INTO ${t("consumers")} AS c (name, handled, last_seq, last_position, last_stream, last_handled_at)
        VALUES (${consumer}, ${messages.length}, ${last.seq}, ${position}, ${last.stream}, now())
        ON CONFLICT (name) DO UPDATE SET handled = c.handled + EXCLUDED.handled, last_seq = EXCLUDED.last_seq,
          last_position = COALESCE(EXCLUDED.last_position, c.last_position), last_stream = EXCLUDED.last_stream,
          last_handled_at = EXCLUDED.last_handled_at`
    })

  /** Keeps `message` waiting behind its stream's failing message. */
  const hold = (consumer: string, m: InboxMessage) =>
    sql`
      INSERT INTO ${t("parked_messages")} (consumer, stream_id, seq, message_id, subject, headers, payload)
      VALUES (${consumer}, ${m.stream}, ${m.seq}, ${m.id}, ${m.subject}, ${pg.json(m.headers)}, ${m.payload})
      ON CONFLICT DO NOTHING`.pipe(Effect.asVoid)

  /** The de-duplication record of `message`, and the consumer's progress. */
  const record = (consumer: string, m: InboxMessage) =>
    Effect.gen(function*() {
      yield* sql`
        INSERT INTO ${t("handled")} (consumer, message_id, stream_id, seq)
        VALUES (${consumer}, ${m.id}, ${m.stream}, ${m.seq})`
      yield* sql`
        INSERT INTO ${t("consumers")} AS c (name, handled, last_seq, last_position, last_stream, last_handled_at)
        VALUES (${consumer}, 1, ${m.seq}, ${m.position ?? null}, ${m.stream}, now())
        ON CONFLICT (name) DO UPDATE SET handled = c.handled + 1, last_seq = EXCLUDED.last_seq,
          last_position = COALESCE(EXCLUDED.last_position, c.last_position), last_stream = EXCLUDED.last_stream,
          last_handled_at = EXCLUDED.last_handled_at`
    })

  /** Parks `message`'s stream at `message` (or moves a parked stream's head there, adding the attempts). */
  const park = (consumer: string, stream: string, messageId: string, error: string, attempts: number) =>
    sql`
      INSERT INTO ${t("parked_streams")} AS s (consumer, stream_id, message_id, error, attempts)
      VALUES (${consumer}, ${stream}, ${messageId}, ${error}, ${attempts})
      ON CONFLICT (consumer, stream_id) DO UPDATE SET message_id = EXCLUDED.message_id, error = EXCLUDED.error,
        attempts = s.attempts + EXCLUDED.attempts, parked_at = now()`.pipe(Effect.asVoid)

  /** The messages waiting behind `stream`, in broker order (the failing one first). */
  const held = (consumer: string, stream: string) =>
    sql<HeldRow>`
      SELECT seq, message_id, subject, headers, payload FROM ${t("parked_messages")}
      WHERE consumer = ${consumer} AND stream_id = ${stream} ORDER BY seq`

  const release = (consumer: string, id: string) =>
    sql`DELETE FROM ${t("parked_messages")} WHERE consumer = ${consumer} AND message_id = ${id}`.pipe(Effect.asVoid)

  const deadLetter = (consumer: string, stream: string, row: HeldRow, error: string, by: string) =>
    sql`
      INSERT INTO ${t("dead_letters")} (consumer, stream_id, seq, message_id, subject, headers, payload, error, skipped_by)
      VALUES (${consumer}, ${stream}, ${row.seq}, ${row.message_id}, ${row.subject}, ${pg.json(row.headers)}, ${row.payload},
        ${error}, ${by})`.pipe(Effect.asVoid)

  /** A skipped message counts as dealt with: a redelivery of it is acknowledged, not handled. */
  const recordSkipped = (consumer: string, stream: string, row: HeldRow) =>
    sql`
      INSERT INTO ${t("handled")} (consumer, message_id, stream_id, seq) VALUES (${consumer}, ${row.message_id}, ${stream}, ${row.seq})
      ON CONFLICT DO NOTHING`.pipe(Effect.asVoid)

  const unpark = (consumer: string, stream: string) =>
    sql`DELETE FROM ${t("parked_streams")} WHERE consumer = ${consumer} AND stream_id = ${stream}`.pipe(Effect.asVoid)

  /** The parked streams of `consumer`, oldest first, with how many messages wait behind each. */
  const list = (consumer: string) =>
    sql<ParkedRow>`
      SELECT s.stream_id, s.message_id, s.error, s.attempts, s.parked_at,
        (SELECT count(*) FROM ${t("parked_messages")} m WHERE m.consumer = s.consumer AND m.stream_id = s.stream_id) AS waiting
      FROM ${t("parked_streams")} s WHERE s.consumer = ${consumer} ORDER BY s.parked_at, s.stream_id`

  const progress = (consumer: string) =>
    Effect.map(
      sql<ConsumerRow>`
        SELECT handled, last_seq, last_position, last_stream, last_handled_at FROM ${t("consumers")} WHERE name = ${consumer}`,
      (rows) => rows[0]
    )

  const deadLetters = (consumer: string) =>
    sql<{ readonly stream_id: string; readonly message_id: string; readonly error: string; readonly skipped_by: string }>`
      SELECT stream_id, message_id, error, skipped_by FROM ${t("dead_letters")} WHERE consumer = ${consumer} ORDER BY id`

  return {
    claim,
    recordMany,
    isHandled,
    lockParked,
    hold,
    record,
    park,
    held,
    release,
    deadLetter,
    recordSkipped,
    unpark,
    list,
    progress,
    deadLetters
  }
}

export type InboxStore = ReturnType<typeof make>
