/**
 * Concurrency claims, proven by running them against PostgreSQL:
 * - 50 writers racing on ONE stream with expected versions: exactly one winner per version, a gapless stream;
 * - 16 writers on random streams while a subscriber follows "all", with transactions held open so that
 *   they commit out of position order: the subscriber receives every committed event exactly once.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, layer } from "@effect/vitest"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Deferred, Effect, Fiber, Layer, Ref, Stream } from "effect"
import { Checkpoint, EventStore, PgEventStore, type RecordedEvent } from "../src/index.ts"
import { event, streamName } from "./fixtures.ts"

forEachDatabase((target) => {
  const storeWithClient = (connections: number) =>
    PgEventStore.layer().pipe(Layer.provideMerge(TestDatabase.layer(target, { maxConnections: connections })))

  describe("concurrency", () => {
    layer(storeWithClient(50), { excludeTestServices: true, timeout: "120 seconds" })("50 writers, one stream", (it) => {
      it.effect("exactly one winner per version and a gapless stream", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const stream = streamName("race")
          const target = 200
          const outcomes = yield* Ref.make<ReadonlyArray<{ readonly expected: number; readonly won: boolean }>>([])
          const writer = (id: number) =>
            Effect.gen(function*() {
              while (true) {
                const info = yield* store.streamInfo(stream)
                const version = info._tag === "Some" ? info.value.version : 0
                if (version >= target) return
                const result = yield* store.append(stream, version, [event("Raced", { writer: id, expected: version })]).pipe(
                  Effect.as(true),
                  Effect.catchTag("WrongExpectedVersion", () => Effect.succeed(false))
                )
                yield* Ref.update(outcomes, (all) => [...all, { expected: version, won: result }])
              }
            })
          yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => i), writer, { concurrency: "unbounded", discard: true })
          const all = yield* Ref.get(outcomes)
          const winners = new Map<number, number>()
          for (const outcome of all) if (outcome.won) winners.set(outcome.expected, (winners.get(outcome.expected) ?? 0) + 1)
          // Every version from 0 to target - 1 was won exactly once; racing happened (there were losers).
          assert.strictEqual(winners.size, target)
          assert.isTrue([...winners.values()].every((n) => n === 1))
          assert.isTrue(all.some((o) => !o.won), "the writers never collided: the test proves nothing")
          const events = yield* store.readStream(stream)
          assert.deepStrictEqual(events.map((e) => e.version), Array.from({ length: target }, (_, i) => i + 1))
          assert.isTrue(events.every((e) => (e.data as { expected: number }).expected === e.version - 1))
        }))
    })

    layer(storeWithClient(30), { excludeTestServices: true, timeout: "120 seconds" })("16 writers and a subscriber", (it) => {
      it.effect("the subscriber receives every committed event exactly once, even when commits are out of order", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const sql = yield* PgClient.PgClient
          const start = (yield* store.horizon).checkpoint
          const received = yield* Ref.make<ReadonlyArray<RecordedEvent>>([])
          const subscriber = yield* store.subscribe({ from: start, limit: 100, pollInterval: 200 }).pipe(
            Stream.runForEach((batch) => Ref.update(received, (all) => [...all, ...batch.events])),
            Effect.forkChild
          )
          const seen = (id: string) => Effect.map(Ref.get(received), (all) => all.some((e) => e.eventId === id))

          // Held-open transactions: each appends (taking early positions), then waits until writers that
          // started later have committed, then commits; so commit order differs from position order.
          const held = Array.from({ length: 4 }, () => event("Held"))
          const heldAppended = yield* Effect.forEach(held, () => Deferred.make<void>())
          const release = yield* Deferred.make<void>()
          const holders = yield* Effect.forEach(held, (e, i) =>
            sql.withTransaction(
              Effect.gen(function*() {
                yield* store.append(streamName("held"), "no_stream", [e])
                yield* Deferred.succeed(heldAppended[i]!, undefined)
                yield* Deferred.await(release)
              })
            ).pipe(Effect.forkChild))
          yield* Effect.forEach(heldAppended, Deferred.await, { discard: true })

          const streams = Array.from({ length: 40 }, () => streamName("busy"))
          const writer = Effect.forEach(Array.from({ length: 40 }), () => {
            const stream = streams[Math.floor(Math.random() * streams.length)]!
            const count = 1 + Math.floor(Math.random() * 3)
            return store.append(stream, "any", Array.from({ length: count }, () => event("Busy")))
          }, { discard: true })
          yield* Effect.forEach(Array.from({ length: 16 }), () => writer, { concurrency: "unbounded", discard: true })

          // Later positions are committed and readable; the held events are not: the subscriber must not have
          // moved past them (it waits at the horizon instead of skipping).
          const lastBusy = (yield* sql<{ readonly id: string }>`
            SELECT event_id::text AS id FROM verity.events WHERE type = 'Busy' ORDER BY position DESC LIMIT 1`)[0]!.id
          const heldPositions = yield* sql<{ readonly n: bigint }>`
            SELECT count(*) AS n FROM verity.events WHERE type = 'Held'`
          assert.strictEqual(heldPositions[0]!.n, 0n, "held transactions are not visible before they commit")
          for (const e of held) assert.isFalse(yield* seen(e.eventId))
          // Busy transactions took their ids after the held ones, so the whole busy burst sits behind the
          // horizon until the held transactions end: nothing of it may be delivered yet.
          const beforeRelease = yield* Ref.get(received)
          assert.isFalse(beforeRelease.some((e) => e.eventId === lastBusy))
          assert.strictEqual(beforeRelease.length, 0)

          yield* Deferred.succeed(release, undefined)
          yield* Effect.forEach(holders, Fiber.join, { discard: true })
          const committed = yield* sql<{ readonly id: string; readonly position: bigint }>`
            SELECT event_id::text AS id, position FROM verity.events`
          yield* eventually("every committed event to arrive", Effect.map(Ref.get(received), (all) => all.length >= committed.length))
          yield* Fiber.interrupt(subscriber)

          const all = yield* Ref.get(received)
          const ids = all.map((e) => e.eventId)
          assert.strictEqual(new Set(ids).size, ids.length, "no event delivered twice")
          assert.deepStrictEqual(new Set(ids), new Set(committed.map((row) => row.id)))
          for (let i = 1; i < all.length; i++) {
            assert.isTrue(Checkpoint.Order(all[i - 1]!.checkpoint, all[i]!.checkpoint) < 0, "delivered in checkpoint order")
          }
          // The held events have lower positions than events that committed before them: a reader that
          // followed positions alone would have moved past them and skipped them for ever.
          const minBusyPosition = committed.filter((row) => !held.some((e) => e.eventId === row.id))
            .reduce((min, row) => (row.position < min ? row.position : min), BigInt(Number.MAX_SAFE_INTEGER))
          const heldDelivered = all.filter((e) => held.some((h) => h.eventId === e.eventId))
          assert.strictEqual(heldDelivered.length, held.length)
          assert.isTrue(heldDelivered.every((e) => e.position < minBusyPosition))
        }))
    })
  })
})
