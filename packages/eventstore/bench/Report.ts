/**
 * Turns the results into the markdown printed on stdout and the JSON kept in `bench/results/latest.json`
 * (committed, so a change in the numbers shows up in review next to the code that caused it).
 */
import * as Fs from "node:fs/promises"
import type * as Cpu from "./Cpu.ts"
import type { RunResult } from "./Measure.ts"
import type { PollingResult } from "./Polling.ts"
import type { ReadAllResult } from "./ReadAll.ts"
import type { RehydrateResult } from "./Rehydrate.ts"

export interface AppendRow {
  readonly scenario: string
  readonly mode: "raw" | "store" | "plain" | "encrypted"
  readonly batch: number
  readonly result: RunResult
  /** store events/s as a percentage of raw events/s (encrypted: of plain) at the same clients and batch. */
  readonly vsRawPercent: number | undefined
}

export interface Environment {
  readonly generatedAt: string
  readonly node: string
  readonly cores: number
  readonly cpuModel: string
  readonly benchSeconds: number
  readonly warmupSeconds: number
  readonly pool: { readonly maxConnections: number; readonly multiplex: boolean; readonly prepare: boolean }
  readonly notifications: boolean
  readonly groupCommit: boolean
  readonly server: {
    readonly embedded: boolean
    readonly version: string
    readonly settings: Readonly<Record<string, string>>
  }
  readonly payload: { readonly dataBytes: number; readonly metadataBytes: number }
  readonly streamsPerClient: number
  readonly pairSlices: number
}

export interface Results {
  readonly environment: Environment
  readonly appends: ReadonlyArray<AppendRow>
  readonly rehydrate: RehydrateResult
  readonly readAll: ReadAllResult
  readonly polling: PollingResult
}

const int = (n: number) => Math.round(n).toLocaleString("en-US")
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2))
const pct = (n: number) => `${n.toFixed(0)}%`
const cpu = (u: Cpu.Usage) => `${u.bench.toFixed(0)} / ${u.postgres.toFixed(0)} / ${u.other.toFixed(0)}%`

/** Outside CPU load above this (% of one core) marks a measurement as disturbed. */
const DISTURBED_PERCENT = 25
const isDisturbed = (usage: Cpu.Usage) => usage.other > DISTURBED_PERCENT
const flag = (usage: Cpu.Usage) => (isDisturbed(usage) ? " ‡" : "")

const loadLine = (label: string, r: RunResult) =>
  `- ${label}${flag(r.cpu)}: mean ${ms(r.latency.meanMs)} ms, p50 ${ms(r.latency.p50Ms)} ms, p99 ${ms(r.latency.p99Ms)} ms ` +
  `(${int(r.operationsPerSecond)}/s, ${int(r.operations)} runs; CPU ${cpu(r.cpu)})`

