/**
 * The relay as its own process, killed with SIGKILL mid-way while 16 writers append concurrently (commits
 * landing out of position order): a second relay process takes over from the checkpoint, and JetStream
 * ends up with every event exactly once, in the store's commit-safe order.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { EventStore, PgEventStore } from "@verity/eventstore"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Context, Effect, Fiber, Layer, Redacted } from "effect"
import { Relay } from "../src/index.ts"
import { countMessages, deleteStream, readStream, SHARED_NATS, unique } from "./Nats.ts"
import { assertStreamOrder, idsOf, storedOrder, waitForCount } from "./support/Checks.ts"
import { contractFor, sent } from "./support/Parcels.ts"
import { startRelayProcess } from "./support/RelayChild.ts"

forEachDatabase((target) => {
  describe("relay process", () => {
    it.live("killed with SIGKILL under 16 concurrent writers: nothing lost, nothing twice, in order", () =>
      Effect.gen(function*() {
        const id = unique()
        const f = { category: `k${id}`, stream: `KILL_${id}`, prefix: `k${id}`, name: `relay_${id}` }
        yield* Effect.addFinalizer(() => deleteStream(SHARED_NATS, f.stream))
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        // This side appends and watches the relay's status; it runs no relay itself.
        const context = yield* Layer.build(
          Relay.layer({
            name: f.name,
            contracts: [contractFor(f.category)],
            sink: { publish: () => Effect.die("the watching side never publishes") },
            runtime: { run: false }
          }).pipe(
            Layer.provideMerge(PgEventStore.layer()),
            Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 20 }))
          )
        )
        const store = Context.get(context, EventStore)
        const relay = Context.get(context, Relay.Relay)
        const env = {
          RELAY_DATABASE_URL: url,
          RELAY_NATS_URL: SHARED_NATS,
          RELAY_STREAM: f.stream,
          RELAY_PREFIX: f.prefix,
          RELAY_CATEGORY: f.category,
          RELAY_NAME: f.name,
          RELAY_BATCH_SIZE: "100",
          DATABASE_URL: ""
        }
        const first = yield* startRelayProcess({ ...env, RELAY_OWNER: "first" })
        // 16 writers, 10 appends of 10 events each to their own stream, all at once.
        const writers = yield* Effect.forEach(
          Array.from({ length: 16 }, (_, w) => w),
          (w) =>
            Effect.forEach(Array.from({ length: 10 }, (_, round) => round), (round) =>
              store.append(`${f.category}-${w}`, "any", sent(10, round * 10)), {
              discard: true
            }),
          { concurrency: "unbounded", discard: true }
        ).pipe(Effect.forkChild)
        yield* waitForCount(SHARED_NATS, f.stream, 200)
        yield* first.kill9
        const atKill = yield* countMessages(SHARED_NATS, f.stream)
        yield* Fiber.join(writers)
        yield* startRelayProcess({ ...env, RELAY_OWNER: "second" })
        const expected = yield* storedOrder(f.category).pipe(Effect.provideService(EventStore, store))
        assert.strictEqual(expected.length, 1600)
        const last = yield* store.readStream(`${f.category}-0`)
        yield* waitForCount(SHARED_NATS, f.stream, 1600)
        yield* relay.projections.waitFor(f.name, last.at(-1)!.checkpoint, "60 seconds")

        const messages = yield* readStream(SHARED_NATS, f.stream)
        assert.isBelow(atKill, 1600, "the first relay was killed before the end")
        assert.strictEqual(messages.length, 1600)
        assert.deepStrictEqual(idsOf(messages), expected)
        assertStreamOrder(messages)
        const status = yield* relay.status
        assert.strictEqual(status.parkedStreams, 0)
        assert.strictEqual(status.active?.owner, "second")
      }).pipe(Effect.scoped), 180_000)
  })
})
