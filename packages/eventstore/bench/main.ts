/**
 * `node bench/main.ts` (or `scripts/bench` from the repository root): the event store benchmark.
 *
 * All scenarios run in ONE process against ONE fresh database, in a fixed order, sharing one pool, so their
 * numbers are comparable with each other: appends (raw INSERT vs EventStore.append, 1 event at 1/4/16/64
 * clients, 10 events at 16 clients), rehydrating a 1,000-event aggregate (with and without a snapshot), and
 * reading the global order, and a follower polling it (idle and next to appenders). Progress goes to stderr; the results go to stdout as markdown and to
 * `bench/results/latest.json`. Settings: see `Config.ts` (BENCH_SECONDS, DATABASE_URL, ...).
 */
import { NodeRuntime } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted } from "effect"
import * as Os from "node:os"
import { EventStore } from "../src/EventStore.ts"
import * as MasterKeys from "../src/personal-data/MasterKeys.ts"
import * as PersonalData from "../src/personal-data/PersonalData.ts"
import * as PersonalFields from "../src/personal-data/PersonalFields.ts"
import * as PgEventStore from "../src/postgres/PgEventStore.ts"
import * as Appends from "./Appends.ts"
import * as Config from "./Config.ts"
import * as Cpu from "./Cpu.ts"
import * as Database from "./Database.ts"
import * as Measure from "./Measure.ts"
import * as Payload from "./Payload.ts"
import * as Polling from "./Polling.ts"
import * as ReadAll from "./ReadAll.ts"
import * as Rehydrate from "./Rehydrate.ts"
import * as Report from "./Report.ts"
import * as ServerStats from "./ServerStats.ts"

/** Arguments and settings are checked before anything starts: a typo must not cost a 90-second run. */
const setup = (): Config.BenchConfig => {
  try {
    if (Config.checkArgs(process.argv.slice(2)) === "help") {
      process.stdout.write(`${Config.USAGE}\n`)
      process.exit(0)
    }
    return Config.fromEnv()
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(2)
  }
}

const config = setup()

/** One pool for every scenario, with the store (and its migrations) on top. */
const storeLayer = (url: string) =>
  PgEventStore.layer({
    notifications: config.notifications,
    groupCommit: config.groupCommit && (config.groupConcurrency === undefined ? {} : { concurrency: config.groupConcurrency })
  }).pipe(
    Layer.provideMerge(PgClient.layer({
      url: Redacted.make(url),
      maxConnections: Config.POOL_SIZE,
      multiplex: config.multiplex,
      prepare: config.prepare
    }))
  )

const progressLine = (label: string, r: Measure.RunResult) =>
  Measure.progress(
    `  ${label}: ${Math.round(r.eventsPerSecond)} events/s, p50 ${r.latency.p50Ms.toFixed(2)} ms, p99 ${r.latency.p99Ms.toFixed(2)} ms`
  )

/** Raw and store at the same clients and batch size, in alternating slices; the ratio is store / raw. */
const appendPair = (runOptions: Measure.RunOptions, clients: number, batch: number) =>
  Effect.gen(function*() {
    const label = (mode: Appends.Mode) => `append ${batch} event${batch === 1 ? "" : "s"}, ${mode}`
    yield* Measure.progress(
      `append ${batch} event${batch === 1 ? "" : "s"}, raw vs store, ${clients} client${clients === 1 ? "" : "s"}`
    )
    const [raw, store] = yield* Measure.runPair(
      yield* Appends.operations("raw", clients, batch),
      yield* Appends.operations("store", clients, batch),
      runOptions
    )
    yield* progressLine("raw", raw)
    yield* progressLine("store", store)
    return [
      { scenario: label("raw"), mode: "raw", batch, result: raw, vsRawPercent: undefined },
      {
        scenario: label("store"),
        mode: "store",
        batch,
        result: store,
        vsRawPercent: (store.eventsPerSecond / raw.eventsPerSecond) * 100
      }
    ] satisfies ReadonlyArray<Report.AppendRow>
  })