export const markdown = (results: Results): string => {
  const { environment: env, rehydrate, readAll } = results
  const lines: Array<string> = []
  const where = env.server.embedded ? "embedded" : "DATABASE_URL"
  lines.push(`## Event store benchmark: PostgreSQL ${env.server.version} (${where})`)
  lines.push("")
  lines.push("| scenario | clients | events/s | p50 ms | p99 ms | ratio | WAL B/event | CPU bench / PG / other |")
  lines.push("|---|---:|---:|---:|---:|---:|---:|---:|")
  let checkpointed = false
  let disturbed = false
  for (const row of results.appends) {
    const r = row.result
    const mark = (r.server.checkpoints > 0 ? " †" : "") + flag(r.cpu)
    checkpointed ||= r.server.checkpoints > 0
    disturbed ||= isDisturbed(r.cpu)
    lines.push(
      `| ${row.scenario}${mark} | ${r.clients} | ${int(r.eventsPerSecond)} | ${ms(r.latency.p50Ms)} | ${ms(r.latency.p99Ms)} | ${
        row.vsRawPercent === undefined ? "" : pct(row.vsRawPercent)
      } | ${int(r.walBytesPerEvent)} | ${cpu(r.cpu)} |`
    )
  }
  lines.push("")
  lines.push("ratio: a store row against the raw INSERT just above it; the encrypted row against the plain one above it.")
  if (checkpointed) {
    lines.push("")
    lines.push("† a checkpoint ran during this measurement: full-page writes inflate its WAL and lower its throughput.")
  }
  lines.push("")
  lines.push(`Rehydrate a ${int(rehydrate.streamLength)}-event stream (1 client, loads back to back):`)
  lines.push(loadLine("CommandHandler.load, no snapshot (read + decode + fold)", rehydrate.loadFull))
  lines.push(loadLine("CommandHandler.load, snapshot at version 1000 (empty tail)", rehydrate.loadSnapshot))
  lines.push(loadLine("bare EventStore.readStream (no decode)", rehydrate.readStream))
  lines.push(loadLine("decode (EventCodec) + fold of the read events, in memory", rehydrate.decodeFold))
  lines.push("")
  lines.push(`Read all (EventStore.streamAll, one full pass over ${int(readAll.totalEvents)} events):`)
  for (const pass of readAll.passes) {
    lines.push(
      `- page size ${int(pass.pageSize)}${flag(pass.cpu)}: ${int(pass.eventsPerSecond)} events/s (${pass.seconds.toFixed(2)} s; CPU ${cpu(pass.cpu)})`
    )
  }
  const rawBest = Math.max(...readAll.raw.map((r) => r.eventsPerSecond))
  for (const r of readAll.raw) {
    lines.push(`- ${r.label}${flag(r.cpu)}: ${int(r.eventsPerSecond)} events/s (${r.seconds.toFixed(2)} s; CPU ${cpu(r.cpu)})`)
  }
  const largest = readAll.passes[readAll.passes.length - 1]
  if (largest !== undefined && readAll.raw.length > 0) {
    lines.push(
      `- streamAll with pages of ${int(largest.pageSize)} against the faster raw read: ${((100 * largest.eventsPerSecond) / rawBest).toFixed(0)}%`
    )
  }
  if (readAll.topUp !== undefined) {
    const t = readAll.topUp
    lines.push(
      `- top-up through EventStore.append (${int(t.batch)} events per append, ${t.concurrency} clients): ${int(t.events)} events at ${
        int(t.eventsPerSecond)
      } events/s`
    )
  }
  lines.push("")
  lines.push(`Polling the global order (a follower's readAll from its checkpoint, back to back, ${int(readAll.totalEvents)}+ events stored):`)
  lines.push(loadLine("idle database (every poll empty)", results.polling.idle))
  lines.push(
    loadLine(
      `next to ${results.polling.appendingClients} appending clients (${int(results.polling.appendsPerSecond)} appends/s meanwhile)`,
      results.polling.busy
    )
  )
  disturbed ||= isDisturbed(results.polling.idle.cpu) || isDisturbed(results.polling.busy.cpu)
  disturbed ||= [rehydrate.loadFull, rehydrate.loadSnapshot, rehydrate.readStream, rehydrate.decodeFold]
    .some((r) => isDisturbed(r.cpu)) ||
    readAll.passes.some((pass) => isDisturbed(pass.cpu)) ||
    readAll.raw.some((pass) => isDisturbed(pass.cpu))
  if (disturbed) {
    lines.push("")
    lines.push(
      `‡ other processes used more than ${DISTURBED_PERCENT}% of a core during this measurement: its numbers (and ratios) ` +
        "are not representative; repeat the run on a quiet machine."
    )
  }
  lines.push("")
  const settings = Object.entries(env.server.settings).map(([k, v]) => `${k}=${v}`).join(", ")
  lines.push(`- PostgreSQL: ${env.server.version} (${where}; ${settings})`)
  lines.push(`- machine: ${env.cores} cores (${env.cpuModel}), Node ${env.node}`)
  lines.push(
    `- BENCH_SECONDS=${env.benchSeconds} per scenario after a ${env.warmupSeconds} s warm-up; the raw and store sides ` +
      `of each append row run in ${env.pairSlices} alternating slices, so outside load hits both alike`
  )
  lines.push(
    `- pool: ${env.pool.maxConnections} connections, multiplex ${env.pool.multiplex ? "on" : "off"}, prepared statements ${
      env.pool.prepare ? "on" : "off"
    }; store notifications ${env.notifications ? "on" : "off"}, group commit ${
      env.groupCommit ? "on" : "off"
    }; each client cycles over ${env.streamsPerClient} streams of its own`
  )
  lines.push(`- payload: ${env.payload.dataBytes} bytes data + ${env.payload.metadataBytes} bytes metadata per event`)
  lines.push("- WAL B/event: WAL written during the measurement (server-wide) divided by the events appended")
  lines.push(
    `- CPU bench / PG / other: CPU time of this benchmark process, of the PostgreSQL processes serving its database, ` +
      `and of everything else on the machine, each as a % of ONE core (${env.cores * 100}% = the whole machine). ` +
      "The benchmark shares the cores with PostgreSQL, so what it uses is taken from the server: the numbers are " +
      "lower bounds for a dedicated database host. A large \"other\" means the run was disturbed: repeat it"
  )
  return lines.join("\n")
}

/** JSON without bigint surprises (every number here is already a JS number). */
export const writeJson = (results: Results) => {
  const directory = new URL("./results/", import.meta.url)
  return Fs.mkdir(directory, { recursive: true }).then(() => Fs.writeFile(new URL("latest.json", directory), `${JSON.stringify(results, null, 2)}\n`))
}
