/**
 * Connections that drop and a database that is away: every request is answered 503 + Retry-After, with or
 * without `Idempotency-Key`, on every path (commands, reads, read-your-writes waits, forget, transfers,
 * projections), never 500, and nothing half-written: the idempotent retry decides afresh once it is back.
 *
 * Drops happen at chosen points, deterministically:
 * - mid-request: the store's append, inside an idempotent request's transaction, first ends its own
 *   session with `pg_terminate_backend` (what a restart or an operator does to the API's backends), so
 *   the append and then the ROLLBACK run on a dead connection;
 * - away: the test database refuses new sessions (`ALLOW_CONNECTIONS false`) and every session of the API
 *   is terminated; the API then can neither use nor open a connection until the test lets it back in.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, layer } from "@effect/vitest"
import { EventStore } from "@verity/eventstore"
import { eventually, forEachDatabase, type TestTarget } from "@verity/postgres/testing"
import { Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as Sse from "./support/SseClient.ts"
import * as T from "./support/TestApi.ts"

let terminateOnAppend = false

/** The real store; while armed, the next append first terminates the session it runs on. */
const terminatingStore = Layer.effect(
  EventStore,
  Effect.gen(function*() {
    const store = yield* EventStore
    const sql = yield* SqlClient
    return EventStore.of({
      ...store,
      append: (stream, expected, events, options) =>
        Effect.suspend(() => {
          if (!terminateOnAppend) return store.append(stream, expected, events, options)
          terminateOnAppend = false
          // Inside the request's transaction this is the transaction's own connection.
          return sql`SELECT pg_terminate_backend(pg_backend_pid())`.pipe(
            Effect.ignore,
            Effect.andThen(store.append(stream, expected, events, options))
          )
        })
    })
  })
)

/** Runs `f` on a connection to the server's own database (outside the test database). */
const admin = <A, E>(target: TestTarget, f: (sql: SqlClient) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    return yield* f(yield* PgClient.PgClient)
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(target.url), maxConnections: 1 })))

