/**
 * What an append expects of its stream, checked atomically with the write:
 * - `"any"`: no check (still refused on a tombstoned stream);
 * - `"no_stream"` (or `0`): the stream has no events (a soft-deleted stream counts as absent);
 * - `"stream_exists"`: the stream has events and is not deleted;
 * - `n >= 1`: the stream's last version is exactly `n`.
 */
export type ExpectedVersion = "any" | "no_stream" | "stream_exists" | number

export const any: ExpectedVersion = "any"
export const noStream: ExpectedVersion = "no_stream"
export const streamExists: ExpectedVersion = "stream_exists"
export const exact = (version: number): ExpectedVersion => version

export type Normalized =
  | { readonly _tag: "Any" }
  | { readonly _tag: "NoStream" }
  | { readonly _tag: "StreamExists" }
  | { readonly _tag: "Exact"; readonly version: number }

export const normalize = (expected: ExpectedVersion): Normalized | undefined => {
  switch (expected) {
    case "any":
      return { _tag: "Any" }
    case "no_stream":
      return { _tag: "NoStream" }
    case "stream_exists":
      return { _tag: "StreamExists" }
    default:
      if (!Number.isSafeInteger(expected) || expected < 0) return undefined
      return expected === 0 ? { _tag: "NoStream" } : { _tag: "Exact", version: expected }
  }
}