/** The same personal-data event through the plain and the protected store: the cost of encryption. */
const encryptionPair = (runOptions: Measure.RunOptions, clients: number) =>
  Effect.gen(function*() {
    const inner = yield* EventStore
    const context = yield* Layer.build(
      PersonalData.layer({
        masterKeys: MasterKeys.parse(MasterKeys.generate("bench")),
        fields: PersonalFields.fromSchemas(Payload.HolderUpdated)
      }).pipe(Layer.provide(Layer.succeed(EventStore, inner)))
    )
    const protectedStore = Context.get(context, EventStore)
    yield* Measure.progress(`append 1 event with personal data, plain vs encrypted, ${clients} clients`)
    const [plain, encrypted] = yield* Measure.runPair(
      yield* Appends.operations("plain", clients, 1),
      yield* Appends.operations("encrypted", clients, 1, protectedStore),
      runOptions
    )
    yield* progressLine("plain", plain)
    yield* progressLine("encrypted", encrypted)
    return [
      { scenario: "append 1 event with personal data, plain", mode: "plain", batch: 1, result: plain, vsRawPercent: undefined },
      {
        scenario: "append 1 event with personal data, encrypted",
        mode: "encrypted",
        batch: 1,
        result: encrypted,
        vsRawPercent: (encrypted.eventsPerSecond / plain.eventsPerSecond) * 100
      }
    ] satisfies ReadonlyArray<Report.AppendRow>
  })

const scenarios = (embedded: boolean, database: string) =>
  Effect.gen(function*() {
    const info = yield* Database.serverInfo
    yield* Measure.progress(`PostgreSQL ${info.version} (${embedded ? "embedded" : "DATABASE_URL"})`)
    const cpu = Cpu.make(database, Cpu.localPostmaster(database, info.backendPid))
    const server = yield* ServerStats.make
    const runOptions: Measure.RunOptions = { seconds: config.seconds, warmupSeconds: config.warmupSeconds, cpu, server }
    const appends: Array<Report.AppendRow> = []
    for (const clients of [1, 4, Config.MAX_CLIENTS, Config.WIDE_CLIENTS]) appends.push(...(yield* appendPair(runOptions, clients, 1)))
    appends.push(...(yield* appendPair(runOptions, Config.MAX_CLIENTS, 10)))
    appends.push(...(yield* encryptionPair(runOptions, Config.MAX_CLIENTS)))
    const rehydrate = yield* Rehydrate.run(runOptions)
    const readAll = yield* ReadAll.run(config.readAllEvents, cpu)
    const polling = yield* Polling.run(runOptions)
    const cpus = Os.cpus()
    const environment: Report.Environment = {
      generatedAt: new Date().toISOString(),
      node: process.version,
      cores: Os.availableParallelism(),
      cpuModel: cpus[0]?.model.trim() ?? "unknown",
      benchSeconds: config.seconds,
      warmupSeconds: config.warmupSeconds,
      pool: { maxConnections: Config.POOL_SIZE, multiplex: config.multiplex, prepare: config.prepare },
      notifications: config.notifications,
      groupCommit: config.groupCommit,
      server: { embedded, version: info.version, settings: info.settings },
      payload: Payload.sizes(),
      streamsPerClient: Appends.STREAMS_PER_CLIENT,
      pairSlices: Measure.PAIR_SLICES
    }
    return { environment, appends, rehydrate, readAll, polling } satisfies Report.Results
  })

const program = Effect.gen(function*() {
  const server = yield* Database.server(config.databaseUrl)
  const database = yield* Database.freshDatabase(server)
  yield* Measure.progress(
    `database ${database.name} on ${server.embedded ? "an embedded PostgreSQL" : "the DATABASE_URL server"}`
  )
  // The store's layer (pool, LISTEN fiber) closes before the database is dropped and the server stopped.
  const results = yield* scenarios(server.embedded, database.name).pipe(Effect.provide(storeLayer(database.url)))
  yield* Effect.promise(() => Report.writeJson(results))
  yield* Effect.sync(() => process.stdout.write(`${Report.markdown(results)}\n`))
  yield* Measure.progress("results written to bench/results/latest.json")
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
