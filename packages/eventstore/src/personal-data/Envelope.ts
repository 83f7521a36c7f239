/**
 * The encrypted form of one personal-data field, stored in place of its value:
 *   { "$pd": 1, "s": <subject id>, "d": <base64(nonce | ciphertext | tag)>, "p": <placeholder> }
 * AES-256-GCM under the subject's data key, with the subject id and field name as additional authenticated
 * data, so a ciphertext moved to another subject or field fails to decrypt instead of being misread. The
 * envelope is self-describing: reads need no schema to find and decrypt it, whatever version wrote it.
 * `p` is the placeholder the field takes once the subject is forgotten (valid for the version written).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"

export interface Envelope {
  readonly $pd: 1
  readonly s: string
  readonly d: string
  readonly p: unknown
}

const NONCE_BYTES = 12
const TAG_BYTES = 16

export const isEnvelope = (value: unknown): value is Envelope =>
  typeof value === "object" && value !== null && (value as { $pd?: unknown }).$pd === 1 &&
  typeof (value as { s?: unknown }).s === "string" && typeof (value as { d?: unknown }).d === "string"

const aad = (subject: string, field: string) => Buffer.from(`${subject}\u0001${field}`, "utf8")

export const seal = (key: Uint8Array, subject: string, field: string, value: unknown, placeholder: unknown): Envelope => {
  const nonce = randomBytes(NONCE_BYTES)
  const cipher = createCipheriv("aes-256-gcm", key, nonce)
  cipher.setAAD(aad(subject, field))
  const body = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()])
  return { $pd: 1, s: subject, d: Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64"), p: placeholder }
}

/** The field's value, or `undefined` when the ciphertext does not authenticate under `key`. */
export const open = (key: Uint8Array, field: string, envelope: Envelope): { readonly value: unknown } | undefined => {
  const bytes = Buffer.from(envelope.d, "base64")
  if (bytes.length < NONCE_BYTES + TAG_BYTES) return undefined
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, NONCE_BYTES))
    decipher.setAAD(aad(envelope.s, field))
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
    const plain = Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()])
    return { value: JSON.parse(plain.toString("utf8")) }
  } catch {
    return undefined
  }
}

/** Wraps a data key under a master key (AES-256-GCM, bound to the subject id). */
export const wrapKey = (masterKey: Uint8Array, subject: string, dataKey: Uint8Array): Buffer => {
  const nonce = randomBytes(NONCE_BYTES)
  const cipher = createCipheriv("aes-256-gcm", masterKey, nonce)
  cipher.setAAD(Buffer.from(`key\u0001${subject}`, "utf8"))
  const body = Buffer.concat([cipher.update(dataKey), cipher.final()])
  return Buffer.concat([nonce, body, cipher.getAuthTag()])
}

export const unwrapKey = (masterKey: Uint8Array, subject: string, wrapped: Uint8Array): Buffer | undefined => {
  if (wrapped.length !== NONCE_BYTES + 32 + TAG_BYTES) return undefined
  try {
    const decipher = createDecipheriv("aes-256-gcm", masterKey, wrapped.subarray(0, NONCE_BYTES))
    decipher.setAAD(Buffer.from(`key\u0001${subject}`, "utf8"))
    decipher.setAuthTag(wrapped.subarray(wrapped.length - TAG_BYTES))
    return Buffer.concat([decipher.update(wrapped.subarray(NONCE_BYTES, wrapped.length - TAG_BYTES)), decipher.final()])
  } catch {
    return undefined
  }
}

export const newDataKey = (): Buffer => randomBytes(32)
