/**
 * The relay from configuration, for applications: `NATS_URL` turns it on (without it, nothing of the relay
 * exists, so an application runs on a machine with no broker); `VERITY_RELAY_STREAM` (default `VERITY`)
 * and `VERITY_RELAY_PREFIX` (default `verity`) name the JetStream stream and the subject prefix;
 * `VERITY_RELAY_ACK_TIMEOUT` (a duration, default 5 seconds) bounds the wait for each acknowledgement.
 * `brokerHealth` gives a readiness probe on the same broker (none without `NATS_URL`).
 */
import type { Projection } from "@verity/projections"
import { Config, Effect, Option, type Scope } from "effect"
import * as BrokerHealth from "./BrokerHealth.ts"
import type * as Contract from "./Contract.ts"
import * as JetStreamSink from "./JetStreamSink.ts"
import * as Relay from "./Relay.ts"

/** The relay's projection name in a configured application. */
export const NAME = "relay"

/** The NATS server URL(s) from `NATS_URL` (comma separated), or none when it is not set or empty. */
export const servers: Effect.Effect<Option.Option<ReadonlyArray<string>>, Config.ConfigError> = Effect.gen(function*() {
  const url = yield* Config.String("NATS_URL").pipe(Config.option)
  const list = Option.isNone(url) ? [] : url.value.split(",").map((s) => s.trim()).filter((s) => s !== "")
  return list.length === 0 ? Option.none() : Option.some(list)
})

/** A probe of the configured broker, or none when `NATS_URL` is not set. Connects on its first check. */
export const brokerHealth: Effect.Effect<Option.Option<BrokerHealth.BrokerHealth["Service"]>, Config.ConfigError, Scope.Scope> = Effect
  .gen(function*() {
    const configured = yield* servers
    if (Option.isNone(configured)) return Option.none()
    return Option.some(yield* BrokerHealth.make({ servers: configured.value }))
  })

/**
 * The configured relay as a projection, or none when `NATS_URL` is not set. The sink connects on its
 * first publish, so this never waits for (or fails on) the broker.
 */
export const projection = (
  contracts: ReadonlyArray<Contract.CategoryContract>
): Effect.Effect<Option.Option<Projection.Projection>, Config.ConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const url = yield* servers
    if (Option.isNone(url)) return Option.none()
    const stream = yield* Config.String("VERITY_RELAY_STREAM").pipe(Config.withDefault("VERITY"))
    const prefix = yield* Config.String("VERITY_RELAY_PREFIX").pipe(Config.withDefault("verity"))
    const ackTimeout = yield* Config.Duration("VERITY_RELAY_ACK_TIMEOUT").pipe(Config.withDefault("5 seconds"))
    const sink = yield* JetStreamSink.make({ servers: url.value, stream, prefix, ackTimeout })
    return Option.some(Relay.projection({ name: NAME, contracts, sink }))
  })
