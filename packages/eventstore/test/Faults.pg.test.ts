/**
 * A database that goes away: unreachable from the start, connections killed mid-operation, the server
 * restarted. Every failure must be a typed, retryable `StoreUnavailable`, and nothing may be half-written:
 * retrying an append with the same event ids either writes it once or returns the original result.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it, layer } from "@effect/vitest"
import { EmbeddedPostgres } from "@verity/postgres"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect, Exit, Fiber, Layer, Redacted, Ref, Schedule, Scope } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import { EventStore, type NewEvent, PgEventStore, type StoreUnavailable } from "../src/index.ts"
import { events, streamName } from "./fixtures.ts"

const unreachableStore = Layer.unwrap(
  Effect.map(EmbeddedPostgres.freePort, (port) =>
    PgEventStore.layer({ migrate: false }).pipe(
      Layer.provide(
        PgClient.layer({ url: Redacted.make(`postgres://postgres@127.0.0.1:${port}/none`), connectTimeout: "2 seconds" })
      )
    ))
)

/** Appends `batch` at `expected`, retrying the identical append while the store is unavailable. */
const appendWithRetry = (stream: string, expected: number, batch: ReadonlyArray<NewEvent>, failures: Ref.Ref<ReadonlyArray<StoreUnavailable>>) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    return yield* store.append(stream, expected, batch).pipe(
      Effect.tapError((error) => error._tag === "StoreUnavailable" ? Ref.update(failures, (all) => [...all, error]) : Effect.void),
      Effect.retry({ while: (error) => error._tag === "StoreUnavailable" && error.retryable, schedule: Schedule.spaced("10 millis"), times: 200 })
    )
  })

describe("an unreachable database", () => {
  layer(unreachableStore, { excludeTestServices: true })((it) => {
    it.effect("fails appends and reads with a retryable StoreUnavailable", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const append = yield* store.append(streamName(), "any", events(1)).pipe(Effect.flip)
        assert.deepInclude(append, { _tag: "StoreUnavailable", reason: "Connection", retryable: true })
        const read = yield* store.readStream(streamName()).pipe(Effect.flip)
        assert.deepInclude(read, { _tag: "StoreUnavailable", retryable: true })
        const page = yield* store.readAll().pipe(Effect.flip)
        assert.deepInclude(page, { _tag: "StoreUnavailable", retryable: true })
      }))
  })
})

forEachDatabase((target) => {
  const admin = PgClient.layer({ url: Redacted.make(target.url), maxConnections: 1 })
  layer(PgEventStore.layer().pipe(Layer.provideMerge(TestDatabase.layer(target, { maxConnections: 4 }))), {
    excludeTestServices: true,
    timeout: "120 seconds"
  })("connections killed mid-operation", (it) => {
    it.effect("every append lands exactly once and whole", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const sql = yield* PgClient.PgClient
        const database = (yield* sql<{ readonly db: string }>`SELECT current_database() AS db`)[0]!.db
        const failures = yield* Ref.make<ReadonlyArray<StoreUnavailable>>([])
        const killer = yield* Effect.gen(function*() {
          const adminSql = yield* PgClient.PgClient
          yield* adminSql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = ${database} AND pid <> pg_backend_pid()`.pipe(Effect.ignore)
        }).pipe(Effect.provide(admin), Effect.andThen(Effect.sleep("15 millis")), Effect.forever, Effect.forkChild)
        const writers = Array.from({ length: 6 }, () => ({ stream: streamName("killed"), appended: [] as Array<NewEvent> }))
        yield* Effect.forEach(writers, (writer) =>
          Effect.gen(function*() {
            for (let i = 0; i < 40; i++) {
              const batch = events(3, "Batch")
              const result = yield* appendWithRetry(writer.stream, i * 3, batch, failures)
              assert.strictEqual(result.version, (i + 1) * 3)
              writer.appended.push(...batch)
            }
          }), { concurrency: "unbounded", discard: true })
        yield* Fiber.interrupt(killer)
        const seen = yield* Ref.get(failures)
        assert.isAbove(seen.length, 0, "no connection was ever killed: the test proves nothing")
        assert.isTrue(seen.every((f) => f.retryable && f.reason === "Connection"), JSON.stringify(seen.find((f) => f.reason !== "Connection")))
        for (const writer of writers) {
          const stored = yield* store.readStream(writer.stream).pipe(
            Effect.retry({ schedule: Schedule.spaced("10 millis"), times: 50 })
          )
          assert.deepStrictEqual(stored.map((e) => e.eventId), writer.appended.map((e) => e.eventId))
          assert.deepStrictEqual(stored.map((e) => e.version), stored.map((_, i) => i + 1))
        }
      }))
  })
})

describe("a server restart", () => {
  // Needs a server this test may stop and start: its own embedded PostgreSQL, whatever DATABASE_URL says.
  it.live("fails while the server is down, then carries on with nothing lost", () =>
    Effect.gen(function*() {
      const dataDir = Path.join(Os.tmpdir(), `verity-restart-${process.pid}-${Date.now()}`)
      const port = yield* EmbeddedPostgres.freePort
      const startServer = Effect.gen(function*() {
        const scope = yield* Scope.make()
        const server = yield* EmbeddedPostgres.start({ dataDir, port }).pipe(Scope.provide(scope))
        return { scope, server }
      })
      const first = yield* startServer
      const url = first.server.url
      yield* Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName("restart")
        yield* store.append(stream, "no_stream", events(2))
        yield* Scope.close(first.scope, Exit.void)
        const down = yield* store.append(stream, 2, events(1)).pipe(Effect.flip)
        assert.deepInclude(down, { _tag: "StoreUnavailable", retryable: true })
        const second = yield* startServer
        yield* Effect.addFinalizer(() => Scope.close(second.scope, Exit.void))
        const failures = yield* Ref.make<ReadonlyArray<StoreUnavailable>>([])
        yield* appendWithRetry(stream, 2, events(1), failures)
        assert.deepStrictEqual((yield* store.readStream(stream)).map((e) => e.version), [1, 2, 3])
      }).pipe(
        Effect.provide(PgEventStore.layer().pipe(Layer.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 2 })))),
        Effect.scoped
      )
      // The folder, and the server's log and users registry beside it.
      yield* Effect.promise(() =>
        import("node:fs/promises").then((fs) =>
          Promise.all([dataDir, `${dataDir}.log`, `${dataDir}.users`, `${dataDir}.lock`].map((path) => fs.rm(path, { recursive: true, force: true })))
        )
      )
    }), 60_000)
})
