/**
 * `fraud_watch`: a read model of another service's kind, fed ONLY from the ledger's published events
 * through an inbox (never from the stored events): it decodes each `account` message with the published
 * contract (`AccountContract`) and flags an account that made more than `maxWithdrawals` withdrawals of at
 * least `minAmount` within `window` (business time, `occurredAt`). Each message's writes commit with the
 * inbox's de-duplication record, so a redelivered withdrawal is never counted twice.
 *
 * Table `fraud_watch.withdrawals` (key `message_id`): the large withdrawals seen (account, amount, currency,
 * time). Table `fraud_watch.flags` (key `account_id`): flagged accounts, the count and window that tripped
 * the rule (updated while it keeps tripping), and when it was first flagged.
 */
import { PgClient } from "@effect/sql-pg"
import { Inbox, InboxConfig, InboxMessage } from "@verity/integration"
import { Config, DateTime, Duration, Effect, Option, type Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as AccountContract from "../../integration/AccountContract.ts"

export const NAME = "fraud_watch"

export interface Rule {
  /** Withdrawals of at least this many minor units count. */
  readonly minAmount: number
  /** More than this many counted withdrawals within `window` flag the account. */
  readonly maxWithdrawals: number
  readonly window: Duration.Input
}

export const migrate = Effect.gen(function*() {
  const sql = yield* SqlClient
  yield* sql`CREATE SCHEMA IF NOT EXISTS fraud_watch`
  yield* sql`
    CREATE TABLE IF NOT EXISTS fraud_watch.withdrawals (
      message_id text PRIMARY KEY,
      account_id uuid NOT NULL,
      amount bigint NOT NULL,
      currency text NOT NULL,
      occurred_at timestamptz NOT NULL
    )`
  yield* sql`CREATE INDEX IF NOT EXISTS withdrawals_by_account ON fraud_watch.withdrawals (account_id, occurred_at)`
  yield* sql`
    CREATE TABLE IF NOT EXISTS fraud_watch.flags (
      account_id uuid PRIMARY KEY,
      withdrawals integer NOT NULL,
      window_start timestamptz NOT NULL,
      window_end timestamptz NOT NULL,
      flagged_at timestamptz NOT NULL DEFAULT now()
    )`
})

/** The inbox handler of `rule`: one published account event, decoded with the contract. */
export const handler = (rule: Rule) => (message: InboxMessage.InboxMessage) =>
  Effect.gen(function*() {
    const event = yield* InboxMessage.decode(AccountContract.contract, message)
    if (event._tag !== "MoneyWithdrawn" || event.amount < rule.minAmount) return
    const sql = yield* SqlClient
    const at = DateTime.toDateUtc(event.occurredAt)
    const from = new Date(at.getTime() - Duration.toMillis(Duration.fromInputUnsafe(rule.window)))
    yield* sql`
      INSERT INTO fraud_watch.withdrawals (message_id, account_id, amount, currency, occurred_at)
      VALUES (${message.id}, ${event.accountId}, ${event.amount}, ${event.currency}, ${at})
      ON CONFLICT DO NOTHING`
    const [counted] = yield* sql<{ readonly n: bigint; readonly first: Date }>`
      SELECT count(*) AS n, min(occurred_at) AS first FROM fraud_watch.withdrawals
      WHERE account_id = ${event.accountId} AND occurred_at > ${from} AND occurred_at <= ${at}`
    if (counted === undefined || Number(counted.n) <= rule.maxWithdrawals) return
    yield* sql`
      INSERT INTO fraud_watch.flags (account_id, withdrawals, window_start, window_end)
      VALUES (${event.accountId}, ${Number(counted.n)}, ${counted.first}, ${at})
      ON CONFLICT (account_id) DO UPDATE SET withdrawals = EXCLUDED.withdrawals, window_start = EXCLUDED.window_start,
        window_end = EXCLUDED.window_end`
  })

export interface FraudWatchOptions extends Omit<Inbox.InboxOptions<unknown, never>, "name" | "handler" | "filterSubject"> {
  /** The relay's subject prefix (`VERITY_RELAY_PREFIX`, default `verity`): the inbox reads `<prefix>.account.>`. */
  readonly prefix: string
  readonly rule: Rule
  readonly name?: string
}

/** The inbox options of `options` (name, subject filter, handler): to start it, or to read or control it from elsewhere. */
export const inboxOptions = (options: FraudWatchOptions): Inbox.InboxOptions<unknown, never> => {
  const { prefix, rule, ...inbox } = options
  return { ...inbox, name: options.name ?? NAME, filterSubject: `${prefix}.account.>`, handler: handler(rule) }
}

/** Migrates `fraud_watch` and starts its inbox in the scope. */
export const make = (options: FraudWatchOptions): Effect.Effect<Inbox.InboxService, Inbox.InboxError, PgClient.PgClient | Scope.Scope> =>
  Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    yield* migrate.pipe(
      Effect.provideService(SqlClient, pg),
      Effect.mapError((e) => new Inbox.InboxError({ reason: "Database", inbox: NAME, operation: "migrate", detail: e.message, cause: e }))
    )
    return yield* Inbox.make<unknown, never>(inboxOptions(options))
  })

/** The rule when nothing is configured: more than 3 withdrawals of at least 1,000.00 within an hour. */
export const defaultRule: Rule = { minAmount: 100_000, maxWithdrawals: 3, window: "1 hour" }

/**
 * The rule from `VERITY_FRAUD_WATCH_MIN_AMOUNT` (minor units), `VERITY_FRAUD_WATCH_MAX_WITHDRAWALS` and
 * `VERITY_FRAUD_WATCH_WINDOW` (a duration), each defaulting to `defaultRule`'s.
 */
export const ruleFromConfig: Effect.Effect<Rule, Config.ConfigError> = Effect.gen(function*() {
  const minAmount = yield* Config.Int("VERITY_FRAUD_WATCH_MIN_AMOUNT").pipe(Config.withDefault(defaultRule.minAmount))
  const maxWithdrawals = yield* Config.Int("VERITY_FRAUD_WATCH_MAX_WITHDRAWALS").pipe(Config.withDefault(defaultRule.maxWithdrawals))
  const window = yield* Config.Duration("VERITY_FRAUD_WATCH_WINDOW").pipe(Config.withDefault(Duration.fromInputUnsafe(defaultRule.window)))
  return { minAmount, maxWithdrawals, window }
})

/** The fraud_watch inbox's options from configuration (`InboxConfig` and the rule), or none when inboxes are off. */
export const fromConfig: Effect.Effect<Option.Option<FraudWatchOptions>, Config.ConfigError> = Effect.gen(function*() {
  const settings = yield* InboxConfig.settings
  if (Option.isNone(settings)) return Option.none()
  const rule = yield* ruleFromConfig
  return Option.some({ servers: settings.value.servers, stream: settings.value.stream, prefix: settings.value.prefix, rule })
})

export interface Flag {
  readonly account_id: string
  readonly withdrawals: number
  readonly window_start: Date
  readonly window_end: Date
}

/** The flagged accounts, by account id. */
export const flags = Effect.gen(function*() {
  const sql = yield* SqlClient
  return yield* sql<Flag>`SELECT account_id, withdrawals, window_start, window_end FROM fraud_watch.flags ORDER BY account_id`
})
