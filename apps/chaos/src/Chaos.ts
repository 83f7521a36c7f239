/**
 * One chaos run, start to finish: a fresh embedded PostgreSQL of its own in a temp folder, the store's
 * migrations (run once by `replayer status` before the processes start), N API processes
 * and M `replayer follow` workers on it, the load for the given duration while the faults are injected,
 * then the checks. Everything it started is stopped when it returns; the folder (database, process logs)
 * is deleted unless the run failed or `keep` is set. The report's `passed` says whether every check held.
 */
import { MasterKeys } from "@verity/eventstore"
import { EmbeddedPostgres } from "@verity/postgres"
import { Effect, Fiber, Schema } from "effect"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Checks from "./Checks.ts"
import * as Database from "./Database.ts"
import * as Faults from "./Faults.ts"
import * as Load from "./Load.ts"
import * as Processes from "./Processes.ts"
import type { ChaosReport, Settings } from "./Report.ts"
import * as Seeded from "./Seeded.ts"

export interface ChaosOptions {
  readonly durationMs: number
  readonly apis: number
  readonly workers: number
  readonly accounts: number
  readonly clients: number
  readonly seed: number
  /** Forced faults at chosen offsets; without them faults are drawn from the seed. */
  readonly faults?: ReadonlyArray<Faults.ScheduledFault>
  /** The kinds of faults drawn from the seed (default: all). */
  readonly faultKinds?: ReadonlyArray<Faults.FaultKind>
  readonly databaseDownMs?: number
  /** Share of commands whose first attempt the client abandons after a few ms (default 5%). */
  readonly abandonRate?: number
  /** Longest wait for recovery after a fault, for a command's answer after the load, for catching up. */
  readonly recoveryLimitMs?: number
  readonly keep?: boolean
  /**
   * Runs on the database after the load and before the checks: a test damages the ledger with it (a
   * duplicated event, say) to prove that the checks catch what they claim to catch.
   */
  readonly beforeChecks?: (databaseUrl: string) => Effect.Effect<void, unknown>
  readonly progress?: (line: string) => void
}

export class ChaosSetupFailed extends Schema.TaggedError<ChaosSetupFailed>()("ChaosSetupFailed", { message: Schema.String, folder: Schema.String }) {}

const distinctPorts = (count: number, taken: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const ports: Array<number> = []
    while (ports.length < count) {
      const port = yield* EmbeddedPostgres.freePort
      if (!ports.includes(port) && !taken.includes(port)) ports.push(port)
    }
    return ports
  })

export const run = (options: ChaosOptions): Effect.Effect<ChaosReport, ChaosSetupFailed> =>
  Effect.gen(function*() {
    const began = Date.now()
    const progress = options.progress ?? (() => undefined)
    const recoveryLimitMs = options.recoveryLimitMs ?? 60_000
    const databaseDownMs = options.databaseDownMs ?? 2_000
    const folder = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "verity-chaos-")))
    const settings: Settings = {
      durationMs: options.durationMs,
      apis: options.apis,
      workers: options.workers,
      accounts: options.accounts,
      clients: options.clients,
      seed: options.seed,
      databaseDownMs,
      forcedFaults: options.faults !== undefined
    }
    const setupFailed = (message: string) => new ChaosSetupFailed({ message, folder })

    const report = yield* Effect.scoped(Effect.gen(function*() {
      const database = yield* Database.make(folder).pipe(Effect.mapError((e) => setupFailed(e.message)))
      progress(`database: ${database.dataDir} on ${database.url.replace(/:[^:@/]*@/, ":***@")}`)
      const masterKeys = MasterKeys.generate("chaos1")
      const token = randomBytes(24).toString("base64url")
      // Any process would migrate (the migrator locks its table); one first keeps the start quiet.
      const migrated = yield* Checks.replayer({ databaseUrl: database.url, masterKeys }, ["status"])
      if (migrated.code !== 0) return yield* setupFailed(`replayer status failed: ${migrated.stderr.trim()}`)
      const port = Number(new URL(database.url).port)
      const apiPorts = yield* distinctPorts(options.apis, [port]).pipe(Effect.mapError((e) => setupFailed(e.message)))
      const processes = yield* Processes.make({
        root: folder,
        databaseUrl: database.url,
        masterKeys,
        apiTokens: `chaos:${token}:read,write,admin`,
        apiPorts,
        workers: options.workers
      })
      yield* processes.waitAllReady(120_000).pipe(Effect.mapError((e) => setupFailed(e.message)))
      progress(`${options.apis} APIs (${processes.apiUrls.join(", ")}) and ${options.workers} workers ready; load for ${options.durationMs / 1000} s`)

      // Two sources: the fault schedule repeats exactly for a seed, whatever the clients' timing does.
      const schedule = options.faults ??
        Faults.randomSchedule(Seeded.make(options.seed), options.durationMs, options.apis, options.workers, options.faultKinds)
      const random = Seeded.make(options.seed + 1)
      const startedAt = Date.now()
      const until = startedAt + options.durationMs
      let lastAcknowledgedAt = 0
      let faultsDoneAt: number | undefined
      const injector = yield* Faults.run({
        schedule,
        startedAt,
        database,
        processes,
        databaseDownMs,
        recoveryLimitMs,
        ...(options.faults === undefined ? { skipAfter: until - 5_000 } : {}),
        lastAcknowledgedAt: () => lastAcknowledgedAt,
        progress
      }).pipe(Effect.tap(() => Effect.sync(() => (faultsDoneAt = Date.now()))), Effect.forkChild)
      const load = yield* Load.run({
        apiUrls: processes.apiUrls,
        token,
        accounts: options.accounts,
        clients: options.clients,
        random,
        abandonRate: options.abandonRate ?? 0.05,
        // The load lasts at least as long as the faults: a fault's recovery is proven by acknowledged commands.
        running: () => Date.now() < until || faultsDoneAt === undefined,
        // A command still unanswered is given up only once the faults are over and recovery had its time.
        giveUpAt: () => Math.max(until, faultsDoneAt ?? Number.POSITIVE_INFINITY) + recoveryLimitMs,
        onAnswer: (at, status) => {
          if (status < 300) lastAcknowledgedAt = at
        }
      })
      const faults = yield* Fiber.join(injector)
      progress(`load done: ${load.traffic.commands} commands, ${load.traffic.acknowledged} acknowledged; checking`)
      if (options.beforeChecks !== undefined) {
        yield* options.beforeChecks(database.url).pipe(Effect.mapError((e) => setupFailed(`before the checks: ${String(e)}`)))
      }
      const checked = yield* Checks.run({
        databaseUrl: database.url,
        masterKeys,
        apiUrls: processes.apiUrls,
        token,
        load,
        faults,
        catchUpLimitMs: recoveryLimitMs
      }).pipe(Effect.mapError((e) => setupFailed(e.message)))
      const allChecks = [...checked.checks]
      return {
        settings,
        seconds: 0,
        traffic: load.traffic,
        faults,
        counts: Faults.counts(faults),
        exits: [...processes.exits()],
        checks: allChecks,
        figures: checked.figures,
        passed: allChecks.every((c) => c.passed),
        folder
      } satisfies ChaosReport
    }))
    if (report.passed && options.keep !== true) {
      yield* Effect.promise(() => Fs.rm(folder, { recursive: true, force: true }))
    }
    return { ...report, seconds: (Date.now() - began) / 1000 }
  })
