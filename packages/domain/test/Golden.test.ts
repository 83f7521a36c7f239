/**
 * Golden events: the stored contract, checked on every build. golden/<aggregate>/<Type>.v<N>.json holds one
 * payload as the store keeps it (type, schemaVersion, data) and the CURRENT events it must read as (type +
 * JSON data, i.e. what the store would write for them today). Each file is read the way the store reads an
 * event (through JSON text, the upcaster chain, then the event Schema's JSON codec), re-encoded, and
 * compared with `expected`. Coverage is enforced both ways: every current (type, version) and every
 * (type, version) an upcaster starts from must have its `<Type>.v<N>.json`, and every file must be
 * readable. Extra cases of one version go in `<Type>.v<N>.<case>.json` (e.g. erased personal data).
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { key, type StoredPayload } from "../src/Upcaster.ts"
import { account, type Aggregate, type CurrentEvent, transfer, viaJson } from "./support/StoredEvents.ts"

const goldenRoot = fileURLToPath(new URL("../golden/", import.meta.url))
const aggregates: ReadonlyArray<Aggregate<unknown>> = [
  account as unknown as Aggregate<unknown>,
  transfer as unknown as Aggregate<unknown>
]

const fileName = /^([A-Za-z][A-Za-z0-9]*)\.v([1-9][0-9]*)(?:\.([a-z0-9]+(?:-[a-z0-9]+)*))?\.json$/

interface Golden {
  readonly file: string
  /** The (type, version) the file name claims, e.g. `MoneyDeposited@1`. */
  readonly named: string
  /** The required file of its (type, version), as opposed to an extra `.case` file. */
  readonly main: boolean
  readonly stored: StoredPayload
  readonly expected: ReadonlyArray<CurrentEvent>
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

const load = (aggregate: Aggregate<unknown>): ReadonlyArray<Golden> => {
  const folder = Path.join(goldenRoot, aggregate.name)
  return Fs.readdirSync(folder).sort().map((name): Golden => {
    const file = `${aggregate.name}/${name}`
    const match = fileName.exec(name)
    if (match === null) throw new Error(`golden/${file}: name must be <Type>.v<N>.json or <Type>.v<N>.<case>.json`)
    const json: unknown = JSON.parse(Fs.readFileSync(Path.join(folder, name), "utf8"))
    if (!isObject(json) || !isObject(json.stored) || !Array.isArray(json.expected)) {
      throw new Error(`golden/${file}: must be { "stored": { type, schemaVersion, data }, "expected": [ { type, data } ] }`)
    }
    return {
      file,
      named: key(match[1]!, Number(match[2])),
      main: match[3] === undefined,
      stored: json.stored as unknown as StoredPayload,
      expected: json.expected as ReadonlyArray<CurrentEvent>
    }
  })
}

describe("Golden events", () => {
  it("golden/ holds one folder per aggregate and nothing else", () => {
    assert.deepStrictEqual(Fs.readdirSync(goldenRoot).sort(), aggregates.map((a) => a.name).sort())
  })

  for (const aggregate of aggregates) {
    describe(aggregate.name, () => {
      const goldens = load(aggregate)
      const mains = new Set(goldens.filter((g) => g.main).map((g) => g.named))

      it("every current (type, version) has its golden file", () => {
        const missing = Object.entries(aggregate.versions)
          .map(([type, version]) => key(type, version))
          .filter((pair) => !mains.has(pair))
        assert.deepStrictEqual(missing, [], "add golden/<aggregate>/<Type>.v<N>.json for each")
      })

      it("every historical (type, version) with an upcaster has its golden file", () => {
        const missing = aggregate.upcasters
          .map((u) => key(u.type, u.fromVersion))
          .filter((pair) => !mains.has(pair))
        assert.deepStrictEqual(missing, [], "add golden/<aggregate>/<Type>.v<N>.json for each")
      })

      it("every golden file is a current version or has an upcaster (no dead fixtures)", () => {
        const known = new Set([
          ...Object.entries(aggregate.versions).map(([type, version]) => key(type, version)),
          ...aggregate.upcasters.map((u) => key(u.type, u.fromVersion))
        ])
        assert.deepStrictEqual(goldens.filter((g) => !known.has(g.named)).map((g) => g.file), [])
      })

      for (const golden of goldens) {
        it(`${golden.file} reads as its expected current events`, () => {
          const { stored, expected } = golden
          assert.strictEqual(key(stored.type, stored.schemaVersion), golden.named, "the file name names the stored type and version")
          assert.isTrue(isObject(stored.data), "stored data is a JSON object")
          assert.isAbove(expected.length, 0, "a stored event reads as at least one current event")

          const read = aggregate.read(viaJson(stored))
          if (Result.isFailure(read)) assert.fail(`golden/${golden.file}: ${read.failure}`)
          const written = read.success.map(aggregate.write)
          for (const event of written) {
            assert.strictEqual(event.schemaVersion, aggregate.versions[event.type], `${event.type} is written at its current version`)
          }
          assert.deepStrictEqual(written.map(({ type, data }) => ({ type, data })), expected)

          if (aggregate.versions[stored.type] === stored.schemaVersion) {
            assert.deepStrictEqual(expected, [{ type: stored.type, data: stored.data }], "a current version reads and writes back unchanged")
          }
        })
      }
    })
  }
})
