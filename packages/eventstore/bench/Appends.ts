/**
 * Append scenarios, two ways over the same payload:
 * - raw: a plain INSERT into `verity.events` (no streams row, no checks): what the table itself can take;
 * - store: `EventStore.append` with the exact expected version: a real, checked append.
 * store / raw is the price of the store's guarantees (compare-and-set on `streams`, gapless versions,
 * idempotent ids, the result's positions and checkpoint). A second pair writes an event with personal data
 * through the plain store and through the protected (crypto-shredding) store: encrypted / plain is the
 * price of encryption (the data key of each client's subject is cached after its first append).
 *
 * Each client owns STREAMS_PER_CLIENT streams and cycles through them, so writes spread over many stream
 * rows as in a real system (one hot row per client would measure row-lock and HOT-chain churn instead).
 */
import { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { EventStore } from "../src/EventStore.ts"
import type { Operation } from "./Measure.ts"
import * as Payload from "./Payload.ts"

/** `plain` / `encrypted`: the store writing an event with personal data, without and with crypto-shredding. */
export type Mode = "raw" | "store" | "plain" | "encrypted"

export const STREAMS_PER_CLIENT = 100

/** Numbers each set of operations, so running a scenario twice in one database never reuses a stream. */
let runs = 0

/** One operation per client, appending `batch` events each time. */
export const operations = (mode: Mode, clients: number, batch: number, protectedStore?: EventStore["Service"]) =>
  Effect.gen(function*() {
    const sql = (yield* PgClient.PgClient).withoutTransforms()
    const store = mode === "encrypted" && protectedStore !== undefined ? protectedStore : yield* EventStore
    const payload = mode === "plain" || mode === "encrypted" ? Payload.personalEvents : Payload.newEvents
    const events = sql("verity.events")
    const run = runs++

    return Array.from({ length: clients }, (_, client): Operation<unknown, never> => {
      // Categories and names keep every scenario's rows apart, so no two runs ever touch the same stream.
      const category = `${mode}_b${batch}`
      const streams = Array.from({ length: STREAMS_PER_CLIENT }, (_, k) => `${category}-r${run}c${client}s${k}`)
      const versions = new Array<number>(STREAMS_PER_CLIENT).fill(0)
      const accountId = randomUUID()
      const actor = `user:client${client}@example.com`
      let n = 0

      if (mode !== "raw") {
        return () => {
          const k = n++ % STREAMS_PER_CLIENT
          const expected = versions[k]!
          return store.append(streams[k]!, expected === 0 ? "no_stream" : expected, payload(accountId, actor, n, batch))
            .pipe(Effect.map((result) => {
              versions[k] = result.version
              return batch
            }))
        }
      }

      return () => {
        const k = n++ % STREAMS_PER_CLIENT
        const stream = streams[k]!
        const base = versions[k]!
        versions[k] = base + batch
        const raw = Payload.rawEvents(accountId, actor, n, batch)
        const statement = batch === 1
          ? sql`INSERT INTO ${events} (stream_id, category, version, event_id, type, schema_version, data, metadata)
              VALUES (${stream}, ${category}, ${base + 1}, ${raw.ids[0]!}::uuid, ${raw.types[0]!}, ${raw.schemaVersions[0]!},
                ${raw.data[0]!}::jsonb, ${raw.metadata[0]!}::jsonb)`
          // Several rows in one statement, the same unnest shape the store uses (one round trip per batch).
          : sql`INSERT INTO ${events} (stream_id, category, version, event_id, type, schema_version, data, metadata)
              SELECT ${stream}, ${category}, ${base} + e.n, e.event_id, e.type, e.schema_version, e.data, e.metadata
              FROM unnest(${raw.ids}::uuid[], ${raw.types}::text[], ${raw.schemaVersions}::int4[], ${raw.data}::jsonb[],
                ${raw.metadata}::jsonb[]) WITH ORDINALITY AS e(event_id, type, schema_version, data, metadata, n)`
        return Effect.as(statement, batch)
      }
    })
  })
