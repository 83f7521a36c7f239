/**
 * `node bench/main.ts` (or `pnpm bench` in packages/ledger, `./scripts/bench ledger`): the ledger read models' benchmark.
 *
 * One process, one fresh database (on DATABASE_URL, else on an embedded PostgreSQL), in order:
 * 1. bulk history: >= 1,000,000 account events through the protected store's `appendMany` (see Workload.ts);
 * 2. raw read rate of those events: `EventStore.streamAll` with account_summary's filters, no handler (through
 *    the protected store the runtime uses, and through the plain store), then read + codec decode only;
 * 3. `Projections.rebuildNow` of account_summary (the headline: events/s and its ratio to the raw read),
 *    then of the two other read models; the handler's own time is measured around `apply`, and the
 *    handler's decode / fold / SQL split on events held in memory; CPU time of Node and of the database's
 *    backends is measured per step (see Cpu.ts), since wall-clock rates move with a shared machine's load;
 * 4. lag at a steady write rate with the live runners of all three read models in this process (Lag.ts).
 * Progress goes to stderr; the results go to stdout as markdown and to bench/results/latest.json.
 *
 * Settings (environment): DATABASE_URL, BENCH_EVENTS (1000000), BENCH_ACCOUNTS (20000), BENCH_CHUNK (events
 * per stream per write, 25), BENCH_STREAMS_PER_WRITE (200), BENCH_REBUILD_BATCH (the runtime's rebuild batch
 * size, default 5000), BENCH_LAG_RATE (2000 events/s), BENCH_LAG_SECONDS (20), BENCH_LAG_EVENTS_PER_APPEND
 * (10), BENCH_SKIP_LAG=1, BENCH_PROFILE=1 (V8 CPU profile of the account_summary rebuild).
 */
import { PgClient } from "@effect/sql-pg"
import { Checkpoint, EventStore, MasterKeys, PgEventStore, type RecordedEvent } from "@verity/eventstore"
import { Projection, Projections } from "@verity/projections"
import { ConfigProvider, Context, Effect, Layer, Redacted, Stream } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as Fs from "node:fs/promises"
import * as Inspector from "node:inspector"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as AccountSummaryHandler from "../src/accountSummary/Handler.ts"
import * as LedgerRuntime from "../src/LedgerRuntime.ts"
import * as ReadModels from "../src/ReadModels.ts"
import { accountCodec } from "../src/Streams.ts"
import * as Cpu from "./Cpu.ts"
import * as Database from "./Database.ts"
import * as Lag from "./Lag.ts"
import * as Workload from "./Workload.ts"

const int = (name: string, fallback: number) => {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === "") return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) {
    process.stderr.write(`${name} must be a positive number, got ${JSON.stringify(raw)}\n`)
    process.exit(2)
  }
  return Math.floor(value)
}

const config = {
  databaseUrl: process.env["DATABASE_URL"] === undefined || process.env["DATABASE_URL"] === "" ? undefined : process.env["DATABASE_URL"],
  events: int("BENCH_EVENTS", 1_000_000),
  accounts: int("BENCH_ACCOUNTS", 20_000),
  rebuildBatch: int("BENCH_REBUILD_BATCH", 5_000),
  lagRate: int("BENCH_LAG_RATE", 2_000),
  lagSeconds: int("BENCH_LAG_SECONDS", 20),
  lagEventsPerAppend: int("BENCH_LAG_EVENTS_PER_APPEND", 10),
  chunk: int("BENCH_CHUNK", 25),
  streamsPerWrite: int("BENCH_STREAMS_PER_WRITE", 200),
  skipLag: process.env["BENCH_SKIP_LAG"] === "1"
}

const progress = (line: string) => Effect.sync(() => process.stderr.write(`[bench] ${line}\n`))

// --- the read models, with a stopwatch around their handlers ------------------------------------------------

interface HandlerTime {
  batches: number
  events: number
  ms: number
}
const handlerTimes = new Map<string, HandlerTime>()
const instrument = (projection: Projection.Projection): Projection.Projection =>
  Projection.make({
    ...projection,
    apply: (events, ctx) =>
      Effect.suspend(() => {
        const started = performance.now()
        return projection.apply(events, ctx).pipe(Effect.ensuring(Effect.sync(() => {
          const time = handlerTimes.get(projection.name) ?? { batches: 0, events: 0, ms: 0 }
          time.batches++
          time.events += events.length
          time.ms += performance.now() - started
          handlerTimes.set(projection.name, time)
        })))
      })
  })
