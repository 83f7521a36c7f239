/**
 * The replayer as scripts use it: a real child process per command against a real database, checking
 * output and exit codes (0 ok, 1 check failed, 2 usage error, 130 interrupted), a rebuild that resumes
 * after kill -9, a row tampered while it was interrupted refusing the switch (exit 1, the row printed)
 * until `--skip-verify`, verify catching a corrupted row, and follow stopping cleanly on Ctrl-C.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Account } from "@verity/domain"
import { MasterKeys } from "@verity/eventstore"
import { LedgerReadModels, LedgerRuntime, LedgerStreams } from "@verity/ledger"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect, Layer, Redacted, Schema } from "effect"
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

// The ledger runtime in this test process reads its master keys from the environment, like the replayer.
const keys = MasterKeys.generate("k1")
process.env["VERITY_MASTER_KEYS"] = keys

const main = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "../src/main.ts")

interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the replayer; `until` lets the test act on the running process (e.g. kill it). */
const replayer = (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  until?: (child: ReturnType<typeof spawn>, output: () => string) => Promise<void>
) =>
  Effect.promise(() =>
    new Promise<Run>((resolve) => {
      const child = spawn(process.execPath, [main, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk) => (stdout += chunk))
      child.stderr.on("data", (chunk) => (stderr += chunk))
      child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }))
      if (until !== undefined) void until(child, () => stdout + stderr)
    })
  )

/** True once a rebuild of account_summary has committed at least one batch. */
const building = (url: string) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    const rows = yield* sql<{ readonly n: bigint }>`
      SELECT count(*) AS n FROM verity_projections.generations
      WHERE name = 'account_summary' AND state = 'building' AND events_applied > 0`
    return rows[0]!.n > 0n
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })), Effect.orElseSucceed(() => false))

