// Helpers for tests that run real dropgate processes on loopback.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import net from 'node:net'
import assert from 'node:assert/strict'

export const dropgate = process.env.DROPGATE_BIN
assert.ok(dropgate, 'set DROPGATE_BIN to the dropgate binary')

export function tempDir(prefix = 'dg-test-') {
  return mkdtempSync(join(tmpdir(), prefix))
}

// Initialises a data folder; returns the operator API key.
export function initData(dataDir, extraToml = '', database = '') {
  mkdirSync(dataDir, { recursive: true })
  if (extraToml) writeFileSync(join(dataDir, 'dropgate.toml'), extraToml)
  const args = ['init', '--data', dataDir]
  if (database) args.push('--database', database)
  const out = execFileSync(dropgate, args).toString()
  const key = out.match(/operator key:\s+(\S+)/)
  assert.ok(key, `init printed no operator key:\n${out}`)
  return key[1]
}

// Starts `dropgate serve` on a free port (or `port`, e.g. to restart on the
// same one); resolves once it listens.
export async function startOrigin(dataDir, { database = '', instance = '', env = {}, port = 0 } = {}) {
  const args = ['serve', '--data', dataDir, '--listen', `127.0.0.1:${port}`]
  if (database) args.push('--database', database)
  if (instance) args.push('--instance', instance)
  return spawnListening(args, env, 'origin')
}

// Starts `dropgate edge serve` for an enrolled edge data folder on a free port
// (or `port`); resolves once it listens. Same shape as startOrigin's result.
export async function startEdge(dataDir, { syncIntervalS = 1, port = 0, env = {} } = {}) {
  const args = ['edge', 'serve', '--data', dataDir, '--listen', `127.0.0.1:${port}`,
    '--sync-interval-s', String(syncIntervalS)]
  return spawnListening(args, env, 'edge')
}

// Spawns a dropgate server and waits for its "listening on port N" line.
async function spawnListening(args, env, what) {
  const child = spawn(dropgate, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${log}`)), 15000)
    child.stderr.on('data', (chunk) => {
      log += chunk
      const m = log.match(/listening on port (\d+)/)
      if (m) { clearTimeout(timer); resolve(Number(m[1])) }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited ${code}:\n${log}`)) })
  })
  child.stderr.removeAllListeners('data')
  child.stderr.on('data', (chunk) => { log += chunk })
  return {
    child, port, url: `http://127.0.0.1:${port}`, log: () => log,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? child.signalCode
      const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig)))
      child.kill(signal)
      return exited
    },
  }
}

// Polls `probe` (async; returns a truthy value when the condition holds) every
// `intervalMs` until it does or `timeoutMs` passes; returns the truthy value or
// throws, naming `what` (a string, or a function called then for the details).
export async function waitFor(what, probe, { timeoutMs = 15000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > deadline) {
      const described = typeof what === 'function' ? await what() : what
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${described}`)
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

// A JSON API client for one origin.
export function client(baseUrl, apiKey = '') {
  async function call(method, path, body, headers = {}) {
    const h = { ...headers }
    if (apiKey) h.authorization = `Bearer ${apiKey}`
    if (body !== undefined && !(body instanceof Uint8Array)) h['content-type'] = 'application/json'
    const res = await fetch(baseUrl + path, {
      method, headers: h,
      body: body === undefined ? undefined : body instanceof Uint8Array ? body : JSON.stringify(body),
    })
    const text = await res.text()
    let json
    try { json = JSON.parse(text) } catch { json = undefined }
    return { status: res.status, headers: res.headers, text, json }
  }
  return {
    call,
    get: (p, h) => call('GET', p, undefined, h),
    post: (p, b, h) => call('POST', p, b ?? {}, h),
    put: (p, b, h) => call('PUT', p, b, h),
  }
}

// Sends raw bytes and returns the raw response text (for requests fetch would normalise).
export function rawRequest(port, text) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text))
    let data = ''
    socket.on('data', (d) => { data += d })
    socket.on('end', () => resolve(data))
    socket.on('error', reject)
    setTimeout(() => { socket.destroy(); resolve(data) }, 3000)
  })
}

// Runs `tasks` (functions returning promises) with at most `concurrency` at once.
export async function pool(tasks, concurrency) {
  const results = new Array(tasks.length)
  let next = 0
  async function worker() {
    while (next < tasks.length) {
      const i = next++
      results[i] = await tasks[i]()
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker))
  return results
}

// The payload of a PASETO v4.public token (the last 64 bytes are the signature).
export function payloadOf(token) {
  const body = Buffer.from(token.split('.')[2], 'base64url')
  return JSON.parse(body.subarray(0, body.length - 64).toString())
}

// A cash sale at an edge (`edgeUrl`) for drop `slug`, by an operator key.
export async function cashSale(edgeUrl, slug, key, { amount, apiKey, account = `buyer-${key}` }) {
  const res = await fetch(`${edgeUrl}/v1/drops/${slug}/cash`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'idempotency-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ amount, currency: 'EUR', account }),
  })
  const text = await res.text()
  let json
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: res.status, json, text }
}

// The value of one Prometheus sample (`name` with its labels) a server exposes.
export async function metric(baseUrl, name) {
  const text = await (await fetch(`${baseUrl}/metrics`)).text()
  const m = text.match(new RegExp(`^${name.replace(/[{}"]/g, (c) => '\\' + c)} (\\S+)$`, 'm'))
  return m ? Number(m[1]) : undefined
}

export function cleanup(dir) { rmSync(dir, { recursive: true, force: true }) }
