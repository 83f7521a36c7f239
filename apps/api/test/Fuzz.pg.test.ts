/**
 * Hostile input, generated from a fixed seed (deterministic, so a failure replays): random JSON, wrong
 * types, huge and fractional numbers, zero and negative amounts, NUL and control characters, unpaired
 * surrogates, unknown fields, missing fields, malformed JSON, oversized bodies, odd headers and query
 * strings. Every answer must be a 4xx problem (never a 5xx) and no request may write an event.
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import * as T from "./support/TestApi.ts"

const SEED = 0x5eed_1234

const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

type Rng = () => number
const pick = <A>(rng: Rng, items: ReadonlyArray<A>): A => items[Math.floor(rng() * items.length)]!

/** Strings no text field accepts (empty, untrimmed, control characters, lone surrogates, too long). */
const invalidStrings = ["", " ", " padded ", "\u0000", "a\u0000b", "\u0007bell", "line\nbreak", "\ud800", "x\udc00y", "x".repeat(10_000)]
/** Strings that are fine as text but must do no harm wherever they land. */
const nastyStrings = [
  ...invalidStrings,
  "😀".repeat(3),
  "'; DROP TABLE verity.events; --",
  "{\"$ne\":1}",
  "../../etc/passwd",
  "%00",
  "\u202e",
  "null",
  "<script>"
]
const badNumbers = [0, -1, -1e12, 0.5, 1.000001, 1e12 + 1, 1e15, 1e308, -0, Number.MAX_SAFE_INTEGER + 2]

const randomJson = (rng: Rng, depth = 0): unknown => {
  const kind = Math.floor(rng() * (depth > 2 ? 5 : 7))
  switch (kind) {
    case 0:
      return null
    case 1:
      return rng() < 0.5
    case 2:
      return pick(rng, badNumbers)
    case 3:
      return pick(rng, nastyStrings)
    case 4:
      return Math.floor(rng() * 1e6)
    case 5:
      return Array.from({ length: Math.floor(rng() * 4) }, () => randomJson(rng, depth + 1))
    default: {
      const object: Record<string, unknown> = {}
      for (let i = 0; i < Math.floor(rng() * 4) + 1; i++) object[`k${Math.floor(rng() * 1000)}`] = randomJson(rng, depth + 1)
      return object
    }
  }
}

/** A valid body for each endpoint, and the fields a mutation may break. */
const valid: Record<string, Record<string, unknown>> = {
  open: { holderName: "Fuzz Holder", holderEmail: "fuzz@example.com", currency: "EUR" },
  money: { amount: 10 },
  holder: { holderName: "Fuzz Holder", holderEmail: "fuzz@example.com" },
  freeze: { reason: "fuzzing" },
  overdraft: { limit: 10 },
  forget: { reason: "fuzzing" }
}

/** Breaks one field of a valid body (so the result is never valid). */
const mutate = (rng: Rng, body: Record<string, unknown>): unknown => {
  const copy: Record<string, unknown> = { ...body }
  const fields = Object.keys(copy)
  const field = pick(rng, fields)
  switch (Math.floor(rng() * 6)) {
    case 0:
      delete copy[field]
      return copy
    case 1:
      copy[`unknown_${Math.floor(rng() * 100)}`] = randomJson(rng)
      return copy
    case 2:
      copy[field] = typeof copy[field] === "number" ? pick(rng, badNumbers) : pick(rng, invalidStrings)
      return copy
    case 3:
      copy[field] = pick(rng, [null, true, [], {}, [copy[field]], { value: copy[field] }])
      return copy
    case 4:
      copy[field] = typeof copy[field] === "number" ? String(copy[field]) : 42
      return copy
    default:
      return pick(rng, [null, [], "text", 7, [copy], { body: copy }])
  }
}

