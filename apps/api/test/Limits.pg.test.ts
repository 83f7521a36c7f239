/**
 * Protection at the edge: bodies over the limit are 413 (declared or streamed without a length); under
 * overload the API answers 503 + Retry-After quickly instead of queueing without bound, while the probes
 * stay available; read-your-writes waits have a pool of their own (writers keep their slots), and one
 * token holds at most its share of either pool. Requests are kept in their slots deterministically, by
 * a lock the test holds that appends wait behind.
 */
import { assert, layer } from "@effect/vitest"
import { eventually, forEachDatabase } from "@verity/postgres/testing"
import { Deferred, Duration, Effect, Fiber } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as T from "./support/TestApi.ts"

forEachDatabase((target) => {
  layer(T.layer(target, { maxBodyBytes: 1024 }), { excludeTestServices: true, timeout: "120 seconds" })("body limit", (it) => {
    it.effect("413 for a body over the limit, with or without Content-Length; nothing written", () =>
      Effect.gen(function*() {
        const before = yield* T.eventCount
        const big = JSON.stringify({ holderName: "x".repeat(2000), holderEmail: "a@example.com", currency: "EUR" })
        T.isProblem(yield* T.request("POST", "/accounts", { token: T.tokens.alice, raw: big }), 413, "PayloadTooLarge")
        const url = (yield* T.baseUrl) + "/accounts"
        const chunked = yield* Effect.promise(async () => {
          const encoder = new TextEncoder()
          const stream = new ReadableStream<Uint8Array>({
            start(controller) {
              for (let i = 0; i < 8; i++) controller.enqueue(encoder.encode(big.slice(i * 300, (i + 1) * 300)))
              controller.close()
            }
          })
          const response = await fetch(url, {
            method: "POST",
            headers: { authorization: `Bearer ${T.tokens.alice}`, "content-type": "application/json" },
            body: stream,
            duplex: "half"
          })
          return { status: response.status, type: response.headers.get("content-type"), text: await response.text() }
        })
        assert.strictEqual(chunked.status, 413, chunked.text)
        assert.match(chunked.type ?? "", /problem\+json/)
        assert.strictEqual(yield* T.eventCount, before)
        // Within the limit all is well.
        assert.strictEqual((yield* T.alice.post("/accounts", { holderName: "Small", holderEmail: "s@example.com", currency: "EUR" })).status, 201)
      }))
  })

  layer(
    T.layer(target, { maxConcurrent: 1, maxQueued: 1, queueTimeout: Duration.millis(200) }),
    { excludeTestServices: true, timeout: "120 seconds" }
  )("overload", (it) => {
    it.effect("503 with Retry-After once the slots and the queue are taken; probes still answer", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        // Occupies the only slot: a deposit whose append waits behind a lock the test holds.
        const release = yield* holdAppends
        const slow = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 1 }).pipe(Effect.forkChild)
        yield* blockedAppends(1)
        const started = performance.now()
        const [queued, rejected] = yield* Effect.all([
          T.ops.get(`/accounts/${id}/state`),
          Effect.andThen(Effect.sleep("20 millis"), T.ops.get(`/accounts/${id}/state`))
        ], { concurrency: 2 })
        const elapsed = performance.now() - started
        T.isProblem(queued, 503, "Overloaded")
        T.isProblem(rejected, 503, "Overloaded")
        assert.strictEqual(queued.headers.get("retry-after"), "1")
        assert.isBelow(elapsed, 1500, "refused quickly, not after the slow request")
        assert.strictEqual((yield* T.request("GET", "/health")).status, 200)
        yield* release
        assert.strictEqual((yield* Fiber.join(slow)).status, 200)
        // Capacity is back.
        assert.strictEqual((yield* T.alice.get(`/accounts/${id}/state`)).status, 200)
      }))
  })

  layer(
    T.layer(target, {
      maxConcurrent: 2,
      maxQueued: 1,
      queueTimeout: Duration.millis(300),
      maxWaits: 4,
      maxWaitsPerToken: 4,
      // Long enough that the waits are certainly still open while the writer is served, even on a busy machine.
      readYourWritesTimeout: Duration.seconds(10)
    }),
    { excludeTestServices: true, timeout: "120 seconds" }
  )("read-your-writes pool", (it) => {
    it.effect("waits for a far position fill their own pool (503 beyond it), writers keep their slots", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        let finished = 0
        const overloaded: Array<T.Reply> = []
        const waits = yield* Effect.forEach(Array.from({ length: 6 }), () =>
          T.reader.get(`/accounts/${id}?waitForPosition=999999999999`).pipe(
            Effect.tap((reply) =>
              Effect.sync(() => {
                finished++
                if (reply.body?.title === "Overloaded") overloaded.push(reply)
              })
            ),
            Effect.forkChild
          ))
        // Two of the six find the pool (four) full and are refused at once; four hold their slots.
        yield* until("two overloaded replies", () => overloaded.length >= 2)
        for (const reply of overloaded) assert.strictEqual(reply.headers.get("retry-after"), "1")
        const deposit = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 7 })
        assert.strictEqual(deposit.status, 200, deposit.text)
        assert.strictEqual((yield* T.alice.get(`/accounts/${id}/state`)).status, 200)
        assert.strictEqual(finished, 2, "the four waits were still holding their slots while the writer was served")
        const ended = yield* Effect.forEach(waits, Fiber.join)
        assert.strictEqual(ended.filter((r) => r.body?.title === "ProjectionNotCaughtUp").length, 4)
      }))
  })

  layer(
    T.layer(target, {
      maxConcurrent: 4,
      maxConcurrentPerToken: 2,
      maxQueued: 8,
      queueTimeout: Duration.seconds(15),
      maxWaits: 2,
      maxWaitsPerToken: 1,
      readYourWritesTimeout: Duration.seconds(8)
    }),
    { excludeTestServices: true, timeout: "120 seconds" }
  )("per-token share", (it) => {
    it.effect("one token holds at most its share of the request slots; its other requests queue, others are served", () =>
      Effect.gen(function*() {
        const accounts = yield* Effect.forEach(Array.from({ length: 4 }), () => T.openAccount())
        const release = yield* holdAppends
        const deposits = yield* Effect.forEach(accounts, (id) => T.alice.post(`/accounts/${id}/deposits`, { amount: 3 }).pipe(Effect.forkChild))
        yield* blockedAppends(2)
        // Alice has four requests in flight, all stuck; another token still finds a free slot at once.
        const read = yield* T.ops.get(`/accounts/${accounts[0]}/state`)
        assert.strictEqual(read.status, 200, read.text)
        yield* release
        const answered = yield* Effect.forEach(deposits, Fiber.join)
        assert.deepStrictEqual(answered.map((r) => r.status), [200, 200, 200, 200], "the queued ones ran once slots freed")
      }))

    it.effect("one token holds at most its share of the read-your-writes waits", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        const replies: Array<T.Reply> = []
        const both = yield* Effect.forEach(Array.from({ length: 2 }), () =>
          T.reader.get(`/accounts/${id}?waitForPosition=999999999999`).pipe(
            Effect.tap((reply) => Effect.sync(() => replies.push(reply))),
            Effect.forkChild
          ))
        // The pool has room for two, but the reader's share is one: whichever came second is refused.
        yield* until("a first reply", () => replies.length >= 1)
        const [first] = replies
        if (first === undefined) throw new Error("no reply")
        const refused = T.isProblem(first, 503, "Overloaded")
        assert.include(refused.detail, "read-your-writes waits")
        assert.strictEqual(first.headers.get("retry-after"), "1")
        // Another token still gets a wait (for a position that comes).
        const { position } = yield* T.deposit(id, 1)
        const other = yield* T.alice.get(`/accounts/${id}?waitForPosition=${position}`)
        assert.strictEqual(other.status, 200, other.text)
        yield* Effect.forEach(both, Fiber.join)
        const [, second] = replies
        if (second === undefined) throw new Error("no second reply")
        T.isProblem(second, 503, "ProjectionNotCaughtUp")
      }))
  })
})

