/**
 * The bulk history for the benchmark: `accounts` account streams of `eventsPerAccount` events each, written
 * through the PROTECTED store's `appendMany` (the holder's name and email of `AccountOpened` and
 * `HolderDetailsUpdated` are encrypted per account, as in production), in transactions of `streamsPerWrite`
 * streams x `chunk` events. Streams are written chunk by chunk, so the global order interleaves accounts:
 * a rebuild batch of 5,000 events touches ~`streamsPerWrite` accounts, as a busy live system would.
 *
 * One account in ten is a "v1-era" account whose history is stored in the retired shapes (AccountOpened@1
 * with owner/email, MoneyDeposited@1 and FundsWithdrawn@1 in decimal euros), so reads must upcast them.
 * Everything is seeded: the same options write the same events (except event ids).
 */
import type { Account } from "@verity/domain"
import { type EventStore, ExpectedVersion, type NewEvent } from "@verity/eventstore"
import { Effect } from "effect"
import { accountCodec } from "../src/Streams.ts"

export interface WorkloadOptions {
  readonly accounts: number
  readonly eventsPerAccount: number
  readonly streamsPerWrite: number
  readonly chunk: number
  readonly concurrency: number
}

export interface WorkloadResult {
  readonly events: number
  readonly accounts: number
  readonly legacyEvents: number
  readonly personalDataEvents: number
  readonly appends: number
  readonly seconds: number
  readonly accountIds: ReadonlyArray<string>
}

const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** A deterministic lowercase uuid (v4 layout) for account `i` / transfer `n`. */
export const idOf = (prefix: number, i: number) => {
  const hex = (prefix * 1_000_000_007 + i).toString(16).padStart(12, "0").slice(-12)
  return `${prefix.toString(16).padStart(8, "0")}-0000-4000-8000-${hex}`
}

const START = Date.UTC(2024, 0, 1)
const encode = (event: Account.AccountEvent): NewEvent => {
  const encoded = accountCodec.encode(event)
  return { eventId: crypto.randomUUID(), type: encoded.type, schemaVersion: encoded.schemaVersion, data: encoded.data }
}
const raw = (type: string, data: unknown): NewEvent => ({ eventId: crypto.randomUUID(), type, schemaVersion: 1, data })

