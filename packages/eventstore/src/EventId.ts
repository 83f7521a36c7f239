/**
 * Event ids: UUID version 7 (RFC 9562), time-ordered, so the unique index on event ids grows at its right
 * edge instead of splitting pages at random, and ids sort roughly by creation time.
 */
import { randomFillSync } from "node:crypto"

const pool = new Uint8Array(16 * 256)
let offset = pool.length
const hex: Array<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

export const make = (now: number = Date.now()): string => {
  if (offset === pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  const b = pool.subarray(offset, offset + 16)
  offset += 16
  // 48-bit big-endian millisecond timestamp.
  b[0] = Math.floor(now / 2 ** 40) & 0xff
  b[1] = Math.floor(now / 2 ** 32) & 0xff
  b[2] = (now >>> 24) & 0xff
  b[3] = (now >>> 16) & 0xff
  b[4] = (now >>> 8) & 0xff
  b[5] = now & 0xff
  b[6] = (b[6]! & 0x0f) | 0x70
  b[8] = (b[8]! & 0x3f) | 0x80
  return `${hex[b[0]]}${hex[b[1]]}${hex[b[2]]}${hex[b[3]]}-${hex[b[4]]}${hex[b[5]]}-${hex[b[6]]}${hex[b[7]!]}-${hex[b[8]]}${hex[b[9]!]}-${
    hex[b[10]!]
  }${hex[b[11]!]}${hex[b[12]!]}${hex[b[13]!]}${hex[b[14]!]}${hex[b[15]!]}`
}
