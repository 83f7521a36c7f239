/**
 * `node bench/main.ts` (or `./scripts/bench integration`): the relay's benchmark, store -> NATS JetStream.
 *
 * One process, a fresh database (DATABASE_URL's server, else an embedded PostgreSQL) and a NATS server of its
 * own (or NATS_URL), in order:
 * 1. seed: BENCH_EVENTS events (default 1,000,000) through the store's `appendMany`, 100 per stream;
 * 2. throughput: a relay starts from the beginning; events/s until its checkpoint covers the store; then
 *    JetStream is read back and checked: every event once, in the store's order (MATCH / MISMATCH);
 * 3. lag: appends at a steady BENCH_RATE (2,000 events/s, BENCH_EVENTS_PER_APPEND per append) for
 *    BENCH_SECONDS (10); an ordered JetStream consumer receives the messages; lag = receipt - the append's
 *    return (its commit). Messages never received, duplicates and order are checked too. At the same time an
 *    `Inbox` (bench/Inbox.ts) consumes the stream, one row per event in its handler's transaction; inbox
 *    lag = that transaction's commit - the append's return, with what it sustained (events/s), events never
 *    handled and effects applied twice (a MISMATCH when not every event was handled exactly once).
 * Exits with status 1 on any MISMATCH. Other settings: BENCH_BATCH (relay batch while catching up, 5000),
 * BENCH_LIVE_BATCH (500), BENCH_ACK_TIMEOUT_MS (broker ack timeout, 5000), BENCH_PROFILE=1 (V8 CPU
 * profile of the throughput phase into bench/results/).
 */
import { PgClient } from "@effect/sql-pg"
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { Checkpoint, EventStore, PgEventStore } from "@verity/eventstore"
import { Context, Duration, Effect, FiberSet, Layer, Redacted, Scope } from "effect"
import * as Os from "node:os"
import { JetStreamSink, Relay, type Sink } from "../src/index.ts"
import { contractFor } from "../test/support/Parcels.ts"
import { check, percentile, profiled } from "./Checks.ts"
import { startInbox } from "./Inbox.ts"
import { CATEGORY, PREFIX, STREAM } from "./Names.ts"
import * as Servers from "./Servers.ts"

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
const env = (name: string) => (process.env[name] === undefined || process.env[name] === "" ? undefined : process.env[name])

const config = {
  events: int("BENCH_EVENTS", 1_000_000),
  batch: int("BENCH_BATCH", 5_000),
  liveBatch: int("BENCH_LIVE_BATCH", 500),
  rate: int("BENCH_RATE", 2_000),
  seconds: int("BENCH_SECONDS", 10),
  eventsPerAppend: int("BENCH_EVENTS_PER_APPEND", 10),
  ackTimeout: Duration.millis(int("BENCH_ACK_TIMEOUT_MS", 5_000)),
  /** BENCH_INBOX=0: no inbox in the lag phase (the subscriber's lag without an inbox's load beside it). */
  inbox: env("BENCH_INBOX") !== "0"
}
const PER_STREAM = 100

const progress = (line: string) => Effect.sync(() => process.stderr.write(`[bench] ${line}\n`))

const newEvent = (n: number) => ({ eventId: crypto.randomUUID(), type: "Sent", data: { n }, metadata: { correlationId: "bench" } })

