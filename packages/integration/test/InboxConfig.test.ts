/**
 * The inboxes from configuration: none without `NATS_URL` or with `VERITY_INBOX=off`; with it, the relay's
 * stream and prefix unless `VERITY_INBOX_STREAM` names another stream.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Option } from "effect"
import { InboxConfig } from "../src/index.ts"

const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env)))

describe("InboxConfig", () => {
  it.effect("no NATS_URL (or an empty one): no inboxes", () =>
    Effect.gen(function*() {
      assert.isTrue(Option.isNone(yield* InboxConfig.settings.pipe(withEnv({}))))
      assert.isTrue(Option.isNone(yield* InboxConfig.settings.pipe(withEnv({ NATS_URL: " " }))))
      // AMQP alone is no JetStream to consume.
      assert.isTrue(Option.isNone(yield* InboxConfig.settings.pipe(withEnv({ AMQP_URL: "amqp://127.0.0.1:1" }))))
    }))

  it.effect("VERITY_INBOX=off: no inboxes although NATS_URL is set", () =>
    Effect.gen(function*() {
      const settings = yield* InboxConfig.settings.pipe(withEnv({ NATS_URL: "nats://127.0.0.1:1", VERITY_INBOX: "off" }))
      assert.isTrue(Option.isNone(settings))
    }))

  it.effect("NATS_URL set: the relay's stream and prefix by default, VERITY_INBOX_STREAM overrides the stream", () =>
    Effect.gen(function*() {
      const defaults = Option.getOrThrow(yield* InboxConfig.settings.pipe(withEnv({ NATS_URL: "nats://a:4222, nats://b:4222" })))
      assert.deepStrictEqual(defaults, { servers: ["nats://a:4222", "nats://b:4222"], stream: "VERITY", prefix: "verity" })
      assert.strictEqual(InboxConfig.subjectOf(defaults, "account"), "verity.account.>")
      const relay = Option.getOrThrow(
        yield* InboxConfig.settings.pipe(withEnv({ NATS_URL: "nats://a:4222", VERITY_RELAY_STREAM: "LEDGER", VERITY_RELAY_PREFIX: "bank" }))
      )
      assert.deepStrictEqual(relay, { servers: ["nats://a:4222"], stream: "LEDGER", prefix: "bank" })
      const own = Option.getOrThrow(
        yield* InboxConfig.settings.pipe(withEnv({ NATS_URL: "nats://a:4222", VERITY_RELAY_STREAM: "LEDGER", VERITY_INBOX_STREAM: "MIRROR" }))
      )
      assert.strictEqual(own.stream, "MIRROR")
    }))

  it.effect("a VERITY_INBOX other than on or off is a configuration error", () =>
    Effect.gen(function*() {
      const result = yield* Effect.result(InboxConfig.settings.pipe(withEnv({ NATS_URL: "nats://a:4222", VERITY_INBOX: "maybe" })))
      assert.strictEqual(result._tag, "Failure")
    }))
})
