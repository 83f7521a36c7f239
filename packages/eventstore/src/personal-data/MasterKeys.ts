/**
 * The master keys that wrap every data subject's key. They come from configuration, never from the
 * database: `VERITY_MASTER_KEYS` (or a file named by `VERITY_MASTER_KEYS_FILE`) holds comma-separated
 * `id:base64(32 bytes)` entries, the FIRST being the current key. Older keys stay listed until a rotation
 * has re-wrapped every data key under the current one.
 */
import { Config, Effect, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs/promises"

export interface MasterKey {
  readonly id: string
  readonly key: Redacted.Redacted<Uint8Array>
}

export interface MasterKeyring {
  readonly current: MasterKey
  readonly byId: ReadonlyMap<string, MasterKey>
}

const ID = /^[A-Za-z0-9_.-]{1,64}$/

export const parse = (text: string): MasterKeyring => {
  const entries = text.split(",").map((part) => part.trim()).filter((part) => part.length > 0)
  if (entries.length === 0) throw new Error("no master key configured")
  const keys: Array<MasterKey> = entries.map((entry) => {
    const colon = entry.indexOf(":")
    const id = entry.slice(0, colon)
    const bytes = Buffer.from(entry.slice(colon + 1), "base64")
    if (colon <= 0 || !ID.test(id)) throw new Error("master key entries must look like <id>:<base64 key>")
    if (bytes.length !== 32) throw new Error(`master key ${id} must be 32 bytes (base64), got ${bytes.length}`)
    return { id, key: Redacted.make(new Uint8Array(bytes)) }
  })
  const byId = new Map<string, MasterKey>()
  for (const key of keys) {
    if (byId.has(key.id)) throw new Error(`master key id ${key.id} is listed twice`)
    byId.set(key.id, key)
  }
  return { current: keys[0]!, byId }
}

export const make = (keys: ReadonlyArray<{ readonly id: string; readonly key: Uint8Array }>): MasterKeyring =>
  parse(keys.map((k) => `${k.id}:${Buffer.from(k.key).toString("base64")}`).join(","))

/** A fresh key entry, e.g. for `VERITY_MASTER_KEYS` in development. */
export const generate = (id: string): string => `${id}:${randomBytes(32).toString("base64")}`

/** Reads the keyring from `VERITY_MASTER_KEYS`, or from the file named by `VERITY_MASTER_KEYS_FILE`. */
export const fromConfig = Effect.gen(function*() {
  const inline = yield* Config.option(Config.Redacted("VERITY_MASTER_KEYS"))
  const file = yield* Config.option(Config.String("VERITY_MASTER_KEYS_FILE"))
  let text: string | undefined
  if (inline._tag === "Some") text = Redacted.value(inline.value)
  else if (file._tag === "Some") {
    text = yield* Effect.tryPromise({
      try: () => Fs.readFile(file.value, "utf8"),
      catch: (cause) => new Error(`cannot read VERITY_MASTER_KEYS_FILE: ${String(cause)}`)
    })
  }
  if (text === undefined) return undefined
  const source = text
  return yield* Effect.try({ try: () => parse(source), catch: (cause) => cause instanceof Error ? cause : new Error(String(cause)) })
})
