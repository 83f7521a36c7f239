/**
 * The whole path store -> relay -> JetStream -> inbox under faults, with 16 writers appending all along:
 * (a) the broker (a `nats-server -js` of the test's own) is SIGKILLed and started again on the same port and
 * store folder; (b) the relay process is SIGKILLed mid-batch and another one takes over. Afterwards the
 * inbox's effect table holds every committed event exactly once (its handler counts a repeated effect
 * instead of hiding it), and per source stream the handler saw the versions in order, none skipped.
 *
 * Every step is bounded by a named timeout, so a stuck run says which step stuck (on 2 shared CI cores
 * the bounds are generous; none of them is a sleep that the test's outcome depends on).
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Checkpoint, EventStore, PgEventStore } from "@verity/eventstore"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Context, Duration, Effect, Fiber, Layer, Redacted, Ref } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Inbox } from "../src/index.ts"
import { ownServer, unique } from "./Nats.ts"
import { sent } from "./support/Parcels.ts"
import { startRelayProcess } from "./support/RelayChild.ts"

const WRITERS = 16

/** Runs `effect`, dying with the step's name when it takes longer than `timeout`. */
const step = <A, E, R>(name: string, timeout: Duration.Input, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.die(new Error(`step "${name}" did not finish within ${Duration.format(Duration.fromInputUnsafe(timeout))}`))
    })
  )

interface EffectRow {
  readonly event_id: string
  readonly stream: string
  readonly version: number
  readonly applied: number
}

