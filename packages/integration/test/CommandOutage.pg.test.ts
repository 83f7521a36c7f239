/**
 * Commands over NATS while the event store is unreachable, against the machine's NATS and a PostgreSQL
 * database of the test's own: the database stops taking connections (`ALLOW_CONNECTIONS false`) and the
 * pool's connections are terminated, so the service's store really loses its database. A command then gets
 * the typed `StoreUnavailable` reply (not a client timeout), appends nothing, and the same command with the
 * same idempotency key succeeds once the database takes connections again.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { connect } from "@nats-io/transport-node"
import { EventStore, PgCommandResults, PgEventStore } from "@verity/eventstore"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect, Layer, Option, Redacted } from "effect"
import { CommandClient, CommandReply, CommandService } from "../src/index.ts"
import { SHARED_NATS, unique } from "./Nats.ts"
import { bus, NotPositive } from "./support/Counters.ts"

const WRITER = "writer-token-0123456789"
const writer: CommandService.Principal = { name: "writer", scopes: new Set(["write"]) }

/** Runs `statement` on the target's own database (not the test's), with a short-lived client. */
const onServer = (url: string, statement: (sql: PgClient.PgClient) => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    yield* statement(sql)
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })), Effect.orDie)

forEachDatabase((target) => {
  describe("CommandService with the store unreachable", () => {
    it.live("answers StoreUnavailable (not a timeout) and appends nothing; the retry succeeds once the store is back", () =>
      Effect.gen(function*() {
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        const database = new URL(url).pathname.slice(1)
        const cut = onServer(target.url, (sql) =>
          sql`ALTER DATABASE ${sql(database)} ALLOW_CONNECTIONS false`.pipe(
            Effect.andThen(sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${database}`)
          ))
        const restore = onServer(target.url, (sql) => sql`ALTER DATABASE ${sql(database)} ALLOW_CONNECTIONS true`)
        // The database is dropped with the scope; let it take connections first so nothing else is left behind.
        yield* Effect.addFinalizer(() => restore)

        const id = unique()
        const prefix = `out${id}`
        const category = `c${id}`
        const counters = bus(category)
        const store = Layer.mergeAll(PgEventStore.layer(), PgCommandResults.layer()).pipe(
          Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 2 }))
        )
        yield* Effect.gen(function*() {
          const service = yield* Effect.acquireRelease(Effect.promise(() => connect({ servers: SHARED_NATS })), (nc) =>
            Effect.promise(() => nc.close()))
          yield* CommandService.serve(service, {
            prefix,
            routes: [CommandService.route(counters.registrations[0], { rejection: NotPositive })],
            authorize: (token) =>
              token === WRITER ? Option.some(writer) : Option.none()
          })
          const client = yield* Effect.acquireRelease(
            Effect.promise(() => connect({ servers: SHARED_NATS })),
            (nc) => Effect.promise(() => nc.close())
          )
          const subject = CommandReply.subjectOf(prefix, category)
          const counterId = crypto.randomUUID()
          const send = (by: number) =>
            CommandClient.send(client, subject, { _tag: "Increment", counterId, by }, {
              token: WRITER,
              idempotencyKey: `k-${by}`,
              timeout: "20 seconds"
            })

          // The store works: the first command appends.
          assert.strictEqual((yield* send(1)).version, 1)

          yield* cut
          const refused = yield* send(2).pipe(Effect.flip)
          assert.strictEqual(refused._tag, "StoreUnavailable", JSON.stringify(refused))
          assert.deepInclude(refused, { reason: "Connection", retryable: true })

          yield* restore
          // The pool reconnects on its own; the retry (same key) decides now, as nothing was recorded for it.
          const retried = yield* eventually("the retried command succeeds", send(2).pipe(Effect.option), (r) => r._tag === "Some", {
            timeout: "30 seconds",
            interval: "100 millis"
          })
          assert.strictEqual(retried._tag === "Some" ? retried.value.version : -1, 2)

          const stored = yield* (yield* EventStore).readStream(`${category}-${counterId}`)
          assert.deepStrictEqual(stored.map((e) => e.data), [{ by: 1 }, { by: 2 }])
        }).pipe(Effect.provide(store))
      }).pipe(Effect.scoped), 120_000)
  })
})
