/**
 * The group-commit statement: the appends of several callers to DIFFERENT streams in ONE statement (so one
 * transaction, one round trip, one commit). Each write's expectation is checked on its own row: a write
 * whose compare-and-set does not match simply yields no rows (it is not an error), so the others still
 * commit and only that caller's append is refused (and explained as a single append is, `Append.ts`).
 *
 * The compare-and-set is split by expectation, because an `INSERT ... ON CONFLICT` cannot see a per-row
 * expectation in its `DO UPDATE ... WHERE`: one `UPDATE` for `stream_exists` / exact versions (a missing
 * stream must not be created), one upsert for `any`, one for `no_stream`. The writes' streams are distinct
 * (`GroupCommit` keeps a second write to a stream for the next group), so the three touch disjoint rows.
 *
 * The group first locks its streams' rows with `SKIP LOCKED`: a row another transaction holds (a caller's
 * open transaction, another process's append) is not waited for; that write is answered `Busy` and goes
 * alone, as a single append that waits as today. So one held stream never stalls the rest of the group,
 * and groups of different processes never deadlock on each other's rows.
 *
 * Order keys (postgres/Horizon.ts): every stream's key is the greatest of the group transaction's id and the
 * stream's previous key, exactly as for a single append; one id for many streams keeps "a key is never
 * below its writer's id". The late-append guard is a MATERIALIZED CTE, evaluated once before any row is
 * written (every write joins it), so it sees the statement before it has a transaction id.
 */
import { Effect } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import type * as Statement from "effect/sql/Statement"
import * as Checkpoint from "../Checkpoint.ts"
import type { AppendResult } from "../Events.ts"
import type { WritePlan } from "../StoreRules.ts"
import type { Tables } from "./Tables.ts"

/** An appended event, or (position null) a write whose stream's row another transaction holds. */
type GroupRow =
  | { readonly position: bigint; readonly stream_id: string; readonly version: bigint; readonly tx: bigint }
  | { readonly position: null; readonly stream_id: string; readonly version: null; readonly tx: null }

type EventRow = Extract<GroupRow, { readonly position: bigint }>

/** What the group statement answers for one write. */
export type Answer =
  | { readonly _tag: "Appended"; readonly result: AppendResult }
  /** Its expectation did not hold: nothing of it was written. */
  | { readonly _tag: "NoMatch" }
  /** Another transaction holds its stream's row: not tried, so the group never waits behind that transaction. */
  | { readonly _tag: "Busy" }

const NO_MATCH: Answer = { _tag: "NoMatch" }
const BUSY: Answer = { _tag: "Busy" }

/** How a write's expectation is passed to the statement (`w.kind`). */
const kindOf = (write: WritePlan): number => {
  switch (write.normalized._tag) {
    case "Any":
      return 0
    case "NoStream":
      return 1
    case "StreamExists":
      return 2
    case "Exact":
      return 3
  }
}

/**
 * Appends `writes` (distinct streams) in one statement. The answer has one entry per write, in order.
 */