/** BENCH_EVENTS events, PER_STREAM per stream, written 25 per stream x 200 streams per `appendMany`. */
const seed = Effect.gen(function*() {
  const store = yield* EventStore
  const streams = Math.ceil(config.events / PER_STREAM)
  const writes: Array<Array<{ stream: string; count: number; from: number }>> = []
  for (let round = 0; round < PER_STREAM / 25; round++) {
    for (let s = 0; s < streams; s += 200) {
      const group: Array<{ stream: string; count: number; from: number }> = []
      for (let i = s; i < Math.min(streams, s + 200); i++) {
        const total = Math.min(PER_STREAM, config.events - i * PER_STREAM)
        const count = Math.max(0, Math.min(25, total - round * 25))
        if (count > 0) group.push({ stream: `${CATEGORY}-${i}`, count, from: round * 25 })
      }
      if (group.length > 0) writes.push(group)
    }
  }
  const started = performance.now()
  let written = 0
  yield* Effect.forEach(writes, (group) =>
    store.appendMany(group.map((w) => ({
      stream: w.stream,
      expected: "any" as const,
      events: Array.from({ length: w.count }, (_, k) => newEvent(w.from + k))
    }))).pipe(
      Effect.orDie,
      Effect.tap(() => {
        const before = written
        written += group.reduce((a, w) => a + w.count, 0)
        return Math.floor(written / 200_000) > Math.floor(before / 200_000) ? progress(`  seeded ${written}`) : Effect.void
      })
    ), { concurrency: 2, discard: true })
  const seconds = (performance.now() - started) / 1_000
  yield* progress(`seeded ${written} events in ${seconds.toFixed(1)} s (${Math.round(written / seconds)} events/s)`)
  // VACUUM too: an autovacuum of the fresh million rows would otherwise run during the measurements.
  yield* (yield* PgClient.PgClient)`VACUUM (ANALYZE) verity.events`.pipe(Effect.orDie)
  return { events: written, seconds }
})

/** The ids of the category's events in the store's (commit-safe) order, after `from`. */
const storedIds = (from: Checkpoint.Checkpoint) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const ids: Array<string> = []
    let at = from
    while (true) {
      const page = yield* store.readAll({ from: at, limit: 20_000, categories: [CATEGORY], types: ["Sent"] }).pipe(Effect.orDie)
      for (const e of page.events) ids.push(e.eventId)
      if (page.events.length === 0) return ids
      at = page.checkpoint
    }
  })

/** Reads the stream's message ids (headers only) from `fromSeq` on with an ordered consumer, until `count`. */
const readIds = (nc: NatsConnection, fromSeq: number, count: number) =>
  Effect.promise(async () => {
    const consumer = await jetstream(nc).consumers.get(STREAM, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: fromSeq,
      headers_only: true
    })
    const ids: Array<string> = []
    if (count === 0) return ids
    const messages = await consumer.consume({ max_messages: 10_000 })
    for await (const m of messages) {
      ids.push(m.headers?.get("Nats-Msg-Id") ?? "")
      if (ids.length >= count) break
    }
    await messages.close()
    return ids
  })

/** One `publish` of the relay: when it started and ended (performance.now()) and its message count. */
interface PublishTiming {
  readonly start: number
  readonly end: number
  readonly messages: number
}

const startRelay = (natsUrl: string, scope: Scope.Scope, owner: string, timings: Array<PublishTiming> = []) =>
  Effect.gen(function*() {
    const jetStream = yield* JetStreamSink.make({ servers: natsUrl, stream: STREAM, prefix: PREFIX, ackTimeout: config.ackTimeout }).pipe(
      Scope.provide(scope)
    )
    // Timed, to tell the broker's share (publish until the last ack) from the rest of a relay cycle.
    const sink: Sink.Sink = {
      publish: (messages) =>
        Effect.suspend(() => {
          const start = performance.now()
          return Effect.ensuring(
            jetStream.publish(messages),
            Effect.sync(() => timings.push({ start, end: performance.now(), messages: messages.length }))
          )
        })
    }
    const context = yield* Layer.buildWithScope(
      Relay.layer({
        name: "relay_bench",
        contracts: [contractFor(CATEGORY)],
        sink,
        runtime: { owner, batchSize: config.liveBatch, rebuildBatchSize: config.batch, pollInterval: "500 millis" }
      }),
      scope
    ).pipe(Effect.orDie)
    return Context.get(context, Relay.Relay)
  })