const readModels = ReadModels.all.map(instrument)
const summary = readModels.find((p) => p.name === "account_summary")!

// --- scenarios ------------------------------------------------------------------------------------------------

/** The database of this run (its backends' CPU time is measured by their process titles). */
let databaseName = ""

interface ReadRate {
  readonly label: string
  readonly events: number
  readonly seconds: number
  readonly eventsPerSecond: number
  readonly cpu: Cpu.Usage
}

const readPass = (label: string, store: EventStore["Service"], decode: boolean) =>
  Effect.gen(function*() {
    const started = performance.now()
    const cpu = Cpu.start(databaseName)
    let events = 0
    let decoded = 0
    yield* store.streamAll({ categories: summary.categories!, types: summary.eventTypes, limit: config.rebuildBatch }).pipe(
      Stream.runForEachArray((chunk) =>
        Effect.sync(() => {
          events += chunk.length
          if (decode) {
            for (const event of chunk) {
              const result = accountCodec.decodeResult(event)
              if (result._tag === "Failure") throw new Error(result.failure.message)
              decoded += result.success.length
            }
          }
        })
      ),
      Effect.orDie
    )
    const seconds = (performance.now() - started) / 1_000
    yield* progress(
      `${label}: ${events} events in ${seconds.toFixed(2)} s = ${Math.round(events / seconds)} events/s${decode ? ` (${decoded} decoded)` : ""}`
    )
    return { label, events, seconds, eventsPerSecond: events / seconds, cpu: cpu() } satisfies ReadRate
  })

interface RebuildRow {
  readonly name: string
  /** The switch compared the new generation with the events (a second full pass over them). */
  readonly verified: boolean
  readonly events: number
  readonly seconds: number
  readonly eventsPerSecond: number
  readonly handlerSeconds: number
  readonly batches: number
  readonly cpu: Cpu.Usage
}

/** With BENCH_PROFILE=1, a V8 CPU profile of the account_summary rebuild goes to bench/results/. */
const profiled = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) => {
  if (process.env["BENCH_PROFILE"] !== "1" || name !== "account_summary") return effect
  const session = new Inspector.Session()
  const post = (method: string) =>
    Effect.callback<unknown>((resume) => {
      session.post(method, (error, result) => resume(error === null ? Effect.succeed(result) : Effect.die(error)))
    })
  return Effect.gen(function*() {
    session.connect()
    yield* post("Profiler.enable")
    yield* post("Profiler.start")
    const result = yield* effect
    const { profile } = (yield* post("Profiler.stop")) as { readonly profile: unknown }
    session.disconnect()
    const file = fileURLToPath(new URL(`./results/${name}-rebuild.cpuprofile`, import.meta.url))
    yield* Effect.promise(async () => {
      await Fs.mkdir(Path.dirname(file), { recursive: true })
      await Fs.writeFile(file, JSON.stringify(profile))
    })
    yield* progress(`CPU profile of the ${name} rebuild: ${file}`)
    return result
  })
}

const rebuild = (name: string, verified: boolean) =>
  Effect.gen(function*() {
    const projections = yield* Projections.Projections
    handlerTimes.delete(name)
    const cpu = Cpu.start(databaseName)
    let last = 0
    const report = yield* profiled(
      name,
      projections.rebuildNow(
        name,
        (p) =>
          p.events - last >= 200_000 ? Effect.andThen(Effect.sync(() => (last = p.events)), progress(`  ${name}: ${p.events} events`)) : Effect.void,
        { skipVerify: !verified }
      ).pipe(Effect.orDie)
    )
    const time = handlerTimes.get(name) ?? { batches: 0, events: 0, ms: 0 }
    yield* progress(
      `rebuild ${name}: ${report.events} events in ${report.seconds.toFixed(2)} s = ${Math.round(report.eventsPerSecond)} events/s (handler ${
        (time.ms / 1000).toFixed(2)
      } s in ${time.batches} batches)`
    )
    return {
      name,
      verified,
      events: report.events,
      seconds: report.seconds,
      eventsPerSecond: report.eventsPerSecond,
      handlerSeconds: time.ms / 1_000,
      batches: time.batches,
      cpu: cpu()
    } satisfies RebuildRow
  })

