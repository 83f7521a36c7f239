/**
 * The event feed (`GET /events`, Server-Sent Events) over real HTTP: every event in the commit-safe global
 * order with its checkpoint as id; filters by category and type; a client that disconnects and resumes with
 * `Last-Event-ID` while writers keep appending misses nothing and sees nothing twice; invalid requests and
 * missing scopes are refused before anything streams; personal data reads as the crypto-shredding store
 * renders it; feeds are capped; and a slow reader holds the server back instead of making it buffer.
 */
import { assert, layer } from "@effect/vitest"
import { Checkpoint, EventStore, type ReadAllOptions, type RecordedEvent } from "@verity/eventstore"
import { eventually, forEachDatabase } from "@verity/postgres/testing"
import { Duration, Effect, Fiber, Stream } from "effect"
import * as Feed from "../src/events/Feed.ts"
import { Feeds } from "../src/events/Feeds.ts"
import * as Sse from "./support/SseClient.ts"
import * as T from "./support/TestApi.ts"

/** Every readable event (with these filters), as the API's store reads them. */
const allEvents = (options: Omit<ReadAllOptions, "from"> = {}) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const out: Array<RecordedEvent> = []
    let from = Checkpoint.start
    while (true) {
      const page = yield* store.readAll({ ...options, from, limit: 1000 })
      out.push(...page.events)
      from = page.checkpoint
      if (page.caughtUp) return out
    }
  }).pipe(Effect.orDie)

const ids = (messages: ReadonlyArray<Sse.Message>) => messages.map((m) => m.id)
const eventIds = (messages: ReadonlyArray<Sse.Message>) => messages.map((m) => JSON.parse(m.data!).eventId as string)

const noFeedOpen = Effect.gen(function*() {
  const feeds = yield* Feeds
  yield* eventually("no feed open", Effect.map(feeds.stats, (s) => s.active === 0))
})

