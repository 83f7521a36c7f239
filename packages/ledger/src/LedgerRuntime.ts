/**
 * The ledger's runtime, as one layer for the applications (API, replayer): the database (configured or
 * embedded), the event store with crypto-shredding of the account holders' personal data (and the command
 * bus's idempotency records), and the projection runtime with the ledger's read models.
 *
 * Master keys come from `VERITY_MASTER_KEYS` / `VERITY_MASTER_KEYS_FILE`. On the embedded database only,
 * and only when neither is set, a development key is generated once and kept in `VERITY_DATA_DIR`'s
 * parent folder, so a local restart can still read its data; a server database requires real keys.
 *
 * `VERITY_RETIRED_GRACE` (a duration, default 30 seconds) is how long a rebuild's previous generation is
 * kept before the supervisors drop it; an option given by the caller wins.
 *
 * With `NATS_URL` or `AMQP_URL` set, the relay (`@verity/integration`, projection `relay`) runs among the
 * projections and publishes the integration events of `contracts` to NATS JetStream or RabbitMQ (see
 * `RelayConfig`); without either, no relay exists. No contracts: the relay reads nothing. With
 * `runInboxes`, the ledger's inboxes (LedgerInboxes.ts, `fraud_watch`) consume the published events in
 * this process when `NATS_URL` is set and `VERITY_INBOX` is not `off`.
 */
import { MasterKeys, PersonalData, PgCommandResults, PgEventStore } from "@verity/eventstore"
import { type Contract, RelayConfig } from "@verity/integration"
import { Database } from "@verity/postgres"
import { type Projection, Projections } from "@verity/projections"
import { Config, Effect, Layer, Option, Schema } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as LedgerInboxes from "./LedgerInboxes.ts"
import { personalFields } from "./Streams.ts"

export interface LedgerRuntimeOptions {
  /** Read models to run (and to expose for status, rebuild and verify). */
  readonly projections: ReadonlyArray<Projection.Projection>
  /** The published contracts the relay publishes when `NATS_URL` or `AMQP_URL` is set (default none). */
  readonly contracts?: ReadonlyArray<Contract.CategoryContract>
  /** Run the projections in this process (default true). */
  readonly runProjections?: boolean
  /** Run the configured inboxes in this process (default false; none exist without `NATS_URL`). */
  readonly runInboxes?: boolean
  readonly maxConnections?: number
  readonly projectionOptions?: Omit<Projections.ProjectionsOptions, "projections" | "run">
}

/** A server database (`DATABASE_URL`) without configured master keys: personal data could not be read. */
export class MissingMasterKey extends Schema.TaggedError<MissingMasterKey>()("MissingMasterKey", {
  message: Schema.String
}) {}

/** The master keyring from configuration, or a development key on the embedded database. */
export const masterKeys = Effect.gen(function*() {
  const configured = yield* MasterKeys.fromConfig
  if (configured !== undefined) return configured
  const url = yield* Config.String("DATABASE_URL").pipe(Config.option)
  if (Option.isSome(url) && url.value !== "") {
    return yield* new MissingMasterKey({
      message: "VERITY_MASTER_KEYS (or VERITY_MASTER_KEYS_FILE) must be set when DATABASE_URL is set"
    })
  }
  const dataDir = Path.resolve(yield* Config.String("VERITY_DATA_DIR").pipe(Config.withDefault(".data/postgres")))
  const file = Path.join(Path.dirname(dataDir), "dev-master-keys")
  const existing = yield* Effect.promise(() => Fs.readFile(file, "utf8").catch(() => undefined))
  if (existing !== undefined) return MasterKeys.parse(existing.trim())
  const generated = MasterKeys.generate("dev1")
  yield* Effect.promise(async () => {
    await Fs.mkdir(Path.dirname(file), { recursive: true })
    await Fs.writeFile(file, generated + "\n", { mode: 0o600 })
  })
  yield* Effect.logWarning(`no VERITY_MASTER_KEYS set: generated a development master key in ${file}`)
  return MasterKeys.parse(generated)
})

/** Event store (protected) + personal data + projections, on a `PgClient` provided from outside. */
export const layerWithoutDatabase = (options: LedgerRuntimeOptions) =>
  Layer.unwrap(Effect.gen(function*() {
    const keys = yield* masterKeys
    const grace = yield* Config.Duration("VERITY_RETIRED_GRACE").pipe(Config.option)
    const relay = yield* RelayConfig.projection(options.contracts ?? [])
    const store = PersonalData.layer({ masterKeys: keys, fields: personalFields }).pipe(
      Layer.provide(PgEventStore.layer()),
      // The command bus's idempotency records, in the store's schema (created by its migrations).
      Layer.merge(PgCommandResults.layer())
    )
    const projections = Projections.layer({
      ...(Option.isSome(grace) ? { retiredGrace: grace.value } : {}),
      ...options.projectionOptions,
      projections: Option.isSome(relay) ? [...options.projections, relay.value] : options.projections,
      run: options.runProjections ?? true
    })
    const inboxes = options.runInboxes === true ? LedgerInboxes.layer : Layer.empty
    return Layer.merge(projections, inboxes).pipe(Layer.provideMerge(store))
  }))

/** Everything, on the configured (or embedded) database. */
export const layer = (options: LedgerRuntimeOptions) =>
  layerWithoutDatabase(options).pipe(
    Layer.provideMerge(Database.layer({ maxConnections: options.maxConnections ?? 20 }))
  )
