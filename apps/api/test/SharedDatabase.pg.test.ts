/**
 * Many real processes on one embedded data folder, and a database that goes away. Each test runs real API
 * processes (`node src/main.ts`) and replayer commands on a private folder and uses real signals:
 * - the replayer (`status`, `rebuild`) and a second API attach to the running server: the first API keeps
 *   answering 200 throughout, and whoever leaves last stops the server;
 * - `kill -9` of the postmaster under load: `/ready` says why while it is away, the server is restarted on
 *   the same port and requests succeed again, projections resume;
 * - `kill -9` of the process that started the server: the other one keeps serving, and restarts the server
 *   when it dies too;
 * - `pg_terminate_backend` of every API connection: the API recovers by itself;
 * - a data folder that is gone: the API and `replayer follow` exit non-zero for a supervisor to restart.
 */
import type { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as ServerProcess from "./support/ServerProcess.ts"
import * as Shared from "./support/SharedFolder.ts"

const TIMEOUT = { timeout: 240_000 }

/** Runs `body` with a private folder, stopping every API it started and removing the folder afterwards. */
const withFolder = (body: (folder: Awaited<ReturnType<typeof Shared.folder>>, servers: Array<ServerProcess.RunningServer>) => Promise<void>) =>
  Effect.promise(async () => {
    const folder = await Shared.folder()
    const servers: Array<ServerProcess.RunningServer> = []
    try {
      await body(folder, servers)
    } finally {
      for (const server of servers) await server.stop().catch(() => undefined)
      const pid = await Shared.postmaster(folder.dataDir).then((p) => p.pid, () => undefined)
      if (pid !== undefined && Shared.alive(pid)) process.kill(pid, "SIGINT")
      await folder.remove()
    }
  })

const start = async (servers: Array<ServerProcess.RunningServer>, dataDir: string, env: Record<string, string> = {}) => {
  const server = await ServerProcess.start({ VERITY_DATA_DIR: dataDir, ...env })
  servers.push(server)
  return server
}

const notOk = (statuses: ReadonlyArray<number>) => statuses.filter((s) => s !== 200)

describe("many processes on one embedded data folder", () => {
  it.live("replayer status and rebuild run against the API's server while the API keeps answering", () =>
    withFolder(async ({ dataDir }, servers) => {
      const api = await start(servers, dataDir)
      const account = await Shared.openAccount(api)
      const before = await Shared.postmaster(dataDir)
      const traffic = Shared.load(api, account, { workers: 2 })
      await Shared.waitFor("some deposits", () => traffic.successes() >= 20)
      const status = await Shared.replayer(["status"], dataDir).exited
      assert.strictEqual(status.code, 0, status.output)
      assert.include(status.output, "account_summary")
      const rebuild = await Shared.replayer(["rebuild", "account_summary"], dataDir).exited
      assert.strictEqual(rebuild.code, 0, rebuild.output)
      const seen = traffic.successes()
      await Shared.waitFor("deposits after the replayer left", () => traffic.successes() >= seen + 20)
      const statuses = await traffic.stop()
      assert.deepStrictEqual(notOk(statuses), [], "every request answered 200 while the replayer ran")
      assert.strictEqual((await Shared.postmaster(dataDir)).pid, before.pid, "the same server throughout")
      const state = await Shared.client(api)("GET", `/accounts/${account}?waitForPosition=${traffic.lastPosition()}`)
      assert.strictEqual(state.status, 200, state.text)
      assert.strictEqual(state.body.balance, traffic.successes(), "the rebuilt read model has every deposit")
    }), TIMEOUT)

  it.live(
    "a second API attaches; the first one out leaves the server running, the last one stops it",
    () =>
      withFolder(async ({ dataDir }, servers) => {
        const first = await start(servers, dataDir)
        const second = await start(servers, dataDir)
        const account = await Shared.openAccount(first)
        const onFirst = Shared.load(first, account, { workers: 2 })
        const onSecond = Shared.load(second, account, { workers: 2 })
        await Shared.waitFor("deposits through both", () => onFirst.successes() >= 20 && onSecond.successes() >= 20)
        assert.deepStrictEqual(notOk(await onSecond.stop()), [])
        assert.strictEqual(await second.stop(), 0, second.output())
        const seen = onFirst.successes()
        await Shared.waitFor("deposits after the second API left", () => onFirst.successes() >= seen + 20)
        assert.deepStrictEqual(notOk(await onFirst.stop()), [], "the first API kept answering 200")
        assert.include(second.output(), "attached to the PostgreSQL already running")
        const { pid } = await Shared.postmaster(dataDir)
        assert.strictEqual(await first.stop(), 0, first.output())
        await Shared.waitFor("the last one out stopped the server", () => !Shared.alive(pid))
      }),
    TIMEOUT
  )

  it.live(
    "two APIs started at the same moment on an empty folder: one starts the server, the other attaches",
    () =>
      withFolder(async ({ dataDir }, servers) => {
        const both = await Promise.all([start(servers, dataDir), start(servers, dataDir)])
        const attached = both.filter((server) => server.output().includes("attached to the PostgreSQL already running"))
        assert.strictEqual(attached.length, 1, both.map((server) => server.output()).join("\n---\n"))
        const account = await Shared.openAccount(both[0])
        const loads = both.map((server) => Shared.load(server, account, { workers: 2 }))
        await Shared.waitFor("deposits through both", () => loads.every((l) => l.successes() >= 20))
        for (const l of loads) assert.deepStrictEqual(notOk(await l.stop()), [])
      }),
    TIMEOUT
  )

  it.live(
    "kill -9 of the process that started the server: the other keeps serving, and restarts it when it dies",
    () =>
      withFolder(async ({ dataDir }, servers) => {
        const starter = await start(servers, dataDir)
        const other = await start(servers, dataDir)
        const account = await Shared.openAccount(other)
        const traffic = Shared.load(other, account, { workers: 2 })
        await Shared.waitFor("deposits", () => traffic.successes() >= 20)
        starter.kill("SIGKILL")
        assert.strictEqual(await starter.exited, "SIGKILL")
        const seen = traffic.successes()
        await Shared.waitFor("deposits after the starter died", () => traffic.successes() >= seen + 20)
        assert.deepStrictEqual(notOk(traffic.statuses), [], "the survivor kept answering 200")
        const before = await Shared.postmaster(dataDir)
        process.kill(before.pid, "SIGKILL")
        await Shared.waitFor("the survivor restarted the server", async () => {
          const now = await Shared.postmaster(dataDir).catch(() => undefined)
          return now !== undefined && now.pid !== before.pid && Shared.alive(now.pid)
        })
        const recovered = traffic.successes()
        await Shared.waitFor("deposits after the restart", () => traffic.successes() >= recovered + 20)
        await traffic.stop()
        assert.strictEqual((await Shared.postmaster(dataDir)).port, before.port, "restarted on the same port")
        const state = await Shared.client(other)("GET", `/accounts/${account}?waitForPosition=${traffic.lastPosition()}`)
        assert.strictEqual(state.status, 200, state.text)
        const { pid } = await Shared.postmaster(dataDir)
        assert.strictEqual(await other.stop(), 0, other.output())
        await Shared.waitFor("the last one out stopped the server", () => !Shared.alive(pid))
      }),
    TIMEOUT
  )
})

describe("the database goes away", () => {
  it.live(
    "kill -9 of the postmaster under load: /ready says why, then the server is back and requests succeed",
    () =>
      withFolder(async ({ dataDir }, servers) => {
        const api = await start(servers, dataDir)
        const account = await Shared.openAccount(api)
        const traffic = Shared.load(api, account)
        await Shared.waitFor("deposits", () => traffic.successes() >= 20)
        const before = await Shared.postmaster(dataDir)
        // Hold the start lock, as a process restarting the server would: the outage lasts until we let go.
        await Fs.writeFile(`${dataDir}.lock`, `${process.pid}\ntest\n`)
        process.kill(before.pid, "SIGKILL")
        let ready = await Shared.client(api)("GET", "/ready")
        await Shared.waitFor("/ready reports the outage", async () => {
          ready = await Shared.client(api)("GET", "/ready")
          return ready.status === 503 && String(ready.body.detail).includes("is not running")
        })
        assert.isFalse(ready.body.checks.database)
        assert.include(ready.body.detail, "restarting it")
        const health = await Shared.client(api)("GET", "/health")
        assert.strictEqual(health.status, 200, "it can still recover: alive")
        assert.include(health.body.database, "is not running")
        await Fs.rm(`${dataDir}.lock`)
        await Shared.waitFor("/ready again", async () => (await Shared.client(api)("GET", "/ready")).status === 200)
        const recovered = traffic.successes()
        await Shared.waitFor("deposits after the restart", () => traffic.successes() >= recovered + 40)
        const statuses = await traffic.stop()
        assert.deepStrictEqual(statuses.slice(-20), Array(20).fill(200), "requests succeed again")
        const after = await Shared.postmaster(dataDir)
        assert.notStrictEqual(after.pid, before.pid)
        assert.strictEqual(after.port, before.port, "restarted on the same port")
        // Projections resumed from their checkpoints: the read model reaches the last acknowledged deposit.
        const state = await Shared.client(api)("GET", `/accounts/${account}?waitForPosition=${traffic.lastPosition()}`)
        assert.strictEqual(state.status, 200, state.text)
        assert.isAtLeast(state.body.balance, traffic.successes(), "every acknowledged deposit is in the read model")
        assert.strictEqual(await api.stop(), 0, api.output())
      }),
    TIMEOUT
  )

  it.live("pg_terminate_backend of every API connection: the API recovers by itself", () =>
    withFolder(async ({ dataDir }, servers) => {
      const api = await start(servers, dataDir)
      const account = await Shared.openAccount(api)
      const traffic = Shared.load(api, account)
      await Shared.waitFor("deposits", () => traffic.successes() >= 20)
      const projectionLocks = (sql: PgClient.PgClient) =>
        Effect.map(
          sql<{ readonly n: bigint }>`
            SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
            WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'verity%'`,
          (rows) => Number(rows[0]!.n)
        )
      await Shared.waitFor("every projection holds its lock", async () => (await Shared.onServer(dataDir, projectionLocks)) >= 4)
      const locks = await Shared.onServer(dataDir, projectionLocks)
      const terminated = await Shared.onServer(dataDir, (sql) =>
        sql<{ readonly n: bigint }>`
          SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
          WHERE application_name LIKE 'verity%' AND pid <> pg_backend_pid()`)
      assert.isAbove(Number(terminated[0]!.n), 0)
      const seen = traffic.successes()
      await Shared.waitFor("deposits after the terminations", () => traffic.successes() >= seen + 40)
      const statuses = await traffic.stop()
      assert.deepStrictEqual(statuses.slice(-20), Array(20).fill(200))
      const state = await Shared.client(api)("GET", `/accounts/${account}?waitForPosition=${traffic.lastPosition()}`)
      assert.strictEqual(state.status, 200, state.text)
      assert.isAtLeast(state.body.balance, traffic.successes())
      await Shared.waitFor("/ready again", async () => (await Shared.client(api)("GET", "/ready")).status === 200)
      // The runners noticed their locks went with their connections, and took them again.
      await Shared.waitFor("the projection locks are held again", async () => (await Shared.onServer(dataDir, projectionLocks)) === locks)
    }), TIMEOUT)

  it.live(
    "a data folder that is gone cannot be recovered: the API and replayer follow exit non-zero",
    () =>
      withFolder(async ({ dataDir }, servers) => {
        const api = await start(servers, dataDir)
        const follow = Shared.replayer(["follow", "--status-every", "0"], dataDir)
        await Shared.waitFor("follow runs", () => follow.output().includes("following"))
        const { pid } = await Shared.postmaster(dataDir)
        await Fs.rm(dataDir, { recursive: true, force: true })
        process.kill(pid, "SIGKILL")
        const code = await Promise.race([
          api.exited,
          new Promise<string>((resolve) => setTimeout(() => resolve("still running"), 90_000))
        ])
        assert.strictEqual(code, 1, api.output())
        assert.include(api.output(), "cannot be recovered")
        const followed = await Promise.race([
          follow.exited,
          new Promise<Shared.ReplayerRun>((resolve) => setTimeout(() => resolve({ code: "still running", output: follow.output() }), 30_000))
        ])
        if (followed.code === "still running") follow.child.kill("SIGKILL")
        assert.strictEqual(followed.code, 1, followed.output)
      }),
    TIMEOUT
  )
})
