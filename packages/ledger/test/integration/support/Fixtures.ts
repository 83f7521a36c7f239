/**
 * The golden-fixture gate of the published contracts. contract/<category>/<Type>.v<N>.json holds the exact
 * wire form `{ type, version, data }` of one integration event; extra cases of one version go in
 * `<Type>.v<N>.<case>.json`. `problems` lists everything wrong between a contract, its fixtures and the
 * wire form of its samples (empty: the gate passes):
 * - every version 1..current of every type has its fixture (a bump adds one and keeps the old ones);
 * - no fixture names a type the contract lacks or a version above the current one;
 * - every current-version fixture decodes with the schema and encodes back to exactly itself (a change of
 *   shape without a version bump breaks this);
 * - every type is produced by some sample, and the first sample of each type encodes to its fixture.
 */
import type { Contract } from "@verity/integration"
import { Result, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { isDeepStrictEqual } from "node:util"

export const fixturesRoot = fileURLToPath(new URL("../../../contract/", import.meta.url))

export interface Fixture {
  /** `<category>/<file name>`. */
  readonly file: string
  readonly type: string
  readonly version: number
  /** The required file of its (type, version), as opposed to an extra `.case` file. */
  readonly main: boolean
  readonly content: unknown
}

const fileName = /^([A-Za-z][A-Za-z0-9]*)\.v([1-9][0-9]*)(?:\.([a-z0-9]+(?:-[a-z0-9]+)*))?\.json$/

/** The fixtures of `category` (none when its folder is missing). */
export const load = (category: string): ReadonlyArray<Fixture> => {
  const folder = Path.join(fixturesRoot, category)
  if (!Fs.existsSync(folder)) return []
  return Fs.readdirSync(folder).sort().map((name): Fixture => {
    const match = fileName.exec(name)
    const content: unknown = JSON.parse(Fs.readFileSync(Path.join(folder, name), "utf8"))
    return match === null
      ? { file: `${category}/${name}`, type: "", version: 0, main: false, content }
      : { file: `${category}/${name}`, type: match[1]!, version: Number(match[2]), main: match[3] === undefined, content }
  })
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/** What is wrong between `contract`, its `fixtures` and the wire form of its samples. */
export const problems = <S extends Contract.EventsSchema & { readonly DecodingServices: never }>(
  contract: Contract.CategoryContract<S>,
  fixtures: ReadonlyArray<Fixture>,
  samples: ReadonlyArray<Contract.IntegrationEvent>
): ReadonlyArray<string> => {
  const out: Array<string> = []
  const versions: Readonly<Record<string, number>> = contract.versions
  const mains = new Map(fixtures.filter((f) => f.main).map((f) => [`${f.type}@${f.version}`, f]))
  const decode = Schema.decodeUnknownResult(Schema.toCodecJson(contract.schema))

  for (const [type, current] of Object.entries(versions)) {
    for (let version = 1; version <= current; version++) {
      if (!mains.has(`${type}@${version}`)) out.push(`missing ${contract.category}/${type}.v${version}.json`)
    }
  }
  for (const fixture of fixtures) {
    const current = versions[fixture.type]
    if (fixture.version === 0) {
      out.push(`${fixture.file}: name must be <Type>.v<N>.json or <Type>.v<N>.<case>.json`)
      continue
    }
    if (current === undefined || fixture.version > current) {
      out.push(`${fixture.file}: the contract has no ${fixture.type} v${fixture.version}`)
      continue
    }
    const { content } = fixture
    if (!isObject(content) || content.type !== fixture.type || content.version !== fixture.version || !isObject(content.data)) {
      out.push(`${fixture.file}: must be { "type": "${fixture.type}", "version": ${fixture.version}, "data": { ... } }`)
      continue
    }
    // Older versions stay as the record of what was once published; only the current one must still read.
    if (fixture.version < current) continue
    const decoded = decode({ ...content.data, _tag: fixture.type })
    if (Result.isFailure(decoded)) {
      out.push(`${fixture.file}: no longer decodes (bump the version and add a fixture): ${decoded.failure.message}`)
      continue
    }
    const encoded = contract.encodeResult(decoded.success)
    if (Result.isFailure(encoded)) out.push(`${fixture.file}: does not encode: ${encoded.failure.message}`)
    else if (!isDeepStrictEqual(encoded.success, content)) {
      out.push(`${fixture.file}: encodes as ${JSON.stringify(encoded.success)} (bump the version and add a fixture)`)
    }
  }
  const sampled = new Set<string>()
  for (const sample of samples) {
    if (sampled.has(sample.type)) continue
    sampled.add(sample.type)
    const fixture = mains.get(`${sample.type}@${sample.version}`)
    if (fixture !== undefined && !isDeepStrictEqual(sample, fixture.content)) {
      out.push(`${fixture.file}: the sample encodes as ${JSON.stringify(sample)}`)
    }
  }
  for (const type of Object.keys(versions)) {
    if (!sampled.has(type)) out.push(`${contract.category}: no sample publishes ${type}`)
  }
  return out
}
