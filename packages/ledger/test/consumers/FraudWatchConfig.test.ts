/**
 * `fraud_watch` from configuration: none without `NATS_URL` or with `VERITY_INBOX=off` (so nothing starts
 * or connects); with it, the relay's stream and prefix, the rule from the environment or its defaults.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Option } from "effect"
import { FraudWatch, LedgerInboxes } from "../../src/index.ts"

const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env)))

describe("FraudWatch from configuration", () => {
  it.effect("no NATS_URL, or VERITY_INBOX=off: no inbox", () =>
    Effect.gen(function*() {
      assert.isTrue(Option.isNone(yield* FraudWatch.fromConfig.pipe(withEnv({}))))
      assert.deepStrictEqual(yield* LedgerInboxes.configured.pipe(withEnv({})), [])
      assert.deepStrictEqual(yield* LedgerInboxes.configured.pipe(withEnv({ NATS_URL: "nats://127.0.0.1:1", VERITY_INBOX: "off" })), [])
    }))

  it.effect("NATS_URL set: the inbox on the relay's stream and account subjects, the default rule", () =>
    Effect.gen(function*() {
      const [inbox, ...rest] = yield* LedgerInboxes.configured.pipe(
        withEnv({ NATS_URL: "nats://127.0.0.1:1", VERITY_RELAY_STREAM: "LEDGER", VERITY_RELAY_PREFIX: "bank" })
      )
      assert.deepStrictEqual(rest, [])
      assert.strictEqual(inbox?.name, "fraud_watch")
      assert.strictEqual(inbox?.options.stream, "LEDGER")
      assert.strictEqual(inbox?.options.filterSubject, "bank.account.>")
      const options = Option.getOrThrow(yield* FraudWatch.fromConfig.pipe(withEnv({ NATS_URL: "nats://127.0.0.1:1" })))
      assert.strictEqual(options.rule.minAmount, FraudWatch.defaultRule.minAmount)
      assert.strictEqual(options.rule.maxWithdrawals, FraudWatch.defaultRule.maxWithdrawals)
      assert.strictEqual(Duration.toMillis(Duration.fromInputUnsafe(options.rule.window)), 3_600_000)
    }))

  it.effect("the rule from the environment", () =>
    Effect.gen(function*() {
      const options = Option.getOrThrow(
        yield* FraudWatch.fromConfig.pipe(withEnv({
          NATS_URL: "nats://127.0.0.1:1",
          VERITY_FRAUD_WATCH_MIN_AMOUNT: "250",
          VERITY_FRAUD_WATCH_MAX_WITHDRAWALS: "5",
          VERITY_FRAUD_WATCH_WINDOW: "10 minutes"
        }))
      )
      assert.strictEqual(options.rule.minAmount, 250)
      assert.strictEqual(options.rule.maxWithdrawals, 5)
      assert.strictEqual(Duration.toMillis(Duration.fromInputUnsafe(options.rule.window)), 600_000)
    }))
})
