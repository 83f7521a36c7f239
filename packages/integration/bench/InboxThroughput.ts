/**
 * `node bench/InboxThroughput.ts` (or `pnpm run bench:inbox`): the inbox's throughput, JetStream -> PostgreSQL.
 *
 * One process, a fresh database (DATABASE_URL's server, else an embedded PostgreSQL) and a NATS server of its
 * own (or NATS_URL). BENCH_INBOX_MESSAGES messages (default 20,000, 100 per source stream) are published
 * first; then, per batch size of BENCH_INBOX_BATCHES (default `1,100`), an inbox of its own (its own durable
 * consumer over the same stream) consumes them all, its handler inserting one row per message. Reported:
 * messages/s from the inbox's start until its status counts every message handled, and a check that
 * every message was applied exactly once (MATCH / MISMATCH; exits with status 1 on a MISMATCH).
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Exit, Layer, Redacted, Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Inbox, JetStreamSink, Relay } from "../src/index.ts"
import * as Servers from "./Servers.ts"

const int = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback)
  return Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback
}
const total = int("BENCH_INBOX_MESSAGES", 20_000)
const batches = (process.env.BENCH_INBOX_BATCHES ?? "1,100").split(",").map((b) => Math.max(1, Math.floor(Number(b))))
const STREAM = "INBOX_BENCH"
const PREFIX = "ibench"
const PER_STREAM = 100

const progress = (line: string) => Effect.sync(() => process.stderr.write(`[bench] ${line}\n`))
const encoder = new TextEncoder()

const publish = (servers: string) =>
  Effect.scoped(Effect.gen(function*() {
    const sink = yield* JetStreamSink.make({ servers, stream: STREAM, prefix: PREFIX })
    for (let from = 0; from < total; from += 1_000) {
      const chunk = Array.from({ length: Math.min(1_000, total - from) }, (_, i) => {
        const n = from + i
        const id = crypto.randomUUID()
        const stream = `parcel-${n % (total / PER_STREAM)}`
        return {
          subject: "parcel.ParcelSent",
          id,
          headers: { [Relay.Headers.eventId]: id, [Relay.Headers.stream]: stream, [Relay.Headers.position]: String(n + 1) },
          payload: encoder.encode(JSON.stringify({ n }))
        }
      })
      yield* sink.publish(chunk)
    }
  }))

const run = (servers: string, batchSize: number) =>
  Effect.gen(function*() {
    const name = `bench_b${batchSize}`
    const scope = yield* Scope.make()
    const started = performance.now()
    const inbox = yield* Inbox.make({
      name,
      servers,
      stream: STREAM,
      batchSize,
      handler: (m) =>
        Effect.gen(function*() {
          const sql = yield* SqlClient
          yield* sql`INSERT INTO bench_effects (consumer, stream, message_id) VALUES (${name}, ${m.stream}, ${m.id})`
        })
    }).pipe(Scope.provide(scope))
    while ((yield* inbox.status).handled < total) yield* Effect.sleep("50 millis")
    const seconds = (performance.now() - started) / 1000
    yield* Scope.close(scope, Exit.void)
    const sql = yield* SqlClient
    const [row] = yield* sql<{ readonly rows: bigint; readonly ids: bigint }>`
      SELECT count(*) AS rows, count(DISTINCT message_id) AS ids FROM bench_effects WHERE consumer = ${name}`
    const exact = Number(row?.rows) === total && Number(row?.ids) === total
    return { batchSize, seconds, rate: total / seconds, exact }
  })

const program = Effect.gen(function*() {
  const databaseUrl = yield* Servers.database(process.env.DATABASE_URL || undefined)
  const server = yield* Servers.nats(process.env.NATS_URL || undefined)
  const pg = yield* Layer.build(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 4 }))
  return yield* Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`CREATE TABLE bench_effects (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, consumer text NOT NULL,
      stream text NOT NULL, message_id text NOT NULL)`
    yield* progress(`publishing ${total} messages`)
    yield* publish(server.url)
    const results = []
    for (const batchSize of batches) {
      yield* progress(`inbox with batchSize ${batchSize}`)
      results.push(yield* run(server.url, batchSize))
    }
    const lines = [
      `Inbox throughput: ${total} messages, ${total / PER_STREAM} source streams, one INSERT per message (${Servers.natsVersion()})`,
      "",
      "| batchSize | seconds | messages/s | exactly once |",
      "|---:|---:|---:|---|",
      ...results.map((r) => `| ${r.batchSize} | ${r.seconds.toFixed(2)} | ${Math.round(r.rate)} | ${r.exact ? "MATCH" : "MISMATCH"} |`)
    ]
    yield* Effect.sync(() => process.stdout.write(`${lines.join("\n")}\n`))
    return results.every((r) => r.exact)
  }).pipe(Effect.provide(pg))
})

Effect.runPromise(Effect.scoped(program)).then(
  (ok) => process.exit(ok ? 0 : 1),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
