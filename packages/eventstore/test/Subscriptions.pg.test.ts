/**
 * How subscribers wake up. Polling is the safety net, so these tests set a poll interval far longer than
 * their timeout: only the intended wake-up path can make them pass.
 * - another process's commit reaches a subscriber through LISTEN/NOTIFY;
 * - an event held behind another process's open appending transaction is delivered soon after that
 *   transaction ends, although its end sends no notification.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, layer } from "@effect/vitest"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Context, Deferred, Effect, Fiber, Layer, Stream } from "effect"
import { EventStore, PgEventStore } from "../src/index.ts"
import { events, streamName } from "./fixtures.ts"

const NEVER_POLL = 600_000

/** A store that lives as long as the test's scope (with its LISTEN fiber), on the client in context. */
const storeInScope = (options?: PgEventStore.PgEventStoreOptions) =>
  Effect.map(Layer.build(PgEventStore.layer(options)), (context) => Context.get(context, EventStore))

forEachDatabase((target) => {
  layer(TestDatabase.layer(target, { maxConnections: 6 }), { excludeTestServices: true, timeout: "60 seconds" })(
    "wake-ups",
    (it) => {
      it.effect("a commit in another process wakes a subscriber through NOTIFY", () =>
        Effect.gen(function*() {
          const client = yield* PgClient.PgClient
          const url = client.config.url!
          // Two stores with their own connection pools, as two processes would have.
          const otherProcess = PgEventStore.layer().pipe(Layer.provide(PgClient.layer({ url, maxConnections: 2 })))
          const subscriberStore = yield* storeInScope()
          const start = (yield* subscriberStore.horizon).checkpoint
          const category = `notified${Math.random().toString(36).slice(2, 8)}`
          const first = yield* subscriberStore.subscribe({ from: start, categories: [category], pollInterval: NEVER_POLL }).pipe(
            Stream.flatMap((batch) => Stream.fromIterable(batch.events)),
            Stream.runHead,
            Effect.forkChild
          )
          const writer = yield* Effect.map(Layer.build(otherProcess), (context) => Context.get(context, EventStore))
          // The subscriber's LISTEN starts in the background: keep committing (a condition wait, not a sleep)
          // until one commit has reached it. Polling is effectively off, so only NOTIFY can deliver.
          const delivered = yield* Effect.gen(function*() {
            while (true) {
              yield* writer.append(`${category}-${crypto.randomUUID()}`, "no_stream", events(1))
              const done = yield* Fiber.join(first).pipe(Effect.timeout("200 millis"), Effect.option)
              if (done._tag === "Some") return done.value
            }
          }).pipe(Effect.timeout("10 seconds"))
          assert.isTrue(delivered._tag === "Some" && delivered.value.streamId.startsWith(category))
        }))

      it.effect("an event behind another process's open append arrives soon after that transaction ends", () =>
        Effect.gen(function*() {
          const client = yield* PgClient.PgClient
          const url = client.config.url!
          // Notifications off for both stores: the end of a transaction sends none, so only the subscriber's
          // quick re-polls while events wait behind the horizon can deliver in time.
          const store = yield* storeInScope({ notifications: false })
          const otherProcess = yield* Effect.map(
            Layer.build(PgEventStore.layer({ notifications: false }).pipe(Layer.provide(PgClient.layer({ url, maxConnections: 2 })))),
            (context) => Context.get(context, EventStore)
          )
          const start = (yield* store.horizon).checkpoint
          const held = streamName("held")
          const stream = streamName("later")
          const wrote = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          // The other process appends and keeps its transaction open: readers must wait for it.
          const blocker = yield* otherProcess.transaction(Effect.gen(function*() {
            yield* otherProcess.append(held, "no_stream", events(1))
            yield* Deferred.succeed(wrote, undefined)
            yield* Deferred.await(release)
          })).pipe(Effect.forkChild)
          yield* Deferred.await(wrote)
          const first = yield* store.subscribe({ from: start, pollInterval: NEVER_POLL }).pipe(
            Stream.flatMap((batch) => Stream.fromIterable(batch.events)),
            Stream.filter((e) => e.streamId === stream || e.streamId === held),
            Stream.take(2),
            Stream.runCollect,
            Effect.forkChild
          )
          yield* store.append(stream, "no_stream", events(1))
          const early = yield* Fiber.join(first).pipe(Effect.timeout("300 millis"), Effect.option)
          assert.isTrue(early._tag === "None", "delivered while an older appending transaction was still open")
          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(blocker)
          const received = yield* Fiber.join(first).pipe(Effect.timeout("5 seconds"))
          assert.deepStrictEqual(Array.from(received).map((e) => e.streamId), [held, stream])
        }))
    }
  )
})
