/**
 * The workspace's public packages (every `packages/*` without `"private": true`) and how to turn them into
 * tarballs and a fresh npm project outside the workspace. A new public package is picked up by being there.
 */
import { execFile } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { promisify } from "node:util"

const run = promisify(execFile)

export const workspaceRoot = Path.resolve(import.meta.dirname, "../../..")

export interface PublicPackage {
  readonly name: string
  readonly version: string
  readonly dir: string
}

interface Manifest {
  readonly name: string
  readonly version: string
  readonly private?: boolean
}

export const publicPackages = async (): Promise<ReadonlyArray<PublicPackage>> => {
  const root = Path.join(workspaceRoot, "packages")
  const found: Array<PublicPackage> = []
  for (const entry of await Fs.readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue
    const dir = Path.join(root, entry.name)
    const text = await Fs.readFile(Path.join(dir, "package.json"), "utf8").catch(() => undefined)
    if (text === undefined) continue
    const manifest = JSON.parse(text) as Manifest
    if (manifest.private !== true) found.push({ name: manifest.name, version: manifest.version, dir })
  }
  return found.sort((a, b) => a.name.localeCompare(b.name))
}

/** Builds the public packages (through turbo: cached when the task graph built them already). */
export const build = async (): Promise<void> => {
  await run("pnpm", ["turbo", "run", "build", "--filter=./packages/*", "--output-logs=errors-only"], {
    cwd: workspaceRoot,
    maxBuffer: 16 * 1024 * 1024
  })
}

/** `pnpm pack`s a built package into `into`; returns the tarball's path. */
export const pack = async (pkg: PublicPackage, into: string): Promise<string> => {
  await Fs.access(Path.join(pkg.dir, "dist", "index.js"))
  const { stdout } = await run("pnpm", ["pack", "--pack-destination", into], { cwd: pkg.dir })
  const tarball = stdout.trim().split("\n").at(-1)
  if (tarball === undefined || !tarball.endsWith(".tgz")) throw new Error(`pnpm pack printed no tarball: ${stdout}`)
  return tarball
}

/** The manifest inside a tarball, as npm will see it. */
export const manifestOf = async (tarball: string): Promise<Record<string, unknown>> => {
  const { stdout } = await run("tar", ["-xOzf", tarball, "package/package.json"])
  return JSON.parse(stdout) as Record<string, unknown>
}

/** The version of a package installed in this workspace package (used to pin the peers in the project). */
export const installedVersion = async (name: string): Promise<string> => {
  const text = await Fs.readFile(Path.join(import.meta.dirname, "..", "node_modules", name, "package.json"), "utf8")
  return (JSON.parse(text) as Manifest).version
}

/**
 * Writes `package.json` into `dir` and runs `npm install` there (the npm registry for the peers). A request
 * to the registry that stalls is given up after 30 s and retried (npm's default waits five minutes), and npm
 * does not look for a newer npm meanwhile. npm logs its requests; the slow ones (over 2 s) are returned so
 * the test can print what a slow install waited for.
 */
export const npmInstall = async (dir: string, dependencies: Readonly<Record<string, string>>): Promise<ReadonlyArray<string>> => {
  await Fs.writeFile(
    Path.join(dir, "package.json"),
    JSON.stringify({ name: "verity-consumer", private: true, type: "module", dependencies }, null, 2)
  )
  const { stderr } = await run("npm", [
    "install",
    "--no-audit",
    "--no-fund",
    "--no-update-notifier",
    "--prefer-offline",
    "--fetch-timeout=30000",
    "--fetch-retries=4",
    "--loglevel=http"
  ], {
    cwd: dir,
    env: process.env,
    maxBuffer: 64 * 1024 * 1024
  })
  return stderr.split("\n").filter((line) => {
    const took = /\s(\d+)ms\b/.exec(line)
    return took !== null && Number(took[1]) > 2_000
  })
}

/** Type-checks the project in `dir` with this workspace's `tsc`; returns its output (empty when clean). */
export const typecheck = async (dir: string): Promise<string> => {
  const tsc = Path.join(import.meta.dirname, "..", "node_modules", ".bin", "tsc")
  return run(tsc, ["-p", Path.join(dir, "tsconfig.json")], { cwd: dir }).then(
    ({ stdout }) => stdout,
    (error: Error & { readonly stdout?: string }) => error.stdout ?? String(error)
  )
}

/** Runs `node file` in `dir` with `env` added; returns its stdout. */
export const runNode = async (dir: string, file: string, env: Readonly<Record<string, string>>): Promise<string> => {
  const { stdout } = await run(process.execPath, [file], { cwd: dir, env: { ...process.env, ...env }, timeout: 90_000 })
  return stdout
}
