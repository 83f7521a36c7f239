/**
 * 32 clients depositing into the same account at once: without If-Match (the command handler retries
 * version conflicts itself) and with If-Match (clients retry 412s with the ETag the 412 carries). In both
 * modes the final balance is exactly the sum of the deposits that were answered 2xx: no lost update, no
 * deposit applied twice, and every refusal is a clean problem.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { forEachDatabase } from "@verity/eventstore/testing"
import * as T from "./support/TestApi.ts"

const CLIENTS = 32
const DEPOSITS_PER_CLIENT = 4

const balanceOf = (id: string) => Effect.map(T.alice.get(`/accounts/${id}/state`), (r) => r.body.state.balance as number)

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "180 seconds" })("concurrency", (it) => {
    it.effect("without If-Match: the balance is the sum of accepted deposits", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        const outcomes = yield* Effect.forEach(Array.from({ length: CLIENTS }, (_, c) => c), (client) =>
          Effect.forEach(Array.from({ length: DEPOSITS_PER_CLIENT }, (_, n) => n), () =>
            Effect.map(T.alice.post(`/accounts/${id}/deposits`, { amount: client + 1 }), (reply) => ({ client, reply }))), {
          concurrency: CLIENTS
        })
        const replies = outcomes.flat()
        let accepted = 0
        for (const { client, reply } of replies) {
          if (reply.status === 200) accepted += client + 1
          else assert.include([409, 503], reply.status, reply.text)
        }
        const ok = replies.filter((r) => r.reply.status === 200).length
        assert.isAbove(ok, replies.length / 2, "most deposits get through")
        assert.strictEqual(yield* balanceOf(id), accepted)
        const versions = replies.filter((r) => r.reply.status === 200).map((r) => r.reply.body.version as number)
        assert.strictEqual(new Set(versions).size, versions.length, "every accepted deposit has its own version")
      }))

    it.effect("with If-Match: clients retry 412 with the fresh ETag; the balance is the sum of accepted deposits", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        let stale = 0
        const client = (c: number) =>
          Effect.gen(function*() {
            let etag = '"1"'
            let accepted = 0
            let done = 0
            for (let attempt = 0; attempt < 400 && done < DEPOSITS_PER_CLIENT; attempt++) {
              const reply = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: c + 1 }, { "if-match": etag })
              if (reply.status === 200) {
                accepted += c + 1
                done++
                etag = reply.headers.get("etag")!
              } else if (reply.status === 412) {
                stale++
                etag = reply.headers.get("etag")!
                T.isProblem(reply, 412, "PreconditionFailed")
              } else {
                assert.strictEqual(reply.status, 503, reply.text)
                yield* Effect.sleep("5 millis")
              }
            }
            assert.strictEqual(done, DEPOSITS_PER_CLIENT, `client ${c} got its deposits through`)
            return accepted
          })
        const sums = yield* Effect.forEach(Array.from({ length: CLIENTS }, (_, c) => c), client, { concurrency: CLIENTS })
        const expected = sums.reduce((a, b) => a + b, 0)
        assert.strictEqual(yield* balanceOf(id), expected)
        assert.strictEqual(expected, DEPOSITS_PER_CLIENT * (CLIENTS * (CLIENTS + 1)) / 2)
        assert.isAbove(stale, 0, "clients did race")
      }))
  })
})
