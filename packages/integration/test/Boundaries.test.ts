/**
 * The integration package knows no domain: nothing in `src/` imports the example domain or its composition
 * (`@verity/domain`, `@verity/ledger`), and the package does not depend on them. A contract brings its
 * events; the relay only sees stored events and integration events.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const FORBIDDEN = ["@verity/domain", "@verity/ledger"]

const sourceFiles = (dir: string): ReadonlyArray<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = Path.join(dir, entry.name)
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith(".ts") ? [path] : []
  })

/** Module specifiers of every import, export-from and dynamic import in `text`. */
const specifiers = (text: string): ReadonlyArray<string> =>
  [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g)].map((match) => match[1]!)

const forbidden = (specifier: string) =>
  FORBIDDEN.some((name) => specifier === name || specifier.startsWith(`${name}/`)) ||
  // a relative path into the domain's or the ledger's package
  /(^|\/)(domain|ledger)\/src\//.test(specifier)

describe("Boundaries", () => {
  it("finds the imports it checks", () => {
    assert.deepStrictEqual(specifiers(`import { A } from "@verity/domain"\nexport * from "../../ledger/src/x.ts"\nawait import("effect")`), [
      "@verity/domain",
      "../../ledger/src/x.ts",
      "effect"
    ])
  })

  it("src imports neither the domain nor the ledger", () => {
    const files = sourceFiles(Path.join(root, "src"))
    assert.isAbove(files.length, 4)
    const offending = files.flatMap((file) =>
      specifiers(Fs.readFileSync(file, "utf8")).filter(forbidden).map((specifier) => `${Path.relative(root, file)}: ${specifier}`)
    )
    assert.deepStrictEqual(offending, [])
  })

  it("package.json depends on neither", () => {
    const manifest = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as Record<string, unknown>
    const declared = ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"].flatMap((field) => {
      const deps = manifest[field]
      return typeof deps === "object" && deps !== null ? Object.keys(deps) : []
    })
    assert.include(declared, "@verity/eventstore")
    assert.deepStrictEqual(declared.filter((name) => FORBIDDEN.includes(name)), [])
  })
})
