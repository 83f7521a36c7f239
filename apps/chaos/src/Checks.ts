/**
 * The checks at the end of a chaos run, each comparing what the clients were told with what the database
 * holds (the events are the truth; the read models and the HTTP reads must agree with them):
 * - recovered: every fault was followed by ready processes and acknowledged commands again;
 * - never 500: an outage answers 503 with `Retry-After`, never 500 (nor another 5xx);
 * - answered: every command got a definitive answer;
 * - exactly once: every acknowledged command left exactly one event carrying its idempotency key (a
 *   rejected one none, an unanswered one at most one), and no event carries a key no client sent;
 * - transfer steps once: no transfer was debited, credited, refunded or settled twice;
 * - transfers terminal: every transfer ended completed or failed (rejected, or refunded);
 * - money conserved: the balances (from the events, and as the API serves them) sum to the acknowledged
 *   deposits minus the acknowledged withdrawals;
 * - caught up: every projection (read models and the transfer process manager, which only the workers run:
 *   the APIs have VERITY_PROJECTIONS=off) is live, at the head, nothing parked (`replayer status --json`);
 * - read models verify: `replayer verify <name>` finds each read model identical to its events.
 */
import { PgClient } from "@effect/sql-pg"
import { LedgerReadModels, LedgerTransferProcess } from "@verity/ledger"
import { Effect, Layer, Redacted, Schema } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import type { FaultRecord } from "./Faults.ts"
import type { CommandKind, LoadResult, Outcome } from "./Load.ts"

/** The checks could not run (the database could not be read): the run fails with this. */
export class ChecksUnavailable
  extends Schema.TaggedError<ChecksUnavailable>()("ChecksUnavailable", { message: Schema.String, cause: Schema.optional(Schema.Defect()) })
{}

export interface Check {
  readonly name: string
  readonly passed: boolean
  readonly detail: string
}

export interface Figures {
  readonly deposited: number
  readonly withdrawn: number
  readonly balanceFromEvents: number
  readonly balanceFromApi: number
  readonly transfers: number
  readonly transfersCompleted: number
  readonly transfersFailed: number
  readonly events: number
  /** How long the projections took to catch up after the load stopped (or were waited for, when they did not). */
  readonly catchUpMs: number
  readonly caughtUp: boolean
}

export interface CheckOptions {
  readonly databaseUrl: string
  readonly masterKeys: string
  readonly apiUrls: ReadonlyArray<string>
  readonly token: string
  readonly load: LoadResult
  readonly faults: ReadonlyArray<FaultRecord>
  readonly catchUpLimitMs: number
}

const REPLAYER = fileURLToPath(new URL("../../replayer/src/main.ts", import.meta.url))

/** The event each kind of command appends (and carries the command's idempotency key in its metadata). */
const PRIMARY_EVENT: Record<CommandKind, string> = {
  open: "AccountOpened",
  deposit: "MoneyDeposited",
  withdrawal: "MoneyWithdrawn",
  transfer: "TransferRequested"
}
const TERMINAL = new Set(["TransferCompleted", "SourceDebitRejected", "SourceAccountRefunded"])

