/**
 * What the relay benchmark checks and reports: received ids against the store's order (missing,
 * duplicates, out of order), percentiles of sorted lags, and a V8 CPU profile around a phase (BENCH_PROFILE=1).
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Inspector from "node:inspector"
import { fileURLToPath } from "node:url"

const progress = (line: string) => Effect.sync(() => process.stderr.write(`[bench] ${line}\n`))

export interface Check {
  readonly expected: number
  readonly received: number
  readonly missing: number
  readonly duplicates: number
  readonly outOfOrder: number
  readonly match: boolean
}

export const check = (expected: ReadonlyArray<string>, received: ReadonlyArray<string>): Check => {
  const want = new Set(expected)
  const seen = new Set<string>()
  let duplicates = 0
  for (const id of received) {
    if (seen.has(id)) duplicates++
    seen.add(id)
  }
  let missing = 0
  for (const id of want) if (!seen.has(id)) missing++
  let outOfOrder = 0
  for (let i = 0; i < Math.max(expected.length, received.length); i++) if (expected[i] !== received[i]) outOfOrder++
  return {
    expected: expected.length,
    received: received.length,
    missing,
    duplicates,
    outOfOrder,
    match: missing === 0 && duplicates === 0 && outOfOrder === 0 && expected.length === received.length
  }
}

export const percentile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!

export const profiled = <A, E, R>(effect: Effect.Effect<A, E, R>) => {
  if (process.env["BENCH_PROFILE"] !== "1") return effect
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
    const file = fileURLToPath(new URL("./results/relay-throughput.cpuprofile", import.meta.url))
    Fs.mkdirSync(fileURLToPath(new URL("./results/", import.meta.url)), { recursive: true })
    Fs.writeFileSync(file, JSON.stringify(profile))
    yield* progress(`CPU profile: ${file}`)
    return result
  })
}
