// Offline sales at the edge, real processes on loopback (SQLite): an origin
// leases serials to an approved edge (offline_sales, risk caps), the edge
// sells for cash from its lease with an operator's key checked offline,
// writes each sale before answering, signs the certificate with its own key
// (verified through the grant), serves the buyer's files with its own
// download token, reports the sale to the origin (counted once) and has its
// lease topped up; with the origin gone it keeps selling until a risk cap
// stops it, survives a kill -9, and reconciles when the origin is back.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  dropgate, tempDir, initData, startOrigin, startEdge, client, waitFor, cleanup, payloadOf,
  cashSale as sharedCashSale, metric,
} from '../support/origin.mjs'

const SLUG = 'stall-tape'
const PRICE = 1500
let dir, originData, edgeData, apiKey, origin, edge, api, edgeId, originPort
let keyCounter = 0
const idem = () => ({ 'idempotency-key': `offline-${process.pid}-${++keyCounter}` })
const sales = []  // every sale the edge acknowledged: {serial, certificate, key}

function cashSale(key, { amount = PRICE, apiKeyUsed = apiKey } = {}) {
  return sharedCashSale(edge.url, SLUG, key, { amount, apiKey: apiKeyUsed })
}

async function grantOf() {
  const r = await api.get(`/v1/edges/${edgeId}/leases`)
  assert.equal(r.status, 200, r.text)
  return r.json.leases
}

// The origin's certificate id for a serial (404 while unclaimed there).
async function originCertId(serial) {
  const r = await fetch(`${origin.url}/v1/drops/${SLUG}/certificates/${serial}`)
  return r.status === 200 ? (await r.json()).certificate_id : undefined
}

function edgeMetric(name) { return metric(edge.url, name) }

before(async () => {
  dir = tempDir('dg-offline-')
  originData = join(dir, 'origin')
  edgeData = join(dir, 'edge')
  apiKey = initData(originData)
  origin = await startOrigin(originData)
  originPort = origin.port
  api = client(origin.url, apiKey)
  let r = await api.post('/v1/drops', { slug: SLUG, title: SLUG, edition: 20, per_buyer_limit: 5,
    price: { amount: PRICE, currency: 'EUR' } }, idem())
  assert.equal(r.status, 201, r.text)
  r = await api.put(`/v1/drops/${SLUG}/assets/song.txt`, new Uint8Array(Buffer.from('la la la\n')))
  assert.equal(r.status, 201, r.text)
  r = await api.post(`/v1/drops/${SLUG}/publish`, {}, idem())
  assert.equal(r.status, 201, r.text)
  mkdirSync(edgeData)
  const enrolled = execFileSync(dropgate, ['edge', 'enroll', '--data', edgeData, '--origin', origin.url,
    '--name', 'stall']).toString()
  edgeId = Number(enrolled.match(/edge id:\s+(\d+)/)[1])
  // The CLI builds the approval: 4 expected offline sales, caps of 3 sales,
  // 100.00 in all, 20.00 a sale.
  execFileSync(dropgate, ['edge', 'approve', String(edgeId), '--drops', SLUG, '--offline-sales', '4',
    '--cap-count', '3', '--cap-value', '10000', '--cap-per-sale', '2000',
    '--origin', origin.url, '--api-key', apiKey])
  edge = await startEdge(edgeData, { syncIntervalS: 1 })
  await waitFor('the edge to carry the drop', async () => {
    const h = await (await fetch(`${edge.url}/healthz`)).json()
    return h.status === 'ok' && h.drops.length === 1
  })
})

after(async () => {
  const edgeExit = edge ? await edge.stop() : 0
  const originExit = origin ? await origin.stop() : 0
  cleanup(dir)
  assert.equal(edgeExit, 0, edge?.log())
  assert.equal(originExit, 0, origin?.log())
})

// Checks the approval leased exactly the expected offline sales and that the
// grant the edge holds names that lease, the caps and the price.
test('approval leases the expected offline sales and signs them into the grant', async () => {
  const leases = await grantOf()
  assert.equal(leases.reduce((n, l) => n + l.last - l.first + 1, 0), 4)
  assert.equal(leases.reduce((n, l) => n + l.unsold, 0), 4)
  const grant = payloadOf(readFileSync(join(edgeData, 'grant.token')).toString().trim())
  assert.deepEqual(grant.caps, { sales_max: 3, value_minor_max: 10000, sale_value_minor_max: 2000 })
  assert.deepEqual(grant.offline_sales, { [SLUG]: 4 })
  assert.deepEqual(grant.prices, { [SLUG]: { amount: PRICE, currency: 'EUR' } })
  assert.equal(grant.leases.length, 1)
})

