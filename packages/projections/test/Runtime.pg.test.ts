/**
 * The projection runtime on a small test projection (events counted per stream): catch-up and live,
 * read-your-writes, poison events parking only their stream (retry and skip), rebuilds that switch
 * readers atomically, verify finding a corrupted row, and one active runner across two "processes".
 * The verified switch: a new generation that differs from the events is refused with its differing rows,
 * by a runner's activation and by `rebuildNow`; `skipVerify` switches anyway.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, layer } from "@effect/vitest"
import { EventStore, PgEventStore, type RecordedEvent } from "@verity/eventstore"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Projection, Projections } from "../src/index.ts"

/** Event ids that make the handler fail, as a bug in projection code would. */
const poisoned = new Set<string>()

/**
 * Generation schemas the handler writes wrongly (one more per event than it should), as code that does not
 * reproduce its own results would; verify's scratch schemas are never in it.
 */
const miswritten = new Set<string>()

const counter = (version = 1, name = "stream_counts") =>
  Projection.make({
    name,
    version,
    categories: ["counted"],
    eventTypes: ["Counted"],
    tables: [{ name: "counts", key: ["stream_id"] }],
    migrate: (ctx) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        yield* sql`CREATE TABLE ${ctx.table("counts")} (stream_id text PRIMARY KEY, n integer NOT NULL, last_version integer NOT NULL)`
      }),
    apply: (events: ReadonlyArray<RecordedEvent>, ctx) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        for (const e of events) if (poisoned.has(e.eventId)) return yield* new Projection.ProjectionFailure({ message: `poison ${e.eventId}` })
        const perStream = new Map<string, { n: number; last: number }>()
        for (const e of events) {
          const entry = perStream.get(e.streamId) ?? { n: 0, last: 0 }
          perStream.set(e.streamId, { n: entry.n + 1, last: e.version })
        }
        const streams = [...perStream.keys()]
        yield* sql`
          INSERT INTO ${ctx.table("counts")} (stream_id, n, last_version)
          SELECT * FROM unnest(${streams}::text[], ${streams.map((s) => perStream.get(s)!.n)}::int[], ${
          streams.map((s) => perStream.get(s)!.last)
        }::int[])
          ON CONFLICT (stream_id) DO UPDATE SET n = ${ctx.table("counts")}.n + excluded.n, last_version = excluded.last_version`
        if (miswritten.has(ctx.schema)) {
          yield* sql`UPDATE ${ctx.table("counts")} SET n = n + 100 WHERE stream_id = ANY(${streams}::text[])`
        }
      })
  })

const counted = (n: number) => Array.from({ length: n }, () => ({ eventId: crypto.randomUUID(), type: "Counted", data: {} }))

const countsOf = (name: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const rows = yield* sql<{ readonly stream_id: string; readonly n: number }>`SELECT stream_id, n FROM ${sql(`${name}.counts`)}`
    return new Map(rows.map((r) => [r.stream_id, r.n]))
  })
const counts = countsOf("stream_counts")

const fast = { pollInterval: "50 millis", discoveryInterval: "200 millis" } as const

/** A second process: its own pool, store and runners, on the same database. */
const otherProcess = (projection: Projection.Projection, owner: string) =>
  Effect.gen(function*() {
    const url = (yield* PgClient.PgClient).config.url!
    const context = yield* Layer.build(
      Projections.layer({ projections: [projection], owner, ...fast }).pipe(
        Layer.provideMerge(PgEventStore.layer()),
        Layer.provideMerge(PgClient.layer({ url, maxConnections: 4 }))
      )
    )
    return Context.get(context, Projections.Projections)
  })

