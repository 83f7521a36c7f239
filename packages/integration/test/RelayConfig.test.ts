/**
 * The relay from configuration: nothing without `NATS_URL` or `AMQP_URL`; with either, a side-effecting
 * projection named `relay` over the contracts' categories and stored types, built without contacting the
 * broker.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Option, Schema } from "effect"
import { Contract, RelayConfig } from "../src/index.ts"

const contract = Contract.make({
  category: "parcel",
  storedTypes: ["Sent"],
  schema: Schema.Union([Schema.TaggedStruct("ParcelSent", { id: Schema.String })]),
  versions: { ParcelSent: 1 },
  map: () => Effect.succeed([])
})

const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env)))

describe("RelayConfig", () => {
  it.effect("no NATS_URL nor AMQP_URL, no relay", () =>
    Effect.gen(function*() {
      const relay = yield* RelayConfig.projection([contract]).pipe(withEnv({}), Effect.scoped)
      assert.isTrue(Option.isNone(relay))
    }))

  it.effect("NATS_URL set: the relay projection, without a connection yet", () =>
    Effect.gen(function*() {
      // A port nothing listens on: building the relay must not need the broker.
      const relay = yield* RelayConfig.projection([contract]).pipe(withEnv({ NATS_URL: "nats://127.0.0.1:1" }), Effect.scoped)
      assert.isTrue(Option.isSome(relay))
      const projection = Option.getOrThrow(relay)
      assert.strictEqual(projection.name, "relay")
      assert.deepStrictEqual(projection.categories, ["parcel"])
      assert.deepStrictEqual(projection.eventTypes, ["Sent"])
      assert.isTrue(projection.sideEffects)
      assert.isFalse(projection.appends)
    }))

  it.effect("AMQP_URL set (alone, or chosen by VERITY_RELAY_SINK): the relay, without a connection yet", () =>
    Effect.gen(function*() {
      for (
        const env of [
          { AMQP_URL: "amqp://guest:guest@127.0.0.1:1" },
          { AMQP_URL: "amqp://guest:guest@127.0.0.1:1", NATS_URL: "nats://127.0.0.1:1", VERITY_RELAY_SINK: "amqp" }
        ]
      ) {
        const relay = yield* RelayConfig.projection([contract]).pipe(withEnv(env), Effect.scoped)
        assert.strictEqual(Option.getOrThrow(relay).name, "relay")
      }
    }))

  it.effect("an unknown VERITY_RELAY_SINK is a configuration error", () =>
    Effect.gen(function*() {
      const env = { NATS_URL: "nats://127.0.0.1:1", VERITY_RELAY_SINK: "kafka" }
      const error = yield* RelayConfig.projection([contract]).pipe(withEnv(env), Effect.scoped, Effect.flip)
      assert.match(error.message, /VERITY_RELAY_SINK/)
    }))
})