interface Breakdown {
  readonly events: number
  readonly batches: number
  readonly decodeUsPerEvent: number
  readonly foldUsPerEvent: number
  readonly sqlUsPerEvent: number
}

/**
 * Where account_summary's handler time goes, on the first `events` events held in memory (batches of the
 * rebuild size): the codec alone (upcast + Schema decode), the handler's fold (decode + fold into patches),
 * and the whole handler writing into scratch tables in a transaction per batch (its SQL = that - fold).
 */
const breakdown = (events: number) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const sql = (yield* PgClient.PgClient).withoutTransforms()
    const batches: Array<ReadonlyArray<RecordedEvent>> = []
    let from = Checkpoint.start
    let total = 0
    while (total < events) {
      const page = yield* store.readAll({ from, limit: config.rebuildBatch, categories: summary.categories!, types: summary.eventTypes }).pipe(
        Effect.orDie
      )
      if (page.events.length === 0) break
      batches.push(page.events)
      total += page.events.length
      from = page.checkpoint
    }
    const time = (f: () => void) => {
      const started = performance.now()
      f()
      return performance.now() - started
    }
    // The best of five rounds each (the first ones warm the JIT up; a shared machine adds noise).
    let decodeMs = Infinity
    let foldMs = Infinity
    for (let round = 0; round < 5; round++) {
      decodeMs = Math.min(
        decodeMs,
        time(() => {
          for (const batch of batches) for (const event of batch) accountCodec.decodeResult(event)
        })
      )
      foldMs = Math.min(
        foldMs,
        time(() => {
          for (const batch of batches) AccountSummaryHandler.fold(batch)
        })
      )
    }
    const schema = `bench_scratch_${process.pid}`
    const ctx: Projection.TablesContext = { schema, table: (name) => sql(`${schema}.${name}`), rebuilding: true }
    yield* sql`CREATE SCHEMA ${sql(schema)}`.pipe(Effect.orDie)
    yield* summary.migrate(ctx).pipe(Effect.provideService(SqlClient, sql), Effect.orDie)
    const started = performance.now()
    for (const batch of batches) {
      yield* sql.withTransaction(ReadModels.accountSummary.apply(batch, ctx)).pipe(Effect.provideService(SqlClient, sql), Effect.orDie)
    }
    const applyMs = performance.now() - started
    yield* sql`DROP SCHEMA ${sql(schema)} CASCADE`.pipe(Effect.orDie)
    const result = {
      events: total,
      batches: batches.length,
      decodeUsPerEvent: (decodeMs * 1_000) / total,
      foldUsPerEvent: ((foldMs - decodeMs) * 1_000) / total,
      sqlUsPerEvent: ((applyMs - foldMs) * 1_000) / total
    } satisfies Breakdown
    yield* progress(
      `handler breakdown on ${total} events: decode ${result.decodeUsPerEvent.toFixed(2)} us, fold ${result.foldUsPerEvent.toFixed(2)} us, SQL ${
        result.sqlUsPerEvent.toFixed(2)
      } us per event`
    )
    return result
  })

const currencyOf = (i: number) => (i % 10 === 0 ? "EUR" : ["EUR", "EUR", "USD", "GBP"][i % 4]!)

