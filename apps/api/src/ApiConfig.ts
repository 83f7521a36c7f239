/**
 * The API's settings, read once from configuration (environment variables) into one service, so every
 * other module receives plain values and tests can build them directly with `layerTest`.
 * Database, master keys and data folder are the runtime's settings (see Runtime.ts), not these.
 */
import { Config, Context, Duration, Effect, Layer, Option, Redacted } from "effect"

export interface ApiSettings {
  readonly host: string
  readonly port: number
  /** Largest accepted request body, in bytes (413 above it). */
  readonly maxBodyBytes: number
  /** Requests served at once by handlers that use the database; more wait in a bounded queue. */
  readonly maxConcurrent: number
  /** Requests allowed to wait for a slot; beyond that the API answers 503 at once. */
  readonly maxQueued: number
  /** Longest wait for a slot before answering 503. */
  readonly queueTimeout: Duration.Duration
  /** Request slots one token may hold at once (its further requests queue behind other tokens'). */
  readonly maxConcurrentPerToken: number
  /** Read-your-writes waits (`?waitForPosition=`) served at once, apart from the request slots; beyond: 503. */
  readonly maxWaits: number
  /** Read-your-writes waits one token may hold at once; beyond: 503. */
  readonly maxWaitsPerToken: number
  /** How long a recorded idempotent response is kept (a retry after that decides again). */
  readonly idempotencyRetention: Duration.Duration
  /** How long `?waitForPosition=` waits for a read model before answering 503. */
  readonly readYourWritesTimeout: Duration.Duration
  /** `name:token:scope,scope;...` (see Auth.ts); empty means "generate a development token". */
  readonly tokens: Option.Option<Redacted.Redacted>
  /** Database connections of this process (handlers, projections, listener). */
  readonly databaseConnections: number
  /**
   * Where the projections (read models, transfer process manager) run: `worker` (default: a worker
   * thread of this process, so their batches never compete with requests for the event loop), `inline`
   * (on the request thread), or `off` (an API-only replica; another process runs them).
   */
  readonly projections: "worker" | "inline" | "off"
  /**
   * Load-decide-append rounds a command (or its batch) gets when another process keeps writing the same
   * stream; then the answer is 409 ConcurrencyConflict with `Retry-After`. Inside one process commands of
   * a stream never conflict: they are queued and batched.
   */
  readonly conflictAttempts: number
  /** Event feeds (`GET /events`) open at once; beyond: 503. Each holds a connection, not a request slot. */
  readonly maxFeeds: number
  /** Interval of an event feed's `: keep-alive` comments while no event arrives. */
  readonly feedHeartbeat: Duration.Duration
  /** Events an event feed reads from the database at once (its unit of buffering). */
  readonly feedPageSize: number
}

export class ApiConfig extends Context.Service<ApiConfig, ApiSettings>()("@verity/api/ApiConfig") {
  static readonly defaults: ApiSettings = {
    host: "127.0.0.1",
    port: 3000,
    maxBodyBytes: 64 * 1024,
    maxConcurrent: 32,
    maxQueued: 256,
    queueTimeout: Duration.seconds(2),
    maxConcurrentPerToken: 16,
    maxWaits: 64,
    maxWaitsPerToken: 32,
    idempotencyRetention: Duration.hours(24),
    readYourWritesTimeout: Duration.seconds(5),
    tokens: Option.none(),
    databaseConnections: 32,
    projections: "worker",
    conflictAttempts: 10,
    maxFeeds: 64,
    feedHeartbeat: Duration.seconds(15),
    feedPageSize: 100
  }

  /** From the environment: HOST, PORT, VERITY_API_* (README.md lists them). */
  static readonly layer = Layer.effect(
    ApiConfig,
    Effect.gen(function*() {
      const d = ApiConfig.defaults
      const settings = yield* Config.all({
        host: Config.String("HOST").pipe(Config.withDefault(d.host)),
        port: Config.Port("PORT").pipe(Config.withDefault(d.port)),
        maxBodyBytes: Config.Int("VERITY_API_MAX_BODY_BYTES").pipe(Config.withDefault(d.maxBodyBytes)),
        maxConcurrent: Config.Int("VERITY_API_MAX_CONCURRENT").pipe(Config.withDefault(d.maxConcurrent)),
        maxQueued: Config.Int("VERITY_API_MAX_QUEUED").pipe(Config.withDefault(d.maxQueued)),
        queueTimeout: Config.Duration("VERITY_API_QUEUE_TIMEOUT").pipe(Config.withDefault(d.queueTimeout)),
        maxConcurrentPerToken: Config.Int("VERITY_API_MAX_CONCURRENT_PER_TOKEN").pipe(Config.withDefault(d.maxConcurrentPerToken)),
        maxWaits: Config.Int("VERITY_API_MAX_WAITS").pipe(Config.withDefault(d.maxWaits)),
        maxWaitsPerToken: Config.Int("VERITY_API_MAX_WAITS_PER_TOKEN").pipe(Config.withDefault(d.maxWaitsPerToken)),
        idempotencyRetention: Config.Duration("VERITY_API_IDEMPOTENCY_RETENTION").pipe(
          Config.withDefault(d.idempotencyRetention)
        ),
        readYourWritesTimeout: Config.Duration("VERITY_API_WAIT_TIMEOUT").pipe(Config.withDefault(d.readYourWritesTimeout)),
        tokens: Config.Redacted("VERITY_API_TOKENS").pipe(Config.option),
        databaseConnections: Config.Int("VERITY_DB_MAX_CONNECTIONS").pipe(Config.withDefault(d.databaseConnections)),
        projections: Config.Literals(["worker", "inline", "off"], "VERITY_PROJECTIONS").pipe(Config.withDefault(d.projections)),
        // At least one attempt (the command handler raises anything lower to 1).
        conflictAttempts: Config.Int("VERITY_API_CONFLICT_ATTEMPTS").pipe(Config.withDefault(d.conflictAttempts)),
        maxFeeds: Config.Int("VERITY_API_MAX_FEEDS").pipe(Config.withDefault(d.maxFeeds)),
        feedHeartbeat: Config.Duration("VERITY_API_FEED_HEARTBEAT").pipe(Config.withDefault(d.feedHeartbeat)),
        feedPageSize: Config.Int("VERITY_API_FEED_PAGE_SIZE").pipe(Config.withDefault(d.feedPageSize))
      })
      const tokens = Option.filter(settings.tokens, (t) => Redacted.value(t).trim() !== "")
      return ApiConfig.of({ ...settings, tokens })
    })
  )

  static readonly layerTest = (overrides: Partial<ApiSettings> = {}) =>
    Layer.succeed(ApiConfig, ApiConfig.of({ ...ApiConfig.defaults, ...overrides }))
}
