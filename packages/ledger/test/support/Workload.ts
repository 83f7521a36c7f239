/**
 * A seeded ledger workload through the real command handlers: accounts in two currencies, deposits,
 * withdrawals (never beyond the balance), limit changes, freeze/unfreeze pairs, then transfers between
 * accounts of the same currency (settled, or refunded). Accounts are worked on concurrently, like an API
 * under load. Returns the highest checkpoint written and what was written, for exact assertions.
 */
import type { Account } from "@verity/domain"
import { Checkpoint } from "@verity/eventstore"
import { Effect } from "effect"
import { command as c, exec, uuid } from "./Ledger.ts"

/** mulberry32: a tiny seeded PRNG, so a workload is the same on every run. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

export interface WorkloadOptions {
  readonly accounts: number
  readonly opsPerAccount: number
  readonly transfers: number
  readonly seed: number
  /** Business time of the first event (ms); each later command is one second later. */
  readonly start?: number
  readonly concurrency?: number
}

export interface Workload {
  readonly accountIds: ReadonlyArray<string>
  readonly checkpoint: Checkpoint.Checkpoint
  /** Account events written (= stream versions summed). */
  readonly events: number
  /** Money movements written (deposits, withdrawals, transfer debits, credits and refunds). */
  readonly movements: number
}

export const write = (options: WorkloadOptions) =>
  Effect.gen(function*() {
    const random = prng(options.seed)
    const start = options.start ?? Date.UTC(2026, 5, 1)
    let clock = 0
    const at = () => start + 1_000 * clock++
    const concurrency = options.concurrency ?? 8
    const ids = Array.from({ length: options.accounts }, () => uuid())
    const currency = (i: number) => (i % 4 === 3 ? "USD" : "EUR")
    let checkpoint = Checkpoint.start
    let events = 0
    let movements = 0
    const run = (cmd: Account.AccountCommand) =>
      Effect.map(exec(cmd), (written) => {
        checkpoint = Checkpoint.max(checkpoint, written)
        events++
        if (
          cmd._tag === "Deposit" || cmd._tag === "Withdraw" || cmd._tag === "DebitForTransfer" || cmd._tag === "CreditForTransfer" ||
          cmd._tag === "RefundTransfer"
        ) {
          movements++
        }
      })

    // Plans are drawn up front (deterministic), then run with accounts interleaved.
    const sequences = ids.map((id, i) => {
      const cur = currency(i)
      const plan: Array<Account.AccountCommand> = [c.open(id, `Holder ${i}`, `holder${i}@example.com`, cur, at())]
      let balance = 0
      let limit = 0
      while (plan.length < options.opsPerAccount) {
        const roll = random()
        if (roll < 0.55 || balance === 0) {
          const amount = 1 + Math.floor(random() * 10_000)
          balance += amount
          plan.push(c.deposit(id, amount, cur, at()))
        } else if (roll < 0.85) {
          const amount = 1 + Math.floor(random() * balance)
          balance -= amount
          plan.push(c.withdraw(id, amount, cur, at()))
        } else if (roll < 0.92) {
          limit = (limit + 1_000 * (1 + Math.floor(random() * 4))) % 5_000 // always a different limit
          plan.push(c.setLimit(id, limit, at()))
        } else if (plan.length + 2 <= options.opsPerAccount) {
          plan.push(c.freeze(id, "routine check", at()), c.unfreeze(id, at()))
        }
      }
      return plan
    })

    // Openings first, then every account's own sequence, accounts side by side.
    yield* Effect.forEach(sequences, (plan) => run(plan[0]!), { concurrency, discard: true })
    yield* Effect.forEach(sequences, (plan) => Effect.forEach(plan.slice(1), run, { discard: true }), { concurrency, discard: true })

    // Transfers between accounts of the same currency, small enough for the source's balance: settled
    // (debit, credit, settle) or, one in four, refunded (debit, refund).
    const balances = new Map(sequences.map((plan, i) => [ids[i]!, balanceOf(plan)]))
    const transfers: Array<ReadonlyArray<Account.AccountCommand>> = []
    for (let n = 0; n < options.transfers; n++) {
      const from = Math.floor(random() * ids.length)
      let to = Math.floor(random() * ids.length)
      while (to === from || currency(to) !== currency(from)) to = (to + 1) % ids.length
      const fromId = ids[from]!
      const toId = ids[to]!
      const available = balances.get(fromId)!
      if (available < 2) continue
      const amount = 1 + Math.floor(random() * Math.min(available - 1, 500))
      const t = uuid()
      const cur = currency(from)
      // Transfers run concurrently: count on no incoming money and no refund, so no debit is ever short.
      balances.set(fromId, available - amount)
      if (n % 4 === 3) {
        transfers.push([c.debit(fromId, t, toId, amount, cur, at()), c.refund(fromId, t, at())])
      } else {
        transfers.push([c.debit(fromId, t, toId, amount, cur, at()), c.credit(toId, t, fromId, amount, cur, at()), c.settle(fromId, t, at())])
      }
    }
    yield* Effect.forEach(transfers, (steps) => Effect.forEach(steps, run, { discard: true }), { concurrency, discard: true })
    return { accountIds: ids, checkpoint, events, movements } satisfies Workload
  })

const balanceOf = (plan: ReadonlyArray<Account.AccountCommand>) =>
  plan.reduce((sum, cmd) => (cmd._tag === "Deposit" ? sum + cmd.amount : cmd._tag === "Withdraw" ? sum - cmd.amount : sum), 0)
