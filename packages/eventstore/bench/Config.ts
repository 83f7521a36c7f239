/**
 * Benchmark settings, all from the environment so `scripts/bench` and CI can change them without flags.
 * Every setting is printed with the results: a number is only comparable with its settings next to it.
 */
export interface BenchConfig {
  /** Measured duration of each scenario (`BENCH_SECONDS`, default 5). */
  readonly seconds: number
  /** Untimed run before each scenario so pools, plan caches and JIT are warm (`BENCH_WARMUP_SECONDS`, default 1). */
  readonly warmupSeconds: number
  /** The global-order read needs at least this many events (`BENCH_READ_ALL_EVENTS`, default 500,000). */
  readonly readAllEvents: number
  /** Pipeline statements of several fibers on one connection (`BENCH_MULTIPLEX=1`; default off, the client's default). */
  readonly multiplex: boolean
  /** Named prepared statements (`BENCH_PREPARE=0` turns them off; default on, the client's default). */
  readonly prepare: boolean
  /** The store's coalesced NOTIFY after commits (`BENCH_NOTIFICATIONS=0` turns it off; default on, the store's default). */
  readonly notifications: boolean
  /** The store's group commit of concurrent appends (`BENCH_GROUP_COMMIT=0` turns it off; default on, the store's default). */
  readonly groupCommit: boolean
  /** Groups in flight at once (`BENCH_GROUP_CONCURRENCY`; default: the store's default). */
  readonly groupConcurrency: number | undefined
  /** A server to use instead of an embedded one (`DATABASE_URL`). */
  readonly databaseUrl: string | undefined
}

const number = (name: string, fallback: number, min: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === "") return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}, got ${JSON.stringify(raw)}`)
  return value
}

const flag = (name: string, fallback: boolean): boolean => {
  const raw = process.env[name]?.trim().toLowerCase()
  if (raw === undefined || raw === "") return fallback
  return !(raw === "0" || raw === "false" || raw === "no" || raw === "off")
}

export const fromEnv = (): BenchConfig => {
  const url = process.env["DATABASE_URL"]
  return {
    seconds: number("BENCH_SECONDS", 5, 0.1),
    warmupSeconds: number("BENCH_WARMUP_SECONDS", 1, 0),
    readAllEvents: Math.floor(number("BENCH_READ_ALL_EVENTS", 500_000, 1)),
    multiplex: flag("BENCH_MULTIPLEX", false),
    prepare: flag("BENCH_PREPARE", true),
    notifications: flag("BENCH_NOTIFICATIONS", true),
    groupCommit: flag("BENCH_GROUP_COMMIT", true),
    groupConcurrency: process.env["BENCH_GROUP_CONCURRENCY"] ? Math.floor(number("BENCH_GROUP_CONCURRENCY", 1, 1)) : undefined,
    databaseUrl: url === undefined || url.trim() === "" ? undefined : url
  }
}

export const USAGE = `usage: node bench/main.ts   (from packages/eventstore; or scripts/bench from the repository root)

Settings come from the environment:
  DATABASE_URL            server to use (a fresh database is created and dropped); default: embedded PostgreSQL
  BENCH_SECONDS           measured seconds per scenario (default 5)
  BENCH_WARMUP_SECONDS    untimed warm-up before each scenario (default 1)
  BENCH_READ_ALL_EVENTS   minimum events for the read-all pass (default 500000)
  BENCH_MULTIPLEX=1       pipeline statements on pooled connections (default off)
  BENCH_PREPARE=0         no named prepared statements (default on)
  BENCH_NOTIFICATIONS=0   no store NOTIFY after commits (default on)
  BENCH_GROUP_COMMIT=0    every append alone, no group commit (default on)
  BENCH_GROUP_CONCURRENCY groups in flight at once (default: the store's, 1)

Results: markdown on stdout, progress on stderr, JSON in bench/results/latest.json.`

/** The command takes no arguments (only --help): anything else is a mistake worth stopping on. */
export const checkArgs = (args: ReadonlyArray<string>): "run" | "help" => {
  if (args.length === 0) return "run"
  if (args.length === 1 && (args[0] === "--help" || args[0] === "-h")) return "help"
  throw new Error(`unexpected arguments: ${args.join(" ")}\n\n${USAGE}`)
}

/** The concurrent clients of the main scenarios; the pool is sized from it. */
export const MAX_CLIENTS = 16

/**
 * Clients of the widest 1-event scenario: four times the pool, so clients queue for connections (raw) or
 * for a group commit (store), as the fibers of a busy server do.
 */
export const WIDE_CLIENTS = 64

/**
 * Pool size: one connection per client, plus headroom for the store's throttled NOTIFY and the benchmark's
 * own counter queries, so no client ever waits for a connection (the benchmark measures the store, not
 * pool starvation). The store's LISTEN runs on a dedicated connection outside the pool.
 */
export const POOL_SIZE = MAX_CLIENTS + 4
