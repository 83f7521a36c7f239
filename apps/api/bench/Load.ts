/**
 * The load generator: a keep-alive HTTP client (node:http with a pooled agent, or fetch), one account per
 * client, and closed-loop clients (each sends its next deposit as soon as the previous answer arrived) for
 * a fixed duration, recording every latency and status.
 */
import * as Http from "node:http"

export interface Client {
  readonly post: (
    path: string,
    body: unknown,
    extraHeaders?: Readonly<Record<string, string>>
  ) => Promise<{ readonly status: number; readonly body: string }>
  readonly close: () => void
}

export const makeClient = (baseUrl: string, token: string, kind: "http" | "fetch", connections: number): Client => {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" }
  if (kind === "fetch") {
    return {
      post: async (path, body, extraHeaders) => {
        const response = await fetch(baseUrl + path, { method: "POST", headers: { ...headers, ...extraHeaders }, body: JSON.stringify(body) })
        return { status: response.status, body: await response.text() }
      },
      close: () => {}
    }
  }
  const url = new URL(baseUrl)
  const agent = new Http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections })
  return {
    post: (path, body, extraHeaders) =>
      new Promise((resolve, reject) => {
        const payload = JSON.stringify(body)
        const request = Http.request({
          host: url.hostname,
          port: url.port,
          path,
          method: "POST",
          agent,
          headers: { ...headers, ...extraHeaders, "content-length": Buffer.byteLength(payload) }
        }, (response) => {
          let text = ""
          response.setEncoding("utf8")
          response.on("data", (chunk: string) => (text += chunk))
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }))
          response.on("error", reject)
        })
        request.on("error", reject)
        request.end(payload)
      }),
    close: () => agent.destroy()
  }
}

export const openAccounts = async (client: Client, count: number): Promise<ReadonlyArray<string>> => {
  const ids: Array<string> = []
  for (let i = 0; i < count; i++) {
    const reply = await client.post("/accounts", { holderName: `Bench ${i}`, holderEmail: `bench${i}@example.com`, currency: "EUR" })
    if (reply.status !== 201) throw new Error(`open failed: ${reply.status} ${reply.body}`)
    ids.push((JSON.parse(reply.body) as { accountId: string }).accountId)
  }
  return ids
}

export interface Summary {
  readonly count: number
  readonly ok: number
  readonly perSecond: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly statuses: ReadonlyMap<number, number>
}

export const summarize = (latencies: Array<number>, seconds: number, statuses: ReadonlyMap<number, number> = new Map()): Summary => {
  const sorted = Float64Array.from(latencies).sort()
  const at = (q: number) => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  const ok = statuses.size === 0 ? sorted.length : [...statuses].filter(([s]) => s < 300).reduce((a, [, n]) => a + n, 0)
  return { count: sorted.length, ok, perSecond: ok / seconds, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0, statuses }
}

export const formatStatuses = (statuses: ReadonlyMap<number, number>) =>
  [...statuses].filter(([s]) => s >= 300).map(([s, n]) => `${s}: ${n}`).join(", ")

/**
 * One closed-loop client per entry of `accounts`, each depositing 1 into its account back to back for
 * `seconds` (pass one id many times for clients sharing a hot account). With `idempotencyKeys`, every
 * request (with "half": every request of every other client) carries a fresh `Idempotency-Key`.
 */
export const deposits = async (
  client: Client,
  accounts: ReadonlyArray<string>,
  seconds: number,
  options: { readonly idempotencyKeys?: boolean | "half" } = {}
): Promise<Summary> => {
  const latencies: Array<number> = []
  const statuses = new Map<number, number>()
  const started = performance.now()
  const deadline = started + seconds * 1000
  await Promise.all(accounts.map(async (id, index) => {
    const keyed = options.idempotencyKeys === true || (options.idempotencyKeys === "half" && index % 2 === 0)
    while (performance.now() < deadline) {
      const t = performance.now()
      const reply = await client.post(
        `/accounts/${id}/deposits`,
        { amount: 1 },
        keyed ? { "idempotency-key": crypto.randomUUID() } : undefined
      )
      latencies.push(performance.now() - t)
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1)
    }
  }))
  return summarize(latencies, (performance.now() - started) / 1000, statuses)
}
