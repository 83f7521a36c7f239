/**
 * A transfer's history (`GET /transfers/{id}/events`): the saga's events in order with their metadata
 * (the request's actor and correlation id, the process manager's steps caused by the previous event),
 * paged by `fromVersion` without gaps or repeats; scope read, 400 for bad ids and paging, 404 unknown.
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import * as T from "./support/TestApi.ts"

const unknownId = "00000000-0000-4000-8000-000000000000"

interface Entry {
  readonly version: number
  readonly type: string
  readonly eventId: string
  readonly data: { readonly transferId: string }
  readonly metadata: { readonly actor?: string; readonly correlationId?: string; readonly causationId?: string }
}

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("transfer history", (it) => {
    it.effect("the saga's events in order, with who caused each", () =>
      Effect.gen(function*() {
        const from = yield* T.openAccount("EUR")
        const to = yield* T.openAccount("EUR")
        yield* T.deposit(from, 500)
        const accepted = yield* T.alice.post("/transfers", { fromAccountId: from, toAccountId: to, amount: 200 }, {
          "x-request-id": "history-corr-1"
        })
        const done = yield* T.settled(accepted.body.transferId)
        const reply = yield* T.reader.get(`/transfers/${accepted.body.transferId}/events`)
        assert.strictEqual(reply.status, 200, reply.text)
        assert.strictEqual(reply.headers.get("etag"), `"${done.body.version}"`)
        const events = reply.body.events as ReadonlyArray<Entry>
        assert.deepStrictEqual(events.map((e) => e.type), [
          "TransferRequested",
          "SourceAccountDebited",
          "TargetAccountCredited",
          "TransferCompleted"
        ])
        assert.deepStrictEqual(events.map((e) => e.version), [1, 2, 3, 4])
        assert.isTrue(events.every((e) => e.data.transferId === accepted.body.transferId))
        assert.strictEqual(events[0]!.metadata.actor, "alice")
        for (const e of events) assert.strictEqual(e.metadata.correlationId, "history-corr-1", e.type)
        for (const e of events.slice(1)) assert.strictEqual(e.metadata.actor, "transfer-process", e.type)
        assert.isUndefined(reply.body.nextFromVersion)
      }))

    it.effect("paging with fromVersion: every event once", () =>
      Effect.gen(function*() {
        const from = yield* T.openAccount("EUR")
        const to = yield* T.openAccount("EUR")
        yield* T.deposit(from, 500)
        const { transferId } = yield* T.transfer(from, to, 10)
        const seen: Array<number> = []
        let next: number | undefined = 1
        let pages = 0
        while (next !== undefined && pages < 10) {
          const reply: T.Reply = yield* T.reader.get(`/transfers/${transferId}/events?limit=3&fromVersion=${next}`)
          assert.strictEqual(reply.status, 200, reply.text)
          seen.push(...reply.body.events.map((e: Entry) => e.version))
          next = reply.body.nextFromVersion
          pages++
        }
        assert.strictEqual(pages, 2)
        assert.deepStrictEqual(seen, [1, 2, 3, 4])
      }))

    it.effect("scope read, typed 400s, 404 for an unknown transfer", () =>
      Effect.gen(function*() {
        T.isProblem(yield* T.request("GET", `/transfers/${unknownId}/events`), 401, "Unauthorized")
        assert.strictEqual(T.isProblem(yield* T.writer.get(`/transfers/${unknownId}/events`), 403, "Forbidden").requiredScope, "read")
        assert.deepInclude(T.isProblem(yield* T.reader.get(`/transfers/${unknownId}/events`), 404, "NotFound"), {
          resource: "transfer",
          id: unknownId
        })
        T.isProblem(yield* T.reader.get("/transfers/123/events"), 400)
        for (const query of ["limit=0", "limit=1001", "fromVersion=0", "fromVersion=x"]) {
          const problem = T.isProblem(yield* T.reader.get(`/transfers/${unknownId}/events?${query}`), 400)
          assert.strictEqual(problem.errors[0].path[0], "query", query)
        }
      }))
  })
})
