/**
 * The inbox of the relay benchmark's lag phase: an `Inbox` on the relay's stream whose handler writes one
 * row per event (`bench_inbox`, a repeat increments `applied`; by default through the batch handler, one
 * INSERT per batch, BENCH_INBOX_HANDLER=message for one per message), with the time each event's handler
 * transaction committed, taken in the inbox's after-commit hook (before the broker ack).
 */
import { PgClient } from "@effect/sql-pg"
import { AckPolicy, DeliverPolicy, type jetstreamManager } from "@nats-io/jetstream"
import { nanos } from "@nats-io/transport-node"
import { Effect, Layer, Redacted, Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Inbox } from "../src/index.ts"
import { CATEGORY, PREFIX, STREAM } from "./Names.ts"

/**
 * An inbox on the relay's stream from `fromSeq` on (its durable consumer created there, so it skips the
 * throughput phase's messages), whose handler writes one row per event; returns when each event's
 * handler transaction committed (the inbox's after-commit hook, before the broker ack). The inbox has a
 * connection pool of its own (3 connections).
 */
export const startInbox = (
  natsUrl: string,
  databaseUrl: string,
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  fromSeq: number,
  scope: Scope.Scope
) =>
  Effect.gen(function*() {
    // A pool of its own, as in the consuming service it would run in: the store's appends and the relay
    // in this process take up the other pool's connections and would queue the inbox's transactions.
    const own = yield* Layer.buildWithScope(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 3 }), scope).pipe(Effect.orDie)
    return yield* run(natsUrl, jsm, fromSeq, scope).pipe(Effect.provide(own))
  })

const run = (natsUrl: string, jsm: Awaited<ReturnType<typeof jetstreamManager>>, fromSeq: number, scope: Scope.Scope) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    yield* sql`CREATE TABLE IF NOT EXISTS bench_inbox (event_id text PRIMARY KEY, version integer NOT NULL, applied integer NOT NULL DEFAULT 1)`.pipe(
      Effect.orDie
    )
    yield* Effect.promise(() =>
      jsm.consumers.add(STREAM, {
        durable_name: "bench_inbox",
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(30_000),
        filter_subject: `${PREFIX}.${CATEGORY}.>`,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: fromSeq
      })
    )
    const committedAt = new Map<string, number>()
    const startedAt = new Map<string, number>()
    const inbox = yield* Inbox.make({
      name: "bench_inbox",
      servers: natsUrl,
      stream: STREAM,
      filterSubject: `${PREFIX}.${CATEGORY}.>`,
      // BENCH_INBOX_BATCH: the inbox's batchSize (default the Inbox's).
      ...(Number(process.env.BENCH_INBOX_BATCH) > 0 ? { batchSize: Number(process.env.BENCH_INBOX_BATCH) } : {}),
      handler: (m) =>
        Effect.gen(function*() {
          const tx = yield* SqlClient
          if (!startedAt.has(m.eventId ?? m.id)) startedAt.set(m.eventId ?? m.id, performance.now())
          yield* tx`INSERT INTO bench_inbox (event_id, version) VALUES (${m.eventId ?? m.id}, ${m.streamVersion ?? 0})
            ON CONFLICT (event_id) DO UPDATE SET applied = bench_inbox.applied + 1`
        }),
      // The same rows in one INSERT per batch (BENCH_INBOX_HANDLER=message: the per-message handler only).
      ...(process.env.BENCH_INBOX_HANDLER === "message" ? {} : {
        handleBatch: (ms: ReadonlyArray<Inbox.InboxMessage.InboxMessage>) =>
          Effect.gen(function*() {
            const tx = yield* SqlClient
            const now = performance.now()
            for (const m of ms) if (!startedAt.has(m.eventId ?? m.id)) startedAt.set(m.eventId ?? m.id, now)
            yield* tx`INSERT INTO bench_inbox (event_id, version)
              SELECT * FROM unnest(${ms.map((m) => m.eventId ?? m.id)}::text[], ${ms.map((m) => m.streamVersion ?? 0)}::int[])
              ON CONFLICT (event_id) DO UPDATE SET applied = bench_inbox.applied + 1`
          })
      }),
      beforeAck: (m) =>
        Effect.sync(() => {
          const id = m.eventId ?? m.id
          if (!committedAt.has(id)) committedAt.set(id, performance.now())
        })
    }).pipe(Scope.provide(scope), Effect.orDie)
    const times: { readonly startedAt: ReadonlyMap<string, number>; readonly committedAt: ReadonlyMap<string, number> } = { startedAt, committedAt }
    return { ...times, status: Effect.orDie(inbox.status) }
  })