interface Replayed {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the replayer CLI on the run's database. */
export const replayer = (options: Pick<CheckOptions, "databaseUrl" | "masterKeys">, args: ReadonlyArray<string>) =>
  Effect.callback<Replayed>((resume) => {
    const env: Record<string, string> = {}
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !key.startsWith("VERITY_") && key !== "DATABASE_URL" && key !== "NODE_OPTIONS") env[key] = value
    }
    const child = spawn(process.execPath, [REPLAYER, ...args], {
      cwd: Path.dirname(REPLAYER),
      env: { ...env, DATABASE_URL: options.databaseUrl, VERITY_MASTER_KEYS: options.masterKeys },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
    child.once("error", (error) => resume(Effect.succeed({ code: -1, stdout, stderr: stderr + error.message })))
    child.once("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
  })

const Status = Schema.Array(Schema.Struct({
  name: Schema.String,
  state: Schema.String,
  parkedStreams: Schema.Number,
  active: Schema.optionalKey(Schema.Struct({ lagEvents: Schema.Number, lastError: Schema.NullOr(Schema.String) }))
}))
type Status = typeof Status.Type
const decodeStatus = Schema.decodeUnknownEffect(Schema.fromJsonString(Status))

/** Every projection the workers must run: the read models and the transfer process manager. */
const REQUIRED = [...LedgerReadModels.all, LedgerTransferProcess.projection].map((p) => p.name)

const stuck = (statuses: Status) => [
  ...statuses.filter((s) => s.state !== "live" || s.parkedStreams > 0 || (s.active?.lagEvents ?? 1) > 0).map((s) => s.name),
  ...REQUIRED.filter((name) => !statuses.some((s) => s.name === name)).map((name) => `${name} (missing)`)
]

const renderStatus = (statuses: Status) =>
  statuses.map((s) =>
    `${s.name}: ${s.state}, lag ${s.active?.lagEvents ?? "-"}, parked ${s.parkedStreams}${
      s.active?.lastError ? `, last error ${s.active.lastError}` : ""
    }`
  ).join("; ")

/** Polls `replayer status --json` until nothing is behind or parked; the last status and how long it took. */
const catchUp = (options: CheckOptions) =>
  Effect.gen(function*() {
    const started = Date.now()
    let last: Status = []
    let lastError = ""
    while (Date.now() - started < options.catchUpLimitMs) {
      const out = yield* replayer(options, ["status", "--json"])
      if (out.code === 0) {
        const decoded = yield* Effect.result(decodeStatus(out.stdout))
        if (decoded._tag === "Success") {
          last = decoded.success
          if (stuck(last).length === 0) return { caughtUp: true, last, ms: Date.now() - started, error: "" }
        } else lastError = decoded.failure.message
      } else lastError = out.stderr.trim().split("\n").slice(-3).join(" ")
      yield* Effect.sleep("500 millis")
    }
    return { caughtUp: false, last, ms: Date.now() - started, error: lastError }
  })

/** The balance an API serves for the account (the first API that answers 200), or undefined. */
const balanceOf = (apiUrls: ReadonlyArray<string>, token: string, accountId: string) =>
  Effect.promise(async () => {
    for (const apiUrl of apiUrls) {
      try {
        const response = await fetch(`${apiUrl}/accounts/${accountId}`, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(10_000)
        })
        const body: unknown = await response.json()
        const balance: unknown = typeof body === "object" && body !== null ? Reflect.get(body, "balance") : undefined
        if (response.status === 200 && typeof balance === "number") return balance
      } catch {
        // this API did not answer: ask the next one
      }
    }
    return undefined // counted as an account the API did not serve
  })

const sum = (values: ReadonlyArray<number>) => values.reduce((a, b) => a + b, 0)

const applied = (outcome: Outcome) => outcome.status !== undefined && outcome.status < 300

const checksOnEvents = Effect.gen(function*() {
  const sql = yield* SqlClient
  const keyed = yield* sql<{ readonly key: string; readonly type: string; readonly n: number }>`
      SELECT metadata->>'idempotencyKey' AS key, type, count(*)::int AS n
      FROM verity.events WHERE metadata ? 'idempotencyKey' GROUP BY 1, 2`
  const steps = yield* sql<{ readonly transfer_id: string; readonly type: string; readonly n: number }>`
      SELECT data->>'transferId' AS transfer_id, type, count(*)::int AS n FROM verity.events
      WHERE category = 'account' AND type IN ('MoneyDebitedForTransfer', 'MoneyCreditedForTransfer', 'MoneyRefundedForTransfer', 'TransferDebitSettled')
      GROUP BY 1, 2 HAVING count(*) > 1`
  const lastOfTransfers = yield* sql<{ readonly stream_id: string; readonly type: string }>`
      SELECT DISTINCT ON (stream_id) stream_id, type FROM verity.events WHERE category = 'transfer'
      ORDER BY stream_id, version DESC`
  const [money] = yield* sql<{ readonly balance: string; readonly events: number }>`
      SELECT coalesce(sum(CASE type
        WHEN 'MoneyDeposited' THEN (data->>'amount')::numeric
        WHEN 'MoneyCreditedForTransfer' THEN (data->>'amount')::numeric
        WHEN 'MoneyRefundedForTransfer' THEN (data->>'amount')::numeric
        WHEN 'MoneyWithdrawn' THEN -(data->>'amount')::numeric
        WHEN 'MoneyDebitedForTransfer' THEN -(data->>'amount')::numeric
        ELSE 0 END) FILTER (WHERE category = 'account'), 0)::text AS balance,
        count(*)::int AS events
      FROM verity.events`
  return { keyed, steps, lastOfTransfers, balance: Number(money?.balance ?? "0"), events: money?.events ?? 0 }
})

export const run = (options: CheckOptions): Effect.Effect<{ readonly checks: ReadonlyArray<Check>; readonly figures: Figures }, ChecksUnavailable> =>
  Effect.gen(function*() {
    const checks: Array<Check> = []
    const check = (name: string, passed: boolean, detail: string) => checks.push({ name, passed, detail })
    const { outcomes, traffic } = options.load

    const notRecovered = options.faults.filter((f) => f.recoveredMs === undefined)
    check(
      "recovered",
      notRecovered.length === 0,
      notRecovered.length === 0
        ? `all ${options.faults.length} faults`
        : notRecovered.map((f) => `${f.fault._tag} at ${f.atMs} ms: ${f.detail}`).join("; ")
    )
    check(
      "never 500",
      traffic.status500 === 0 && traffic.otherStatus5xx === 0 && traffic.status503WithoutRetryAfter === 0,
      `${traffic.status500} x 500, ${traffic.otherStatus5xx} x other 5xx, ${traffic.status503WithoutRetryAfter} of ${traffic.status503} x 503 without Retry-After ` +
        "(an outage must answer 503 with Retry-After)"
    )
    check(
      "answered",
      traffic.unanswered === 0 && outcomes.length > 0,
      `${outcomes.length - traffic.unanswered} of ${outcomes.length} commands got a definitive answer`
    )

    // The process manager works off the load's events: wait for it (and the read models) first.
    const caught = yield* catchUp(options)
    check(
      "caught up",
      caught.caughtUp,
      caught.caughtUp
        ? `${caught.last.map((s) => s.name).join(", ")} live at the head, nothing parked, ${caught.ms} ms after the load`
        : `after ${caught.ms} ms, behind: ${stuck(caught.last).join(", ")}; ${renderStatus(caught.last)} ${caught.error}`
    )

    const db = yield* checksOnEvents.pipe(
      Effect.provide(Layer.fresh(PgClient.layer({ url: Redacted.make(options.databaseUrl), maxConnections: 2 }))),
      Effect.mapError((cause) => new ChecksUnavailable({ message: `could not read the events: ${cause.message}`, cause }))
    )

    // Exactly once, by idempotency key.
    const counted = new Map<string, number>()
    for (const row of db.keyed) counted.set(`${row.key}/${row.type}`, row.n)
    const sent = new Set(outcomes.map((o) => o.command.key))
    const wrong: Array<string> = []
    for (const outcome of outcomes) {
      const n = counted.get(`${outcome.command.key}/${PRIMARY_EVENT[outcome.command.kind]}`) ?? 0
      const expected = outcome.status === undefined ? (n <= 1) : applied(outcome) ? n === 1 : n === 0
      if (!expected) {
        wrong.push(
          `${outcome.command.kind} ${outcome.command.key} answered ${outcome.status ?? "never"}: ${n} ${PRIMARY_EVENT[outcome.command.kind]} events`
        )
      }
    }
    const strangers = db.keyed.filter((row) => !sent.has(row.key))
    for (const row of strangers) wrong.push(`${row.n} ${row.type} events carry key ${row.key}, which no client sent`)
    check(
      "exactly once",
      wrong.length === 0,
      wrong.length === 0
        ? `${outcomes.filter(applied).length} acknowledged commands, one event each; ${traffic.rejected} rejected ones, none`
        : wrong.slice(0, 10).join("; ")
    )

    check(
      "transfer steps once",
      db.steps.length === 0,
      db.steps.length === 0
        ? "no transfer debited, credited, refunded or settled twice"
        : db.steps.slice(0, 10).map((s) => `${s.transfer_id}: ${s.n} ${s.type}`).join("; ")
    )

    const acknowledgedTransfers = outcomes.filter((o) => o.command.kind === "transfer" && applied(o)).length
    const open = db.lastOfTransfers.filter((t) => !TERMINAL.has(t.type))
    check(
      "transfers terminal",
      open.length === 0 && db.lastOfTransfers.length >= acknowledgedTransfers,
      open.length === 0
        ? `${db.lastOfTransfers.length} transfers (${acknowledgedTransfers} acknowledged), all completed or failed`
        : `${open.length} of ${db.lastOfTransfers.length} not terminal: ${open.slice(0, 5).map((t) => `${t.stream_id} at ${t.type}`).join("; ")}`
    )

    const deposited = sum(outcomes.filter((o) => o.command.kind === "deposit" && applied(o)).map((o) => o.command.amount))
    const withdrawn = sum(outcomes.filter((o) => o.command.kind === "withdrawal" && applied(o)).map((o) => o.command.amount))
    const balances = yield* Effect.forEach(options.load.accounts, (id) => balanceOf(options.apiUrls, options.token, id), { concurrency: 4 })
    const served = balances.filter((b): b is number => b !== undefined)
    const balanceFromApi = sum(served)
    check(
      "money conserved",
      db.balance === deposited - withdrawn && balanceFromApi === db.balance && served.length === options.load.accounts.length,
      `deposits ${deposited} - withdrawals ${withdrawn} = ${deposited - withdrawn}; balances from the events ${db.balance}, ` +
        `served by the API ${balanceFromApi} (${served.length} of ${options.load.accounts.length} accounts)`
    )

    const verified = yield* Effect.forEach(
      LedgerReadModels.all,
      (projection) => Effect.map(replayer(options, ["verify", projection.name]), (out) => ({ name: projection.name, out }))
    )
    const differing = verified.filter((v) => v.out.code !== 0)
    check(
      "read models verify",
      differing.length === 0,
      differing.length === 0
        ? `${verified.map((v) => v.name).join(", ")}: identical to the events`
        : differing.map((v) => `${v.name} (exit ${v.out.code}): ${(v.out.stdout + v.out.stderr).trim().split("\n").slice(0, 6).join(" | ")}`).join(
          "; "
        )
    )

    return {
      checks,
      figures: {
        deposited,
        withdrawn,
        balanceFromEvents: db.balance,
        balanceFromApi,
        transfers: db.lastOfTransfers.length,
        transfersCompleted: db.lastOfTransfers.filter((t) => t.type === "TransferCompleted").length,
        transfersFailed: db.lastOfTransfers.filter((t) => t.type !== "TransferCompleted" && TERMINAL.has(t.type)).length,
        events: db.events,
        catchUpMs: caught.ms,
        caughtUp: caught.caughtUp
      }
    }
  })