const scenarios = (plain: EventStore["Service"], serverLabel: string, settings: Record<string, string>) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const projections = yield* Projections.Projections
    const sql = (yield* PgClient.PgClient).withoutTransforms()
    // A first (empty) generation of each read model, so that the rebuilds below are real rebuilds: a new
    // generation built beside the active one at the rebuild batch size, then switched to.
    for (const p of readModels) yield* projections.rebuild(p.name).pipe(Effect.orDie)

    const eventsPerAccount = Math.ceil(config.events / config.accounts)
    yield* progress(`writing ${config.accounts} accounts x ${eventsPerAccount} events`)
    const writeCpu = Cpu.start(databaseName)
    const workload = yield* Workload.write(store, {
      accounts: config.accounts,
      eventsPerAccount,
      streamsPerWrite: config.streamsPerWrite,
      chunk: config.chunk,
      concurrency: 2
    }, progress)
    yield* progress(
      `wrote ${workload.events} events in ${workload.seconds.toFixed(1)} s (${Math.round(workload.events / workload.seconds)} events/s)`
    )
    const written = writeCpu()
    yield* sql`ANALYZE verity.events`.pipe(Effect.orDie)

    // An unmeasured pass first: the measured ones then all find the same warm caches (shared buffers, the
    // OS page cache, the data keys' cache, the JIT), as the rebuilds after them do.
    yield* readPass("warm-up read (not reported)", store, false)
    const reads = [
      yield* readPass("read, protected store (as the runtime)", store, false),
      yield* readPass("read, plain store", plain, false),
      yield* readPass("read + decode (codec: upcast + Schema)", store, true)
    ]
    const handler = yield* breakdown(200_000)
    const rebuilds: Array<RebuildRow> = []
    // Build throughput with the switch unchecked (as before the verified switch), then the default: the same
    // rebuild with the comparison against the events before the switch.
    for (const p of readModels) rebuilds.push(yield* rebuild(p.name, false))
    rebuilds.push(yield* rebuild("account_summary", true))

    let lag:
      | (Lag.LagResult & {
        readonly batches: Record<string, { batches: number; eventsPerBatch: number; handlerMsPerBatch: number }>
        readonly cpu: Cpu.Usage
      })
      | undefined
    if (!config.skipLag) {
      yield* progress(`lag: ${config.lagRate} events/s for ${config.lagSeconds} s (+2 s warm-up), live runners of ${readModels.length} read models`)
      lag = yield* Effect.gen(function*() {
        const live = yield* Layer.build(Projections.layer({
          projections: readModels,
          owner: "bench-live",
          pollInterval: "500 millis",
          discoveryInterval: "1 second"
        }))
        const liveProjections = Context.get(live, Projections.Projections)
        const horizon = yield* store.horizon.pipe(Effect.orDie)
        for (const p of readModels) yield* liveProjections.waitFor(p.name, horizon.checkpoint, "120 seconds").pipe(Effect.orDie)
        const before = new Map([...handlerTimes].map(([name, t]) => [name, { ...t }]))
        const lagCpu = Cpu.start(databaseName)
        const result = yield* Lag.run(store, {
          rate: config.lagRate,
          eventsPerAppend: config.lagEventsPerAppend,
          seconds: config.lagSeconds,
          warmupSeconds: 2,
          accountIds: workload.accountIds,
          currencyOf,
          readModels: readModels.map((p) => p.name)
        })
        // What the live runners did meanwhile (warm-up included): batches, their size, time in the handler.
        const batches = Object.fromEntries(readModels.map((p) => {
          const now = handlerTimes.get(p.name) ?? { batches: 0, events: 0, ms: 0 }
          const then = before.get(p.name) ?? { batches: 0, events: 0, ms: 0 }
          const count = now.batches - then.batches
          return [p.name, {
            batches: count,
            eventsPerBatch: count === 0 ? 0 : (now.events - then.events) / count,
            handlerMsPerBatch: count === 0 ? 0 : (now.ms - then.ms) / count
          }]
        }))
        return { ...result, batches, cpu: lagCpu() }
      }).pipe(Effect.scoped)
      for (const [name, p] of Object.entries(lag.lag)) {
        yield* progress(`  lag ${name}: p50 ${p.p50Ms.toFixed(1)} ms, p99 ${p.p99Ms.toFixed(1)} ms, max ${p.maxMs.toFixed(1)} ms`)
      }
    }
    const cpus = Os.cpus()
    return {
      environment: {
        generatedAt: new Date().toISOString(),
        node: process.version,
        cores: Os.availableParallelism(),
        cpuModel: cpus[0]?.model.trim() ?? "unknown",
        server: serverLabel,
        settings,
        rebuildBatchSize: config.rebuildBatch
      },
      workload: {
        events: workload.events,
        accounts: workload.accounts,
        legacyEvents: workload.legacyEvents,
        personalDataEvents: workload.personalDataEvents,
        appends: workload.appends,
        seconds: workload.seconds,
        eventsPerSecond: workload.events / workload.seconds,
        streamsPerWrite: config.streamsPerWrite,
        chunk: config.chunk,
        cpu: written
      },
      reads,
      rebuilds,
      handler,
      lag
    }
  })

type Results = Effect.Success<ReturnType<typeof scenarios>>

