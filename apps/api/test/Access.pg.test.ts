/**
 * Access and request context: 401 without or with an unknown token (WWW-Authenticate: Bearer), 403 when
 * a scope is missing, and the correlation id: taken from X-Request-Id (or generated), echoed, and written
 * with the actor into the metadata of every event the request causes.
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import * as T from "./support/TestApi.ts"

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("access", (it) => {
    it.effect("401 without a token, with a wrong token, and with another scheme", () =>
      Effect.gen(function*() {
        const before = yield* T.eventCount
        for (const headers of [{}, { authorization: "Bearer nope-nope-nope-nope" }, { authorization: `Basic ${T.tokens.alice}` }]) {
          const reply = yield* T.request("POST", "/accounts", {
            headers,
            json: { holderName: "A", holderEmail: "a@example.com", currency: "EUR" }
          })
          T.isProblem(reply, 401, "Unauthorized")
          assert.match(reply.headers.get("www-authenticate") ?? "", /^Bearer/)
        }
        T.isProblem(yield* T.request("GET", "/accounts"), 401)
        T.isProblem(yield* T.request("GET", "/projections"), 401)
        assert.strictEqual(yield* T.eventCount, before)
      }))

    it.effect("403 when the token lacks the scope: read-only cannot write, write cannot administer", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        assert.strictEqual((yield* T.reader.get(`/accounts/${id}/state`)).status, 200)
        const denied = T.isProblem(yield* T.reader.post(`/accounts/${id}/deposits`, { amount: 1 }), 403, "Forbidden")
        assert.strictEqual(denied.requiredScope, "write")
        T.isProblem(yield* T.reader.post("/transfers", { fromAccountId: id, toAccountId: id, amount: 1 }), 403)
        T.isProblem(yield* T.alice.post(`/subjects/${id}/forget`, { reason: "test" }), 403)
        T.isProblem(yield* T.alice.get("/projections"), 403)
        T.isProblem(yield* T.alice.post("/projections/account_summary/rebuild"), 403)
        assert.strictEqual((yield* T.ops.get("/projections")).status, 200)
      }))

    it.effect("the correlation id is echoed and recorded with the actor in event metadata", () =>
      Effect.gen(function*() {
        const opened = yield* T.alice.post(
          "/accounts",
          { holderName: "Trace Me", holderEmail: "trace@example.com", currency: "EUR" },
          { "x-request-id": "corr-123" }
        )
        assert.strictEqual(opened.headers.get("x-request-id"), "corr-123")
        const id = opened.body.accountId
        const generated = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 5 }, { "idempotency-key": "dep-1" })
        const generatedId = generated.headers.get("x-request-id")
        assert.match(generatedId ?? "", /^[0-9a-f-]{36}$/)
        // An unsafe id (spaces, too long) is replaced, never echoed.
        const unsafe = yield* T.alice.get(`/accounts/${id}/state`, { "x-request-id": "x y" })
        assert.notStrictEqual(unsafe.headers.get("x-request-id"), "x y")
        const history = yield* T.alice.get(`/accounts/${id}/events`)
        const [open, deposit] = history.body.events
        assert.deepStrictEqual(open.metadata, { correlationId: "corr-123", actor: "alice" })
        assert.deepStrictEqual(deposit.metadata, { correlationId: generatedId, actor: "alice", idempotencyKey: "dep-1" })
      }))

    it.effect("errors everywhere are problem details: unknown route, wrong media type", () =>
      Effect.gen(function*() {
        T.isProblem(yield* T.request("GET", "/nowhere"), 404)
        T.isProblem(yield* T.request("DELETE", "/accounts", { token: T.tokens.alice }), 404)
        const media = yield* T.request("POST", "/accounts", {
          token: T.tokens.alice,
          raw: "holderName=x",
          headers: { "content-type": "application/x-www-form-urlencoded" }
        })
        assert.isAtLeast(media.status, 400)
        assert.isBelow(media.status, 500)
        T.isProblem(media, media.status)
      }))
  })
})
