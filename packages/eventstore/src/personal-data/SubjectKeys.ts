/**
 * Per-subject data keys in PostgreSQL (`subject_keys`), wrapped by the configured master key, with a bounded
 * cache of unwrapped keys so that encryption is not a round trip per append.
 *
 * Cache coherence after a forget: the forgetting process drops its entry at once and sends a NOTIFY that
 * other processes use to drop theirs; entries also expire after `cacheTtl`, which bounds how long another
 * process could still decrypt if that notification were lost.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Duration, Effect, Layer, Redacted } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { PersonalDataError, type StoreUnavailable, SubjectForgotten } from "../Errors.ts"
import { listen } from "../postgres/Listener.ts"
import { mapSqlErrors } from "../postgres/SqlErrors.ts"
import * as Envelope from "./Envelope.ts"
import type { MasterKeyring } from "./MasterKeys.ts"

export type KeyState =
  | { readonly _tag: "Key"; readonly key: Uint8Array }
  | { readonly _tag: "Forgotten" }
  | { readonly _tag: "Missing" }

export interface SubjectKeysOptions {
  readonly schema: string
  readonly masterKeys: MasterKeyring | undefined
  /** Unwrapped keys kept in memory (default 100,000: about 10 MB). */
  readonly cacheSize?: number
  /** How long a cached key may be used without looking at the database again (default 60 s). */
  readonly cacheTtl?: Duration.Input
}

export class SubjectKeys extends Context.Service<SubjectKeys, {
  /** Keys for encrypting: creates missing keys; fails for forgotten subjects. Records subject -> stream. */
  readonly forWriting: (
    subjects: ReadonlyMap<string, ReadonlySet<string>>
  ) => Effect.Effect<ReadonlyMap<string, Uint8Array>, SubjectForgotten | PersonalDataError | StoreUnavailable>
  /** Keys for decrypting (never creates keys). */
  readonly forReading: (
    subjects: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyMap<string, KeyState>, PersonalDataError | StoreUnavailable>
  /** Destroys the subject's key. Returns false when it was already forgotten. Runs in the caller's transaction. */
  readonly destroy: (subject: string) => Effect.Effect<boolean, SqlError>
  /** Drops a subject from this process's cache and tells other processes to do the same. */
  readonly evict: (subject: string) => Effect.Effect<void>
  /** Re-wraps every data key that is not under the current master key. Returns how many were re-wrapped. */
  readonly rotate: (batchSize?: number) => Effect.Effect<number, PersonalDataError | StoreUnavailable>
  /** The subjects whose personal data the stream holds. */
  readonly subjectsOf: (stream: string) => Effect.Effect<ReadonlyArray<string>, StoreUnavailable>
  /** Subjects per master key id (forgotten subjects under `forgotten`). */
  readonly keyCounts: Effect.Effect<Readonly<Record<string, number>>, StoreUnavailable>
}>()("@verity/eventstore/SubjectKeys") {}

interface CacheEntry {
  readonly state: KeyState
  readonly expires: number
}

interface KeyRow {
  readonly subject_id: string
  readonly master_key_id: string | null
  readonly wrapped_key: Uint8Array | null
}

export const make = (options: SubjectKeysOptions) =>
  Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    const sql = pg.withoutTransforms()
    const keys = sql(`${options.schema}.subject_keys`)
    const subjectStreams = sql(`${options.schema}.subject_streams`)
    const channel = `${options.schema}_forget`
    const cacheSize = options.cacheSize ?? 100_000
    const ttl = Duration.toMillis(Duration.fromInputUnsafe(options.cacheTtl ?? "60 seconds"))
    const cache = new Map<string, CacheEntry>()
    const knownStreams = new Set<string>()
    const masterKeys = options.masterKeys

    const cached = (subject: string): KeyState | undefined => {
      const entry = cache.get(subject)
      if (entry === undefined) return undefined
      if (entry.expires < Date.now()) {
        cache.delete(subject)
        return undefined
      }
      // Refresh recency: Map iteration order is insertion order, so the first key is the least recent.
      cache.delete(subject)
      cache.set(subject, entry)
      return entry.state
    }

    const remember = (subject: string, state: KeyState) => {
      cache.delete(subject)
      cache.set(subject, { state, expires: Date.now() + ttl })
      if (cache.size > cacheSize) cache.delete(cache.keys().next().value!)
    }

    const noMasterKey = (subject: string) =>
      new PersonalDataError({
        reason: "MissingMasterKey",
        subject,
        detail: "no master key is configured (VERITY_MASTER_KEYS)"
      })

