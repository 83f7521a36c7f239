/**
 * Edge validation matches the store's ranges and the schemas: a position beyond int8 or a version beyond
 * 2^53-1 is a 400 naming the parameter (not an overflow in the database answered as an outage), and path
 * segments as long as the schemas allow (200-character subject ids, 255-character stream names) are
 * routed to their handlers; only a segment no schema could accept is refused, with 400.
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import * as T from "./support/TestApi.ts"

/** A 400 problem whose validation errors name `field`. */
const rejects = (reply: T.Reply, field: string) => {
  const body = T.isProblem(reply, 400)
  assert.include(JSON.stringify(body.errors ?? body.detail), field, reply.text)
}

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("edge validation", (it) => {
    it.effect("positions and versions out of the store's range are 400; the range's ends are accepted", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        const opened = (yield* T.deposit(id, 1)).position
        const before = yield* T.eventCount
        for (const position of ["9223372036854775808", "9999999999999999999", "18446744073709551616"]) {
          rejects(yield* T.alice.get(`/accounts/${id}?waitForPosition=${position}`), "waitForPosition")
        }
        // The largest int8 is a valid position: the wait runs (and times out: nothing is that far).
        T.isProblem(yield* T.alice.get(`/accounts/${id}?waitForPosition=9223372036854775807`), 503, "ProjectionNotCaughtUp")
        // Position 0 is before every event: nothing to wait for (once the summary has the account's row).
        yield* T.alice.get(`/accounts/${id}?waitForPosition=${opened}`)
        const zero = yield* T.alice.get(`/accounts/${id}?waitForPosition=0`)
        assert.strictEqual(zero.status, 200, zero.text)
        for (const version of ["9007199254740992", "99999999999999999999", "1e30"]) {
          rejects(yield* T.alice.get(`/accounts/${id}/state?version=${version}`), "version")
          rejects(yield* T.alice.get(`/accounts/${id}/events?fromVersion=${version}`), "fromVersion")
        }
        const last = yield* T.alice.get(`/accounts/${id}/state?version=9007199254740991`)
        assert.strictEqual(last.status, 200, last.text)
        assert.strictEqual(yield* T.eventCount, before, "nothing written")
      }))

    it.effect("long segments the schemas accept are routed; longer ones are 400, never 404", () =>
      Effect.gen(function*() {
        const subject = "s".repeat(200)
        const forgotten = yield* T.ops.post(`/subjects/${subject}/forget`, { reason: "GDPR art. 17 request 9" })
        assert.strictEqual(forgotten.status, 200, forgotten.text)
        assert.strictEqual(forgotten.body.subjectId, subject)
        rejects(yield* T.ops.post(`/subjects/${"s".repeat(201)}/forget`, { reason: "GDPR art. 17 request 9" }), "subjectId")

        // A 255-character stream name reaches the handler, which says it is not parked.
        const stream = `account-${"x".repeat(247)}`
        const retried = yield* T.ops.post(`/projections/account_summary/parked/${stream}/retry`)
        assert.strictEqual(T.isProblem(retried, 404, "NotFound").resource, "parked stream", retried.text)
        // The same length in multi-byte characters, percent-encoded, is routed too.
        const wide = yield* T.ops.post(`/projections/account_summary/parked/${encodeURIComponent("€".repeat(255))}/skip`)
        assert.strictEqual(T.isProblem(wide, 404, "NotFound").resource, "parked stream", wide.text)
        rejects(yield* T.ops.post(`/projections/account_summary/parked/${"x".repeat(256)}/retry`), "stream")
        // Beyond anything a schema accepts, the router refuses the segment: 400, not "no such resource".
        T.isProblem(yield* T.ops.post(`/projections/account_summary/parked/${"x".repeat(5000)}/retry`), 400, "BadRequest")
      }))
  })
})
