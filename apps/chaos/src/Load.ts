/**
 * The load of a chaos run: clients that open accounts, then deposit, withdraw and transfer over HTTP, each
 * command with an `Idempotency-Key` of its own. A client retries a command with the SAME key and body (on
 * any API process) until it gets a definitive answer: a 2xx, or a 4xx other than 409 IdempotencyKeyInUse
 * (the first attempt is still running). A 5xx or a connection error is not definitive: the command may or
 * may not have been applied, and only the retry with the same key can tell. Some first attempts are
 * abandoned by the client after a few milliseconds on purpose (a lost answer), so the replay path is
 * exercised too: the server may have committed them. Every command and its final
 * answer is recorded (the ledger the checks compare the database with), with the figures of the traffic.
 */
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import type { Seeded } from "./Seeded.ts"

export type CommandKind = "open" | "deposit" | "withdrawal" | "transfer"

export interface Command {
  readonly kind: CommandKind
  readonly key: string
  readonly path: string
  readonly body: Readonly<Record<string, string | number>>
  readonly accountId?: string
  readonly toAccountId?: string
  readonly amount: number
}

export interface Outcome {
  readonly command: Command
  /** The definitive status, or undefined when none came before the load's deadline. */
  readonly status: number | undefined
  readonly body: unknown
  readonly attempts: number
}

export interface Traffic {
  commands: number
  attempts: number
  /** Commands that needed more than one attempt. */
  retried: number
  acknowledged: number
  rejected: number
  unanswered: number
  status503: number
  /** 503 answers without `Retry-After` (a client cannot tell when to come back). */
  status503WithoutRetryAfter: number
  status500: number
  otherStatus5xx: number
  connectionErrors: number
  /** First attempts the client abandoned on purpose after a few ms (the server may still commit them). */
  abandoned: number
  keyInUse: number
  replayed: number
  /** Every answer by status, e.g. {"200": 812, "422": 40}. */
  byStatus: Record<string, number>
}

export interface LoadOptions {
  readonly apiUrls: ReadonlyArray<string>
  readonly token: string
  readonly accounts: number
  readonly clients: number
  readonly random: Seeded
  /** New commands start while this holds. */
  readonly running: () => boolean
  /** A command still without a definitive answer is given up then (epoch ms). */
  readonly giveUpAt: () => number
  /**
   * Share of commands whose first attempt the client abandons after 1-40 ms, as if the answer were lost on
   * the way: the server may commit it anyway, and only the retry with the same key (answered by replay)
   * keeps it from being applied twice.
   */
  readonly abandonRate: number
  /** Called with the time of every definitive answer (for recovery times). */
  readonly onAnswer?: (at: number, status: number) => void
}

export interface LoadResult {
  readonly accounts: ReadonlyArray<string>
  readonly outcomes: ReadonlyArray<Outcome>
  readonly traffic: Traffic
}

export const CURRENCY = "EUR"
const ATTEMPT_TIMEOUT_MS = 10_000

const emptyTraffic = (): Traffic => ({
  commands: 0,
  attempts: 0,
  retried: 0,
  acknowledged: 0,
  rejected: 0,
  unanswered: 0,
  status503: 0,
  status503WithoutRetryAfter: 0,
  status500: 0,
  otherStatus5xx: 0,
  connectionErrors: 0,
  abandoned: 0,
  keyInUse: 0,
  replayed: 0,
  byStatus: {}
})

type Attempt =
  | {
    readonly _tag: "Answer"
    readonly status: number
    readonly body: unknown
    readonly replayed: boolean
    readonly retryAfter: string | null
  }
  | { readonly _tag: "ConnectionError"; readonly message: string }
  | { readonly _tag: "Abandoned" }