    const unwrap = (row: KeyRow): KeyState | PersonalDataError => {
      if (row.wrapped_key === null || row.master_key_id === null) return { _tag: "Forgotten" }
      if (masterKeys === undefined) return noMasterKey(row.subject_id)
      const master = masterKeys.byId.get(row.master_key_id)
      if (master === undefined) {
        return new PersonalDataError({
          reason: "UnknownMasterKey",
          subject: row.subject_id,
          detail: `the data key is wrapped by master key "${row.master_key_id}", which is not configured`
        })
      }
      const key = Envelope.unwrapKey(Redacted.value(master.key), row.subject_id, row.wrapped_key)
      if (key === undefined) {
        return new PersonalDataError({
          reason: "WrongMasterKey",
          subject: row.subject_id,
          detail: `master key "${row.master_key_id}" does not unwrap this data key: the configured key is not the one it was wrapped with`
        })
      }
      return { _tag: "Key", key }
    }

    const load = (subjects: ReadonlyArray<string>) =>
      sql<KeyRow>`SELECT subject_id, master_key_id, wrapped_key FROM ${keys} WHERE subject_id = ANY(${[...subjects]}::text[])`

    const forReading = (subjects: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const result = new Map<string, KeyState>()
        const missing: Array<string> = []
        for (const subject of subjects) {
          const state = cached(subject)
          if (state === undefined) missing.push(subject)
          else result.set(subject, state)
        }
        if (missing.length > 0) {
          const rows = yield* load(missing)
          for (const row of rows) {
            const state = unwrap(row)
            if (state instanceof PersonalDataError) return yield* state
            remember(row.subject_id, state)
            result.set(row.subject_id, state)
          }
          for (const subject of missing) if (!result.has(subject)) result.set(subject, { _tag: "Missing" })
        }
        return result
      }).pipe(mapSqlErrors("readSubjectKeys"))

    const forWriting = (subjects: ReadonlyMap<string, ReadonlySet<string>>) =>
      Effect.gen(function*() {
        const result = new Map<string, Uint8Array>()
        const toCreate: Array<string> = []
        const pairs: Array<readonly [string, string]> = []
        for (const [subject, streams] of subjects) {
          for (const stream of streams) {
            if (!knownStreams.has(`${subject}\u0001${stream}`)) pairs.push([subject, stream])
          }
          const state = cached(subject)
          if (state?._tag === "Forgotten") return yield* new SubjectForgotten({ subject })
          if (state?._tag === "Key") result.set(subject, state.key)
          else toCreate.push(subject)
        }
        if (toCreate.length === 0 && pairs.length === 0) return result
        if (toCreate.length > 0 && masterKeys === undefined) return yield* noMasterKey(toCreate[0]!)
        // One statement: create the keys that do not exist yet (a concurrent creator wins harmlessly), note
        // which streams hold each subject's data, and return every requested key.
        const master = masterKeys?.current
        const created = toCreate.map((subject) => ({
          subject,
          wrapped: Envelope.wrapKey(Redacted.value(master!.key), subject, Envelope.newDataKey())
        }))
        const rows = yield* sql<KeyRow>`
          WITH created AS (
            INSERT INTO ${keys} (subject_id, master_key_id, wrapped_key)
            SELECT s, ${master?.id ?? ""}, w FROM unnest(${created.map((c) => c.subject)}::text[], ${
          created.map((c) => Buffer.from(c.wrapped).toString("base64"))
        }::text[]) AS t(s, b)
              CROSS JOIN LATERAL decode(b, 'base64') AS w
            ON CONFLICT (subject_id) DO NOTHING
            RETURNING subject_id, master_key_id, wrapped_key
          ), noted AS (
            INSERT INTO ${subjectStreams} (subject_id, stream_id)
            SELECT * FROM unnest(${pairs.map((p) => p[0])}::text[], ${pairs.map((p) => p[1])}::text[])
            ON CONFLICT DO NOTHING
          )
          SELECT subject_id, master_key_id, wrapped_key FROM created
          UNION ALL
          SELECT subject_id, master_key_id, wrapped_key FROM ${keys}
          WHERE subject_id = ANY(${toCreate}::text[]) AND subject_id NOT IN (SELECT subject_id FROM created)`
        const found = new Map(rows.map((row) => [row.subject_id, row]))
        // A key created by a concurrent transaction after this statement's snapshot is invisible to it.
        const invisible = toCreate.filter((subject) => !found.has(subject))
        if (invisible.length > 0) { for (const row of yield* load(invisible)) found.set(row.subject_id, row) }
        for (const subject of toCreate) {
          const row = found.get(subject)
          if (row === undefined) {
            return yield* new PersonalDataError({ reason: "MissingDataKey", subject, detail: "the data key could not be created" })
          }
          const state = unwrap(row)
          if (state instanceof PersonalDataError) return yield* state
          remember(subject, state)
          if (state._tag !== "Key") return yield* new SubjectForgotten({ subject })
          result.set(subject, state.key)
        }
        for (const [subject, stream] of pairs) knownStreams.add(`${subject}\u0001${stream}`)
        return result
      }).pipe(mapSqlErrors("writeSubjectKeys"))

    // Two statements, so run it inside the caller's transaction (PersonalData.forget does).
    const destroy = (subject: string) =>
      Effect.gen(function*() {
        const previous = yield* sql<{ readonly forgotten: boolean }>`
          SELECT forgotten_at IS NOT NULL AS forgotten FROM ${keys} WHERE subject_id = ${subject} FOR UPDATE`
        if (previous[0]?.forgotten === true) return false
        yield* sql`
          INSERT INTO ${keys} (subject_id, master_key_id, wrapped_key, forgotten_at) VALUES (${subject}, NULL, NULL, now())
          ON CONFLICT (subject_id) DO UPDATE SET master_key_id = NULL, wrapped_key = NULL, forgotten_at = now()`
        return true
      })

    const evictLocal = (subject: string) => {
      remember(subject, { _tag: "Forgotten" })
      for (const pair of knownStreams) if (pair.startsWith(`${subject}\u0001`)) knownStreams.delete(pair)
    }

    const evict = (subject: string) => Effect.sync(() => evictLocal(subject)).pipe(Effect.andThen(pg.notify(channel, subject).pipe(Effect.ignore)))

    // Other processes' forgets: drop their subjects from our cache. While not listening we cannot know what
    // was forgotten, so each (re)connection starts from an empty cache.
    yield* listen(pg, channel, {
      onListening: Effect.sync(() => cache.clear()),
      onNotification: (subject) => Effect.sync(() => evictLocal(subject))
    }).pipe(Effect.forkScoped)

    const rotate = (batchSize = 500) =>
      Effect.gen(function*() {
        if (masterKeys === undefined) return yield* noMasterKey("*")
        const current = masterKeys.current
        let total = 0
        while (true) {
          const rows = yield* sql<KeyRow>`
            SELECT subject_id, master_key_id, wrapped_key FROM ${keys}
            WHERE wrapped_key IS NOT NULL AND master_key_id <> ${current.id}
            ORDER BY subject_id LIMIT ${batchSize}`
          if (rows.length === 0) return total
          for (const row of rows) {
            const state = unwrap(row)
            if (state instanceof PersonalDataError) return yield* state
            if (state._tag !== "Key") continue
            const wrapped = Envelope.wrapKey(Redacted.value(current.key), row.subject_id, state.key)
            // Compare-and-set on the old wrapping: a concurrent forget or rotation wins.
            yield* sql`
              UPDATE ${keys} SET master_key_id = ${current.id}, wrapped_key = ${wrapped}, rotated_at = now()
              WHERE subject_id = ${row.subject_id} AND master_key_id = ${row.master_key_id} AND wrapped_key IS NOT NULL`
            total++
          }
        }
      }).pipe(mapSqlErrors("rotateMasterKey"))

    const keyCounts = sql<{ readonly id: string; readonly n: bigint }>`
      SELECT coalesce(master_key_id, 'forgotten') AS id, count(*) AS n FROM ${keys} GROUP BY 1`.pipe(
      Effect.map((rows) => Object.fromEntries(rows.map((row) => [row.id, Number(row.n)]))),
      mapSqlErrors("keyCounts")
    )

    const subjectsOf = (stream: string) =>
      sql<{ readonly subject_id: string }>`SELECT subject_id FROM ${subjectStreams} WHERE stream_id = ${stream} ORDER BY subject_id`.pipe(
        Effect.map((rows) => rows.map((row) => row.subject_id)),
        mapSqlErrors("subjectsOf")
      )

    return SubjectKeys.of({ forWriting, forReading, destroy, evict, rotate, subjectsOf, keyCounts })
  })

export const layer = (options: SubjectKeysOptions) => Layer.effect(SubjectKeys, make(options))