// Checks a cash sale at the edge: operator key checked offline, a leased
// serial, a certificate signed by the edge key naming the grant, a download
// token the edge itself accepts; a repeat with the same Idempotency-Key gets
// the same answer, never a second serial; bad input is refused.
test('the edge sells for cash from its lease, exactly once per Idempotency-Key', async () => {
  await waitFor('the edge to learn the operator keys', async () => (await cashSale('probe-unused', { amount: 1 })).status === 400)
  const first = await cashSale('sale-1')
  assert.equal(first.status, 201, first.text)
  const lease = (await grantOf())[0]
  assert.ok(first.json.serial >= lease.first && first.json.serial <= lease.last)
  assert.equal(first.json.channel, 'cash')
  const cert = payloadOf(first.json.certificate)
  assert.equal(cert.grant, payloadOf(first.json.grant).jti)
  assert.equal(cert.serial, first.json.serial)
  const again = await cashSale('sale-1')
  assert.equal(again.status, 201)
  assert.equal(again.json.serial, first.json.serial)
  assert.equal(again.json.certificate, first.json.certificate)
  sales.push({ serial: first.json.serial, certificate: first.json.certificate })

  const file = await fetch(`${edge.url}${first.json.files[0].url}`)
  assert.equal(file.status, 200)
  assert.equal(await file.text(), 'la la la\n')

  const wrongAmount = await cashSale('sale-wrong', { amount: PRICE + 1 })
  assert.equal(wrongAmount.status, 400, wrongAmount.text)
  const stranger = await cashSale('sale-stranger', { apiKeyUsed: 'not-an-operator' })
  assert.equal(stranger.status, 401, stranger.text)
})

// Checks reconciliation: the sale reaches the origin as a claim with the
// edge's certificate, counted once although reported on every round until
// acknowledged, and the lease is topped up back to 4 unsold.
test('the origin records the edge\'s sale once and tops its lease up', async () => {
  const certId = payloadOf(sales[0].certificate).jti
  await waitFor('the sale to reach the origin', async () => (await originCertId(sales[0].serial)) === certId)
  await waitFor('the lease to be topped up', async () =>
    (await grantOf()).reduce((n, l) => n + l.unsold, 0) === 4)
  await waitFor('the edge to see the sale acknowledged', async () =>
    (await edgeMetric('dropgate_offline_sales_pending')) === 0)
  const status = (await api.get(`/v1/drops/${SLUG}/status`)).json
  assert.equal(status.claimed, 1)
})

// Checks the offline case: with the origin gone the edge sells until its
// count cap (3 unacknowledged sales), refuses the fourth with
// offline-cap-reached, keeps every acknowledged sale through a kill -9, and
// reconciles them all when the origin is back: no serial twice, each sale
// exactly one serial, all recorded at the origin.
test('offline: sells to its cap, survives kill -9, reconciles when the origin is back', async () => {
  assert.equal(await origin.stop(), 0)
  origin = undefined
  for (let i = 2; i <= 4; i++) {
    const r = await cashSale(`sale-${i}`)
    assert.equal(r.status, 201, r.text)
    sales.push({ serial: r.json.serial, certificate: r.json.certificate })
  }
  const capped = await cashSale('sale-5')
  assert.equal(capped.status, 429, capped.text)
  assert.equal(capped.json.type, 'https://dropgate.dev/problems/offline-cap-reached')
  assert.equal(await edgeMetric('dropgate_offline_cap_refusals_total{cap="sales"}'), 1)
  const serials = sales.map((s) => s.serial)
  assert.equal(new Set(serials).size, serials.length, `a serial sold twice: ${serials}`)

  edge.child.kill('SIGKILL')
  await new Promise((resolve) => edge.child.on('exit', resolve))
  edge = await startEdge(edgeData, { syncIntervalS: 1 })
  for (let i = 2; i <= 4; i++) {
    const repeat = await cashSale(`sale-${i}`)
    assert.equal(repeat.status, 201, repeat.text)
    assert.equal(repeat.json.serial, sales[i - 1].serial, 'an acknowledged sale was lost or changed')
  }
  origin = await startOrigin(originData, { port: originPort })
  for (const sale of sales) {
    const certId = payloadOf(sale.certificate).jti
    await waitFor(`serial ${sale.serial} to reach the origin`, async () => (await originCertId(sale.serial)) === certId)
  }
  const status = (await client(origin.url, apiKey).get(`/v1/drops/${SLUG}/status`)).json
  assert.equal(status.claimed, sales.length)
  assert.ok(status.claimed <= 20)
})