const throughput = (natsUrl: string, nc: NatsConnection) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const horizon = yield* store.horizon.pipe(Effect.orDie)
    const scope = yield* Scope.make()
    const started = performance.now()
    const cpu = process.cpuUsage()
    const relay = yield* startRelay(natsUrl, scope, "bench-throughput")
    yield* profiled(relay.projections.waitFor(relay.name, horizon.checkpoint, "60 minutes").pipe(Effect.orDie))
    const seconds = (performance.now() - started) / 1_000
    const used = process.cpuUsage(cpu)
    yield* Scope.close(scope, Effect.void as never)
    yield* progress(`relayed ${config.events} events in ${seconds.toFixed(1)} s = ${Math.round(config.events / seconds)} events/s`)
    const expected = yield* storedIds(Checkpoint.start)
    const received = yield* readIds(nc, 1, expected.length)
    const result = check(expected, received)
    yield* progress(`throughput check: ${result.match ? "MATCH" : "MISMATCH"} ${JSON.stringify(result)}`)
    return { seconds, eventsPerSecond: config.events / seconds, nodeCpuSeconds: (used.user + used.system) / 1e6, check: result }
  })

/** Per live relay cycle: publish time (until the last ack), the time between two publishes, batch sizes. */
const cycles = (timings: ReadonlyArray<PublishTiming>) => {
  const sorted = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)
  const summary = (xs: ReadonlyArray<number>) => {
    const s = sorted(xs)
    return {
      p50: Math.round(percentile(s, 0.5) * 10) / 10,
      p99: Math.round(percentile(s, 0.99) * 10) / 10,
      max: Math.round((s.at(-1) ?? 0) * 10) / 10
    }
  }
  return {
    publishes: timings.length,
    publishMs: summary(timings.map((t) => t.end - t.start)),
    betweenMs: summary(timings.slice(1).map((t, i) => t.start - timings[i]!.end)),
    messages: summary(timings.map((t) => t.messages))
  }
}

