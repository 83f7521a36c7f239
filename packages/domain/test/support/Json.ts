/**
 * JSON round trip through a schema's canonical JSON codec, as a store or snapshot table would do it:
 * encode, JSON.stringify, JSON.parse, decode.
 */
import { Schema } from "effect"

export const jsonRoundTrip = <S extends Schema.Top & { readonly DecodingServices: never; readonly EncodingServices: never }>(
  schema: S
) => {
  const codec = Schema.toCodecJson(schema)
  const encode = Schema.encodeUnknownSync(codec)
  const decode = Schema.decodeUnknownSync(codec)
  return (value: S["Type"]): { readonly text: string; readonly decoded: S["Type"] } => {
    const text = JSON.stringify(encode(value))
    return { text, decoded: decode(JSON.parse(text)) }
  }
}