const waitFor = async (check: () => boolean | Promise<boolean>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time")
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe("command line", () => {
  it.effect("help, unknown commands and bad arguments exit with the documented codes", () =>
    Effect.gen(function*() {
      const env = { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none", VERITY_MASTER_KEYS: keys }
      const help = yield* replayer(["--help"], env)
      assert.strictEqual(help.code, 0)
      assert.include(help.stdout, "rebuild")
      const unknown = yield* replayer(["frobnicate"], env)
      assert.strictEqual(unknown.code, 2)
      const badFlag = yield* replayer(["rebuild", "--batch-size", "lots"], env)
      assert.strictEqual(badFlag.code, 2)
      const noName = yield* replayer(["rebuild"], env)
      assert.strictEqual(noName.code, 2)
      assert.include(noName.stderr, "give one projection name or --all")
      const unknownProjection = yield* replayer(["verify", "nope"], env)
      assert.strictEqual(unknownProjection.code, 2)
      assert.include(unknownProjection.stderr, "unknown projection \"nope\"")
      const noDatabase = yield* replayer(["status"], env)
      assert.strictEqual(noDatabase.code, 1)
    }), 180_000) // six process starts: seconds each on a loaded 2-core machine
})

forEachDatabase((target) => {
  describe("operations", () => {
    it.live(
      "status, rebuild (resumable after kill -9; a row tampered meanwhile refuses the switch until --skip-verify), verify (exit 1 on a corrupted row), follow (Ctrl-C)",
      () =>
        Effect.gen(function*() {
          const url = yield* TestDatabase.freshDatabaseUrl(target)
          const env = { DATABASE_URL: url, VERITY_MASTER_KEYS: keys }
          const client = PgClient.layer({ url: Redacted.make(url), maxConnections: 4 })
          // A history: accounts with deposits, written through the ledger runtime (read models running).
          yield* Effect.gen(function*() {
            for (let a = 0; a < 40; a++) {
              const accountId = crypto.randomUUID()
              yield* LedgerStreams.Accounts.handle(
                accountId,
                Schema.decodeUnknownSync(Account.OpenAccount)({
                  _tag: "OpenAccount",
                  accountId,
                  holderName: `Holder ${a}`,
                  holderEmail: `holder${a}@example.org`,
                  currency: "EUR",
                  at: Date.now()
                })
              )
              for (let d = 0; d < 50; d++) {
                yield* LedgerStreams.Accounts.handle(
                  accountId,
                  Schema.decodeUnknownSync(Account.Deposit)({
                    _tag: "Deposit",
                    accountId,
                    amount: d + 1,
                    currency: "EUR",
                    at: Date.now()
                  })
                )
              }
            }
          }).pipe(Effect.provide(LedgerRuntime.layerWithoutDatabase({ projections: LedgerReadModels.all }).pipe(Layer.provideMerge(client))))

          const status = yield* replayer(["status", "--json"], env)
          assert.strictEqual(status.code, 0, status.stderr)
          const names = (JSON.parse(status.stdout) as ReadonlyArray<{ name: string }>).map((s) => s.name)
          for (const projection of LedgerReadModels.all) assert.include(names, projection.name)

          // kill -9 in the middle of a rebuild, then run it again: it resumes its generation.
          const killed = yield* replayer(["rebuild", "account_summary", "--batch-size", "10"], env, async (child) => {
            await waitFor(() => Effect.runPromise(building(url)), 60_000)
            child.kill("SIGKILL")
          })
          assert.strictEqual(killed.signal, "SIGKILL")
          // Meanwhile a row the interrupted rebuild already wrote is tampered with.
          const { active, tampered } = yield* Effect.gen(function*() {
            const sql = yield* PgClient.PgClient
            const [row] = yield* sql<{ readonly generation: number; readonly active: number }>`
            SELECT g.generation, p.active_generation AS active FROM verity_projections.generations g
            JOIN verity_projections.projections p USING (name)
            WHERE g.name = 'account_summary' AND g.state = 'building'`
            const [changed] = yield* sql<{ readonly account_id: string }>`
            UPDATE ${sql(`account_summary_g${row!.generation}.accounts`)} SET balance = balance + 1
            WHERE account_id = (SELECT account_id FROM ${sql(`account_summary_g${row!.generation}.accounts`)} ORDER BY account_id LIMIT 1)
            RETURNING account_id::text`
            return { active: row!.active, tampered: changed!.account_id }
          }).pipe(Effect.provide(client))
          const refused = yield* replayer(["rebuild", "account_summary"], env)
          assert.strictEqual(refused.code, 1, refused.stdout + refused.stderr)
          assert.include(refused.stderr, "resuming generation")
          assert.include(refused.stdout, "differs from the events")
          assert.include(refused.stdout, tampered, "the differing row is named")
          assert.include(refused.stderr, "--skip-verify")
          const readers = yield* Effect.gen(function*() {
            const sql = yield* PgClient.PgClient
            return (yield* sql<{ readonly active: number }>`
            SELECT active_generation AS active FROM verity_projections.projections WHERE name = 'account_summary'`)[0]!.active
          }).pipe(Effect.provide(client))
          assert.strictEqual(readers, active, "readers stay on the generation they had")
          const refusedStatus = yield* replayer(["status"], env)
          assert.include(refusedStatus.stdout, "switch refused", refusedStatus.stdout)
          const resumed = yield* replayer(["rebuild", "account_summary", "--skip-verify"], env)
          assert.strictEqual(resumed.code, 0, resumed.stderr)
          assert.match(resumed.stdout, /account_summary: generation \d+ built from [\d,]+ events .*without comparing/)

          const clean = yield* replayer(["verify", "account_summary"], env)
          assert.strictEqual(clean.code, 0, clean.stdout + clean.stderr)
          yield* Effect.gen(function*() {
            const sql = yield* PgClient.PgClient
            yield* sql`UPDATE account_summary.accounts SET balance = balance + 1 WHERE account_id = (SELECT account_id FROM account_summary.accounts ORDER BY account_id LIMIT 1)`
          }).pipe(Effect.provide(client))
          const dirty = yield* replayer(["verify", "account_summary"], env)
          assert.strictEqual(dirty.code, 1)
          assert.include(dirty.stdout, "1 differing rows")

          const all = yield* replayer(["rebuild", "--all"], env)
          assert.strictEqual(all.code, 0, all.stderr)
          assert.strictEqual((yield* replayer(["verify", "account_summary"], env)).code, 0)

          const follow = yield* replayer(["follow", "--status-every", "0"], env, async (child, output) => {
            await waitFor(() => output().includes("following"), 60_000)
            child.kill("SIGINT")
          })
          assert.strictEqual(follow.code, 130)
        }),
      300_000
    )
  })
})
