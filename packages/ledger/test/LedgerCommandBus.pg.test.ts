/**
 * The ledger's command bus on the ledger runtime (crypto-shredding store, idempotency records in the
 * store's schema): account and transfer commands reach their own streams, an untyped body is decoded as a
 * ledger command, and a keyed retry of an opening (personal data, encrypted) answers the original result
 * read back through the protected store.
 */
import { assert, layer } from "@effect/vitest"
import { Transfer } from "@verity/domain"
import { EventStore } from "@verity/eventstore"
import { forEachDatabase } from "@verity/postgres/testing"
import { Effect, Option, Schema } from "effect"
import * as LedgerCommandBus from "../src/LedgerCommandBus.ts"
import * as LedgerStreams from "../src/Streams.ts"
import { command as c, ledgerLayer, uuid } from "./support/Ledger.ts"

const at = Date.UTC(2026, 2, 14, 9, 30)
const decodeTransfer = Schema.decodeUnknownSync(Transfer.TransferCommand)

forEachDatabase((target) => {
  layer(ledgerLayer(target, { runProjections: false }), { excludeTestServices: true, timeout: "120 seconds" })("ledger command bus", (it) => {
    it.effect("routes account and transfer commands to their streams; decodes untyped input", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const [a, b, t] = [uuid(), uuid(), uuid()]
        yield* LedgerCommandBus.dispatch(c.open(a, "Ada Lovelace", "ada@example.com", "EUR", at))
        yield* LedgerCommandBus.dispatchUnknown({
          _tag: "OpenAccount",
          accountId: b,
          holderName: "Grace Hopper",
          holderEmail: "grace@example.com",
          currency: "EUR",
          at
        })
        const request = decodeTransfer({ _tag: "RequestTransfer", transferId: t, fromAccountId: a, toAccountId: b, amount: 100, currency: "EUR", at })
        const requested = yield* LedgerCommandBus.dispatch(request)
        assert.strictEqual(requested.version, 1)
        assert.strictEqual((yield* store.readStream(LedgerStreams.Accounts.streamOf(b))).length, 1)
        assert.deepStrictEqual((yield* store.readStream(LedgerStreams.Transfers.streamOf(t))).map((e) => e.type), ["TransferRequested"])
        const invalid = yield* LedgerCommandBus.dispatchUnknown({ _tag: "Deposit", accountId: a, amount: -5, currency: "EUR", at }).pipe(Effect.flip)
        assert.strictEqual(invalid._tag, "InvalidCommand")
      }))

    it.effect("a keyed retry of an opening answers the original result, decrypted, and appends nothing", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const a = uuid()
        const open = c.open(a, "Ada Lovelace", "ada@example.com", "EUR", at)
        const key = `open-${a}`
        const first = yield* LedgerCommandBus.dispatch(open, { idempotencyKey: key })
        const retried = yield* LedgerCommandBus.dispatch(open, { idempotencyKey: key })
        assert.deepStrictEqual(retried.events, first.events)
        assert.deepStrictEqual(Option.getOrThrow(retried.appended), Option.getOrThrow(first.appended))
        assert.strictEqual(retried.state.status === "Open" ? retried.state.holderName : "", "Ada Lovelace")
        assert.strictEqual((yield* store.readStream(LedgerStreams.Accounts.streamOf(a))).length, 1)
        const reused = yield* LedgerCommandBus.dispatch(c.deposit(a, 10, "EUR", at), { idempotencyKey: key }).pipe(Effect.flip)
        assert.strictEqual(reused._tag, "IdempotencyKeyReused")
      }))
  })
})