const n = (x: number) => Math.round(x).toLocaleString("en-US")
const ms = (x: number) => x.toFixed(1)
const cpuPer = (cpu: Cpu.Usage, events: number) =>
  `${((cpu.nodeSeconds * 1e6) / events).toFixed(2)} | ${cpu.postgresSeconds > 0 ? ((cpu.postgresSeconds * 1e6) / events).toFixed(2) : "n/a"} | ${
    cpu.loadAverage.toFixed(1)
  }`

const markdown = (r: Results) => {
  const raw = r.reads[0]!.eventsPerSecond
  const lines = [
    `## Ledger read models: rebuild and lag (${r.environment.cores} cores, ${r.environment.cpuModel}, Node ${r.environment.node})`,
    "",
    `PostgreSQL ${r.environment.settings["server_version"]} (${r.environment.server}); shared_buffers ${
      r.environment.settings["shared_buffers"]
    }, fsync ${r.environment.settings["fsync"]}, synchronous_commit ${r.environment.settings["synchronous_commit"]}. Rebuild batch size ${
      n(r.environment.rebuildBatchSize)
    }.`,
    "",
    `History: ${n(r.workload.events)} account events on ${n(r.workload.accounts)} accounts, written through the protected store's appendMany (${
      n(r.workload.streamsPerWrite)
    } streams x ${n(r.workload.chunk)} events per transaction, 2 in flight) at ${n(r.workload.eventsPerSecond)} events/s; ${
      n(r.workload.personalDataEvents)
    } events carry encrypted personal data, ${n(r.workload.legacyEvents)} are stored in retired v1 shapes (upcast on read).`,
    "",
    "| step | events | seconds | events/s | vs raw read | Node CPU us/event | PostgreSQL CPU us/event | load avg |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    `| bulk write (appendMany, protected store) | ${n(r.workload.events)} | ${r.workload.seconds.toFixed(1)} | ${n(r.workload.eventsPerSecond)} | | ${
      cpuPer(r.workload.cpu, r.workload.events)
    } |`,
    ...r.reads.map((x) =>
      `| ${x.label} | ${n(x.events)} | ${x.seconds.toFixed(2)} | ${n(x.eventsPerSecond)} | ${((x.eventsPerSecond / raw) * 100).toFixed(0)}% | ${
        cpuPer(x.cpu, x.events)
      } |`
    ),
    ...r.rebuilds.map((x) =>
      `| **rebuildNow ${x.name}${x.verified ? ", verified switch" : " --skip-verify"}** (handler ${x.handlerSeconds.toFixed(2)} s = ${
        ((x.handlerSeconds / x.seconds) * 100).toFixed(0)
      }%, ${n(x.batches)} batches) | ${n(x.events)} | ${x.seconds.toFixed(2)} | **${n(x.eventsPerSecond)}** | ${
        ((x.eventsPerSecond / raw) * 100).toFixed(0)
      }% | ${cpuPer(x.cpu, x.events)} |`
    ),
    "",
    (() => {
      const s = r.rebuilds.find((x) => x.name === "account_summary" && !x.verified)!
      const read = r.reads[0]!
      const h = r.handler
      const per = (seconds: number, events: number) => ((seconds * 1e6) / events).toFixed(2)
      const nodeRead = (read.cpu.nodeSeconds * 1e6) / read.events
      const nodeRebuild = (s.cpu.nodeSeconds * 1e6) / s.events
      const pgRead = (read.cpu.postgresSeconds * 1e6) / read.events
      const pgRebuild = (s.cpu.postgresSeconds * 1e6) / s.events
      return [
        `Where account_summary's rebuild time goes: while catching up the runner reads the next page while it applies the current one, so the rebuild runs close to the raw read rate of the same events, which is its ceiling. Per event: wall ${
          per(s.seconds, s.events)
        } us (raw read alone ${per(read.seconds, read.events)} us; around the handler ${per(s.handlerSeconds, s.events)} us). `,
        `Node CPU ${nodeRebuild.toFixed(2)} us (read alone ${nodeRead.toFixed(2)} us, so handler + runtime add ${
          (nodeRebuild - nodeRead).toFixed(2)
        } us: codec decode ${h.decodeUsPerEvent.toFixed(2)} us and fold ${h.foldUsPerEvent.toFixed(2)} us of it, measured on ${
          n(h.events)
        } events in memory). `,
        pgRead > 0
          ? `PostgreSQL CPU ${pgRebuild.toFixed(2)} us (read alone ${pgRead.toFixed(2)} us: the writes add ${
            (pgRebuild - pgRead).toFixed(2)
          } us). The handler's SQL in isolation (scratch tables, a transaction per batch): ${h.sqlUsPerEvent.toFixed(2)} us per event.`
          : `The handler's SQL in isolation (scratch tables, a transaction per batch): ${h.sqlUsPerEvent.toFixed(2)} us per event.`,
        ` Node was busy ${
          ((s.cpu.nodeSeconds / s.cpu.wallSeconds) * 100).toFixed(0)
        }% of the rebuild's wall time (all its threads, GC included): the rebuild is bound by Node's one thread, which spends most of each event in the read.`
      ].join("")
    })(),
    "",
    "Targets: account_summary rebuild >= 150,000 events/s; lag p99 <= 50 ms."
  ]
  if (r.lag !== undefined) {
    const l = r.lag
    lines.push(
      "",
      `Lag at ${n(l.targetRate)} events/s target (${n(l.achievedRate)} achieved; ${n(l.appends)} appends of ${
        n(l.events / Math.max(1, l.appends))
      } events over ${l.seconds.toFixed(1)} s), append return -> read-model commit visible:`,
      "",
      "| read model | p50 ms | p90 ms | p99 ms | max ms | mean ms | live batches | events/batch | handler ms/batch |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...Object.entries(l.lag).map(([name, p]) => {
        const b = l.batches[name]!
        return `| ${name} | ${ms(p.p50Ms)} | ${ms(p.p90Ms)} | **${ms(p.p99Ms)}** | ${ms(p.maxMs)} | ${ms(p.meanMs)} | ${n(b.batches)} | ${
          b.eventsPerBatch.toFixed(1)
        } | ${b.handlerMsPerBatch.toFixed(2)} |`
      }),
      `| (append latency itself) | ${ms(l.appendLatency.p50Ms)} | ${ms(l.appendLatency.p90Ms)} | ${ms(l.appendLatency.p99Ms)} | ${
        ms(l.appendLatency.maxMs)
      } | ${ms(l.appendLatency.meanMs)} | | | |`,
      "",
      `During the lag run: Node ${((l.cpu.nodeSeconds / l.cpu.wallSeconds) * 100).toFixed(0)}% of a core, PostgreSQL backends ${
        ((l.cpu.postgresSeconds / l.cpu.wallSeconds) * 100).toFixed(0)
      }% of a core, load average ${l.cpu.loadAverage.toFixed(1)} (2 cores).`
    )
  }
  return lines.join("\n")
}