forEachDatabase((target) => {
  describe("inbox under faults", () => {
    it.live(
      "broker SIGKILLed and restarted, relay SIGKILLed mid-batch: every event's effect exactly once, in stream order",
      () =>
        Effect.gen(function*() {
          const id = unique()
          const f = { category: `f${id}`, stream: `FAULT_${id}`, prefix: `f${id}`, relay: `relay_${id}`, inbox: `inbox_${id}` }
          const server = yield* step("start nats-server", "30 seconds", ownServer)
          const url = yield* TestDatabase.freshDatabaseUrl(target)
          const context = yield* Layer.build(
            PgEventStore.layer().pipe(Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 24 })))
          )
          const store = Context.get(context, EventStore)
          const sql = Context.get(context, PgClient.PgClient)
          // One row per event; a second application of the same event increments `applied` instead of failing,
          // so a doubled effect shows. `handled` numbers the rows in the order the handler wrote them.
          yield* sql`CREATE TABLE fault_effects (
          event_id text PRIMARY KEY, stream text NOT NULL, version integer NOT NULL, applied integer NOT NULL DEFAULT 1,
          handled bigint GENERATED ALWAYS AS IDENTITY)`
          const effectCount = sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM fault_effects`.pipe(
            Effect.map((rows) => rows[0]!.n),
            Effect.orDie
          )
          const committedCount = Effect.map(
            store.readAll({ from: Checkpoint.start, limit: 100_000, categories: [f.category] }),
            (page) => page.events.length
          ).pipe(Effect.orDie)
          const grown = (what: string, probe: Effect.Effect<number>, by: number, timeout: Duration.Input) =>
            Effect.flatMap(probe, (from) => eventually(what, probe, (n) => n >= from + by, { timeout, interval: "50 millis" }))

          const env = {
            RELAY_DATABASE_URL: url,
            RELAY_NATS_URL: server.url,
            RELAY_STREAM: f.stream,
            RELAY_PREFIX: f.prefix,
            RELAY_CATEGORY: f.category,
            RELAY_NAME: f.relay,
            RELAY_BATCH_SIZE: "100",
            DATABASE_URL: ""
          }
          const first = yield* step("start the first relay process", "60 seconds", startRelayProcess({ ...env, RELAY_OWNER: "first" }))
          const inbox = yield* step(
            "start the inbox",
            "30 seconds",
            Inbox.make({
              name: f.inbox,
              servers: server.url,
              stream: f.stream,
              filterSubject: `${f.prefix}.${f.category}.>`,
              ackWait: "3 seconds",
              retryDelay: "20 millis",
              handler: (m) =>
                Effect.gen(function*() {
                  if (m.eventId === undefined || m.streamVersion === undefined) {
                    return yield* Effect.fail(new Error(`message ${m.id} lacks the relay's headers`))
                  }
                  const tx = yield* SqlClient
                  yield* tx`INSERT INTO fault_effects (event_id, stream, version) VALUES (${m.eventId}, ${m.stream}, ${m.streamVersion})
                  ON CONFLICT (event_id) DO UPDATE SET applied = fault_effects.applied + 1`
                })
            }).pipe(Effect.provideContext(context))
          )

          // 16 writers, each appending 2 events at a time to its own stream until told to stop. The pause
          // between two appends only paces the load (about 600 events/s at most): the steps below wait on
          // what reached the inbox, not on the clock.
          const writing = yield* Ref.make(true)
          const writers = yield* Effect.forEach(
            Array.from({ length: WRITERS }, (_, w) => w),
            (w) =>
              Effect.gen(function*() {
                let version = 0
                while (yield* Ref.get(writing)) {
                  yield* store.append(`${f.category}-${w}`, "any", sent(2, version))
                  version += 2
                  yield* Effect.sleep("50 millis")
                }
                return version
              }),
            { concurrency: "unbounded" }
          ).pipe(Effect.orDie, Effect.forkChild)

          yield* step("the inbox handles the first events", "60 seconds", grown("100 effects", effectCount, 100, "60 seconds"))

          // (a) The broker dies mid-load; the writers go on while it is down.
          yield* step("SIGKILL nats-server", "10 seconds", server.kill)
          yield* step("appends while the broker is down", "30 seconds", grown("100 appends during the outage", committedCount, 100, "30 seconds"))
          yield* step("restart nats-server on the same port and store", "30 seconds", server.start)
          yield* step("the inbox resumes after the broker restart", "90 seconds", grown("200 more effects", effectCount, 200, "90 seconds"))

          // (b) The relay process dies while it publishes; another takes over from its checkpoint.
          yield* step("SIGKILL the first relay process", "10 seconds", first.kill9)
          yield* step("appends while no relay runs", "30 seconds", grown("50 appends without a relay", committedCount, 50, "30 seconds"))
          yield* step("start the second relay process", "60 seconds", startRelayProcess({ ...env, RELAY_OWNER: "second" }))
          yield* step("the inbox resumes after the relay restart", "90 seconds", grown("200 more effects", effectCount, 200, "90 seconds"))

          yield* Ref.set(writing, false)
          const versions = yield* step("the writers stop", "30 seconds", Fiber.join(writers))
          const stored = (yield* store.readAll({ from: Checkpoint.start, limit: 100_000, categories: [f.category] }).pipe(Effect.orDie)).events
          assert.strictEqual(stored.length, versions.reduce((a, b) => a + b, 0), "the store holds every acknowledged append")
          yield* step(
            "the inbox catches up",
            "180 seconds",
            eventually(`${stored.length} effects`, effectCount, (n) => n >= stored.length, { timeout: "180 seconds", interval: "100 millis" })
          )
          // Settled: nothing pending or unacknowledged at the broker, so no redelivery can still come.
          const status = yield* step(
            "the inbox settles",
            "60 seconds",
            eventually("inbox with nothing pending", inbox.status, (s) => s.pending === 0 && s.ackPending === 0 && s.handled === stored.length, {
              timeout: "60 seconds",
              interval: "100 millis"
            })
          )

          const rows = yield* sql<EffectRow>`SELECT event_id, stream, version, applied FROM fault_effects ORDER BY handled`
          assert.strictEqual(rows.length, stored.length, "one effect row per committed event")
          const twice = rows.filter((r) => r.applied !== 1)
          assert.deepStrictEqual(twice.map((r) => r.event_id), [], "no effect applied twice")
          const want = new Set(stored.map((e) => e.eventId))
          assert.deepStrictEqual(rows.filter((r) => !want.has(r.event_id)).map((r) => r.event_id), [], "no effect of an unknown event")
          const seen = new Map<string, Array<number>>()
          for (const r of rows) seen.set(r.stream, [...(seen.get(r.stream) ?? []), r.version])
          for (let w = 0; w < WRITERS; w++) {
            const stream = `${f.category}-${w}`
            const expected = stored.filter((e) => e.streamId === stream).map((e) => e.version)
            assert.deepStrictEqual(seen.get(stream) ?? [], expected, `${stream}: every version once, in order`)
          }
          assert.strictEqual(status.parkedStreams, 0)
        }).pipe(Effect.scoped),
      600_000
    )
  })
})