forEachDatabase((target) => {
  layer(
    T.layer(target, { feedHeartbeat: Duration.millis(200), maxFeeds: 3 }),
    { excludeTestServices: true, timeout: "120 seconds" }
  )("event feed", (it) => {
    it.effect("every event in the global order, the checkpoint as id, then live", () =>
      Effect.gen(function*() {
        const a = yield* T.openAccount()
        const b = yield* T.openAccount()
        yield* T.deposit(a, 10)
        yield* T.deposit(b, 20)
        const stored = yield* allEvents()

        const feed = yield* Sse.open("/events", { token: T.tokens.reader })
        assert.strictEqual(feed.status, 200, feed.text)
        assert.match(feed.headers.get("content-type") ?? "", /^text\/event-stream/)
        assert.strictEqual(feed.headers.get("cache-control"), "no-cache")
        const first = yield* Sse.take(feed, stored.length)
        assert.deepStrictEqual(ids(first), stored.map((e) => e.checkpoint))
        assert.deepStrictEqual(first.map((m) => m.event), stored.map((e) => e.type))
        const message = first[first.length - 1]!
        const event = stored[stored.length - 1]!
        const data = JSON.parse(message.data!)
        assert.deepStrictEqual(data, {
          eventId: event.eventId,
          streamId: `account-${b}`,
          version: 2,
          position: event.position.toString(),
          type: "MoneyDeposited",
          schemaVersion: event.schemaVersion,
          recordedAt: event.recordedAt.toISOString(),
          metadata: event.metadata,
          data: event.data,
          erasedFields: []
        })
        assert.isString(data.metadata.correlationId)
        assert.strictEqual(data.data.amount, 20)

        // Live: an event committed while the client listens arrives next.
        const live = yield* T.deposit(a, 5)
        const [next] = yield* Sse.take(feed, 1)
        assert.strictEqual(next!.event, "MoneyDeposited")
        assert.strictEqual(JSON.parse(next!.data!).position, live.position)
        assert.strictEqual(JSON.parse(next!.data!).streamId, `account-${a}`)
        yield* feed.close
        yield* noFeedOpen
      }))

    it.effect("filters by type and category (comma-separated or repeated); personal data as the store renders it; heartbeats", () =>
      Effect.gen(function*() {
        const name = "Feed Holder Forgotten"
        const opened = yield* T.alice.post("/accounts", { holderName: name, holderEmail: "feed.forgotten@example.org", currency: "EUR" })
        const forgottenId = opened.body.accountId as string
        yield* T.deposit(forgottenId, 3)
        const forgotten = yield* T.ops.post(`/subjects/${forgottenId}/forget`, { reason: "erasure request" })
        assert.strictEqual(forgotten.status, 200, forgotten.text)

        const typed = yield* allEvents({ types: ["AccountOpened", "MoneyDeposited"] })
        const byType = yield* Sse.open("/events?type=AccountOpened,MoneyDeposited", { token: T.tokens.reader })
        const typedMessages = yield* Sse.take(byType, typed.length)
        assert.deepStrictEqual(ids(typedMessages), typed.map((e) => e.checkpoint))
        assert.isTrue(typedMessages.every((m) => m.event === "AccountOpened" || m.event === "MoneyDeposited"))
        yield* byType.close

        // Repeated parameters; the forgotten holder's opening reads with placeholders, like the history.
        const opening = yield* Sse.open("/events?category=account&type=AccountOpened&type=HolderDetailsUpdated", {
          token: T.tokens.reader
        })
        const openings = yield* allEvents({ categories: ["account"], types: ["AccountOpened", "HolderDetailsUpdated"] })
        const openingMessages = yield* Sse.take(opening, openings.length)
        assert.deepStrictEqual(ids(openingMessages), openings.map((e) => e.checkpoint))
        const erased = openingMessages.map((m) => JSON.parse(m.data!)).find((d) => d.streamId === `account-${forgottenId}`)
        assert.isDefined(erased)
        assert.notInclude(JSON.stringify(openingMessages), name)
        assert.notInclude(JSON.stringify(openingMessages), "feed.forgotten@example.org")
        assert.include(erased.erasedFields, "holderName")
        const history = yield* T.alice.get(`/accounts/${forgottenId}/events`)
        assert.strictEqual(erased.data.holderName, history.body.events[0].data.holderName)
        yield* opening.close

        // Only the erasure stream; once nothing more arrives, keep-alive comments do.
        const erasures = yield* Sse.open("/events?category=erasure", { token: T.tokens.reader })
        const [erasure] = yield* Sse.take(erasures, 1)
        assert.strictEqual(erasure!.event, "SubjectForgotten")
        assert.strictEqual(JSON.parse(erasure!.data!).streamId, `erasure-${forgottenId}`)
        let comment: string | undefined
        while (comment === undefined) {
          const message = yield* erasures.next.pipe(Effect.timeoutOrElse({
            duration: "10 seconds",
            orElse: () => Effect.die(new Error("no keep-alive arrived"))
          }))
          if (message === undefined) return assert.fail("the feed must not end")
          assert.isUndefined(message.id, "no event but the one erasure")
          comment = message.comment
        }
        assert.strictEqual(comment, "keep-alive")
        yield* erasures.close
        yield* noFeedOpen
      }))

    it.effect("invalid checkpoints and filters are 400, missing token 401, missing scope 403; nothing streams", () =>
      Effect.gen(function*() {
        const feeds = yield* Feeds
        const bad: ReadonlyArray<readonly [string, Record<string, string>, string]> = [
          ["/events", { "last-event-id": "not-a-checkpoint" }, "last-event-id"],
          ["/events?after=12x", {}, "after"],
          ["/events?after=1.2&category=account", { "last-event-id": "99999999999999999999999.1" }, "last-event-id"],
          ["/events?category=nope", {}, "category"],
          ["/events?category=account,", {}, "category"],
          ["/events?type=MoneyDeposited&type=NoSuchEvent", {}, "type"]
        ]
        for (const [path, headers, parameter] of bad) {
          const reply = yield* T.request("GET", path, { token: T.tokens.reader, headers })
          const problem = T.isProblem(reply, 400)
          assert.include(JSON.stringify(problem.errors), parameter, path)
        }
        T.isProblem(yield* T.request("GET", "/events"), 401, "Unauthorized")
        const forbidden = T.isProblem(yield* T.request("GET", "/events", { token: T.tokens.writer }), 403, "Forbidden")
        assert.strictEqual(forbidden.requiredScope, "read")
        assert.strictEqual((yield* feeds.stats).active, 0)
      }))

    it.effect("a client that disconnects and resumes with Last-Event-ID misses nothing and sees nothing twice", () =>
      Effect.gen(function*() {
        const accounts = yield* Effect.forEach([1, 2, 3], () => T.openAccount())
        // Writers keep appending while the client reads, leaves and comes back.
        const writers = yield* Effect.forEach(
          accounts,
          (id) => Effect.forEach(Array.from({ length: 40 }, (_, i) => i + 1), (amount) => T.deposit(id, amount), { discard: true }),
          { concurrency: "unbounded", discard: true }
        ).pipe(Effect.forkChild)

        const before = (yield* allEvents({ categories: ["account"] })).length
        const firstFeed = yield* Sse.open("/events?category=account", { token: T.tokens.reader })
        const firstPart = yield* Sse.take(firstFeed, before + 20)
        yield* firstFeed.close
        yield* noFeedOpen

        const resumed = yield* Sse.open("/events?category=account", {
          token: T.tokens.reader,
          headers: { "last-event-id": firstPart[firstPart.length - 1]!.id! }
        })
        assert.strictEqual(resumed.status, 200, resumed.text)
        yield* Fiber.join(writers)
        const expected = yield* allEvents({ categories: ["account"] })
        assert.isAtLeast(expected.length, before + 120)
        const secondPart = yield* Sse.take(resumed, expected.length - firstPart.length)
        const all = [...firstPart, ...secondPart]
        assert.deepStrictEqual(eventIds(all), expected.map((e) => e.eventId))
        assert.deepStrictEqual(ids(all), expected.map((e) => e.checkpoint))
        assert.strictEqual(new Set(eventIds(all)).size, all.length)
        yield* resumed.close

        // `?after=` resumes the same way (what a client without EventSource sends).
        const middle = firstPart[firstPart.length - 1]!.id!
        const after = yield* Sse.open(`/events?category=account&after=${middle}`, { token: T.tokens.reader })
        const [afterFirst] = yield* Sse.take(after, 1)
        assert.strictEqual(afterFirst!.id, secondPart[0]!.id)
        yield* after.close
        yield* noFeedOpen
      }))

    it.effect("feeds are capped: one more is 503 with Retry-After until one closes", () =>
      Effect.gen(function*() {
        const feeds = yield* Feeds
        yield* noFeedOpen
        const open = yield* Effect.forEach([1, 2, 3], () => Sse.open("/events", { token: T.tokens.reader }))
        for (const feed of open) assert.strictEqual(feed.status, 200, feed.text)
        const refused = yield* T.request("GET", "/events", { token: T.tokens.reader })
        T.isProblem(refused, 503, "Overloaded")
        assert.strictEqual(refused.headers.get("retry-after"), "1")
        assert.isAtLeast((yield* feeds.stats).rejected, 1)
        yield* open[0]!.close
        yield* eventually("a place is free", Effect.map(feeds.stats, (s) => s.active === 2))
        const again = yield* Sse.open("/events", { token: T.tokens.reader })
        assert.strictEqual(again.status, 200, again.text)
        yield* Effect.forEach([...open.slice(1), again], (feed) => feed.close, { discard: true })
        yield* noFeedOpen
      }))

    it.effect("a slow reader: the feed reads a page only when the previous one was taken", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        // A category no projection reads: 30 pages of 10 events.
        for (let batch = 0; batch < 3; batch++) {
          yield* store.append(
            "probe-1",
            "any",
            Array.from({ length: 100 }, (_, i) => ({ eventId: crypto.randomUUID(), type: "Probed", data: { batch, i } }))
          ).pipe(Effect.orDie)
        }
        const request = { from: Checkpoint.start, categories: ["probe"] }
        const options = (onPage: Effect.Effect<void>) => ({ pageSize: 10, heartbeat: Duration.hours(1), onPage })
        const countIds = (chunks: ReadonlyArray<Uint8Array>) =>
          chunks.reduce((n, chunk) => n + (new TextDecoder().decode(chunk).match(/^id: /gm)?.length ?? 0), 0)

        yield* Effect.scoped(Effect.gen(function*() {
          let slowPages = 0
          const pull = yield* Stream.toPull(Feed.body(store, request, options(Effect.sync(() => slowPages++))))
          let received = 0
          while (received < 20) received += countIds(yield* pull)
          assert.strictEqual(received, 20)

          // Meanwhile a fast reader of the same feed reads all 30 pages: the slow one had as long to run ahead.
          let fastPages = 0
          const fast = yield* Feed.body(store, request, options(Effect.sync(() => fastPages++))).pipe(
            Stream.take(31),
            Stream.runCollect
          )
          assert.strictEqual(countIds(fast), 300)
          assert.isAtLeast(fastPages, 30)
          // Two pages taken, at most the next one read and waiting, and one more being read.
          assert.isAtMost(slowPages, 4, `the slow feed read ${slowPages} pages for 2 taken`)

          // It still delivers everything, in order, when the reader comes back.
          while (received < 300) received += countIds(yield* pull)
          assert.strictEqual(received, 300)
        }))
      }))
  })
})
