/**
 * The transfer listing (`GET /transfers?status=&limit=&after=`) from the transfers read model: transfers
 * made through the API appear in request order with their final saga status; a status filter keeps only
 * those; keyset paging returns each transfer exactly once across page boundaries; scope read; typed 400s.
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import * as T from "./support/TestApi.ts"

interface Summary {
  readonly transferId: string
  readonly fromAccountId: string
  readonly status: string
  readonly amount: number
  readonly failedStep?: string
  readonly reason?: string
  readonly position: string
  readonly version: number
}

/** The position of the transfer's last event: once the read model has it, the row is final. */
const lastPositionOf = (transferId: string) =>
  Effect.gen(function*() {
    const reply = yield* T.reader.get(`/transfers/${transferId}/events`)
    return reply.body.events[reply.body.events.length - 1].position as string
  })

/** Every page of `query`, following `next`. */
const allPages = (query: string, limit: number) =>
  Effect.gen(function*() {
    const items: Array<Summary> = []
    let after: string | undefined
    let pages = 0
    do {
      const reply: T.Reply = yield* T.reader.get(`/transfers?limit=${limit}${query}${after === undefined ? "" : `&after=${after}`}`)
      assert.strictEqual(reply.status, 200, reply.text)
      assert.isAtMost(reply.body.items.length, limit)
      items.push(...reply.body.items)
      after = reply.body.next
      pages++
    } while (after !== undefined && pages < 100)
    return { items, pages }
  })

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("transfer list", (it) => {
    it.effect("request order, final statuses, status filter, paging across boundaries", () =>
      Effect.gen(function*() {
        const rich = yield* T.openAccount("EUR")
        const poor = yield* T.openAccount("EUR")
        const target = yield* T.openAccount("EUR")
        yield* T.deposit(rich, 1000)
        const made: Array<{ transferId: string; status: string }> = []
        for (const [from, amount] of [[rich, 10], [poor, 50], [rich, 20], [rich, 30], [poor, 60]] as const) {
          made.push(yield* T.transfer(from, target, amount))
        }
        assert.deepStrictEqual(made.map((m) => m.status), ["Completed", "Failed", "Completed", "Completed", "Failed"])
        const positions = [] as Array<string>
        for (const m of made) positions.push(yield* lastPositionOf(m.transferId))
        const latest = positions.reduce((a, b) => (BigInt(a) > BigInt(b) ? a : b))
        const first = yield* T.readAfter("/transfers", latest)
        assert.strictEqual(first.status, 200, first.text)

        const ids = made.map((m) => m.transferId)
        const { items, pages } = yield* allPages("", 2)
        assert.isAtLeast(pages, 3)
        assert.strictEqual(new Set(items.map((i) => i.transferId)).size, items.length, "no transfer twice")
        const mine = items.filter((i) => ids.includes(i.transferId))
        assert.deepStrictEqual(mine.map((i) => i.transferId), ids, "every transfer once, in request order")
        const ordered = items.map((i) => BigInt(i.position))
        assert.isTrue(ordered.every((p, i) => i === 0 || p > ordered[i - 1]!))
        assert.deepInclude(mine[1]!, {
          fromAccountId: poor,
          amount: 50,
          status: "Failed",
          failedStep: "Debit",
          reason: "InsufficientFunds",
          version: 2
        })
        assert.deepInclude(mine[0]!, { fromAccountId: rich, amount: 10, status: "Completed", version: 4 })
        assert.notProperty(mine[0]!, "failedStep")

        const failed = yield* allPages("&status=Failed", 1)
        assert.isTrue(failed.items.every((i) => i.status === "Failed"))
        assert.deepStrictEqual(failed.items.filter((i) => ids.includes(i.transferId)).map((i) => i.transferId), [ids[1], ids[4]])
        const completed = yield* allPages("&status=Completed", 2)
        assert.deepStrictEqual(completed.items.filter((i) => ids.includes(i.transferId)).map((i) => i.transferId), [ids[0], ids[2], ids[3]])
        assert.deepStrictEqual((yield* T.reader.get("/transfers?status=Refunding")).body, { items: [] })
      }))

    it.effect("scope read: no token is 401, a write-only token 403", () =>
      Effect.gen(function*() {
        T.isProblem(yield* T.request("GET", "/transfers"), 401, "Unauthorized")
        assert.strictEqual(T.isProblem(yield* T.writer.get("/transfers"), 403, "Forbidden").requiredScope, "read")
      }))

    it.effect("a bad status, limit or cursor is a typed 400", () =>
      Effect.gen(function*() {
        for (
          const [query, parameter] of [
            ["status=Bogus", "status"],
            ["status=completed", "status"],
            ["limit=0", "limit"],
            ["limit=501", "limit"],
            [
              "after=abc",
              "after"
            ],
            ["after=-1", "after"],
            ["after=99999999999999999999", "after"]
          ] as const
        ) {
          const problem = T.isProblem(yield* T.reader.get(`/transfers?${query}`), 400)
          assert.deepStrictEqual(problem.errors[0].path.slice(0, 2), ["query", parameter], query)
        }
        assert.strictEqual((yield* T.reader.get("/transfers?limit=500&after=0")).status, 200)
      }))
  })
})
