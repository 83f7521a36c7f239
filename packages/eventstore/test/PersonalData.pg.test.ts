/**
 * Crypto-shredding end to end on PostgreSQL: personal data is encrypted at rest (events and snapshots),
 * readable through every read path, and after `forget` gone from every table while the events still fold.
 * Each failure mode has its own typed outcome: forgotten (placeholder), wrong / unknown / missing master
 * key, missing data key, corrupted ciphertext.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, layer } from "@effect/vitest"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Context, Effect, Layer, Option, Result, Schema, Stream } from "effect"
import { CommandHandler, EventCodec, EventStore, MasterKeys, PersonalData, PersonalFields, PgEventStore } from "../src/index.ts"

// --- a small domain with personal data -----------------------------------------------------------------------
const pd = (placeholder: string) => ({ personalData: { subjectField: "personId", placeholder } })
const Registered = Schema.TaggedStruct("Registered", {
  personId: Schema.String,
  name: Schema.String.annotate(pd("[erased]")),
  email: Schema.String.annotate(pd("erased@erased.invalid")),
  country: Schema.String
})
const Renamed = Schema.TaggedStruct("Renamed", { personId: Schema.String, name: Schema.String.annotate(pd("[erased]")) })
const Visited = Schema.TaggedStruct("Visited", { personId: Schema.String, page: Schema.String })
const PersonEvent = Schema.Union([Registered, Renamed, Visited])
type PersonEvent = typeof PersonEvent.Type
const PersonState = Schema.Struct({ name: Schema.String, visits: Schema.Int })
type PersonState = typeof PersonState.Type
type PersonCommand =
  | { readonly _tag: "Register"; readonly personId: string; readonly name: string; readonly email: string }
  | { readonly _tag: "Rename"; readonly personId: string; readonly name: string }
  | { readonly _tag: "Visit"; readonly personId: string; readonly page: string }

const people = CommandHandler.make<PersonCommand, PersonEvent, PersonState, never>({
  category: "person",
  codec: EventCodec.make({ schema: PersonEvent, versions: { Registered: 1, Renamed: 1, Visited: 1 } }),
  decider: {
    initialState: { name: "", visits: 0 },
    decide: (command) =>
      Result.succeed([
        command._tag === "Register"
          ? Registered.make({ personId: command.personId, name: command.name, email: command.email, country: "NL" })
          : command._tag === "Rename"
          ? Renamed.make({ personId: command.personId, name: command.name })
          : Visited.make({ personId: command.personId, page: command.page })
      ]),
    evolve: (state, event) => event._tag === "Visited" ? { ...state, visits: state.visits + 1 } : { ...state, name: event.name }
  },
  snapshot: { key: "person-v1", schema: PersonState, every: 3 }
})

const fields = PersonalFields.fromSchemas(PersonEvent)
const key1 = MasterKeys.generate("k1")
const key2 = MasterKeys.generate("k2")

const protectedStore = (keys: string | undefined) =>
  PersonalData.layer({ masterKeys: keys === undefined ? undefined : MasterKeys.parse(keys), fields }).pipe(
    Layer.provide(PgEventStore.layer())
  )

/** The same database, seen by another process with its own pool and master keys. */
const otherProcess = (keys: string | undefined) =>
  Effect.gen(function*() {
    const url = (yield* PgClient.PgClient).config.url!
    const context = yield* Layer.build(protectedStore(keys).pipe(Layer.provideMerge(PgClient.layer({ url, maxConnections: 2 }))))
    return { store: Context.get(context, EventStore), personalData: Context.get(context, PersonalData.PersonalData) }
  })

/** Every row of every table of the database, as text: what a dump would contain. */
const dump = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const tables = yield* sql<{ readonly name: string }>`
    SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name FROM pg_tables
    WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`
  let text = ""
  for (const table of tables) {
    const rows = yield* sql.unsafe<{ readonly row: string }>(`SELECT t::text AS row FROM ${table.name} t`)
    text += rows.map((r) => r.row).join("\n") + "\n"
  }
  return { text, tables: tables.length }
})

const id = () => crypto.randomUUID()