const lag = (natsUrl: string, nc: NatsConnection) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const horizon = yield* store.horizon.pipe(Effect.orDie)
    const jsm = yield* Effect.promise(() => jetstreamManager(nc))
    const lastSeq = (yield* Effect.promise(() => jsm.streams.info(STREAM))).state.last_seq
    const scope = yield* Scope.make()
    const timings: Array<PublishTiming> = []
    const relay = yield* startRelay(natsUrl, scope, "bench-lag", timings)
    yield* relay.projections.waitFor(relay.name, horizon.checkpoint, "60 seconds").pipe(Effect.orDie)

    // The subscriber: an ordered consumer from the first message after the throughput phase.
    const committedAt = new Map<string, number>()
    const receivedAt = new Map<string, number>()
    const received: Array<string> = []
    const consumer = yield* Effect.promise(() =>
      jetstream(nc).consumers.get(STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: lastSeq + 1, headers_only: true })
    )
    const messages = yield* Effect.promise(() => consumer.consume({ max_messages: 1_000 }))
    const inbox = config.inbox ? yield* startInbox(natsUrl, jsm, lastSeq + 1, scope) : undefined
    const inboxAt = inbox?.committedAt ?? new Map<string, number>()
    const consuming = (async () => {
      for await (const m of messages) {
        const id = m.headers?.get("Nats-Msg-Id") ?? ""
        if (!receivedAt.has(id)) receivedAt.set(id, performance.now())
        received.push(id)
      }
    })()

    const appends = yield* FiberSet.make<void>()
    const interval = (1_000 * config.eventsPerAppend) / config.rate
    const streams = Math.ceil(config.events / PER_STREAM)
    const start = performance.now()
    const end = start + config.seconds * 1_000
    let appended = 0
    for (let n = 0;; n++) {
      const due = start + n * interval
      if (due >= end) break
      const wait = due - performance.now()
      if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
      const events = Array.from({ length: config.eventsPerAppend }, (_, k) => newEvent(n * config.eventsPerAppend + k))
      appended += events.length
      yield* FiberSet.run(
        appends,
        store.append(`${CATEGORY}-${(n * 7919) % streams}`, "any", events).pipe(
          Effect.orDie,
          Effect.tap(() =>
            Effect.sync(() => {
              const now = performance.now()
              for (const e of events) committedAt.set(e.eventId, now)
            })
          )
        )
      )
    }
    yield* FiberSet.awaitEmpty(appends)
    const achievedRate = appended / ((performance.now() - start) / 1_000)
    // Grace for the last messages: up to 10 s after the last commit for the subscriber, 180 s for the inbox
    // (which may fall behind the rate and work off a backlog).
    const lastCommit = performance.now()
    while (receivedAt.size < appended && performance.now() < lastCommit + 10_000) yield* Effect.sleep("20 millis")
    while (inbox !== undefined && inboxAt.size < appended && performance.now() < lastCommit + 180_000) yield* Effect.sleep("20 millis")
    yield* Effect.sleep("200 millis") // a late duplicate would show up here
    if (inbox !== undefined && inboxAt.size < appended) yield* progress(`inbox behind: ${JSON.stringify(yield* inbox.status)}`)
    yield* Effect.promise(() => messages.close().then(() => consuming))
    yield* Scope.close(scope, Effect.void as never)

    const lagsTo = (arrived: ReadonlyMap<string, number>) => {
      const lags: Array<number> = []
      for (const [id, at] of committedAt) {
        const got = arrived.get(id)
        if (got !== undefined) lags.push(Math.max(0, got - at))
      }
      return lags.sort((a, b) => a - b)
    }
    const lags = lagsTo(receivedAt)
    const inboxLags = lagsTo(inboxAt)
    const startLags = lagsTo(inbox?.startedAt ?? new Map())
    const handledRows = inbox === undefined ?
      [{ n: 0, twice: 0 }] :
      yield* (yield* PgClient.PgClient)<{ readonly n: number; readonly twice: number }>`
      SELECT count(*)::int AS n, count(*) FILTER (WHERE applied > 1)::int AS twice FROM bench_inbox`.pipe(Effect.orDie)
    const expected = yield* storedIds(horizon.checkpoint)
    const result = check(expected, received)
    const row = {
      targetRate: config.rate,
      achievedRate,
      events: appended,
      p50Ms: percentile(lags, 0.5),
      p95Ms: percentile(lags, 0.95),
      p99Ms: percentile(lags, 0.99),
      maxMs: lags[lags.length - 1] ?? 0,
      neverReceived: result.missing,
      check: result,
      inbox: inbox === undefined ? undefined : {
        p50Ms: percentile(inboxLags, 0.5),
        p95Ms: percentile(inboxLags, 0.95),
        p99Ms: percentile(inboxLags, 0.99),
        maxMs: inboxLags[inboxLags.length - 1] ?? 0,
        neverHandled: appended - inboxLags.length,
        // To the handler's first call: what delivery takes, the rest is the inbox's own work and queue.
        startP50Ms: percentile(startLags, 0.5),
        startP99Ms: percentile(startLags, 0.99),
        // What it sustained: events over the time from the first append to the last handler commit.
        handledRate: inboxAt.size / (([...inboxAt.values()].reduce((a, b) => Math.max(a, b), start) - start) / 1_000),
        rows: handledRows[0]!.n,
        appliedTwice: handledRows[0]!.twice,
        match: inboxLags.length === appended && handledRows[0]!.n === appended && handledRows[0]!.twice === 0
      }
    }
    yield* progress(`lag: ${JSON.stringify(row)}`)
    yield* progress(`relay cycles while live: ${JSON.stringify(cycles(timings))}`)
    return row
  })

const n = (x: number) => Math.round(x).toLocaleString("en-US")
const ms = (x: number) => x.toFixed(1)

