/**
 * The measuring loop: N clients = N fibers, each running its operation back to back (a closed loop, like
 * N request handlers each waiting for the database), for a fixed duration after an untimed warm-up.
 * Latency is per operation (`performance.now()` around it), so it includes the time spent waiting for a
 * pooled connection and in the Effect runtime: what a caller of the store would see.
 *
 * The machine's cores are shared with PostgreSQL, so the loop keeps its own work to a push into an array
 * per operation, and reports who used the CPU meanwhile (see `Cpu.ts`).
 */
import { Effect } from "effect"
import * as Cpu from "./Cpu.ts"
import * as ServerStats from "./ServerStats.ts"

/** One client's operation: returns how many events it wrote or read. */
export type Operation<E, R> = () => Effect.Effect<number, E, R>

export interface LatencyStats {
  readonly count: number
  readonly meanMs: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

export interface RunResult {
  readonly clients: number
  readonly operations: number
  readonly events: number
  readonly seconds: number
  readonly eventsPerSecond: number
  readonly operationsPerSecond: number
  readonly latency: LatencyStats
  readonly cpu: Cpu.Usage
  readonly server: ServerStats.Delta
  readonly walBytesPerEvent: number
}

/** Nearest-rank percentile of sorted samples. */
const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!

export const latencyStats = (samples: ReadonlyArray<number>): LatencyStats => {
  const sorted = Float64Array.from(samples).sort()
  let sum = 0
  for (const value of sorted) sum += value
  return {
    count: sorted.length,
    meanMs: sorted.length === 0 ? 0 : sum / sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length === 0 ? 0 : sorted[sorted.length - 1]!
  }
}

/** Runs every client's loop until `deadline`; returns the events they reported. */
const phase = <E, R>(operations: ReadonlyArray<Operation<E, R>>, seconds: number, samples: Array<number> | undefined) =>
  Effect.suspend(() => {
    const deadline = performance.now() + seconds * 1000
    return Effect.forEach(
      operations,
      (operation) =>
        Effect.gen(function*() {
          let events = 0
          while (performance.now() < deadline) {
            const started = performance.now()
            events += yield* operation()
            samples?.push(performance.now() - started)
          }
          return events
        }),
      { concurrency: "unbounded" }
    )
  })

export interface RunOptions {
  readonly seconds: number
  readonly warmupSeconds: number
  readonly cpu: Cpu.Meter
  readonly server: Effect.Effect<ServerStats.Sample>
}

/** What one scenario gathered over all its measured slices. */
class Tally {
  readonly samples: Array<number> = []
  events = 0
  millis = 0
  cpu: Cpu.Spent = Cpu.none
  server: ServerStats.Delta = ServerStats.none

  result(clients: number): RunResult {
    const seconds = this.millis / 1000
    return {
      clients,
      operations: this.samples.length,
      events: this.events,
      seconds,
      eventsPerSecond: this.events / seconds,
      operationsPerSecond: this.samples.length / seconds,
      latency: latencyStats(this.samples),
      cpu: Cpu.usage(this.cpu),
      server: this.server,
      walBytesPerEvent: this.events === 0 ? 0 : this.server.walBytes / this.events
    }
  }
}

/** One measured slice of `seconds`, added to `tally`. */
const slice = <E, R>(operations: ReadonlyArray<Operation<E, R>>, seconds: number, tally: Tally, options: RunOptions) =>
  Effect.gen(function*() {
    const serverBefore = yield* options.server
    const before = options.cpu.sample()
    const started = performance.now()
    const perClient = yield* phase(operations, seconds, tally.samples)
    tally.millis += performance.now() - started
    const after = options.cpu.sample()
    tally.server = ServerStats.add(tally.server, ServerStats.delta(serverBefore, yield* options.server))
    tally.cpu = Cpu.add(tally.cpu, options.cpu.spent(before, after))
    for (const events of perClient) tally.events += events
  })

/**
 * Warms up, then measures `operations` (one per client) for `seconds`. The same operation closures run in
 * both phases, so per-client state (e.g. the next stream version) carries over from warm-up.
 */
export const run = <E, R>(operations: ReadonlyArray<Operation<E, R>>, options: RunOptions) =>
  Effect.gen(function*() {
    if (options.warmupSeconds > 0) yield* phase(operations, options.warmupSeconds, undefined)
    const tally = new Tally()
    yield* slice(operations, options.seconds, tally, options)
    return tally.result(operations.length)
  })

/** Slices per side when two scenarios are compared (see `runPair`). */
export const PAIR_SLICES = 5

/**
 * Measures two scenarios meant to be compared (raw vs store) in alternating slices, each side getting
 * `seconds` in total: on a shared machine a burst of outside load then hits both sides alike instead of
 * skewing their ratio, and both see the same table size and checkpoint cycle.
 */
export const runPair = <E, R>(
  a: ReadonlyArray<Operation<E, R>>,
  b: ReadonlyArray<Operation<E, R>>,
  options: RunOptions
) =>
  Effect.gen(function*() {
    if (options.warmupSeconds > 0) {
      yield* phase(a, options.warmupSeconds, undefined)
      yield* phase(b, options.warmupSeconds, undefined)
    }
    const tallyA = new Tally()
    const tallyB = new Tally()
    const seconds = options.seconds / PAIR_SLICES
    for (let i = 0; i < PAIR_SLICES; i++) {
      // Alternate which side goes first, so neither always follows the other's leftovers (dirty pages, WAL).
      if (i % 2 === 0) {
        yield* slice(a, seconds, tallyA, options)
        yield* slice(b, seconds, tallyB, options)
      } else {
        yield* slice(b, seconds, tallyB, options)
        yield* slice(a, seconds, tallyA, options)
      }
    }
    return [tallyA.result(a.length), tallyB.result(b.length)] as const
  })

/** Times one effect (for single long operations such as a full read of the global order). */
export const once = <A, E, R>(cpu: Cpu.Meter, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const before = cpu.sample()
    const started = performance.now()
    const value = yield* effect
    const seconds = (performance.now() - started) / 1000
    const after = cpu.sample()
    return { value, seconds, cpu: Cpu.usage(cpu.spent(before, after)) }
  })

export const progress = (message: string) => Effect.sync(() => process.stderr.write(`[bench] ${message}\n`))
