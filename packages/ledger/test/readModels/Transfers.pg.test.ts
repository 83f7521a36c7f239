/**
 * The transfers read model, end to end with the transfer process manager: completed, failed-on-debit and
 * refunded transfers get their final status, failed step and reason; `list` filters by status and pages by
 * request position without repeats; `verify` recomputes the table from the events and finds it identical
 * (the handler is deterministic, whatever the batch boundaries were).
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase } from "@verity/postgres/testing"
import { Projections } from "@verity/projections"
import { Effect } from "effect"
import * as ReadModels from "../../src/ReadModels.ts"
import * as TransferProcess from "../../src/TransferProcess.ts"
import { closeAccount, EUR, openAccount, requestTransfer, runtimeOn, settled, transferEvents } from "../transfers/support.ts"

forEachDatabase((target) => {
  layer(runtimeOn(target, [TransferProcess.projection, ReadModels.transfers]), { excludeTestServices: true, timeout: "120 seconds" })(
    "transfers read model",
    (it) => {
      it.effect("final statuses, status filter, keyset paging, verify", () =>
        Effect.gen(function*() {
          const projections = yield* Projections.Projections
          const rich = yield* openAccount({ deposit: 1_000, currency: EUR })
          const poor = yield* openAccount({ currency: EUR })
          const target = yield* openAccount({ currency: EUR })
          const closing = yield* openAccount({ currency: EUR })
          yield* closeAccount(closing)
          const made = [
            yield* requestTransfer(rich, target, 100),
            yield* requestTransfer(poor, target, 50),
            yield* requestTransfer(rich, target, 200),
            // The target closed: the credit is rejected and the debit refunded.
            yield* requestTransfer(rich, closing, 30)
          ]
          for (const m of made) yield* settled(m.transferId)
          let latest = 0n
          for (const m of made) for (const e of yield* transferEvents(m.transferId)) if (e.position > latest) latest = e.position
          yield* projections.waitFor(ReadModels.transfers.name, latest, "30 seconds")

          const all = yield* ReadModels.Transfers.list({ limit: 500 })
          assert.deepStrictEqual(all.items.map((t) => t.transferId), made.map((m) => m.transferId))
          assert.deepStrictEqual(all.items.map((t) => [t.status, t.failedStep, t.reason]), [
            ["Completed", undefined, undefined],
            ["Failed", "Debit", "InsufficientFunds"],
            ["Completed", undefined, undefined],
            ["Failed", "Credit", "AccountIsClosed"]
          ])
          assert.deepInclude(all.items[0]!, { fromAccountId: rich, toAccountId: target, amount: 100, currency: "EUR", version: 4 })
          assert.isUndefined(all.next)

          const failed = yield* ReadModels.Transfers.list({ limit: 500, status: "Failed" })
          assert.deepStrictEqual(failed.items.map((t) => t.transferId), [made[1]!.transferId, made[3]!.transferId])

          const seen: Array<string> = []
          let page = yield* ReadModels.Transfers.list({ limit: 1 })
          seen.push(...page.items.map((t) => t.transferId))
          while (page.next !== undefined && seen.length < 10) {
            page = yield* ReadModels.Transfers.list({ limit: 1, after: page.next })
            seen.push(...page.items.map((t) => t.transferId))
          }
          assert.deepStrictEqual(seen, made.map((m) => m.transferId))
          assert.deepStrictEqual((yield* ReadModels.Transfers.list({ limit: 5, after: "not a position" })).items, [])

          const report = yield* projections.verify(ReadModels.transfers.name)
          assert.isTrue(report.consistent, JSON.stringify(report.tables))
          // Completed and refunded transfers have four events each, the one failed on its debit two.
          assert.strictEqual(report.events, 4 + 2 + 4 + 4)
        }))
    }
  )
})
