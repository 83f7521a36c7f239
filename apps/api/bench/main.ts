/**
 * HTTP benchmark of the real API: starts `node src/main.ts` as a child process on a brand-new database
 * (a fresh database on `DATABASE_URL`'s server, or an embedded PostgreSQL started for the run), opens one
 * account per client, then drives deposits from 32 concurrent keep-alive clients for a fixed time and
 * reports requests/s, p50, p99 and the statuses seen. In the same run and on the same database it measures
 * the raw `EventStore.append` rate at the same concurrency, and where the CPU went (API process, PostgreSQL,
 * this load generator), so the HTTP number can be read against what the store alone does.
 *
 * Settings: DATABASE_URL, BENCH_SECONDS (default 10), BENCH_CLIENTS (32), BENCH_WARMUP_SECONDS (2),
 * BENCH_CLIENT (http | fetch: node:http keep-alive agent, or undici's fetch; default http); passed to the
 * API: VERITY_API_MAX_CONCURRENT, VERITY_API_MAX_CONCURRENT_PER_TOKEN, VERITY_PROJECTIONS.
 * BENCH_SCENARIOS=spread,hot,hot-keyed,hot-mixed runs only the hot-account comparison instead: the same
 * clients depositing spread over one account each, all into ONE account, all into one account with an
 * `Idempotency-Key` on every request, and half of the clients with keys (each scenario on its own fresh
 * accounts, statuses counted).
 * Run: `pnpm --filter @verity/api bench` or `node bench/main.ts` in apps/api.
 */
import { PgClient } from "@effect/sql-pg"
import { EventStore, MasterKeys, PgEventStore } from "@verity/eventstore"
import { EmbeddedPostgres } from "@verity/postgres"
import { Effect, Layer, Redacted } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import * as ServerProcess from "../test/support/ServerProcess.ts"
import * as Cpu from "./Cpu.ts"
import * as Load from "./Load.ts"

const env = (name: string, fallback: number) => {
  const value = Number(process.env[name])
  return Number.isFinite(value) && value > 0 ? value : fallback
}
const SECONDS = env("BENCH_SECONDS", 10)
const WARMUP = env("BENCH_WARMUP_SECONDS", 2)
const CLIENTS = env("BENCH_CLIENTS", 32)
const CLIENT_KIND = process.env["BENCH_CLIENT"] === "fetch" ? "fetch" : "http"
const TOKEN = "bench-token-0123456789abcdef"
const SCENARIOS = (process.env["BENCH_SCENARIOS"] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "")
const KNOWN_SCENARIOS = ["spread", "hot", "hot-keyed", "hot-mixed"]

const withDatabase = (url: string, database: string) => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

const admin = <A, E>(url: string, f: (sql: PgClient.PgClient) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    return yield* f(yield* PgClient.PgClient)
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })))

