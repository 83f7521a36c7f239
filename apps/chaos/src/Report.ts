/**
 * What a chaos run reports: its settings, the traffic (commands sent, acknowledged, retried, 503s seen...),
 * the faults (kills per kind, database restarts, connection terminations, time to recover from each), the
 * processes that exited by themselves, the final figures and every check with its verdict. `render` prints
 * it as plain text (the README quotes it); `passed` is what the exit code follows.
 */
import type { Check, Figures } from "./Checks.ts"
import { describe, type FaultCounts, type FaultRecord } from "./Faults.ts"
import type { Traffic } from "./Load.ts"
import type { Exited } from "./Processes.ts"

export interface Settings {
  readonly durationMs: number
  readonly apis: number
  readonly workers: number
  readonly accounts: number
  readonly clients: number
  readonly seed: number
  readonly databaseDownMs: number
  readonly forcedFaults: boolean
}

export interface ChaosReport {
  readonly settings: Settings
  readonly seconds: number
  readonly traffic: Traffic
  readonly faults: ReadonlyArray<FaultRecord>
  readonly counts: FaultCounts
  readonly exits: ReadonlyArray<Exited>
  readonly checks: ReadonlyArray<Check>
  readonly figures: Figures | undefined
  readonly passed: boolean
  /** The run's folder (database and process logs), kept when the run failed or was asked to keep it. */
  readonly folder: string
}

const ms = (n: number | undefined) => (n === undefined ? "never" : `${(n / 1000).toFixed(2)} s`)

export const recoveryTimes = (faults: ReadonlyArray<FaultRecord>) => {
  const times = faults.flatMap((f) => (f.injected && f.recoveredMs !== undefined ? [f.recoveredMs] : []))
  if (times.length === 0) return undefined
  const sorted = [...times].sort((a, b) => a - b)
  return { max: sorted[sorted.length - 1]!, median: sorted[Math.floor(sorted.length / 2)]! }
}

export const render = (report: ChaosReport): string => {
  const s = report.settings
  const t = report.traffic
  const c = report.counts
  const lines: Array<string> = []
  lines.push(
    `chaos run: ${s.apis} APIs + ${s.workers} workers, ${s.accounts} accounts, ${s.clients} clients, ` +
      `${ms(s.durationMs)} of load, seed ${s.seed}, ${s.forcedFaults ? "forced" : "random"} faults; took ${report.seconds.toFixed(1)} s`
  )
  lines.push(
    `commands: ${t.commands} sent, ${t.acknowledged} acknowledged, ${t.rejected} rejected (4xx), ` +
      `${t.unanswered} unanswered; ${t.retried} retried, ${t.attempts} attempts, ${t.replayed} answered by replay`
  )
  lines.push(
    `not definitive: ${t.status503} x 503 (${t.status503WithoutRetryAfter} without Retry-After), ${t.status500} x 500, ${t.otherStatus5xx} x other 5xx, ` +
      `${t.connectionErrors} connection errors, ${t.keyInUse} x 409 IdempotencyKeyInUse, ` +
      `${t.abandoned} first attempts abandoned by the client`
  )
  lines.push(`answers by status: ${Object.entries(t.byStatus).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}: ${v}`).join(", ")}`)
  const recovery = recoveryTimes(report.faults)
  lines.push(
    `faults: ${c.apiKills} API kills, ${c.workerKills} worker kills, ${c.databaseRestarts} database restarts, ` +
      `${c.connectionTerminations} connection terminations; time to recover: ` +
      (recovery === undefined ? "-" : `median ${ms(recovery.median)}, max ${ms(recovery.max)}`)
  )
  for (const f of report.faults) {
    lines.push(`  ${(f.atMs / 1000).toFixed(1).padStart(6)} s  ${describe(f.fault)} (${f.detail}): recovered in ${ms(f.recoveredMs)}`)
  }
  lines.push(
    `exits nobody asked for: ${
      report.exits.length === 0 ? "none" : report.exits.map((e) => `${e.kind}-${e.index} (${e.code ?? e.signal})`).join(", ")
    }`
  )
  const f = report.figures
  if (f !== undefined) {
    lines.push(
      `ledger: deposited ${f.deposited}, withdrew ${f.withdrawn}, balances ${f.balanceFromEvents} (events) / ${f.balanceFromApi} (API); ` +
        `${f.transfers} transfers: ${f.transfersCompleted} completed, ${f.transfersFailed} failed; ${f.events} events; ` +
        (f.caughtUp ? `projections caught up ${ms(f.catchUpMs)} after the load` : `projections NOT caught up ${ms(f.catchUpMs)} after the load`)
    )
  }
  lines.push("checks:")
  for (const check of report.checks) lines.push(`  ${check.passed ? "PASS" : "FAIL"}  ${check.name}: ${check.detail}`)
  lines.push(report.passed ? "chaos run passed" : `chaos run FAILED (logs and database in ${report.folder})`)
  return lines.join("\n")
}
