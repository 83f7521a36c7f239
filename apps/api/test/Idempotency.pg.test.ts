/**
 * Idempotency-Key: a retry returns the original response (status, body, ETag) without deciding again,
 * even when that response was a rejection; another body or path with the same key is 422; the same key
 * while the first request still runs is 409; keys are per token; and the recorded response is committed
 * in the very transaction that appended the request's events (so a crash cannot separate them).
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase } from "@verity/postgres/testing"
import { Deferred, Effect, Fiber } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as T from "./support/TestApi.ts"

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("idempotency", (it) => {
    it.effect("a retry replays the original 201 (body, ETag, Location) and writes nothing", () =>
      Effect.gen(function*() {
        const body = { holderName: "Idem Potent", holderEmail: "idem@example.com", currency: "EUR" }
        const first = yield* T.alice.post("/accounts", body, { "idempotency-key": "open-1" })
        assert.strictEqual(first.status, 201)
        const before = yield* T.eventCount
        const retry = yield* T.alice.post("/accounts", body, { "idempotency-key": "open-1" })
        assert.strictEqual(retry.status, 201)
        assert.deepStrictEqual(retry.body, first.body)
        assert.strictEqual(retry.headers.get("etag"), first.headers.get("etag"))
        assert.strictEqual(retry.headers.get("location"), first.headers.get("location"))
        assert.strictEqual(retry.headers.get("idempotent-replayed"), "true")
        assert.strictEqual(yield* T.eventCount, before, "the retry decided nothing")
        // The events carry the key.
        const history = yield* T.alice.get(`/accounts/${first.body.accountId}/events`)
        assert.strictEqual(history.body.events[0].metadata.idempotencyKey, "open-1")
      }))

    it.effect("a recorded rejection stays the answer: the retry does not decide again", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        const key = { "idempotency-key": "withdraw-1" }
        T.isProblem(yield* T.alice.post(`/accounts/${id}/withdrawals`, { amount: 100 }, key), 422, "InsufficientFunds")
        yield* T.deposit(id, 1000)
        const retry = yield* T.alice.post(`/accounts/${id}/withdrawals`, { amount: 100 }, key)
        T.isProblem(retry, 422, "InsufficientFunds")
        assert.strictEqual(retry.headers.get("idempotent-replayed"), "true")
        const state = yield* T.alice.get(`/accounts/${id}/state`)
        assert.strictEqual(state.body.state.balance, 1000)
      }))

    it.effect("the same key with another body or path is 422; keys are scoped per token", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        const key = { "idempotency-key": "dep-scoped" }
        assert.strictEqual((yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 10 }, key)).status, 200)
        const before = yield* T.eventCount
        T.isProblem(yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 11 }, key), 422, "IdempotencyKeyReused")
        T.isProblem(yield* T.alice.post(`/accounts/${id}/withdrawals`, { amount: 10 }, key), 422, "IdempotencyKeyReused")
        assert.strictEqual(yield* T.eventCount, before)
        // Another token's key space: the same key decides afresh.
        const other = yield* T.ops.post(`/accounts/${id}/deposits`, { amount: 10 }, key)
        assert.strictEqual(other.status, 200)
        assert.isNull(other.headers.get("idempotent-replayed"))
        assert.strictEqual(yield* T.eventCount, before + 1)
        T.isProblem(yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 1 }, { "idempotency-key": "x".repeat(256) }), 400)
      }))

    it.effect("a request still in flight with the same key is 409", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const id = yield* T.openAccount()
        const locked = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        // Hold the key's lock as the first request would while it runs.
        const holder = yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`SELECT pg_advisory_xact_lock(hashtextextended(${"alice\nin-flight"}, 0))`
          yield* Deferred.succeed(locked, undefined)
          yield* Deferred.await(release)
        })).pipe(Effect.forkChild)
        yield* Deferred.await(locked)
        const before = yield* T.eventCount
        const reply = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 5 }, { "idempotency-key": "in-flight" })
        T.isProblem(reply, 409, "IdempotencyKeyInUse")
        assert.strictEqual(yield* T.eventCount, before)
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(holder)
        // Once the first is done, the key works.
        assert.strictEqual((yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 5 }, { "idempotency-key": "in-flight" })).status, 200)
      }))

    it.effect("the response row and the events are committed by one transaction", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const id = yield* T.openAccount()
        yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 7 }, { "idempotency-key": "atomic-1" })
        const rows = yield* sql<{ readonly row_xid: string; readonly event_xid: string }>`
          SELECT k.xmin::text AS row_xid, e.xmin::text AS event_xid
          FROM verity_api.idempotency_keys k, verity.events e
          WHERE k.key = 'atomic-1' AND k.principal = 'alice' AND e.metadata->>'idempotencyKey' = 'atomic-1'`
        assert.strictEqual(rows.length, 1)
        assert.strictEqual(rows[0]!.row_xid, rows[0]!.event_xid)
      }))
  })
})