forEachDatabase((target) => {
  layer(
    Projections.layer({ projections: [counter()], owner: "main", ...fast }).pipe(
      Layer.provideMerge(PgEventStore.layer()),
      Layer.provideMerge(TestDatabase.layer(target, { maxConnections: 10 }))
    ),
    { excludeTestServices: true, timeout: "120 seconds" }
  )("projection runtime", (it) => {
    it.effect("catches up and follows live; waitFor gives read-your-writes", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const projections = yield* Projections.Projections
        yield* store.append("counted-a", "any", counted(3))
        const last = yield* store.append("counted-b", "any", counted(2))
        yield* projections.waitFor("stream_counts", last.checkpoint, "20 seconds")
        const after = yield* counts
        assert.strictEqual(after.get("counted-a"), 3)
        assert.strictEqual(after.get("counted-b"), 2)
        const byPosition = yield* store.append("counted-a", "any", counted(1))
        yield* projections.waitFor("stream_counts", byPosition.positions[0]!, "20 seconds")
        assert.strictEqual((yield* counts).get("counted-a"), 4)
        const status = yield* projections.statusOf("stream_counts")
        assert.strictEqual(status.active?.generation, 1)
        assert.strictEqual(status.state, "live")
        assert.strictEqual(status.active?.owner, "main")
        const timeout = yield* projections.waitFor("stream_counts", 10n ** 12n, "100 millis").pipe(Effect.flip)
        assert.strictEqual(timeout._tag, "WaitTimedOut")
      }))

    it.effect("status names the open appending transaction that holds the projection back", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const sql = yield* SqlClient
        const projections = yield* Projections.Projections
        const ready = yield* Deferred.make<number>()
        const release = yield* Deferred.make<void>()
        const holder = yield* store.transaction(Effect.gen(function*() {
          yield* sql`SET LOCAL application_name = 'slow-import'`
          yield* store.append("counted-held", "any", counted(1))
          const rows = yield* sql<{ readonly pid: number }>`SELECT pg_backend_pid() AS pid`
          yield* Deferred.succeed(ready, rows[0]!.pid)
          yield* Deferred.await(release)
        })).pipe(Effect.orDie, Effect.forkChild)
        const pid = yield* Deferred.await(ready)
        const later = yield* store.append("counted-after", "any", counted(1))
        const status = yield* projections.statusOf("stream_counts")
        assert.deepInclude(status.active?.heldBackBy ?? {}, { pid, applicationName: "slow-import", state: "idle in transaction" })
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(holder)
        yield* projections.waitFor("stream_counts", later.checkpoint, "20 seconds")
        assert.strictEqual((yield* counts).get("counted-held"), 1)
        assert.isNull((yield* projections.statusOf("stream_counts")).active?.heldBackBy ?? null)
      }))

    it.effect("a poison event parks only its stream; retry after a fix and skip both work", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const projections = yield* Projections.Projections
        const bad = counted(1)
        yield* store.append("counted-p", "any", counted(1))
        poisoned.add(bad[0]!.eventId)
        yield* store.append("counted-p", "any", bad)
        yield* store.append("counted-p", "any", counted(2)) // waits behind the poison
        const other = yield* store.append("counted-q", "any", counted(2)) // flows
        yield* projections.waitFor("stream_counts", other.checkpoint, "20 seconds")
        let now = yield* counts
        assert.strictEqual(now.get("counted-p"), 1)
        assert.strictEqual(now.get("counted-q"), 2)
        const parked = yield* projections.parked("stream_counts")
        assert.strictEqual(parked.length, 1)
        assert.deepInclude(parked[0]!, { stream: "counted-p", eventType: "Counted", waitingEvents: 3 })
        assert.include(parked[0]!.error, "poison")
        assert.strictEqual((yield* projections.statusOf("stream_counts")).state, "parked")
        // Still broken: retry leaves it parked.
        const stillBad = yield* projections.retry("stream_counts", "counted-p")
        assert.isFalse(stillBad.resumed)
        // Fixed: retry applies the waiting events in order.
        poisoned.delete(bad[0]!.eventId)
        const retried = yield* projections.retry("stream_counts", "counted-p")
        assert.deepStrictEqual(retried, { resumed: true, applied: 3, skipped: 0, error: undefined })
        now = yield* counts
        assert.strictEqual(now.get("counted-p"), 4)
        // A new poison, skipped by an operator: the event goes to the dead letters, the rest applies.
        const worse = counted(1)
        poisoned.add(worse[0]!.eventId)
        yield* store.append("counted-p", "any", worse)
        const tail = yield* store.append("counted-p", "any", counted(1))
        yield* projections.waitFor("stream_counts", tail.checkpoint, "20 seconds")
        const skipped = yield* projections.skip("stream_counts", "counted-p", "operator")
        assert.deepStrictEqual(skipped, { resumed: true, applied: 1, skipped: 1, error: undefined })
        assert.strictEqual((yield* counts).get("counted-p"), 5)
        const sql = yield* SqlClient
        const dead = yield* sql<{ readonly n: bigint }>`SELECT count(*) AS n FROM verity_projections.dead_letters WHERE skipped_by = 'operator'`
        assert.strictEqual(dead[0]!.n, 1n)
        assert.strictEqual((yield* projections.retry("stream_counts", "counted-p").pipe(Effect.flip))._tag, "StreamNotParked")
        poisoned.clear()
      }))

    it.effect("verify finds a corrupted row; a rebuild repairs it and switches readers atomically", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const projections = yield* Projections.Projections
        const sql = yield* SqlClient
        const last = yield* store.append("counted-v", "any", counted(4))
        yield* projections.waitFor("stream_counts", last.checkpoint, "20 seconds")
        const clean = yield* projections.verify("stream_counts")
        assert.isTrue(clean.consistent, JSON.stringify(clean.tables))
        const active = (yield* projections.statusOf("stream_counts")).active!.generation
        yield* sql`UPDATE ${sql(`stream_counts_g${active}.counts`)} SET n = 99 WHERE stream_id = 'counted-v'`
        const report = yield* projections.verify("stream_counts")
        assert.isFalse(report.consistent)
        const diff = report.tables[0]!
        assert.strictEqual(diff.differences, 1)
        assert.deepStrictEqual(diff.rows[0]!.key, { stream_id: "counted-v" })
        assert.deepInclude(diff.rows[0]!.live as object, { n: 99 })
        assert.deepInclude(diff.rows[0]!.expected as object, { n: 4 })
        const rebuilt = yield* projections.rebuildNow("stream_counts")
        assert.strictEqual(rebuilt.generation, active + 1)
        assert.strictEqual((yield* counts).get("counted-v"), 4)
        const status = yield* projections.statusOf("stream_counts")
        assert.strictEqual(status.active?.generation, active + 1)
        assert.isTrue((yield* projections.verify("stream_counts")).consistent)
        // The old generation keeps its tables until pruned.
        assert.deepStrictEqual(yield* projections.prune("stream_counts"), [active])
      }))

    it.effect("only one process applies a projection; when it goes away the other takes over", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const projection = counter(1, "stream_counts_ha")
        const scopeA = yield* Scope.make()
        const a = yield* otherProcess(projection, "process-a").pipe(Scope.provide(scopeA))
        const first = yield* store.append("counted-ha", "any", counted(3))
        yield* a.waitFor("stream_counts_ha", first.checkpoint, "20 seconds")
        const b = yield* otherProcess(projection, "process-b")
        const second = yield* store.append("counted-ha", "any", counted(2))
        yield* b.waitFor("stream_counts_ha", second.checkpoint, "20 seconds")
        assert.strictEqual((yield* countsOf("stream_counts_ha")).get("counted-ha"), 5, "each event applied once")
        assert.strictEqual((yield* b.statusOf("stream_counts_ha")).active?.owner, "process-a")
        // Process A goes away: its lock connection closes and B takes over.
        yield* Scope.close(scopeA, Exit.void)
        const third = yield* store.append("counted-ha", "any", counted(4))
        yield* b.waitFor("stream_counts_ha", third.checkpoint, "30 seconds")
        assert.strictEqual((yield* countsOf("stream_counts_ha")).get("counted-ha"), 9)
        const status = yield* Effect.gen(function*() {
          while (true) {
            const s = yield* b.statusOf("stream_counts_ha")
            if (s.active?.owner === "process-b") return s
            yield* Effect.sleep("50 millis")
          }
        }).pipe(Effect.timeout("10 seconds"))
        assert.strictEqual(status.active?.owner, "process-b")
      }))

    it.effect("the switch is verified: a generation that differs from the events is refused with its rows; skipVerify switches", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const projections = yield* Projections.Projections
        const last = yield* store.append("counted-sw", "any", counted(3))
        yield* projections.waitFor("stream_counts", last.checkpoint, "20 seconds")
        const active = (yield* projections.statusOf("stream_counts")).active!.generation
        const expectRows = (
          tables: ReadonlyArray<
            {
              readonly table: string
              readonly differences: number
              readonly rows: ReadonlyArray<{ readonly key: unknown; readonly live: unknown; readonly expected: unknown }>
            }
          >
        ) => {
          const counts = tables.find((t) => t.table === "counts")!
          assert.isAbove(counts.differences, 0)
          const row = counts.rows.find((r) => JSON.stringify(r.key) === JSON.stringify({ stream_id: "counted-sw" }))!
          assert.deepInclude(row.live as object, { n: 103 }, "the new generation's row")
          assert.deepInclude(row.expected as object, { n: 3 }, "the row recomputed from the events")
        }

        // rebuildNow: refused, readers stay where they were.
        miswritten.add(`stream_counts_g${active + 1}`)
        const refused = yield* projections.rebuildNow("stream_counts").pipe(Effect.flip)
        assert.strictEqual(refused._tag, "SwitchRefused")
        if (refused._tag !== "SwitchRefused") return
        assert.strictEqual(refused.generation, active + 1)
        assert.include(refused.message, "counts: ")
        expectRows(refused.tables)
        let status = yield* projections.statusOf("stream_counts")
        assert.strictEqual(status.active?.generation, active)
        assert.strictEqual(status.building?.generation, active + 1)
        expectRows(status.building!.refusal!.tables)
        assert.strictEqual((yield* counts).get("counted-sw"), 3, "readers still see the verified generation")

        // A runner's activation (rebuild, built by the supervisor): the refused generation is replaced, and
        // the new one is refused too.
        miswritten.add(`stream_counts_g${active + 2}`)
        assert.strictEqual((yield* projections.rebuild("stream_counts")).generation, active + 2)
        status = yield* Effect.gen(function*() {
          while (true) {
            const s = yield* projections.statusOf("stream_counts")
            if (s.building?.generation === active + 2 && s.building.refusal !== null) return s
            yield* Effect.sleep("50 millis")
          }
        }).pipe(Effect.timeout("30 seconds"))
        expectRows(status.building!.refusal!.tables)
        assert.strictEqual(status.active?.generation, active)
        assert.strictEqual((yield* counts).get("counted-sw"), 3)

        // With the flag it switches, unchecked.
        miswritten.add(`stream_counts_g${active + 3}`)
        const skipped = yield* projections.rebuildNow("stream_counts", undefined, { skipVerify: true })
        assert.strictEqual(skipped.generation, active + 3)
        assert.strictEqual((yield* projections.statusOf("stream_counts")).active?.generation, active + 3)
        assert.strictEqual((yield* counts).get("counted-sw"), 103, "switched to the unverified generation")
        // And a verified rebuild of correct code repairs it.
        miswritten.clear()
        const repaired = yield* projections.rebuildNow("stream_counts")
        assert.strictEqual(repaired.generation, active + 4)
        assert.strictEqual((yield* counts).get("counted-sw"), 3)
      }))
  })
})