const program = Effect.gen(function*() {
  const databaseUrl = yield* Servers.database(env("DATABASE_URL"))
  const server = yield* Servers.nats(env("NATS_URL"))
  const natsUrl = server.url
  yield* progress(`database ${new URL(databaseUrl).pathname.slice(1)}, NATS ${natsUrl}`)
  const nc = yield* Effect.acquireRelease(Effect.promise(() => connect({ servers: natsUrl })), (c) => Effect.promise(() => c.close()))
  const results = yield* Effect.gen(function*() {
    const seeded = yield* seed
    const natsCpu = server.cpuSeconds()
    const relayed = { ...(yield* throughput(natsUrl, nc)), natsCpuSeconds: server.cpuSeconds() - natsCpu }
    const lagged = yield* lag(natsUrl, nc)
    return { seeded, relayed, lagged }
  }).pipe(
    Effect.provide(PgEventStore.layer().pipe(Layer.provideMerge(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 10 }))))
  )
  const { seeded, relayed, lagged } = results
  const cpus = Os.cpus()
  const out = [
    `## Relay: event store -> NATS JetStream`,
    ``,
    `${Os.availableParallelism()} cores (${cpus[0]?.model.trim() ?? "unknown"}), Node ${process.version}, ${Servers.natsVersion()}, PostgreSQL ${
      env("DATABASE_URL") === undefined ? "embedded" : "DATABASE_URL"
    }; seeded ${n(seeded.events)} events in ${seeded.seconds.toFixed(1)} s.`,
    ``,
    `| store size | events/s | seconds | Node CPU s | nats-server CPU s | batch size | in flight | broker ack timeout | check |`,
    `|---:|---:|---:|---:|---:|---:|---:|---|---|`,
    `| ${n(seeded.events)} | ${n(relayed.eventsPerSecond)} | ${relayed.seconds.toFixed(1)} | ${relayed.nodeCpuSeconds.toFixed(1)} | ${
      relayed.natsCpuSeconds.toFixed(1)
    } | ${n(config.batch)} | ${n(config.batch)} (one batch) | ${Duration.toMillis(config.ackTimeout)} ms | ${
      relayed.check.match ? "MATCH" : "MISMATCH"
    } (${n(relayed.check.received)} received, ${n(relayed.check.missing)} missing, ${n(relayed.check.duplicates)} duplicates, ${
      n(relayed.check.outOfOrder)
    } out of order) |`,
    ``,
    `Lag: append commit -> message received by an ordered JetStream consumer (live batch ${config.liveBatch}, ${config.eventsPerAppend} events per append).`,
    ``,
    `| target rate | achieved | seconds | events | p50 ms | p95 ms | p99 ms | max ms | never received | check |`,
    `|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|`,
    `| ${n(lagged.targetRate)}/s | ${n(lagged.achievedRate)}/s | ${config.seconds} | ${n(lagged.events)} | ${ms(lagged.p50Ms)} | ${
      ms(lagged.p95Ms)
    } | ${ms(lagged.p99Ms)} | ${ms(lagged.maxMs)} | ${n(lagged.neverReceived)} | ${lagged.check.match ? "MATCH" : "MISMATCH"} |`,
    ``
  ]
  const inbox = lagged.inbox
  if (inbox !== undefined) {
    out.push(
      `Lag: append commit -> the inbox's handler transaction committed (same appends; one row per event, \`Inbox\` defaults).`,
      ``,
      `| target rate | achieved | inbox handled | seconds | events | p50 ms | p95 ms | p99 ms | max ms | handler start p50 / p99 ms | never handled | applied twice | check |`,
      `|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|`,
      `| ${n(lagged.targetRate)}/s | ${n(lagged.achievedRate)}/s | ${n(inbox.handledRate)}/s | ${config.seconds} | ${n(lagged.events)} | ${
        ms(inbox.p50Ms)
      } | ${ms(inbox.p95Ms)} | ${ms(inbox.p99Ms)} | ${ms(inbox.maxMs)} | ${ms(inbox.startP50Ms)} / ${ms(inbox.startP99Ms)} | ${
        n(inbox.neverHandled)
      } | ${n(inbox.appliedTwice)} | ${inbox.match ? "MATCH" : "MISMATCH"} |`,
      ``
    )
  }
  process.stdout.write(out.join("\n"))
  return relayed.check.match && lagged.check.match && (inbox === undefined || inbox.match)
})

Effect.runPromise(Effect.scoped(program)).then(
  (ok) => process.exit(ok ? 0 : 1),
  (error) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