export const make = (tables: Tables) => {
  const { sql } = tables
  const streamsTable = tables.streams
  const eventsTable = tables.events
  const guard = tables.horizon.guard

  return (writes: ReadonlyArray<WritePlan>): Effect.Effect<Array<Answer>, SqlError> => {
    const n = writes.length
    const streams = new Array<string>(n)
    const categories = new Array<string>(n)
    const kinds = new Array<number>(n)
    const expected = new Array<number>(n)
    const counts = new Array<number>(n)
    const members: Array<number> = []
    const ids: Array<string> = []
    const types: Array<string> = []
    const schemaVersions: Array<number> = []
    const data: Array<string> = []
    const metadata: Array<string> = []
    const ordinals: Array<number> = []
    for (let i = 0; i < n; i++) {
      const write = writes[i]!
      streams[i] = write.stream.stream
      categories[i] = write.stream.category
      kinds[i] = kindOf(write)
      expected[i] = write.normalized._tag === "Exact" ? write.normalized.version : 0
      counts[i] = write.events.length
      for (let k = 0; k < write.events.length; k++) {
        const event = write.events[k]!
        members.push(i + 1)
        ordinals.push(k + 1)
        ids.push(event.eventId)
        types.push(event.type)
        schemaVersions.push(event.schemaVersion)
        data.push(event.data)
        metadata.push(event.metadata)
      }
    }
    // Only streams that are absent or locked by this statement: a busy one is left for its own append.
    const upsert = (kind: number, condition: Statement.Fragment) =>
      sql`INSERT INTO ${streamsTable} AS s (stream_id, category, version, last_transaction_id)
          SELECT w.stream_id, w.category, w.count, pg_current_xact_id() FROM w
          WHERE w.kind = ${kind} AND w.stream_id NOT IN (SELECT b.stream_id FROM busy b)
          ON CONFLICT (stream_id) DO UPDATE SET version = s.version + excluded.version, deleted = false,
            last_transaction_id = greatest(s.last_transaction_id, excluded.last_transaction_id)
          WHERE ${condition}
          RETURNING s.stream_id, s.version, s.last_transaction_id AS key`
    return sql<GroupRow>`
      WITH g AS MATERIALIZED (${guard}),
      w AS MATERIALIZED (
        SELECT * FROM unnest(${streams}::text[], ${categories}::text[], ${kinds}::int4[], ${expected}::int8[], ${counts}::int8[])
          WITH ORDINALITY AS w(stream_id, category, kind, expected, count, i)
      ),
      locked AS MATERIALIZED (
        SELECT s.stream_id FROM ${streamsTable} s, g
        WHERE g.ok AND s.stream_id IN (SELECT w.stream_id FROM w)
        FOR UPDATE OF s SKIP LOCKED
      ),
      busy AS MATERIALIZED (
        SELECT w.stream_id FROM w
        WHERE w.stream_id NOT IN (SELECT l.stream_id FROM locked l)
          AND EXISTS (SELECT 1 FROM ${streamsTable} s WHERE s.stream_id = w.stream_id)
      ),
      updated AS (
        UPDATE ${streamsTable} AS s SET version = s.version + w.count,
          last_transaction_id = greatest(s.last_transaction_id, pg_current_xact_id())
        FROM w, locked l
        WHERE w.kind >= 2 AND l.stream_id = w.stream_id AND s.stream_id = w.stream_id AND NOT s.deleted AND NOT s.tombstoned
          AND (w.kind = 2 OR s.version = w.expected)
        RETURNING s.stream_id, s.version, s.last_transaction_id AS key
      ),
      any_written AS (${upsert(0, sql.literal("NOT s.tombstoned"))}),
      created AS (${upsert(1, sql.literal("s.deleted AND NOT s.tombstoned"))}),
      cas AS (SELECT * FROM updated UNION ALL SELECT * FROM any_written UNION ALL SELECT * FROM created),
      appended AS (
        INSERT INTO ${eventsTable} (transaction_id, stream_id, category, version, event_id, type, schema_version, data, metadata)
        SELECT c.key, w.stream_id, w.category, c.version - w.count + e.n, e.event_id, e.type, e.schema_version, e.data, e.metadata
        FROM unnest(${members}::int8[], ${ordinals}::int8[], ${ids}::uuid[], ${types}::text[], ${schemaVersions}::int4[],
            ${data}::jsonb[], ${metadata}::jsonb[]) WITH ORDINALITY AS e(member, n, event_id, type, schema_version, data, metadata, k)
          JOIN w ON w.i = e.member
          JOIN cas c ON c.stream_id = w.stream_id
        -- Positions are drawn in this order: each write's events get ascending positions, as alone.
        ORDER BY e.k
        RETURNING position, stream_id, version, transaction_id::text::int8 AS tx
      )
      SELECT a.position, a.stream_id, a.version, a.tx FROM appended a
      UNION ALL SELECT NULL, b.stream_id, NULL, NULL FROM busy b`.pipe(
      Effect.map((rows) => {
        const byStream = new Map<string, Array<EventRow>>()
        const busy = new Set<string>()
        for (const row of rows) {
          if (row.position === null) {
            busy.add(row.stream_id)
            continue
          }
          const list = byStream.get(row.stream_id)
          if (list === undefined) byStream.set(row.stream_id, [row])
          else list.push(row)
        }
        return writes.map((write): Answer => {
          if (busy.has(write.stream.stream)) return BUSY
          const found = byStream.get(write.stream.stream)
          if (found === undefined) return NO_MATCH
          const ordered = found.length === 1 ? found : found.sort((a, b) => (a.version < b.version ? -1 : 1))
          const last = ordered[ordered.length - 1]!
          return {
            _tag: "Appended",
            result: {
              streamId: write.stream.stream,
              version: Number(last.version),
              positions: ordered.map((row) => row.position),
              checkpoint: Checkpoint.make(last.tx, last.position)
            }
          }
        })
      })
    )
  }
}