/** Waits (bounded) for a condition that concurrent requests make true. */
const until = (what: string, condition: () => boolean) => eventually(what, Effect.sync(condition), { interval: "25 millis" })

/**
 * Holds a lock that every append waits behind (reads go on) until the returned effect releases it: a
 * deterministic way to keep requests inside their slots.
 */
const holdAppends = Effect.gen(function*() {
  const sql = yield* SqlClient
  const locked = yield* Deferred.make<void>()
  const done = yield* Deferred.make<void>()
  const holder = yield* sql.withTransaction(Effect.gen(function*() {
    yield* sql`LOCK TABLE verity.events IN EXCLUSIVE MODE`
    yield* Deferred.succeed(locked, undefined)
    yield* Deferred.await(done)
  })).pipe(Effect.orDie, Effect.forkChild)
  yield* Deferred.await(locked)
  return Deferred.succeed(done, undefined).pipe(Effect.andThen(Fiber.join(holder)))
})

/** Waits until at least `n` sessions of this database wait for a lock (requests stuck in their slots). */
const blockedAppends = (n: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    for (let i = 0; i < 400; i++) {
      const [row] = yield* sql<{ readonly n: number }>`
        SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`
      if ((row?.n ?? 0) >= n) return
      yield* Effect.sleep("25 millis")
    }
    throw new Error(`fewer than ${n} requests waiting for the lock`)
  }).pipe(Effect.orDie)