/** The events of account `i`, in order. */
export const accountEvents = (i: number, accounts: number, count: number) => {
  const random = prng(i + 1)
  const accountId = idOf(0xacc, i) as Account.AccountEvent["accountId"]
  const legacy = i % 10 === 0
  const currency = (legacy ? "EUR" : ["EUR", "EUR", "USD", "GBP"][i % 4]!) as Account.AccountOpened["currency"]
  const events: Array<NewEvent> = []
  let balance = 0
  let transfers = 0
  let pendingDebit: string | undefined
  let personal = 0
  const at = (k: number) => (START + i * 1_000 + k * 3_600_000) as Account.AccountOpened["at"]
  const holder = { holderName: `Holder ${i}` as Account.HolderName, holderEmail: `holder${i}@example.com` as Account.HolderEmail }
  if (legacy) {
    events.push(raw("AccountOpened", { accountId, owner: holder.holderName, email: holder.holderEmail, at: at(0) }))
  } else {
    events.push(encode({ _tag: "AccountOpened", accountId, ...holder, currency, at: at(0) }))
    personal++
  }
  let frozen = false
  for (let k = 1; events.length < count; k++) {
    if (frozen) {
      events.push(encode({ _tag: "AccountUnfrozen", accountId, at: at(k) }))
      frozen = false
      continue
    }
    const roll = random()
    const amount = (1 + Math.floor(random() * 100_000)) as Account.MoneyDeposited["amount"]
    if (roll < 0.55 || balance < 100) {
      balance += amount
      events.push(
        legacy
          ? raw("MoneyDeposited", { accountId, amount: amount / 100, at: at(k) })
          : encode({ _tag: "MoneyDeposited", accountId, amount, currency, at: at(k) })
      )
    } else if (roll < 0.8) {
      const out = (1 + Math.floor(random() * (balance - 1))) as Account.MoneyWithdrawn["amount"]
      balance -= out
      events.push(
        legacy
          ? raw("FundsWithdrawn", { accountId, amount: out / 100, at: at(k) })
          : encode({ _tag: "MoneyWithdrawn", accountId, amount: out, currency, at: at(k) })
      )
    } else if (roll < 0.86 && pendingDebit === undefined) {
      const out = (1 + Math.floor(random() * (balance - 1))) as Account.MoneyWithdrawn["amount"]
      balance -= out
      pendingDebit = idOf(0x7a, i * 1_000 + transfers++)
      const toAccountId = idOf(0xacc, (i + 1) % accounts) as Account.AccountEvent["accountId"]
      events.push(encode({ _tag: "MoneyDebitedForTransfer", accountId, transferId: pendingDebit as never, toAccountId, amount: out, at: at(k) }))
    } else if (roll < 0.9 && pendingDebit !== undefined) {
      events.push(encode({ _tag: "TransferDebitSettled", accountId, transferId: pendingDebit as never, at: at(k) }))
      pendingDebit = undefined
    } else if (roll < 0.94) {
      balance += amount
      const fromAccountId = idOf(0xacc, (i + accounts - 1) % accounts) as Account.AccountEvent["accountId"]
      const transferId = idOf(0x7b, i * 1_000 + transfers++) as never
      events.push(encode({ _tag: "MoneyCreditedForTransfer", accountId, transferId, fromAccountId, amount, at: at(k) }))
    } else if (roll < 0.96) {
      events.push(encode({ _tag: "OverdraftLimitSet", accountId, limit: (Math.floor(random() * 5) * 10_000) as never, at: at(k) }))
    } else if (roll < 0.98 && !legacy) {
      events.push(encode({
        _tag: "HolderDetailsUpdated",
        accountId,
        holderName: `Holder ${i} (${k})` as Account.HolderName,
        holderEmail: `holder${i}.${k}@example.com` as Account.HolderEmail,
        at: at(k)
      }))
      personal++
    } else {
      events.push(encode({ _tag: "AccountFrozen", accountId, reason: "routine review" as never, at: at(k) }))
      frozen = true
    }
  }
  const legacyCount =
    events.filter((e) => e.type === "FundsWithdrawn" || (e.schemaVersion === 1 && (e.type === "AccountOpened" || e.type === "MoneyDeposited"))).length
  return { accountId: accountId as string, events, legacy: legacyCount, personal }
}

export const write = (store: EventStore["Service"], options: WorkloadOptions, progress: (line: string) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const started = performance.now()
    const accounts = Array.from({ length: options.accounts }, (_, i) => accountEvents(i, options.accounts, options.eventsPerAccount))
    const generated = (performance.now() - started) / 1000
    yield* progress(`generated ${options.accounts * options.eventsPerAccount} events in ${generated.toFixed(1)} s`)
    const groups: Array<ReadonlyArray<(typeof accounts)[number]>> = []
    for (let g = 0; g < accounts.length; g += options.streamsPerWrite) groups.push(accounts.slice(g, g + options.streamsPerWrite))
    const chunks = Math.ceil(options.eventsPerAccount / options.chunk)
    let appends = 0
    let written = 0
    const writeStart = performance.now()
    for (let c = 0; c < chunks; c++) {
      yield* Effect.forEach(groups, (group) =>
        Effect.gen(function*() {
          const writes = group.map((account) => ({
            stream: `account-${account.accountId}`,
            expected: c === 0 ? ExpectedVersion.noStream : c * options.chunk,
            events: account.events.slice(c * options.chunk, (c + 1) * options.chunk)
          })).filter((w) => w.events.length > 0)
          yield* store.appendMany(writes).pipe(Effect.orDie)
          appends++
          written += writes.reduce((n, w) => n + w.events.length, 0)
        }), { concurrency: options.concurrency, discard: true })
      const seconds = (performance.now() - writeStart) / 1000
      yield* progress(`  chunk ${c + 1}/${chunks}: ${written} events, ${Math.round(written / seconds)} events/s`)
    }
    return {
      events: written,
      accounts: accounts.length,
      legacyEvents: accounts.reduce((n, a) => n + a.legacy, 0),
      personalDataEvents: accounts.reduce((n, a) => n + a.personal, 0),
      appends,
      seconds: (performance.now() - writeStart) / 1000,
      accountIds: accounts.map((a) => a.accountId)
    } satisfies WorkloadResult
  })
