/**
 * Sends one command over NATS request/reply to a `CommandService` (e.g. the API's, when it runs with
 * `NATS_URL`) and prints the reply exactly as it came over the wire: a way to try the commands without
 * the `nats` CLI, and what the README's example runs.
 *
 *   NATS_URL=nats://127.0.0.1:4222 node packages/integration/examples/command.ts <subject> '<command JSON>' \
 *     --token <bearer token> [--idempotency-key <key>]
 *
 * Prints `{"ok":true,"result":{…}}` and exits 0, or `{"ok":false,"error":{"_tag":…}}` and exits 1; when
 * no reply comes (no service listening, a timeout) it says so on stderr and exits 2.
 */
import { connect, headers } from "@nats-io/transport-node"

const servers = (process.env["NATS_URL"] ?? "nats://127.0.0.1:4222").split(",").map((s) => s.trim())
const flag = (name: string): string | undefined => {
  const at = process.argv.indexOf(name)
  return at === -1 ? undefined : process.argv[at + 1]
}
const [subject, payload] = process.argv.slice(2).filter((arg, i, all) => !arg.startsWith("--") && !all[i - 1]?.startsWith("--"))
if (subject === undefined || payload === undefined) {
  process.stderr.write("usage: command.ts <subject> '<command JSON>' --token <token> [--idempotency-key <key>]\n")
  process.exit(2)
}

const h = headers()
const token = flag("--token")
if (token !== undefined) h.set("Authorization", `Bearer ${token}`)
const key = flag("--idempotency-key")
if (key !== undefined) h.set("Idempotency-Key", key)

const nc = await connect({ servers, name: "verity-example-command" })
try {
  const reply = await nc.request(subject, payload, { headers: h, timeout: 10_000 })
  const text = reply.string()
  process.stdout.write(`${text}\n`)
  process.exitCode = (JSON.parse(text) as { readonly ok?: unknown }).ok === true ? 0 : 1
} catch (error) {
  process.stderr.write(`no reply on ${subject}: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 2
} finally {
  await nc.close()
}