const attempt = (url: string, token: string, command: Command, abandonAfterMs: number | undefined): Effect.Effect<Attempt> =>
  Effect.promise(async (): Promise<Attempt> => {
    try {
      const response = await fetch(`${url}${command.path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": command.key },
        body: JSON.stringify(command.body),
        signal: AbortSignal.timeout(abandonAfterMs ?? ATTEMPT_TIMEOUT_MS)
      })
      const text = await response.text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {
        // not JSON (a proxy page, an empty body): kept as text
      }
      return {
        _tag: "Answer",
        status: response.status,
        body,
        replayed: response.headers.get("idempotent-replayed") === "true",
        retryAfter: response.headers.get("retry-after")
      }
    } catch (error) {
      if (abandonAfterMs !== undefined) return { _tag: "Abandoned" }
      return { _tag: "ConnectionError", message: error instanceof Error ? error.message : String(error) }
    }
  })

const problemTitle = (body: unknown) =>
  typeof body === "object" && body !== null && "title" in body && typeof body.title === "string" ? body.title : undefined

/** A client's command until a definitive answer (or the deadline), recording every attempt in `traffic`. */
const send = (options: LoadOptions, traffic: Traffic, command: Command, offset: number) =>
  Effect.gen(function*() {
    traffic.commands++
    let attempts = 0
    while (true) {
      const url = options.apiUrls[(offset + attempts) % options.apiUrls.length]!
      attempts++
      traffic.attempts++
      if (attempts === 2) traffic.retried++
      const abandonAfterMs = attempts === 1 && options.random.next() < options.abandonRate ? options.random.int(1, 40) : undefined
      const result = yield* attempt(url, options.token, command, abandonAfterMs)
      if (result._tag === "Abandoned") {
        traffic.abandoned++
      } else if (result._tag === "ConnectionError") {
        traffic.connectionErrors++
      } else {
        const status = result.status
        traffic.byStatus[String(status)] = (traffic.byStatus[String(status)] ?? 0) + 1
        if (status === 503) {
          traffic.status503++
          if (result.retryAfter === null) traffic.status503WithoutRetryAfter++
        } else if (status === 500) traffic.status500++
        else if (status > 500) traffic.otherStatus5xx++
        else if (status === 409 && problemTitle(result.body) === "IdempotencyKeyInUse") traffic.keyInUse++
        else {
          if (result.replayed) traffic.replayed++
          if (status < 300) traffic.acknowledged++
          else traffic.rejected++
          options.onAnswer?.(Date.now(), status)
          return { command, status, body: result.body, attempts } satisfies Outcome
        }
      }
      if (Date.now() >= options.giveUpAt()) {
        traffic.unanswered++
        return { command, status: undefined, body: undefined, attempts } satisfies Outcome
      }
      // Short, growing pauses: a retry must not hammer a process that is starting.
      yield* Effect.sleep(Math.min(1_000, 50 * 2 ** Math.min(attempts, 5)))
    }
  })

const idOf = (body: unknown, field: "accountId" | "transferId"): string | undefined => {
  if (typeof body !== "object" || body === null) return undefined
  const value: unknown = Reflect.get(body, field)
  return typeof value === "string" ? value : undefined
}

/** The next random command for a client: deposits, withdrawals (some beyond the balance) and transfers. */
const nextCommand = (random: Seeded, accounts: ReadonlyArray<string>): Command => {
  const roll = random.next()
  const key = randomUUID()
  const accountId = random.pick(accounts)
  if (roll < 0.4) {
    const amount = random.int(1, 10_000)
    return { kind: "deposit", key, path: `/accounts/${accountId}/deposits`, body: { amount }, accountId, amount }
  }
  if (roll < 0.65) {
    const amount = random.int(1, 15_000)
    return { kind: "withdrawal", key, path: `/accounts/${accountId}/withdrawals`, body: { amount }, accountId, amount }
  }
  const others = accounts.filter((a) => a !== accountId)
  const toAccountId = random.pick(others)
  const amount = random.int(1, 8_000)
  return {
    kind: "transfer",
    key,
    path: "/transfers",
    body: { fromAccountId: accountId, toAccountId, amount },
    accountId,
    toAccountId,
    amount
  }
}

/** Opens the accounts, then runs the clients while `running`; every started command is finished or given up. */
export const run = (options: LoadOptions): Effect.Effect<LoadResult> =>
  Effect.gen(function*() {
    const traffic = emptyTraffic()
    const outcomes: Array<Outcome> = []
    const opened = yield* Effect.forEach(
      Array.from({ length: options.accounts }, (_, i) => i),
      (i) => {
        const command: Command = {
          kind: "open",
          key: randomUUID(),
          path: "/accounts",
          body: { holderName: `Chaos Holder ${i}`, holderEmail: `holder${i}@chaos.example`, currency: CURRENCY },
          amount: 0
        }
        return send(options, traffic, command, i)
      },
      { concurrency: 4 }
    )
    outcomes.push(...opened)
    const accounts = opened.flatMap((o) => {
      const id = o.status === 201 ? idOf(o.body, "accountId") : undefined
      return id === undefined ? [] : [id]
    })
    if (accounts.length < 2) return { accounts, outcomes, traffic }
    yield* Effect.forEach(
      Array.from({ length: options.clients }, (_, i) => i),
      (client) =>
        Effect.gen(function*() {
          const command = nextCommand(options.random, accounts)
          outcomes.push(yield* send(options, traffic, command, client))
        }).pipe(Effect.repeat({ while: options.running })),
      { concurrency: "unbounded", discard: true }
    )
    return { accounts, outcomes, traffic }
  })

export const transferIdOf = (outcome: Outcome) => (outcome.status === 202 ? idOf(outcome.body, "transferId") : undefined)
