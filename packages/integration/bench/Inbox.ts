/**
 * The inbox of the relay benchmark's lag phase: an `Inbox` on the relay's stream whose handler writes one
 * row per event (`bench_inbox`, a repeat increments `applied`), with the time each event's handler
 * transaction committed, taken in the inbox's after-commit hook (before the broker ack).
 */
import { PgClient } from "@effect/sql-pg"
import { AckPolicy, DeliverPolicy, type jetstreamManager } from "@nats-io/jetstream"
import { nanos } from "@nats-io/transport-node"
import { Effect, Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Inbox } from "../src/index.ts"
import { CATEGORY, PREFIX, STREAM } from "./Names.ts"

/**
 * An inbox on the relay's stream from `fromSeq` on (its durable consumer created there, so it skips the
 * throughput phase's messages), whose handler writes one row per event; returns when each event's
 * handler transaction committed (the inbox's after-commit hook, before the broker ack).
 */
export const startInbox = (natsUrl: string, jsm: Awaited<ReturnType<typeof jetstreamManager>>, fromSeq: number, scope: Scope.Scope) =>
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
      handler: (m) =>
        Effect.gen(function*() {
          const tx = yield* SqlClient
          if (!startedAt.has(m.eventId ?? m.id)) startedAt.set(m.eventId ?? m.id, performance.now())
          yield* tx`INSERT INTO bench_inbox (event_id, version) VALUES (${m.eventId ?? m.id}, ${m.streamVersion ?? 0})
            ON CONFLICT (event_id) DO UPDATE SET applied = bench_inbox.applied + 1`
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
