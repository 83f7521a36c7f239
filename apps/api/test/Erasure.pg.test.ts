/**
 * The erasure audit (`GET /subjects/{id}/erasure`, scope admin): after a forget through the API it says
 * who asked, when, why and which streams held the subject's data, and points at the erasure record; a
 * second forget does not change it; 404 for a subject never forgotten; 401, 403 and 400 as elsewhere.
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import * as T from "./support/TestApi.ts"

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("erasure audit", (it) => {
    it.effect("who, when, why and which streams, from the erasure record", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount("EUR")
        yield* T.deposit(id, 10)
        const before = Date.now()
        const forgotten = yield* T.ops.post(`/subjects/${id}/forget`, { reason: "GDPR art. 17 request 7" })
        assert.strictEqual(forgotten.status, 200, forgotten.text)
        const reply = yield* T.ops.get(`/subjects/${id}/erasure`)
        assert.strictEqual(reply.status, 200, reply.text)
        assert.deepInclude(reply.body, {
          subjectId: id,
          requestedBy: "ops",
          reason: "GDPR art. 17 request 7",
          streams: [`account-${id}`],
          position: forgotten.body.position
        })
        assert.isAtLeast(Date.parse(reply.body.forgottenAt), before - 1000)
        assert.isAtMost(Date.parse(reply.body.forgottenAt), Date.now() + 1000)
        assert.strictEqual(reply.body.metadata.actor, "ops")
        assert.match(reply.body.eventId, /^[0-9a-f-]{36}$/)
        // A second forget changes nothing: the audit still names the first.
        yield* T.ops.post(`/subjects/${id}/forget`, { reason: "again" })
        assert.deepStrictEqual((yield* T.ops.get(`/subjects/${id}/erasure`)).body, reply.body)
      }))

    it.effect("404 when never forgotten; scope admin; a malformed id is 400", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount("EUR")
        assert.deepInclude(T.isProblem(yield* T.ops.get(`/subjects/${id}/erasure`), 404, "NotFound"), { resource: "erasure", id })
        T.isProblem(yield* T.request("GET", `/subjects/${id}/erasure`), 401, "Unauthorized")
        assert.strictEqual(T.isProblem(yield* T.alice.get(`/subjects/${id}/erasure`), 403, "Forbidden").requiredScope, "admin")
        T.isProblem(yield* T.reader.get(`/subjects/${id}/erasure`), 403, "Forbidden")
        const bad = T.isProblem(yield* T.ops.get("/subjects/bad%20id/erasure"), 400)
        assert.strictEqual(bad.errors[0].path[0], "params")
      }))
  })
})
