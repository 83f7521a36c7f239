/**
 * Whether the broker the relay publishes to answers, for a readiness probe: one NATS connection of its
 * own (made on the first check, again after a failed one; closed with the scope), and a JetStream account
 * request bounded by a timeout, so a probe answers quickly while the broker hangs or is away.
 */
import { jetstreamManager } from "@nats-io/jetstream"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { Context, Duration, Effect, type Scope, Semaphore } from "effect"

/** What a check found: `ok`, or `unreachable` with the reason. */
export type BrokerState =
  | { readonly status: "ok" }
  | { readonly status: "unreachable"; readonly reason: string }

export class BrokerHealth extends Context.Service<BrokerHealth, {
  /** Never fails: an unreachable broker is a state, not an error. */
  readonly check: Effect.Effect<BrokerState>
}>()("@verity/integration/BrokerHealth") {}

export interface BrokerHealthOptions {
  readonly servers: ReadonlyArray<string>
  /** Bound on one check (default 2 seconds). */
  readonly timeout?: Duration.Input
}

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

export const make = (options: BrokerHealthOptions): Effect.Effect<BrokerHealth["Service"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const timeout = Duration.fromInputUnsafe(options.timeout ?? "2 seconds")
    const millis = Duration.toMillis(timeout)
    const lock = yield* Semaphore.make(1)
    let nc: NatsConnection | undefined
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const open = nc
        return open === undefined ? Effect.void : Effect.promise(() => open.close().catch(() => undefined))
      })
    )
    const connection = lock.withPermit(Effect.suspend(() => {
      if (nc !== undefined && !nc.isClosed()) return Effect.succeed(nc)
      return Effect.tryPromise({
        try: () =>
          connect({ servers: [...options.servers], name: "verity-broker-health", timeout: millis, maxReconnectAttempts: -1, reconnectTimeWait: 250 }),
        catch: reasonOf
      }).pipe(Effect.tap((made) => Effect.sync(() => (nc = made))))
    }))
    const check: Effect.Effect<BrokerState> = connection.pipe(
      Effect.flatMap((open) =>
        Effect.tryPromise({
          try: async () => {
            const jsm = await jetstreamManager(open, { timeout: millis })
            await jsm.getAccountInfo()
          },
          catch: reasonOf
        })
      ),
      Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.fail(`no answer within ${Duration.format(timeout)}`) }),
      Effect.as<BrokerState>({ status: "ok" }),
      Effect.catch((reason) => Effect.succeed<BrokerState>({ status: "unreachable", reason }))
    )
    return BrokerHealth.of({ check })
  })
