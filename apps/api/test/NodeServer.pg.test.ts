/**
 * A request that reaches the port while the API is still starting gets an answer at once: 503 with
 * Retry-After (a problem), and once the API is ready it is served. Black-box, on a real API process.
 * Start-up is held up deterministically: the test holds the lock on the store's migrations table that
 * the starting process must take (the database was migrated by a first start), and lets go after the
 * early request was answered.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { MasterKeys } from "@verity/eventstore"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Deferred, Effect, Fiber, Redacted } from "effect"
import * as ServerProcess from "./support/ServerProcess.ts"

const TOKEN = "startup-token-0123456789"

/** Holds `LOCK TABLE verity.migrations` on `url` until the returned effect releases it. */
const holdMigrations = (url: string) =>
  Effect.gen(function*() {
    const locked = yield* Deferred.make<void>()
    const done = yield* Deferred.make<void>()
    const holder = yield* Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`LOCK TABLE verity.migrations IN ACCESS EXCLUSIVE MODE`
        yield* Deferred.succeed(locked, undefined)
        yield* Deferred.await(done)
      }))
    }).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })),
      Effect.orDie,
      Effect.forkChild
    )
    yield* Deferred.await(locked)
    return Deferred.succeed(done, undefined).pipe(Effect.andThen(Fiber.join(holder)))
  })

forEachDatabase((target) => {
  describe("start-up", () => {
    it.live("a request during start-up is answered 503 + Retry-After at once, then served once ready", () =>
      Effect.gen(function*() {
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        const env = {
          DATABASE_URL: url,
          VERITY_MASTER_KEYS: MasterKeys.generate("st1"),
          VERITY_API_TOKENS: `st:${TOKEN}:read,write,admin`
        }
        // A first start migrates the database, so the second one only has to take the migrations lock.
        const first = yield* Effect.promise(() => ServerProcess.start(env))
        assert.strictEqual(yield* Effect.promise(() => first.stop()), 0)

        const release = yield* holdMigrations(url)
        const server = yield* Effect.promise(() => ServerProcess.launch(env))
        yield* Effect.gen(function*() {
          yield* Effect.promise(() => server.listening())
          const headers = { authorization: `Bearer ${TOKEN}` }
          // Bounded, so a request left without an answer fails the test instead of hanging it.
          const early = yield* Effect.tryPromise(async () => {
            const response = await fetch(`${server.url}/accounts`, { headers, signal: AbortSignal.timeout(10_000) })
            return {
              status: response.status,
              retryAfter: response.headers.get("retry-after"),
              type: response.headers.get("content-type"),
              body: await response.text()
            }
          }).pipe(Effect.orElseSucceed(() => undefined))
          assert.isDefined(early, `no answer during start-up:\n${server.output()}`)
          assert.strictEqual(early.status, 503, early.body)
          assert.strictEqual(early.retryAfter, "1")
          assert.match(early.type ?? "", /problem\+json/)
          assert.strictEqual(JSON.parse(early.body).title, "ServiceUnavailable")
          yield* release
          const ready = yield* Effect.promise(() => server.ready())
          const served = yield* Effect.promise(() => fetch(`${ready.url}/accounts`, { headers }))
          assert.strictEqual(served.status, 200)
          yield* Effect.promise(() => served.text())
        }).pipe(Effect.ensuring(Effect.promise(() => server.stop())))
      }).pipe(Effect.scoped), { timeout: 180_000 })
  })
})