/** A fresh database for the run, on DATABASE_URL's server or on an embedded one; dropped at the end. */
const database = Effect.gen(function*() {
  const configured = process.env["DATABASE_URL"]
  const serverUrl = configured !== undefined && configured !== ""
    ? configured
    : (yield* EmbeddedPostgres.start({
      dataDir: Path.join(Os.tmpdir(), `verity-api-bench-pg-${process.pid}`),
      ephemeral: true
    })).url
  const name = `verity_api_bench_${Date.now().toString(36)}`
  yield* Effect.acquireRelease(
    admin(serverUrl, (sql) => sql`CREATE DATABASE ${sql(name)}`),
    () => admin(serverUrl, (sql) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`).pipe(Effect.ignore)
  )
  const version = yield* admin(serverUrl, (sql) => sql<{ v: string }>`SELECT current_setting('server_version') AS v`)
  return { url: withDatabase(serverUrl, name), embedded: configured === undefined || configured === "", version: version[0]?.v ?? "?" }
})

/** Raw `EventStore.append` (no HTTP, no command handler, no encryption) at the same concurrency. */
const rawAppends = (url: string, seconds: number) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const streams = Array.from({ length: CLIENTS }, () => `benchraw-${crypto.randomUUID()}`)
    const latencies: Array<number> = []
    const run = (deadline: number, record: boolean) =>
      Effect.forEach(streams, (stream) =>
        Effect.gen(function*() {
          while (performance.now() < deadline) {
            const started = performance.now()
            yield* store.append(stream, "any", [{ eventId: crypto.randomUUID(), type: "BenchEvent", data: { amount: 1 } }], {
              metadata: { correlationId: crypto.randomUUID(), actor: "bench" }
            })
            if (record) latencies.push(performance.now() - started)
          }
        }), { concurrency: "unbounded", discard: true })
    yield* run(performance.now() + WARMUP * 1000, false)
    const started = performance.now()
    yield* run(started + seconds * 1000, true)
    return Load.summarize(latencies, (performance.now() - started) / 1000)
  }).pipe(
    Effect.provide(PgEventStore.layer().pipe(Layer.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: CLIENTS + 4 }))))
  )

const fmt = (n: number, digits = 1) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

const program = Effect.gen(function*() {
  const db = yield* database
  console.error(`[bench] PostgreSQL ${db.version} (${db.embedded ? "embedded" : "DATABASE_URL"}), fresh database; starting the API…`)
  const server = yield* Effect.acquireRelease(
    Effect.promise(() =>
      ServerProcess.start({
        DATABASE_URL: db.url,
        VERITY_MASTER_KEYS: MasterKeys.generate("bench"),
        VERITY_API_TOKENS: `bench:${TOKEN}:read,write,admin`,
        LOG_LEVEL: process.env["LOG_LEVEL"] ?? "Info",
        ...(process.env["VERITY_API_MAX_CONCURRENT"] === undefined ? {} : { VERITY_API_MAX_CONCURRENT: process.env["VERITY_API_MAX_CONCURRENT"] }),
        // All clients share one token, which holds at most its share of the request slots (16 of 32 by
        // default; the rest queue): raise it to measure the API without the per-token cap.
        ...(process.env["VERITY_API_MAX_CONCURRENT_PER_TOKEN"] === undefined
          ? {}
          : { VERITY_API_MAX_CONCURRENT_PER_TOKEN: process.env["VERITY_API_MAX_CONCURRENT_PER_TOKEN"] }),
        ...(process.env["VERITY_PROJECTIONS"] === undefined ? {} : { VERITY_PROJECTIONS: process.env["VERITY_PROJECTIONS"] })
      }, { probe: process.env["VERITY_PROJECTIONS"] === "off" ? "/health" : "/ready" })
    ),
    (s) => Effect.promise(() => s.stop())
  )
  const client = Load.makeClient(server.url, TOKEN, CLIENT_KIND, CLIENTS)
  if (SCENARIOS.length > 0) return yield* hotAccount(client, db, server.pid)
  const accounts = yield* Effect.promise(() => Load.openAccounts(client, CLIENTS))
  console.error(`[bench] ${CLIENTS} accounts open; warming up ${WARMUP}s, then ${SECONDS}s of deposits (${CLIENT_KIND} client)…`)
  yield* Effect.promise(() => Load.deposits(client, accounts, WARMUP))
  const cpu = Cpu.start(server.pid)
  const http = yield* Effect.promise(() => Load.deposits(client, accounts, SECONDS))
  const httpCpu = cpu.stop()
  console.error(`[bench] measuring raw EventStore.append on the same database…`)
  const rawCpu = Cpu.start(server.pid)
  const raw = yield* rawAppends(db.url, SECONDS)
  const rawUsage = rawCpu.stop()
  client.close()

  const lines = [
    `## API benchmark (${new Date().toISOString()})`,
    "",
    `Node ${process.version}, ${Os.cpus().length} cores, PostgreSQL ${db.version} (${db.embedded ? "embedded" : "server"}), ` +
    `${CLIENTS} clients, ${SECONDS}s measured after ${WARMUP}s warm-up, ${CLIENT_KIND} client with keep-alive.`,
    "",
    "| scenario | requests/s | p50 ms | p99 ms | max ms | ok | other statuses |",
    "|---|---:|---:|---:|---:|---:|---|",
    `| POST /accounts/{id}/deposits (HTTP, full stack) | ${fmt(http.perSecond, 0)} | ${fmt(http.p50, 2)} | ${fmt(http.p99, 2)} | ${
      fmt(http.max, 1)
    } | ${http.ok} | ${Load.formatStatuses(http.statuses)} |`,
    `| EventStore.append, 1 event (raw, in process) | ${fmt(raw.perSecond, 0)} | ${fmt(raw.p50, 2)} | ${fmt(raw.p99, 2)} | ${
      fmt(raw.max, 1)
    } | ${raw.count} | |`,
    "",
    `HTTP / raw append: ${fmt((http.perSecond / raw.perSecond) * 100, 0)}%.`,
    "",
    "CPU during each run, % of one core (200% = the whole 2-core machine):",
    "",
    "| run | API process | PostgreSQL | load generator / bench | idle |",
    "|---|---:|---:|---:|---:|",
    `| HTTP deposits | ${fmt(httpCpu.api, 0)} | ${fmt(httpCpu.postgres, 0)} | ${fmt(httpCpu.bench, 0)} | ${fmt(httpCpu.idle, 0)} |`,
    `| raw appends | ${fmt(rawUsage.api, 0)} | ${fmt(rawUsage.postgres, 0)} | ${fmt(rawUsage.bench, 0)} | ${fmt(rawUsage.idle, 0)} |`
  ]
  console.log(lines.join("\n"))
})

/** The hot-account comparison (BENCH_SCENARIOS): one row per scenario. */
const hotAccount = (client: Load.Client, db: { readonly version: string; readonly embedded: boolean }, pid: number) =>
  Effect.gen(function*() {
    const unknown = SCENARIOS.filter((s) => !KNOWN_SCENARIOS.includes(s))
    if (unknown.length > 0) return yield* Effect.die(new Error(`unknown BENCH_SCENARIOS: ${unknown.join(", ")} (${KNOWN_SCENARIOS.join(", ")})`))
    const rows: Array<string> = []
    const results = new Map<string, Load.Summary>()
    for (const scenario of SCENARIOS) {
      const opened = yield* Effect.promise(() => Load.openAccounts(client, scenario === "spread" ? CLIENTS : 1))
      const accounts = scenario === "spread" ? opened : Array.from({ length: CLIENTS }, () => opened[0]!)
      const options = { idempotencyKeys: scenario === "hot-keyed" ? true : scenario === "hot-mixed" ? "half" as const : false }
      console.error(`[bench] ${scenario}: ${CLIENTS} clients on ${new Set(accounts).size} account(s); warm-up ${WARMUP}s, then ${SECONDS}s…`)
      yield* Effect.promise(() => Load.deposits(client, accounts, WARMUP, options))
      const cpu = Cpu.start(pid)
      const result = yield* Effect.promise(() => Load.deposits(client, accounts, SECONDS, options))
      const usage = cpu.stop()
      // CPU of the API process per request answered: steadier than requests/s on a busy machine.
      const cpuPerRequest = (usage.api / 100) * SECONDS * 1000 / Math.max(1, result.count)
      results.set(scenario, result)
      const label = scenario === "spread"
        ? `deposits spread over ${CLIENTS} accounts`
        : scenario === "hot"
        ? `deposits into one hot account`
        : scenario === "hot-keyed"
        ? `deposits into one hot account, Idempotency-Key on each`
        : `deposits into one hot account, half of the clients with Idempotency-Key`
      const conflicts = result.statuses.get(409) ?? 0
      rows.push(
        `| ${label} | ${fmt(result.perSecond, 0)} | ${fmt(result.p50, 2)} | ${fmt(result.p99, 2)} | ${
          fmt(result.max, 1)
        } | ${result.ok} | ${conflicts} (${fmt((conflicts / Math.max(1, result.count)) * 100, 2)}%) | ${fmt(usage.api, 0)}% | ${
          fmt(cpuPerRequest, 2)
        } | ${Load.formatStatuses(result.statuses)} |`
      )
    }
    client.close()
    const spread = results.get("spread")
    const hot = results.get("hot")
    console.log([
      `## API benchmark: hot account (${new Date().toISOString()})`,
      "",
      `Node ${process.version}, ${Os.cpus().length} cores, PostgreSQL ${db.version} (${db.embedded ? "embedded" : "server"}), ` +
      `${CLIENTS} clients, one API process, ${SECONDS}s measured after ${WARMUP}s warm-up, ${CLIENT_KIND} client with keep-alive.`,
      "",
      "| scenario | requests/s | p50 ms | p99 ms | max ms | ok | 409 | API CPU | API CPU ms/request | other statuses |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
      ...rows,
      ...(spread !== undefined && hot !== undefined ? ["", `Hot / spread: ${fmt((hot.perSecond / spread.perSecond) * 100, 0)}%.`] : [])
    ].join("\n"))
  })

Effect.runPromise(Effect.scoped(program)).catch((error) => {
  console.error(error)
  process.exit(1)
})
