/**
 * The relay from configuration, for applications: `NATS_URL` turns it on (without it, nothing of the relay
 * exists, so an application runs on a machine with no broker); `VERITY_RELAY_STREAM` (default `VERITY`)
 * and `VERITY_RELAY_PREFIX` (default `verity`) name the JetStream stream and the subject prefix;
 * `VERITY_RELAY_ACK_TIMEOUT` (a duration, default 5 seconds) bounds the wait for each acknowledgement.
 */
import type { Projection } from "@verity/projections"
import { Config, Effect, Option, type Scope } from "effect"
import type * as Contract from "./Contract.ts"
import * as JetStreamSink from "./JetStreamSink.ts"
import * as Relay from "./Relay.ts"

/** The relay's projection name in a configured application. */
export const NAME = "relay"

/**
 * The configured relay as a projection, or none when `NATS_URL` is not set. The sink connects on its
 * first publish, so this never waits for (or fails on) the broker.
 */
export const projection = (
  contracts: ReadonlyArray<Contract.CategoryContract>
): Effect.Effect<Option.Option<Projection.Projection>, Config.ConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const url = yield* Config.String("NATS_URL").pipe(Config.option)
    if (Option.isNone(url) || url.value.trim() === "") return Option.none()
    const stream = yield* Config.String("VERITY_RELAY_STREAM").pipe(Config.withDefault("VERITY"))
    const prefix = yield* Config.String("VERITY_RELAY_PREFIX").pipe(Config.withDefault("verity"))
    const ackTimeout = yield* Config.Duration("VERITY_RELAY_ACK_TIMEOUT").pipe(Config.withDefault("5 seconds"))
    const sink = yield* JetStreamSink.make({ servers: url.value.split(",").map((s) => s.trim()), stream, prefix, ackTimeout })
    return Option.some(Relay.projection({ name: NAME, contracts, sink }))
  })
