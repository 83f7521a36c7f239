/**
 * The relay from configuration, for applications. A broker URL turns it on (without one, nothing of the
 * relay exists, so an application runs on a machine with no broker):
 * - `NATS_URL`: NATS JetStream; `VERITY_RELAY_STREAM` (default `VERITY`) names the stream and
 *   `VERITY_RELAY_ACK_TIMEOUT` (a duration, default 5 seconds) bounds the wait for each acknowledgement;
 * - `AMQP_URL`: RabbitMQ; `VERITY_RELAY_EXCHANGE` (default `verity`) names the durable topic exchange.
 * With both set, NATS wins unless `VERITY_RELAY_SINK` says `amqp` (or `nats`). `VERITY_RELAY_PREFIX`
 * (default `verity`) is the subject or routing-key prefix of either. `brokerHealth` gives a readiness
 * probe of the broker when it is NATS (none otherwise).
 */
import type { Projection } from "@verity/projections"
import { Config, Effect, Option, type Scope } from "effect"
import * as AmqpSink from "./AmqpSink.ts"
import * as BrokerHealth from "./BrokerHealth.ts"
import type * as Contract from "./Contract.ts"
import * as JetStreamSink from "./JetStreamSink.ts"
import * as Relay from "./Relay.ts"
import type { Sink } from "./Sink.ts"

/** The relay's projection name in a configured application. */
export const NAME = "relay"

const url = (name: string) => Config.String(name).pipe(Config.option, Config.map(Option.filter((value) => value.trim() !== "")))

/** The broker the relay publishes to, from configuration (none: no relay). */
export type Broker =
  | { readonly _tag: "nats"; readonly servers: ReadonlyArray<string> }
  | { readonly _tag: "amqp"; readonly url: string }

export const broker: Effect.Effect<Option.Option<Broker>, Config.ConfigError> = Effect.gen(function*() {
  const nats = yield* url("NATS_URL")
  const amqp = yield* url("AMQP_URL")
  const choice = yield* Config.Literals(["nats", "amqp"], "VERITY_RELAY_SINK").pipe(Config.option)
  if (Option.isSome(amqp) && (Option.isNone(nats) || Option.contains(choice, "amqp"))) {
    return Option.some<Broker>({ _tag: "amqp", url: amqp.value })
  }
  if (Option.isNone(nats)) return Option.none()
  return Option.some<Broker>({ _tag: "nats", servers: nats.value.split(",").map((s) => s.trim()).filter((s) => s !== "") })
})

/** A probe of the configured broker when it is NATS, or none. Connects on its first check. */
export const brokerHealth: Effect.Effect<Option.Option<BrokerHealth.BrokerHealth["Service"]>, Config.ConfigError, Scope.Scope> = Effect
  .gen(function*() {
    const configured = yield* broker
    if (Option.isNone(configured) || configured.value._tag !== "nats") return Option.none()
    return Option.some(yield* BrokerHealth.make({ servers: configured.value.servers }))
  })

/**
 * The configured relay as a projection, or none when neither `NATS_URL` nor `AMQP_URL` is set. The sink
 * connects on its first publish, so this never waits for (or fails on) the broker.
 */
export const projection = (
  contracts: ReadonlyArray<Contract.CategoryContract>
): Effect.Effect<Option.Option<Projection.Projection>, Config.ConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const configured = yield* broker
    if (Option.isNone(configured)) return Option.none()
    const prefix = yield* Config.String("VERITY_RELAY_PREFIX").pipe(Config.withDefault("verity"))
    let sink: Sink
    if (configured.value._tag === "amqp") {
      const exchange = yield* Config.String("VERITY_RELAY_EXCHANGE").pipe(Config.withDefault("verity"))
      sink = yield* AmqpSink.make({ url: configured.value.url, exchange, prefix })
    } else {
      const stream = yield* Config.String("VERITY_RELAY_STREAM").pipe(Config.withDefault("VERITY"))
      const ackTimeout = yield* Config.Duration("VERITY_RELAY_ACK_TIMEOUT").pipe(Config.withDefault("5 seconds"))
      sink = yield* JetStreamSink.make({ servers: configured.value.servers, stream, prefix, ackTimeout })
    }
    return Option.some(Relay.projection({ name: NAME, contracts, sink }))
  })
