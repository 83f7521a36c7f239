/**
 * Transfers over HTTP: 202 with the transfer's id and ETag, the process manager completing it (both
 * balances move), the checks made up front (unknown or closed accounts, same account, currencies), and
 * the transfer's state folded from its stream.
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import * as T from "./support/TestApi.ts"

const unknownId = "00000000-0000-4000-8000-000000000000"

/** Polls the transfer until it reaches a terminal status. */
const settled = (transferId: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const reply = yield* T.alice.get(`/transfers/${transferId}`)
      if (reply.body.state?.status === "Completed" || reply.body.state?.status === "Failed") return reply
      yield* Effect.sleep("50 millis")
    }
    throw new Error(`transfer ${transferId} did not settle`)
  })

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("transfers", (it) => {
    it.effect("a transfer is accepted (202) and completed by the process manager", () =>
      Effect.gen(function*() {
        const from = yield* T.openAccount("EUR")
        const to = yield* T.openAccount("EUR")
        yield* T.deposit(from, 1000)
        const accepted = yield* T.alice.post("/transfers", { fromAccountId: from, toAccountId: to, amount: 300 }, {
          "x-request-id": "transfer-corr-1"
        })
        assert.strictEqual(accepted.status, 202)
        const transferId = accepted.body.transferId
        assert.strictEqual(accepted.body.version, 1)
        assert.strictEqual(accepted.headers.get("etag"), "\"1\"")
        assert.strictEqual(accepted.headers.get("location"), `/transfers/${transferId}`)
        const done = yield* settled(transferId)
        assert.strictEqual(done.body.state.status, "Completed")
        assert.deepInclude(done.body.state, { fromAccountId: from, toAccountId: to, amount: 300, currency: "EUR" })
        assert.strictEqual(done.headers.get("etag"), `"${done.body.version}"`)
        const source = yield* T.alice.get(`/accounts/${from}/state`)
        const target = yield* T.alice.get(`/accounts/${to}/state`)
        assert.strictEqual(source.body.state.balance, 700)
        assert.strictEqual(target.body.state.balance, 300)
        const history = yield* T.alice.get(`/accounts/${to}/events`)
        const credit = history.body.events.find((e: { readonly type: string }) => e.type === "MoneyCreditedForTransfer")
        assert.isDefined(credit)
        assert.strictEqual(credit.metadata.correlationId, "transfer-corr-1", "the process manager keeps the correlation id")
      }))

    it.effect("a transfer the source cannot cover fails without moving money", () =>
      Effect.gen(function*() {
        const from = yield* T.openAccount("EUR")
        const to = yield* T.openAccount("EUR")
        const accepted = yield* T.alice.post("/transfers", { fromAccountId: from, toAccountId: to, amount: 50 })
        assert.strictEqual(accepted.status, 202)
        const done = yield* settled(accepted.body.transferId)
        assert.deepInclude(done.body.state, { status: "Failed", failedStep: "Debit" })
        assert.strictEqual((yield* T.alice.get(`/accounts/${to}/state`)).body.state.balance, 0)
      }))

    it.effect("refused up front: unknown or closed accounts, same account, other currency", () =>
      Effect.gen(function*() {
        const eur = yield* T.openAccount("EUR")
        const usd = yield* T.openAccount("USD")
        const closed = yield* T.openAccount("EUR")
        yield* T.alice.post(`/accounts/${closed}/close`)
        yield* T.deposit(eur, 100)
        const before = yield* T.eventCount
        const unknownSource = T.isProblem(
          yield* T.alice.post("/transfers", { fromAccountId: unknownId, toAccountId: eur, amount: 1 }),
          422,
          "UnknownAccount"
        )
        assert.strictEqual(unknownSource.role, "source")
        const closedTarget = T.isProblem(
          yield* T.alice.post("/transfers", { fromAccountId: eur, toAccountId: closed, amount: 1 }),
          422,
          "UnknownAccount"
        )
        assert.strictEqual(closedTarget.role, "target")
        T.isProblem(yield* T.alice.post("/transfers", { fromAccountId: eur, toAccountId: eur, amount: 1 }), 422, "SameAccountTransfer")
        T.isProblem(yield* T.alice.post("/transfers", { fromAccountId: eur, toAccountId: usd, amount: 1 }), 422, "CurrencyMismatch")
        T.isProblem(yield* T.alice.post("/transfers", { fromAccountId: eur, toAccountId: usd, amount: 0 }), 400)
        assert.strictEqual(yield* T.eventCount, before)
      }))

    it.effect("an unknown transfer is 404; a malformed id is 400", () =>
      Effect.gen(function*() {
        T.isProblem(yield* T.alice.get(`/transfers/${unknownId}`), 404, "NotFound")
        T.isProblem(yield* T.alice.get("/transfers/123"), 400)
      }))
  })
})
