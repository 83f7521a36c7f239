/**
 * The ledger's inboxes as the applications run and operate them: today one, `fraud_watch` (see
 * FraudWatch.ts), configured by `InboxConfig` (`NATS_URL`, `VERITY_INBOX`, `VERITY_INBOX_STREAM`) and
 * its rule's variables. `configured` lists them (empty without `NATS_URL` or with `VERITY_INBOX=off`):
 * its `options` serve `InboxStatusReader` and `InboxControl` from any thread or process. `layer` runs
 * them in the background of the process that has it (the API's projection worker, `replayer relay`).
 */
import type { PgClient } from "@effect/sql-pg"
import { type Inbox, InboxStatusReader } from "@verity/integration"
import { type Config, Effect, Layer, Option, Schedule, type Scope } from "effect"
import * as FraudWatch from "./consumers/fraudWatch/FraudWatch.ts"

export interface LedgerInbox {
  readonly name: string
  /** Name, stream, subject filter and handler: enough to read its status or release a parked stream. */
  readonly options: Inbox.InboxOptions<unknown, never>
  /** Migrates what the inbox writes and starts it in the scope. */
  readonly start: Effect.Effect<Inbox.InboxService, Inbox.InboxError, PgClient.PgClient | Scope.Scope>
}

/** The inboxes configuration turns on (none without a broker). */
export const configured: Effect.Effect<ReadonlyArray<LedgerInbox>, Config.ConfigError> = Effect.map(
  FraudWatch.fromConfig,
  Option.match({
    onNone: () => [],
    onSome: (options) => [{ name: FraudWatch.NAME, options: FraudWatch.inboxOptions(options), start: FraudWatch.make(options) }]
  })
)

/**
 * Waits, quietly, until the inbox's stream exists: the relay creates it on its first publish, and an
 * inbox started before that would fail and log every session until then (forever on an empty ledger).
 */
const streamReady = (inbox: LedgerInbox) =>
  Effect.gen(function*() {
    let said = false
    while (true) {
      const exists = yield* InboxStatusReader.streamExists(inbox.options).pipe(Effect.result)
      if (exists._tag === "Success" && exists.success) return
      if (!said) {
        const why = exists._tag === "Failure" ? `the broker is not reachable yet (${exists.failure.detail})` : "no message was published yet"
        yield* Effect.logInfo(`inbox ${inbox.name} waits for stream ${inbox.options.stream}: ${why}`)
        said = true
      }
      yield* Effect.sleep("1 second")
    }
  })

/**
 * Runs every configured inbox in a background fiber of the layer's scope, once its stream exists. A start
 * that fails (the database away at boot) is tried again with backoff rather than failing the runtime
 * around it.
 */
export const layer: Layer.Layer<never, Config.ConfigError, PgClient.PgClient> = Layer.effectDiscard(Effect.gen(function*() {
  for (const inbox of yield* configured) {
    const run = Effect.scoped(Effect.andThen(inbox.start, Effect.never)).pipe(
      Effect.tapError((error) => Effect.logWarning("inbox failed to start; trying again", { inbox: inbox.name, error: error.message })),
      Effect.retry(Schedule.spaced("2 seconds"))
    )
    yield* Effect.andThen(streamReady(inbox), run).pipe(Effect.forkScoped)
    yield* Effect.logInfo(`inbox ${inbox.name} consumes ${inbox.options.stream} (${inbox.options.filterSubject ?? "every subject"})`)
  }
}))
