/**
 * `replayer relay`: run the relay alone (the ledger's published contracts to NATS JetStream, or RabbitMQ
 * with `AMQP_URL`; projection `relay`) as a process of its own, until interrupted (Ctrl-C or SIGTERM: the current batch ends or is
 * abandoned unacknowledged, the lease is released) or the database is lost for good (exit 1). Needs
 * `NATS_URL` (or `AMQP_URL`): without a broker there is no relay, which is a usage error (exit 2).
 */
import { RelayConfig } from "@verity/integration"
import { Projections } from "@verity/projections"
import { Console, Effect, Option, Schedule } from "effect"
import { Command, Flag } from "effect/cli"
import { UsageError } from "../Failures.ts"
import * as Runtime from "../Runtime.ts"
import { render } from "./Status.ts"

const run = (every: number) =>
  Effect.gen(function*() {
    const projections = yield* Projections.Projections
    yield* Console.error(`relaying: the ${RelayConfig.NAME} projection runs until interrupted (Ctrl-C)`)
    if (every > 0) {
      yield* projections.status.pipe(
        Effect.flatMap((s) => Console.error(render(s))),
        Effect.ignore,
        Effect.repeat(Schedule.spaced(`${every} seconds`)),
        Effect.forkChild
      )
    }
    return yield* Effect.never
  }).pipe(Runtime.provide({ run: true, only: "relay" }))

export const relay = Command.make(
  "relay",
  { every: Flag.Int("status-every").pipe(Flag.withDescription("Seconds between status prints (0: never)"), Flag.withDefault(30)) },
  ({ every }) =>
    Effect.gen(function*() {
      const broker = yield* RelayConfig.broker
      if (Option.isNone(broker)) {
        return yield* new UsageError({ message: "replayer relay needs NATS_URL (e.g. NATS_URL=nats://127.0.0.1:4222) or AMQP_URL" })
      }
      return yield* run(every)
    })
).pipe(Command.withDescription("Run the relay to NATS JetStream alone (needs NATS_URL, or AMQP_URL for RabbitMQ), printing its status"))
