/**
 * The account statement (`GET /accounts/{id}/transactions`): every money movement made through the API,
 * newest first, with the balance after each; paging with `before` returns each movement exactly once;
 * scope read, typed 400s for bad paging parameters, 404 for an account that was never opened.
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import * as T from "./support/TestApi.ts"

const unknownId = "00000000-0000-4000-8000-000000000000"

interface Item {
  readonly version: number
  readonly kind: string
  readonly amount: number
  readonly balanceAfter: number
  readonly transferId?: string
  readonly counterpartyAccountId?: string
}

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("statement", (it) => {
    it.effect("newest first, with the balance after each movement, transfers naming the other account", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount("EUR")
        const other = yield* T.openAccount("EUR")
        yield* T.deposit(id, 1000)
        yield* T.deposit(id, 250)
        const withdrawn = yield* T.alice.post(`/accounts/${id}/withdrawals`, { amount: 100 })
        assert.strictEqual(withdrawn.status, 200)
        const { transferId } = yield* T.transfer(id, other, 300)
        const reply = yield* T.readAfter(`/accounts/${id}/transactions`, yield* T.lastPosition(id))
        assert.strictEqual(reply.status, 200, reply.text)
        assert.strictEqual(reply.body.accountId, id)
        const items = reply.body.items as ReadonlyArray<Item>
        assert.deepStrictEqual(items.map((i) => [i.kind, i.amount, i.balanceAfter]), [
          ["transfer_debit", -300, 850],
          ["withdrawal", -100, 1150],
          ["deposit", 250, 1250],
          ["deposit", 1000, 1000]
        ])
        assert.deepInclude(items[0]!, { transferId, counterpartyAccountId: other })
        assert.notProperty(items[1]!, "transferId")
        assert.isUndefined(reply.body.next, "one page holds everything")
        const credit = yield* T.readAfter(`/accounts/${other}/transactions`, yield* T.lastPosition(other))
        assert.deepStrictEqual(credit.body.items.map((i: Item) => [i.kind, i.amount, i.balanceAfter, i.counterpartyAccountId]), [
          ["transfer_credit", 300, 300, id]
        ])
        // Opened, no movement yet: an empty statement, not a 404.
        const fresh = yield* T.openAccount("EUR")
        assert.deepStrictEqual((yield* T.reader.get(`/accounts/${fresh}/transactions`)).body, { accountId: fresh, items: [] })
      }))

    it.effect("paging with before returns every movement once, across page boundaries", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount("EUR")
        for (let i = 1; i <= 7; i++) yield* T.deposit(id, i)
        assert.strictEqual((yield* T.readAfter(`/accounts/${id}/transactions`, yield* T.lastPosition(id))).status, 200)
        const seen: Array<Item> = []
        let next: number | undefined
        let pages = 0
        do {
          const reply = yield* T.reader.get(`/accounts/${id}/transactions?limit=3${next === undefined ? "" : `&before=${next}`}`)
          assert.strictEqual(reply.status, 200, reply.text)
          assert.isAtMost(reply.body.items.length, 3)
          seen.push(...reply.body.items)
          next = reply.body.next
          pages++
        } while (next !== undefined && pages < 10)
        assert.strictEqual(pages, 3)
        assert.deepStrictEqual(seen.map((i) => i.amount), [7, 6, 5, 4, 3, 2, 1])
        assert.deepStrictEqual(seen.map((i) => i.balanceAfter), [28, 21, 15, 10, 6, 3, 1])
        assert.strictEqual(new Set(seen.map((i) => i.version)).size, 7, "no movement twice")
        // The default page size is 50: all seven on one page.
        assert.strictEqual((yield* T.reader.get(`/accounts/${id}/transactions`)).body.items.length, 7)
      }))

    it.effect("scope read: no token is 401, a write-only token 403", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount("EUR")
        T.isProblem(yield* T.request("GET", `/accounts/${id}/transactions`), 401, "Unauthorized")
        const forbidden = T.isProblem(yield* T.writer.get(`/accounts/${id}/transactions`), 403, "Forbidden")
        assert.strictEqual(forbidden.requiredScope, "read")
      }))

    it.effect("bad limit or cursor is a typed 400; an unknown account 404", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount("EUR")
        for (const query of ["limit=0", "limit=501", "limit=ten", "before=0", "before=-3", "before=abc", "waitForPosition=x"]) {
          const problem = T.isProblem(yield* T.reader.get(`/accounts/${id}/transactions?${query}`), 400)
          assert.isAbove(problem.errors.length, 0, query)
          assert.strictEqual(problem.errors[0].path[0], "query", query)
        }
        assert.strictEqual((yield* T.reader.get(`/accounts/${id}/transactions?limit=500`)).status, 200)
        // A position the read model never reaches: a bounded wait, then 503 naming it (never stale data).
        const late = T.isProblem(yield* T.reader.get(`/accounts/${id}/transactions?waitForPosition=9223372036854775807`), 503)
        assert.deepInclude(late, { title: "ProjectionNotCaughtUp", projection: "account_transactions" })
        const missing = T.isProblem(yield* T.reader.get(`/accounts/${unknownId}/transactions`), 404, "NotFound")
        assert.deepInclude(missing, { resource: "account", id: unknownId })
        T.isProblem(yield* T.reader.get("/accounts/not-a-uuid/transactions"), 400)
      }))
  })
})