forEachDatabase((target) => {
  describe("personal data", () => {
    layer(protectedStore(key1).pipe(Layer.provideMerge(TestDatabase.layer(target))), {
      excludeTestServices: true,
      timeout: "60 seconds"
    })("crypto-shredding", (it) => {
      it.effect("personal data is encrypted at rest and readable through every read path", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const person = id()
          const start = (yield* store.horizon).checkpoint
          yield* people.handle(person, { _tag: "Register", personId: person, name: "Ada Lovelace", email: "ada@example.org" })
          const { text } = yield* dump
          assert.notInclude(text, "Ada Lovelace")
          assert.notInclude(text, "ada@example.org")
          assert.include(text, "NL") // fields that are not personal data stay readable
          const [read] = yield* store.readStream(`person-${person}`)
          assert.deepInclude(read!.data as object, { name: "Ada Lovelace", email: "ada@example.org", country: "NL" })
          const all = yield* Stream.runCollect(store.streamAll({ from: start, categories: ["person"] }))
          assert.deepInclude(all[0]!.data as object, { name: "Ada Lovelace" })
          const [batch] = yield* Stream.runCollect(store.subscribe({ from: start, categories: ["person"] }).pipe(Stream.take(1)))
          assert.deepInclude(batch!.events[0]!.data as object, { email: "ada@example.org" })
        }))

      it.effect("after forget no table holds the subject's plaintext, others stay readable, events still fold", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const gdpr = yield* PersonalData.PersonalData
          const alice = id()
          const bob = id()
          yield* people.handle(alice, { _tag: "Register", personId: alice, name: "Alice Liddell", email: "alice@wonder.land" })
          yield* people.handle(alice, { _tag: "Visit", personId: alice, page: "/rabbit-hole" })
          yield* people.handle(alice, { _tag: "Rename", personId: alice, name: "Alice Pleasance Liddell" })
          yield* people.handle(alice, { _tag: "Visit", personId: alice, page: "/tea-party" })
          yield* people.handle(bob, { _tag: "Register", personId: bob, name: "Bob Builder", email: "bob@build.it" })
          const snapshots = (yield* store.readStreamWithSnapshot(`person-${alice}`, "person-v1")).snapshot
          assert.isTrue(Option.isSome(snapshots), "a snapshot exists before the forget")
          const before = yield* dump
          for (const secret of ["Alice Liddell", "Pleasance", "alice@wonder.land"]) assert.notInclude(before.text, secret)

          const result = yield* gdpr.forget(alice, { reason: "GDPR request #17", requestedBy: "ops@bank" })
          assert.isTrue(result.forgotten)
          assert.deepStrictEqual(result.streams, [`person-${alice}`])
          const after = yield* dump
          assert.isAbove(after.tables, 5)
          for (const secret of ["Alice Liddell", "Pleasance", "alice@wonder.land"]) assert.notInclude(after.text, secret)

          const events = yield* store.readStream(`person-${alice}`)
          assert.deepInclude(events[0]!.data as object, { name: "[erased]", email: "erased@erased.invalid", country: "NL" })
          assert.deepStrictEqual(events[0]!.erasedFields, ["name", "email"])
          assert.deepStrictEqual(events[1]!.erasedFields, undefined)
          assert.deepStrictEqual(yield* people.load(alice), { state: { name: "[erased]", visits: 2 }, version: 4 })
          assert.isTrue(Option.isNone((yield* store.readStreamWithSnapshot(`person-${alice}`, "person-v1")).snapshot))
          const bobEvents = yield* store.readStream(`person-${bob}`)
          assert.deepInclude(bobEvents[0]!.data as object, { name: "Bob Builder", email: "bob@build.it" })

          const [erasure] = yield* store.readStream(`erasure-${alice}`)
          assert.strictEqual(erasure!.type, "SubjectForgotten")
          assert.deepInclude(erasure!.data as object, { subjectId: alice, reason: "GDPR request #17", requestedBy: "ops@bank" })
          assert.deepStrictEqual((yield* gdpr.status(alice)).state, "forgotten")

          // Permanent: forgetting again changes nothing, and no new personal data can be stored for the subject.
          const again = yield* gdpr.forget(alice, { reason: "again", requestedBy: "ops@bank" })
          assert.isFalse(again.forgotten)
          assert.strictEqual((yield* store.readStream(`erasure-${alice}`)).length, 1)
          const refused = yield* people.handle(alice, { _tag: "Rename", personId: alice, name: "Alice Again" }).pipe(Effect.flip)
          assert.deepInclude(refused, { _tag: "SubjectForgotten", subject: alice })
          const visit = yield* people.handle(alice, { _tag: "Visit", personId: alice, page: "/after" })
          assert.strictEqual(visit.version, 5) // events without personal data are still accepted
          // A new snapshot for the stream is taken from placeholders only.
          assert.notInclude((yield* dump).text, "Alice")
        }))

      it.effect("a corrupted ciphertext and a missing data key are typed errors, never garbage", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const sql = yield* PgClient.PgClient
          const carol = id()
          const dave = id()
          yield* people.handle(carol, { _tag: "Register", personId: carol, name: "Carol", email: "carol@x.org" })
          yield* people.handle(dave, { _tag: "Register", personId: dave, name: "Dave", email: "dave@x.org" })
          // Stored events are immutable: corrupting one takes the maintenance switch.
          yield* sql.withTransaction(Effect.gen(function*() {
            yield* sql`SET LOCAL verity.maintenance = 'on'`
            yield* sql`UPDATE verity.events SET data = jsonb_set(data, '{name,d}', to_jsonb(
                overlay(data->'name'->>'d' placing (CASE WHEN substr(data->'name'->>'d', 20, 1) = 'A' THEN 'B' ELSE 'A' END) from 20 for 1)))
              WHERE stream_id = ${`person-${carol}`}`
          }))
          const corrupt = yield* store.readStream(`person-${carol}`).pipe(Effect.flip)
          assert.deepInclude(corrupt, { _tag: "PersonalDataError", reason: "CorruptCiphertext", subject: carol })
          yield* sql`DELETE FROM verity.subject_keys WHERE subject_id = ${dave}`
          const { store: fresh } = yield* otherProcess(key1)
          const missing = yield* fresh.readStream(`person-${dave}`).pipe(Effect.flip)
          assert.deepInclude(missing, { _tag: "PersonalDataError", reason: "MissingDataKey", subject: dave })
        }))

      it.effect("wrong, unknown or missing master keys are distinct typed errors", () =>
        Effect.gen(function*() {
          const erin = id()
          yield* people.handle(erin, { _tag: "Register", personId: erin, name: "Erin", email: "erin@x.org" })
          const wrong = yield* otherProcess(MasterKeys.generate("k1"))
          const wrongRead = yield* wrong.store.readStream(`person-${erin}`).pipe(Effect.flip)
          assert.deepInclude(wrongRead, { _tag: "PersonalDataError", reason: "WrongMasterKey", subject: erin })
          const unknown = yield* otherProcess(key2)
          const unknownRead = yield* unknown.store.readStream(`person-${erin}`).pipe(Effect.flip)
          assert.deepInclude(unknownRead, { _tag: "PersonalDataError", reason: "UnknownMasterKey" })
          const none = yield* otherProcess(undefined)
          const noneRead = yield* none.store.readStream(`person-${erin}`).pipe(Effect.flip)
          assert.deepInclude(noneRead, { _tag: "PersonalDataError", reason: "MissingMasterKey" })
          const noneWrite = yield* none.store.append(`person-${id()}`, "any", [{
            eventId: crypto.randomUUID(),
            type: "Registered",
            data: { personId: id(), name: "X", email: "x@x.org", country: "NL" }
          }]).pipe(Effect.flip)
          assert.deepInclude(noneWrite, { _tag: "PersonalDataError", reason: "MissingMasterKey" })
        }))

      it.effect("rotating the master key re-wraps every data key online; old data stays readable", () =>
        Effect.gen(function*() {
          const frank = id()
          yield* people.handle(frank, { _tag: "Register", personId: frank, name: "Frank", email: "frank@x.org" })
          const rotating = yield* otherProcess(`${key2},${key1}`)
          const moved = yield* rotating.personalData.rotateMasterKey
          assert.isAbove(moved, 0)
          const counts = yield* rotating.personalData.keyCounts
          assert.isUndefined(counts["k1"])
          const onlyNew = yield* otherProcess(key2)
          const [read] = yield* onlyNew.store.readStream(`person-${frank}`)
          assert.deepInclude(read!.data as object, { name: "Frank" })
          assert.strictEqual(yield* rotating.personalData.rotateMasterKey, 0)
        }))

      it.effect("a forget in one process reaches another process's key cache", () =>
        Effect.gen(function*() {
          const gina = id()
          yield* people.handle(gina, { _tag: "Register", personId: gina, name: "Gina", email: "gina@x.org" })
          const other = yield* otherProcess(key1)
          const [cached] = yield* other.store.readStream(`person-${gina}`)
          assert.deepInclude(cached!.data as object, { name: "Gina" })
          const gdpr = yield* PersonalData.PersonalData
          yield* gdpr.forget(gina, { reason: "request", requestedBy: "ops" })
          // Wait on the condition (the NOTIFY arriving), bounded; the cache TTL would be a minute.
          const erased = yield* Effect.gen(function*() {
            while (true) {
              const [event] = yield* other.store.readStream(`person-${gina}`)
              if ((event!.data as { name: string }).name === "[erased]") return true
              yield* Effect.sleep("20 millis")
            }
          }).pipe(Effect.timeout("10 seconds"))
          assert.isTrue(erased)
        }))
    })
  })
})