/** Refuses new sessions on the test database and ends the API's; returns how to let it back in. */
const takeAway = (target: TestTarget) =>
  Effect.gen(function*() {
    const [row] = yield* (yield* SqlClient)<{ readonly name: string }>`SELECT current_database() AS name`
    if (row === undefined) return yield* Effect.die(new Error("no current database"))
    const name = row.name
    yield* admin(target, (sql) =>
      Effect.gen(function*() {
        yield* sql`ALTER DATABASE ${sql(name)} ALLOW_CONNECTIONS false`
        yield* sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${name} AND pid <> pg_backend_pid()`
      }))
    return admin(target, (sql) => sql`ALTER DATABASE ${sql(name)} ALLOW_CONNECTIONS true`.pipe(Effect.asVoid)).pipe(Effect.orDie)
  }).pipe(Effect.orDie)

const isUnavailable = (label: string, reply: T.Reply) => {
  assert.strictEqual(reply.status, 503, `${label}: ${reply.text}`)
  T.isProblem(reply, 503)
  assert.isNotNull(reply.headers.get("retry-after"), `${label}: Retry-After`)
}

/** Retries `request` until it answers `status` (the pool reconnects within seconds). */
const answers = <R>(status: number, request: Effect.Effect<T.Reply, never, R>) =>
  eventually(`an answer ${status}`, request, (reply) => reply.status === status, { interval: "50 millis" })

forEachDatabase((target) => {
  layer(T.layerWith(target, {}, terminatingStore), { excludeTestServices: true, timeout: "120 seconds" })("connections dropped", (it) => {
    it.effect("a session terminated inside an idempotent request is 503, and its retry decides once", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        const other = yield* T.openAccount()
        yield* T.deposit(id, 100)
        terminateOnAppend = true
        isUnavailable("deposit", yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 5 }, { "idempotency-key": "drop-1" }))
        terminateOnAppend = true
        isUnavailable(
          "transfer",
          yield* T.alice.post("/transfers", { fromAccountId: id, toAccountId: other, amount: 1 }, { "idempotency-key": "drop-2" })
        )
        const retried = yield* answers(200, T.alice.post(`/accounts/${id}/deposits`, { amount: 5 }, { "idempotency-key": "drop-1" }))
        assert.isNull(retried.headers.get("idempotent-replayed"), "the 503 was not recorded")
        assert.strictEqual((yield* T.alice.get(`/accounts/${id}/state`)).body.state.balance, 105, "applied exactly once")
      }).pipe(Effect.ensuring(Effect.sync(() => (terminateOnAppend = false)))))
  })

  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("database away", (it) => {
    it.effect("every path answers 503 + Retry-After while the database is away, and serves again after", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        const other = yield* T.openAccount()
        const { position } = yield* T.deposit(id, 100)
        const before = yield* T.eventCount
        const back = yield* takeAway(target)
        yield* Effect.gen(function*() {
          const key = { "idempotency-key": "away-1" }
          isUnavailable("open", yield* T.alice.post("/accounts", { holderName: "Away", holderEmail: "away@example.com", currency: "EUR" }))
          isUnavailable("deposit with key", yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 5 }, key))
          isUnavailable("deposit", yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 5 }))
          isUnavailable("withdraw", yield* T.alice.post(`/accounts/${id}/withdrawals`, { amount: 5, currency: "EUR" }))
          isUnavailable("holder", yield* T.alice.put(`/accounts/${id}/holder`, { holderName: "New", holderEmail: "new@example.com" }))
          isUnavailable("get", yield* T.alice.get(`/accounts/${id}`))
          isUnavailable("wait", yield* T.alice.get(`/accounts/${id}?waitForPosition=${position}`))
          isUnavailable("list", yield* T.alice.get("/accounts"))
          isUnavailable("history", yield* T.alice.get(`/accounts/${id}/events`))
          isUnavailable("state", yield* T.alice.get(`/accounts/${id}/state`))
          isUnavailable("transfer", yield* T.alice.post("/transfers", { fromAccountId: id, toAccountId: other, amount: 1 }))
          isUnavailable(
            "transfer with key",
            yield* T.alice.post("/transfers", { fromAccountId: id, toAccountId: other, amount: 1 }, { "idempotency-key": "away-2" })
          )
          isUnavailable("forget", yield* T.ops.post(`/subjects/${other}/forget`, { reason: "GDPR art. 17 request 7" }))
          isUnavailable(
            "forget with key",
            yield* T.ops.post(`/subjects/${other}/forget`, { reason: "GDPR art. 17 request 7" }, { "idempotency-key": "away-3" })
          )
          isUnavailable("projections", yield* T.ops.get("/projections"))
          isUnavailable("parked", yield* T.ops.get("/projections/account_summary/parked"))
        }).pipe(Effect.ensuring(back))
        const retried = yield* answers(200, T.alice.post(`/accounts/${id}/deposits`, { amount: 5 }, { "idempotency-key": "away-1" }))
        assert.isNull(retried.headers.get("idempotent-replayed"), "the 503 was not recorded")
        assert.strictEqual(yield* T.eventCount, before + 1, "nothing was written while away; the retry wrote once")
        assert.strictEqual((yield* answers(200, T.alice.get(`/accounts/${id}/state`))).body.state.balance, 105)
      }))

    it.effect("an open event feed ends cleanly when the database goes away; a new one is 503 until it is back", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        yield* T.deposit(id, 1)
        const count = yield* T.eventCount
        const feed = yield* Sse.open("/events", { token: T.tokens.reader })
        const seen = yield* Sse.take(feed, count)
        const back = yield* takeAway(target)
        yield* Effect.gen(function*() {
          const messages: Array<Sse.Message> = []
          while (true) {
            const message = yield* feed.next.pipe(Effect.timeoutOrElse({
              duration: "20 seconds",
              orElse: () => Effect.die(new Error("the feed did not end"))
            }))
            if (message === undefined) break
            messages.push(message)
          }
          assert.isFalse(yield* feed.aborted, "ended, not broken off")
          assert.isTrue(messages.every((m) => m.id === undefined), "no event while away")
          assert.include(messages.map((m) => m.comment), "the database is unavailable; reconnect with Last-Event-ID")
          isUnavailable("events", yield* T.reader.get("/events"))
        }).pipe(Effect.ensuring(back))
        // Back: the client resumes where it was and gets what was written since, nothing twice.
        const resumed = yield* eventually(
          "the feed answers again",
          Sse.open("/events", { token: T.tokens.reader, headers: { "last-event-id": seen[seen.length - 1]!.id! } }),
          (reply) => reply.status === 200,
          { interval: "50 millis" }
        )
        const { position } = yield* T.deposit(id, 2)
        const [next] = yield* Sse.take(resumed, 1)
        assert.strictEqual(JSON.parse(next!.data!).position, position)
        yield* resumed.close
      }))
  })
})
