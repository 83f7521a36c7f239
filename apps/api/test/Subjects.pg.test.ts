/**
 * GDPR erasure through the API: forget needs admin, is idempotent, and afterwards no API response (the
 * summary, the list, the history, time travel, transfers, replayed idempotent responses) contains the
 * holder's name or email; the API's own table keeps no fingerprint of a body that held them; and new
 * personal data for the forgotten holder is refused. After a rebuild and then a forget, a full dump of the
 * database (every generation of every read model, the retired one included) holds none of the holder's data.
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase, fullDump } from "@verity/postgres/testing"
import { Effect, Option, Schedule } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as T from "./support/TestApi.ts"

const NAME = "Erika Mustermann"
const EMAIL = "erika.mustermann@example.org"

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("subjects", (it) => {
    it.effect("after forget, no API response contains the holder's name or email", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const body = { holderName: NAME, holderEmail: EMAIL, currency: "EUR" }
        const opened = yield* T.alice.post("/accounts", body, { "idempotency-key": "gdpr-open" })
        const id = opened.body.accountId as string
        const other = yield* T.openAccount("EUR")
        yield* T.deposit(id, 500)
        yield* T.alice.put(`/accounts/${id}/holder`, { holderName: `${NAME} II`, holderEmail: `ii.${EMAIL}` })
        const transfer = yield* T.alice.post("/transfers", { fromAccountId: id, toAccountId: other, amount: 100 })
        const before = yield* T.alice.get(`/accounts/${id}/events`)
        assert.include(before.text, NAME, "visible before the erasure")

        const forgotten = yield* T.ops.post(`/subjects/${id}/forget`, { reason: "GDPR art. 17 request 42" })
        assert.strictEqual(forgotten.status, 200)
        assert.deepInclude(forgotten.body, { subjectId: id, forgotten: true, streams: [`account-${id}`] })
        const again = yield* T.ops.post(`/subjects/${id}/forget`, { reason: "GDPR art. 17 request 42" })
        assert.strictEqual(again.body.forgotten, false)

        const responses = [
          yield* T.alice.get(`/accounts/${id}?waitForPosition=${forgotten.body.position}`),
          yield* T.alice.get("/accounts?limit=500"),
          yield* T.alice.get(`/accounts/${id}/events`),
          yield* T.alice.get(`/accounts/${id}/state`),
          yield* T.alice.get(`/accounts/${id}/state?version=1`),
          yield* T.alice.get(`/transfers/${transfer.body.transferId}`),
          yield* T.alice.post("/accounts", body, { "idempotency-key": "gdpr-open" })
        ]
        for (const reply of responses) {
          assert.isBelow(reply.status, 300, reply.text)
          assert.notInclude(reply.text, "Erika", reply.text)
          assert.notInclude(reply.text, "mustermann", reply.text)
        }
        const summary = responses[0]!.body
        assert.deepInclude(summary, { holderName: "[erased]", holderEmail: "erased@erased.invalid", erased: true, balance: 400 })
        const history = responses[2]!.body.events
        assert.deepStrictEqual(history[0].erasedFields.sort(), ["holderEmail", "holderName"])
        // The replay is the original response, not a second account.
        assert.deepStrictEqual(responses[6]!.body, opened.body)
        // No fingerprint of the body that held the data stays in the API's table.
        const rows = yield* sql<{ readonly request_hash: string | null }>`
          SELECT request_hash FROM verity_api.idempotency_keys WHERE subject_id = ${id}`
        assert.isAbove(rows.length, 0)
        for (const row of rows) assert.isNull(row.request_hash)
        // New personal data for the forgotten holder is refused.
        T.isProblem(
          yield* T.alice.put(`/accounts/${id}/holder`, { holderName: "Someone", holderEmail: "someone@example.com" }),
          409,
          "SubjectForgotten"
        )
        // Money still moves: erasure does not break the account.
        assert.strictEqual((yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 1 })).status, 200)
      }))

    it.effect("after a rebuild and a forget, a full dump of the database holds none of the holder's data", () =>
      Effect.gen(function*() {
        const tag = Math.random().toString(36).slice(2, 10)
        const name = `Rebuilt Holder ${tag}`
        const email = `rebuilt.${tag}@example.org`
        const opened = yield* T.alice.post("/accounts", { holderName: name, holderEmail: email, currency: "EUR" })
        const id = opened.body.accountId as string
        yield* T.alice.get(`/accounts/${id}?waitForPosition=${opened.body.position}`)
        const started = yield* T.ops.post("/projections/account_summary/rebuild")
        assert.strictEqual(started.status, 202)
        const summaryOf = (reply: T.Reply): T.Json => (reply.body as Array<T.Json>).find((p) => p.name === "account_summary")
        yield* T.ops.get("/projections").pipe(
          Effect.repeat({ until: (r) => summaryOf(r)?.active?.generation === started.body.generation, schedule: Schedule.spaced("50 millis") }),
          Effect.timeout("30 seconds")
        )
        const forgotten = yield* T.ops.post(`/subjects/${id}/forget`, { reason: "GDPR art. 17 request 43" })
        assert.strictEqual(forgotten.status, 200)
        const summary = yield* T.alice.get(`/accounts/${id}?waitForPosition=${forgotten.body.position}`)
        assert.strictEqual(summary.body.holderName, "[erased]")
        // The previous generation is retired (no runner follows it): the erasure reaches it all the same.
        const clean = (text: string) => !text.includes(name) && !text.includes(email)
        const dump = yield* fullDump.pipe(
          Effect.repeat({ until: (d) => clean(d.text), schedule: Schedule.spaced("100 millis") }),
          Effect.timeoutOption("30 seconds")
        )
        assert.isTrue(Option.isSome(dump), "a full dump still holds the holder's name or email")
        if (Option.isSome(dump)) {
          assert.include(dump.value.text, `account_summary_g${started.body.generation - 1}`, "the dump covers the retired generation")
        }
      }))

    it.effect("forget validates its input and needs admin", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        T.isProblem(yield* T.alice.post(`/subjects/${id}/forget`, { reason: "x" }), 403)
        T.isProblem(yield* T.ops.post(`/subjects/${id}/forget`, {}), 400)
        T.isProblem(yield* T.ops.post(`/subjects/${id}/forget`, { reason: "" }), 400)
        T.isProblem(yield* T.ops.post("/subjects/bad%20id/forget", { reason: "x" }), 400)
      }))
  })
})
