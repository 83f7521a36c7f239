/**
 * The faults of a chaos run and when they happen. A schedule is either forced (a list of faults at chosen
 * offsets: the test suite uses it, so the counts are exact) or drawn from the seed (the command line). The
 * injector applies them in order, one at a time: SIGKILL of an API or a worker (the supervisor restarts it),
 * a database restart (SIGKILL of the postmaster, a pause, a start on the same folder and port) or the
 * termination of every connection. After each fault it measures the time to recover: until every process is
 * ready again and a command was acknowledged after the fault. A fault that does not recover within the
 * limit is recorded as such (a failed check), and the next fault still runs.
 */
import { Effect, Schema } from "effect"
import type { ChaosDatabase } from "./Database.ts"
import type { Processes } from "./Processes.ts"
import type { Seeded } from "./Seeded.ts"

export const Fault = Schema.Union([
  Schema.TaggedStruct("KillApi", { index: Schema.Int }),
  Schema.TaggedStruct("KillWorker", { index: Schema.Int }),
  Schema.TaggedStruct("RestartDatabase", {}),
  Schema.TaggedStruct("TerminateConnections", {})
]).pipe(Schema.toTaggedUnion("_tag"))
export type Fault = typeof Fault.Type

export interface ScheduledFault {
  /** Milliseconds after the load started. */
  readonly atMs: number
  readonly fault: Fault
}

export interface FaultRecord {
  readonly fault: Fault
  readonly atMs: number
  /** False when the fault could not be applied (its target never came up): not counted. */
  readonly injected: boolean
  /**
   * Time from the end of the fault (the kill sent; the database started again; the connections ended) until
   * every process was ready and a command was acknowledged again; undefined: not recovered.
   */
  readonly recoveredMs: number | undefined
  readonly detail: string
}

export interface FaultCounts {
  readonly apiKills: number
  readonly workerKills: number
  readonly databaseRestarts: number
  readonly connectionTerminations: number
}

export class FaultFailed extends Schema.TaggedError<FaultFailed>()("FaultFailed", { message: Schema.String }) {}

export const describe = (fault: Fault): string =>
  Fault.match(fault, {
    KillApi: (f) => `SIGKILL api-${f.index}`,
    KillWorker: (f) => `SIGKILL worker-${f.index}`,
    RestartDatabase: () => "restart the database (SIGKILL of the postmaster)",
    TerminateConnections: () => "pg_terminate_backend of every connection"
  })

export const counts = (all: ReadonlyArray<FaultRecord>): FaultCounts => {
  const records = all.filter((r) => r.injected)
  return {
    apiKills: records.filter((r) => r.fault._tag === "KillApi").length,
    workerKills: records.filter((r) => r.fault._tag === "KillWorker").length,
    databaseRestarts: records.filter((r) => r.fault._tag === "RestartDatabase").length,
    connectionTerminations: records.filter((r) => r.fault._tag === "TerminateConnections").length
  }
}

export type FaultKind = Fault["_tag"]
export const FAULT_KINDS: ReadonlyArray<FaultKind> = ["KillApi", "KillWorker", "RestartDatabase", "TerminateConnections"]
/** How often each kind is drawn, relative to the others. */
const WEIGHT: Record<FaultKind, number> = { KillApi: 35, KillWorker: 25, RestartDatabase: 20, TerminateConnections: 20 }

/**
 * Faults drawn from the seed, of the given kinds: from 5 s in, one every 3-8 s, none in the last 5 s of
 * the load.
 */
export const randomSchedule = (
  random: Seeded,
  durationMs: number,
  apis: number,
  workers: number,
  kinds: ReadonlyArray<FaultKind> = FAULT_KINDS
): ReadonlyArray<ScheduledFault> => {
  const schedule: Array<ScheduledFault> = []
  const usable = kinds.filter((kind) => kind !== "KillWorker" || workers > 0)
  const total = usable.reduce((sum, kind) => sum + WEIGHT[kind], 0)
  let at = 5_000
  while (usable.length > 0 && at <= durationMs - 5_000) {
    let roll = random.next() * total
    const kind = usable.find((k) => (roll -= WEIGHT[k]) < 0) ?? usable[usable.length - 1]!
    const fault: Fault = kind === "KillApi"
      ? { _tag: "KillApi", index: random.int(0, apis - 1) }
      : kind === "KillWorker"
      ? { _tag: "KillWorker", index: random.int(0, workers - 1) }
      : { _tag: kind }
    schedule.push({ atMs: at, fault })
    at += random.int(3_000, 8_000)
  }
  return schedule
}

