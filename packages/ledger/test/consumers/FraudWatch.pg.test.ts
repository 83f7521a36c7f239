/**
 * End to end on one database: the ledger runtime (its relay publishing the ledger's contracts to the
 * machine's NATS JetStream, a stream and prefix of the test's own) and the `fraud_watch` inbox fed only
 * from those published events. Commands append ledger events; an account with more large withdrawals
 * in the window than the rule allows is flagged, one below the rule is not.
 */
import { assert, describe, it } from "@effect/vitest"
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { MasterKeys } from "@verity/eventstore"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { ConfigProvider, Effect, Layer } from "effect"
import * as FraudWatch from "../../src/consumers/fraudWatch/FraudWatch.ts"
import * as LedgerContracts from "../../src/integration/LedgerContracts.ts"
import * as LedgerRuntime from "../../src/LedgerRuntime.ts"
import { command, execAll, fast, uuid } from "../support/Ledger.ts"

const NATS_URL = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222"
const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
const stream = `FRAUD_${id}`
const prefix = `f${id}`

const deleteStream = Effect.promise(async () => {
  const nc = await connect({ servers: NATS_URL, maxReconnectAttempts: 0 })
  await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false)
  await nc.close()
})

const runtime = (target: Parameters<typeof TestDatabase.layer>[0]) =>
  LedgerRuntime.layerWithoutDatabase({ projections: [], contracts: LedgerContracts.all, projectionOptions: { ...fast, owner: "fraud" } }).pipe(
    Layer.provideMerge(TestDatabase.layer(target)),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({
      VERITY_MASTER_KEYS: MasterKeys.generate("k1"),
      NATS_URL,
      VERITY_RELAY_STREAM: stream,
      VERITY_RELAY_PREFIX: prefix
    })))
  )

forEachDatabase((target) => {
  describe("fraud_watch from the ledger's published events", () => {
    it.live("flags an account with more large withdrawals in the window than allowed", () =>
      Effect.gen(function*() {
        yield* Effect.addFinalizer(() => deleteStream)
        const inbox = yield* FraudWatch.make({
          servers: NATS_URL,
          stream,
          prefix,
          name: `fraud_watch_${id}`,
          rule: { minAmount: 10_000, maxWithdrawals: 2, window: "1 hour" }
        })
        const suspect = uuid()
        const calm = uuid()
        const t0 = Date.UTC(2026, 0, 20, 10)
        const minute = 60_000
        yield* execAll([
          command.open(suspect, "Sam Suspect", "sam@example.com", "EUR", t0),
          command.deposit(suspect, 100_000, "EUR", t0 + minute),
          command.withdraw(suspect, 20_000, "EUR", t0 + 2 * minute),
          command.withdraw(suspect, 500, "EUR", t0 + 3 * minute),
          command.withdraw(suspect, 15_000, "EUR", t0 + 4 * minute),
          command.open(calm, "Cal Calm", "cal@example.com", "EUR", t0),
          command.deposit(calm, 100_000, "EUR", t0 + minute),
          command.withdraw(calm, 20_000, "EUR", t0 + 2 * minute),
          command.withdraw(calm, 20_000, "EUR", t0 + hours(2)),
          // Third large withdrawal of the suspect, within the hour: more than 2.
          command.withdraw(suspect, 30_000, "EUR", t0 + 5 * minute)
        ])
        // 10 account events published; the inbox handled them all and nothing waits.
        const status = yield* eventually(
          "fraud_watch handled every published account event",
          inbox.status,
          (s) => s.handled === 10 && s.pending === 0
        )
        assert.strictEqual(status.parkedStreams, 0)
        assert.strictEqual(status.lastStream, `account-${suspect}`)
        const flags = yield* FraudWatch.flags
        assert.deepStrictEqual(flags.map((f) => [f.account_id, f.withdrawals]), [[suspect, 3]])
        assert.strictEqual(flags[0]!.window_start.getTime(), t0 + 2 * minute)
        assert.strictEqual(flags[0]!.window_end.getTime(), t0 + 5 * minute)
      }).pipe(Effect.scoped, Effect.provide(runtime(target))), 90_000)
  })
})

function hours(n: number) {
  return n * 3_600_000
}
