/**
 * The relay from configuration, for applications. A broker URL turns it on (without one, nothing of the
 * relay exists, so an application runs on a machine with no broker):
 * - `NATS_URL`: NATS JetStream; `VERITY_RELAY_STREAM` (default `VERITY`) names the stream and
 *   `VERITY_RELAY_ACK_TIMEOUT` (a duration, default 5 seconds) bounds the wait for each acknowledgement;
 * - `AMQP_URL`: RabbitMQ; `VERITY_RELAY_EXCHANGE` (default `verity`) names the durable topic exchange.
 * With both set, NATS wins unless `VERITY_RELAY_SINK` says `amqp` (or `nats`). `VERITY_RELAY_PREFIX`
 * (default `verity`) is the subject or routing-key prefix of either.
 */
import type { Projection } from "@verity/projections"
import { Config, Effect, Option, type Scope } from "effect"
import * as AmqpSink from "./AmqpSink.ts"
import type * as Contract from "./Contract.ts"
import * as JetStreamSink from "./JetStreamSink.ts"
import * as Relay from "./Relay.ts"
import type { Sink } from "./Sink.ts"

/** The relay's projection name in a configured application. */
export const NAME = "relay"

const url = (name: string) => Config.String(name).pipe(Config.option, Config.map(Option.filter((value) => value.trim() !== "")))

/**
 * The configured relay as a projection, or none when neither `NATS_URL` nor `AMQP_URL` is set. The sink
 * connects on its first publish, so this never waits for (or fails on) the broker.
 */
export const projection = (
  contracts: ReadonlyArray<Contract.CategoryContract>
): Effect.Effect<Option.Option<Projection.Projection>, Config.ConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const nats = yield* url("NATS_URL")
    const amqp = yield* url("AMQP_URL")
    const choice = yield* Config.Literals(["nats", "amqp"], "VERITY_RELAY_SINK").pipe(Config.option)
    const prefix = yield* Config.String("VERITY_RELAY_PREFIX").pipe(Config.withDefault("verity"))
    const useAmqp = Option.isSome(amqp) && (Option.isNone(nats) || Option.contains(choice, "amqp"))
    let sink: Sink
    if (useAmqp) {
      const exchange = yield* Config.String("VERITY_RELAY_EXCHANGE").pipe(Config.withDefault("verity"))
      sink = yield* AmqpSink.make({ url: amqp.value, exchange, prefix })
    } else if (Option.isSome(nats)) {
      const stream = yield* Config.String("VERITY_RELAY_STREAM").pipe(Config.withDefault("VERITY"))
      const ackTimeout = yield* Config.Duration("VERITY_RELAY_ACK_TIMEOUT").pipe(Config.withDefault("5 seconds"))
      sink = yield* JetStreamSink.make({ servers: nats.value.split(",").map((s) => s.trim()), stream, prefix, ackTimeout })
    } else {
      return Option.none()
    }
    return Option.some(Relay.projection({ name: NAME, contracts, sink }))
  })