export interface InjectorOptions {
  readonly schedule: ReadonlyArray<ScheduledFault>
  readonly startedAt: number
  readonly database: ChaosDatabase
  readonly processes: Processes
  /** How long the database stays down on a restart. */
  readonly databaseDownMs: number
  readonly recoveryLimitMs: number
  /**
   * Epoch ms after which faults not yet started are left out (the random schedule: recoveries push faults
   * later, and the load should not outlast its duration for them). A forced schedule runs whole.
   */
  readonly skipAfter?: number
  /** Epoch ms of the latest acknowledged command. */
  readonly lastAcknowledgedAt: () => number
  readonly progress: (line: string) => void
}

const inject = (options: InjectorOptions, fault: Fault): Effect.Effect<string, FaultFailed> =>
  Fault.match(fault, {
    KillApi: (f) => Effect.map(options.processes.kill("api", f.index), (pid) => `pid ${pid}`),
    KillWorker: (f) => Effect.map(options.processes.kill("worker", f.index), (pid) => `pid ${pid}`),
    RestartDatabase: () =>
      Effect.gen(function*() {
        const pid = yield* options.database.kill
        yield* Effect.sleep(options.databaseDownMs)
        const started = Date.now()
        yield* options.database.restart
        return `postmaster ${pid}, down ${options.databaseDownMs} ms, restart took ${Date.now() - started} ms`
      }),
    TerminateConnections: () => Effect.map(options.database.terminateBackends, (n) => `${n} connections ended`)
  }).pipe(Effect.mapError((e) => new FaultFailed({ message: `${describe(fault)}: ${e.message}` })))

/** Waits until every process is ready and a command was acknowledged after `since`; the time it took. */
const recovery = (options: InjectorOptions, since: number) =>
  Effect.gen(function*() {
    yield* options.processes.waitAllReady(options.recoveryLimitMs)
    yield* Effect.sleep("50 millis").pipe(
      Effect.repeat({ until: () => options.lastAcknowledgedAt() > since }),
      Effect.timeoutOrElse({ duration: options.recoveryLimitMs, orElse: () => Effect.fail(new FaultFailed({ message: "no command acknowledged" })) })
    )
    return Date.now() - since
  })

/** Applies the schedule in order; returns what happened to each fault that was started. */
export const run = (options: InjectorOptions): Effect.Effect<ReadonlyArray<FaultRecord>> =>
  Effect.map(
    Effect.forEach(options.schedule, (scheduled) =>
      Effect.gen(function*() {
        if (options.skipAfter !== undefined && Date.now() > options.skipAfter) return undefined
        const wait = options.startedAt + scheduled.atMs - Date.now()
        if (wait > 0) yield* Effect.sleep(wait)
        const at = Date.now()
        const atMs = at - options.startedAt
        const injected = yield* Effect.result(inject(options, scheduled.fault))
        if (injected._tag === "Failure") {
          options.progress(`${(atMs / 1000).toFixed(1)}s ${describe(scheduled.fault)} FAILED: ${injected.failure.message}`)
          return { fault: scheduled.fault, atMs, injected: false, recoveredMs: undefined, detail: `not injected: ${injected.failure.message}` }
        }
        // Recovery counts from the end of the fault (a restarted database is back): commands acknowledged
        // while it was being applied prove nothing.
        const recovered = yield* Effect.result(recovery(options, Date.now()))
        const recoveredMs = recovered._tag === "Success" ? recovered.success : undefined
        if (recovered._tag === "Failure") {
          // What held things up: the open transactions, with what they wait on.
          const activity = yield* Effect.result(options.database.activity)
          const lines = activity._tag === "Success" ? activity.success : [activity.failure.message]
          options.progress(`not recovered (${recovered.failure.message}); open transactions:\n  ${lines.join("\n  ") || "none"}`)
          return {
            fault: scheduled.fault,
            atMs,
            injected: true,
            recoveredMs,
            detail: `${injected.success}; ${recovered.failure.message}; open transactions: ${lines.slice(0, 8).join(" | ") || "none"}`
          } satisfies FaultRecord
        }
        options.progress(
          `${(atMs / 1000).toFixed(1)}s ${describe(scheduled.fault)} (${injected.success}): ` +
            (recoveredMs === undefined ? `NOT recovered within ${options.recoveryLimitMs} ms` : `recovered in ${recoveredMs} ms`)
        )
        return { fault: scheduled.fault, atMs, injected: true, recoveredMs, detail: injected.success } satisfies FaultRecord
      })),
    (records) => records.filter((r) => r !== undefined)
  )
