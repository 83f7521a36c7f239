/**
 * `replayer relay`: run the relay (the ledger's published contracts to NATS JetStream, or RabbitMQ with
 * `AMQP_URL`; projection `relay`) and, with NATS, the ledger's inboxes consuming what it published
 * (`fraud_watch`; unless `VERITY_INBOX=off`) as a process of its own, until interrupted (Ctrl-C or
 * SIGTERM: the current batch ends or is abandoned unacknowledged, the lease is released) or the database
 * is lost for good (exit 1). `--only relay` or `--only inbox` runs one of the two. Needs `NATS_URL` (or
 * `AMQP_URL`): without a broker there is no relay, which is a usage error (exit 2).
 */
import { RelayConfig } from "@verity/integration"
import { LedgerInboxes } from "@verity/ledger"
import { Projections } from "@verity/projections"
import { Console, Effect, Option, Schedule } from "effect"
import { Command, Flag } from "effect/cli"
import { OperationFailed, UsageError } from "../Failures.ts"
import * as Inboxes from "../Inboxes.ts"
import * as Runtime from "../Runtime.ts"
import { render } from "./Status.ts"

const run = (every: number, only: "relay" | "inbox" | "relay+inbox", inboxNames: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const projections = yield* Projections.Projections
    const running = [...(only === "inbox" ? [] : [`the ${RelayConfig.NAME} projection`]), ...inboxNames.map((n) => `inbox ${n}`)]
    yield* Console.error(`relaying: ${running.join(" and ")} run until interrupted (Ctrl-C)`)
    if (every > 0) {
      const report = Effect.gen(function*() {
        const lines: Array<string> = []
        if (only !== "inbox") lines.push(render(yield* projections.status.pipe(Effect.mapError((e) => new OperationFailed({ message: e.message })))))
        if (inboxNames.length > 0) lines.push(Inboxes.render(yield* Inboxes.status))
        return lines.join("\n")
      })
      yield* report.pipe(
        Effect.flatMap((s) => Console.error(s)),
        Effect.ignore,
        Effect.repeat(Schedule.spaced(`${every} seconds`)),
        Effect.forkChild
      )
    }
    return yield* Effect.never
  }).pipe(Runtime.provide({ run: true, only }))

export const relay = Command.make(
  "relay",
  {
    every: Flag.Int("status-every").pipe(Flag.withDescription("Seconds between status prints (0: never)"), Flag.withDefault(30)),
    only: Flag.Literals("only", ["relay", "inbox"]).pipe(
      Flag.withDescription("Run only the relay, or only the inboxes (default: both)"),
      Flag.optional
    )
  },
  ({ every, only }) =>
    Effect.gen(function*() {
      const broker = yield* RelayConfig.broker
      if (Option.isNone(broker)) {
        return yield* new UsageError({ message: "replayer relay needs NATS_URL (e.g. NATS_URL=nats://127.0.0.1:4222) or AMQP_URL" })
      }
      const inboxes = yield* LedgerInboxes.configured.pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
      const names = Option.contains(only, "relay") ? [] : inboxes.map((i) => i.name)
      if (Option.contains(only, "inbox") && names.length === 0) {
        return yield* new UsageError({ message: "replayer relay --only inbox needs NATS_URL, and VERITY_INBOX not off" })
      }
      const mode = Option.isSome(only) ? only.value : names.length > 0 ? "relay+inbox" : "relay"
      return yield* run(every, mode, names)
    })
).pipe(
  Command.withDescription(
    "Run the relay to NATS JetStream (needs NATS_URL, or AMQP_URL for RabbitMQ) and the inboxes consuming it, printing their status"
  )
)