const malformed = ["{", "}", "{\"amount\":}", "{\"amount\":1,}", "[1,2", "nul", "\u0000", "{'amount':1}", "{\"amount\":1}{", "\"unterminated"]

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "180 seconds" })("fuzz", (it) => {
    it.effect("hostile bodies, headers and queries: never a 5xx, never an event", () =>
      Effect.gen(function*() {
        const rng = mulberry32(SEED)
        const account = yield* T.openAccount("EUR")
        const other = yield* T.openAccount("EUR")
        yield* T.deposit(account, 1)
        const before = yield* T.eventCount
        const targets: ReadonlyArray<readonly [string, string, string, string]> = [
          ["POST", "/accounts", "open", T.tokens.alice],
          ["POST", `/accounts/${account}/deposits`, "money", T.tokens.alice],
          ["POST", `/accounts/${account}/withdrawals`, "money", T.tokens.alice],
          ["PUT", `/accounts/${account}/holder`, "holder", T.tokens.alice],
          ["POST", `/accounts/${account}/freeze`, "freeze", T.tokens.alice],
          ["PUT", `/accounts/${account}/overdraft`, "overdraft", T.tokens.alice],
          ["POST", `/subjects/${account}/forget`, "forget", T.tokens.ops]
        ]
        const failures: Array<string> = []
        const check = (label: string, reply: T.Reply) => {
          if (reply.status >= 500 || reply.status < 400) failures.push(`${label} -> ${reply.status} ${reply.text.slice(0, 200)}`)
          else if (!(reply.headers.get("content-type") ?? "").startsWith("application/problem+json")) {
            failures.push(`${label} -> not a problem: ${reply.headers.get("content-type")}`)
          }
        }
        for (let i = 0; i < 400; i++) {
          const [method, path, kind, token] = pick(rng, targets)
          const headers: Record<string, string> = {}
          if (rng() < 0.2) headers["idempotency-key"] = `fuzz-${i}`
          if (rng() < 0.1) headers["if-match"] = pick(rng, ["\"1\"", "W/\"x\"", "*", "", "\"99999999999999999999\""])
          let reply: T.Reply
          const mode = rng()
          if (mode < 0.55) {
            const json = mutate(rng, valid[kind]!)
            reply = yield* T.request(method, path, { token, json, headers })
          } else if (mode < 0.75) {
            reply = yield* T.request(method, path, { token, json: randomJson(rng), headers })
          } else if (mode < 0.92) {
            reply = yield* T.request(method, path, { token, raw: pick(rng, malformed), headers })
          } else {
            reply = yield* T.request(method, path, { token, raw: `{"holderName":"${"x".repeat(70 * 1024)}"}`, headers })
            if (reply.status !== 413) failures.push(`oversized -> ${reply.status}`)
          }
          check(`#${i} ${method} ${path}`, reply)
        }
        // Transfers: everything wrong about the two accounts and the amount.
        for (let i = 0; i < 60; i++) {
          const json = mutate(rng, { fromAccountId: account, toAccountId: other, amount: 1 })
          check(`transfer #${i}`, yield* T.request("POST", "/transfers", { token: T.tokens.alice, json }))
        }
        // Odd queries and path segments on reads.
        const queries = [
          "limit=-1",
          "limit=1e9",
          "limit=abc",
          "after=%00",
          "fromVersion=-5",
          "version=1.5",
          "at=%00",
          "waitForPosition=-1",
          "waitForPosition=99999999999999999999"
        ]
        for (const query of queries) {
          for (const path of ["/accounts", `/accounts/${account}`, `/accounts/${account}/events`, `/accounts/${account}/state`]) {
            const reply = yield* T.request("GET", `${path}?${query}`, { token: T.tokens.alice })
            if (reply.status >= 500) failures.push(`GET ${path}?${query} -> ${reply.status} ${reply.text.slice(0, 200)}`)
          }
        }
        for (const segment of ["%00", "..%2F..%2F", "x".repeat(2000), "%F0%9F%98%80", "00000000-0000-0000-0000-00000000000G"]) {
          const reply = yield* T.request("GET", `/accounts/${segment}`, { token: T.tokens.alice })
          check(`GET /accounts/${segment.slice(0, 20)}`, reply)
        }
        assert.deepStrictEqual(failures, [])
        assert.strictEqual(yield* T.eventCount, before, "no hostile request wrote an event")
      }))
  })
})