const program = Effect.gen(function*() {
  const server = yield* Database.server(config.databaseUrl)
  const database = yield* Database.freshDatabase(server)
  databaseName = database.name
  yield* progress(`database ${database.name} on ${server.embedded ? "an embedded PostgreSQL" : "the DATABASE_URL server"}`)
  const pg = PgClient.layer({ url: Redacted.make(database.url), maxConnections: 16 })
  const runtime = LedgerRuntime.layerWithoutDatabase({
    projections: readModels,
    runProjections: false,
    projectionOptions: { rebuildBatchSize: config.rebuildBatch, owner: "bench" }
  }).pipe(
    Layer.provideMerge(pg),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ VERITY_MASTER_KEYS: MasterKeys.generate("bench1") })))
  )
  const results = yield* Effect.gen(function*() {
    const settings = yield* Database.serverInfo.pipe(Effect.orDie)
    const plain = Context.get(yield* Layer.build(PgEventStore.layer({ migrate: false })), EventStore)
    return yield* scenarios(plain, server.embedded ? "embedded" : "DATABASE_URL", settings)
  }).pipe(Effect.scoped, Effect.provide(runtime))
  const folder = fileURLToPath(new URL("./results/", import.meta.url))
  yield* Effect.promise(async () => {
    await Fs.mkdir(folder, { recursive: true })
    await Fs.writeFile(Path.join(folder, "latest.json"), JSON.stringify(results, null, 2) + "\n")
  })
  yield* Effect.sync(() => process.stdout.write(`${markdown(results)}\n`))
  yield* progress("results written to bench/results/latest.json")
}).pipe(Effect.scoped)

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
