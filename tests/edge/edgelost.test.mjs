// Edges giving serials back, real processes on loopback (SQLite; clock_skew_s
// = 0 on both sides so a lease's sell_until is the drop's close): an edge
// releases the unsold serials of a lease past its sell_until after its sale
// was reconciled; an operator declares another edge lost after it sold
// offline without reporting: its serials are back in the pool at once, and
// its late report is refused and listed for follow-up.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  dropgate, tempDir, initData, startOrigin, startEdge, client, waitFor, cleanup,
} from '../support/origin.mjs'

const PRICE = 1500
let dir, originData, apiKey, origin, api, originPort
const edges = {}  // name -> {id, data, proc}
let keyCounter = 0
const idem = () => ({ 'idempotency-key': `edgelost-${process.pid}-${++keyCounter}` })

async function makeDrop(slug, closesAt) {
  const body = { slug, title: slug, edition: 20, per_buyer_limit: 5, price: { amount: PRICE, currency: 'EUR' } }
  if (closesAt) body.closes_at = closesAt
  let r = await api.post('/v1/drops', body, idem())
  assert.equal(r.status, 201, r.text)
  r = await api.put(`/v1/drops/${slug}/assets/song.txt`, new Uint8Array(Buffer.from('la la la\n')))
  assert.equal(r.status, 201, r.text)
  r = await api.post(`/v1/drops/${slug}/publish`, {}, idem())
  assert.equal(r.status, 201, r.text)
}

async function startStall(name, slug, offlineSales) {
  const data = join(dir, name)
  mkdirSync(data)
  writeFileSync(join(data, 'edge.toml'), 'clock_skew_s = 0\n')
  const enrolled = execFileSync(dropgate, ['edge', 'enroll', '--data', data, '--origin', origin.url,
    '--name', name]).toString()
  const id = Number(enrolled.match(/edge id:\s+(\d+)/)[1])
  execFileSync(dropgate, ['edge', 'approve', String(id), '--drops', slug, '--offline-sales', String(offlineSales),
    '--origin', origin.url, '--api-key', apiKey])
  const proc = await startEdge(data, { syncIntervalS: 1 })
  edges[name] = { id, data, proc }
  await waitFor(`${name} to carry the drop`, async () => {
    const h = await (await fetch(`${proc.url}/healthz`)).json()
    return h.status === 'ok' && h.drops.length === 1
  })
  // The operator keys arrive with the sync document: a bad amount is then a 400, not a 401.
  await waitFor(`${name} to learn the operator keys`, async () =>
    (await cashSale(name, slug, 'probe', { amount: 1 })).status === 400)
  return edges[name]
}

async function cashSale(name, slug, key, { amount = PRICE } = {}) {
  const res = await fetch(`${edges[name].proc.url}/v1/drops/${slug}/cash`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'idempotency-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ amount, currency: 'EUR', account: `buyer-${key}` }),
  })
  const text = await res.text()
  let json
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: res.status, json, text }
}

const status = async (slug) => (await client(origin.url, apiKey).get(`/v1/drops/${slug}/status`)).json
const leasesOf = async (id) => (await client(origin.url, apiKey).get(`/v1/edges/${id}/leases`)).json.leases
const cli = (...args) => execFileSync(dropgate, [...args, '--origin', origin.url, '--api-key', apiKey]).toString()

before(async () => {
  dir = tempDir('dg-edgelost-')
  originData = join(dir, 'origin')
  apiKey = initData(originData, 'clock_skew_s = 0\n')
  origin = await startOrigin(originData)
  originPort = origin.port
  api = client(origin.url, apiKey)
})

after(async () => {
  const exits = []
  for (const e of Object.values(edges)) exits.push([e.proc, e.proc ? await e.proc.stop() : 0])
  const originExit = origin ? await origin.stop() : 0
  cleanup(dir)
  for (const [proc, code] of exits) assert.equal(code, 0, proc.log())
  assert.equal(originExit, 0, origin?.log())
})

// Checks the release: the edge sells one serial of its 4, the sale is
// reconciled, and once the drop closed (the lease's sell_until) the edge
// gives the lease back: the 3 unsold serials return to the pool, the sold
// one stays claimed, and the closed drop is not leased again.
test('an edge releases the unsold serials of a lease past its sell_until', async () => {
  // Whole seconds: drop times are stored to the second.
  const closesAt = new Date(Math.ceil((Date.now() + 30_000) / 1000) * 1000)
  await makeDrop('fair-tape', closesAt.toISOString())
  const stall = await startStall('fair', 'fair-tape', 4)
  assert.equal((await status('fair-tape')).unleased, 16)
  const sale = await cashSale('fair', 'fair-tape', 'fair-1')
  assert.equal(sale.status, 201, sale.text)
  await waitFor('the sale to reach the origin', async () => (await status('fair-tape')).claimed === 1)
  await waitFor('the lease to be released after the close', async () =>
    (await leasesOf(stall.id)).length === 0, { timeoutMs: 90_000 })
  assert.ok(Date.now() >= closesAt.getTime(), 'released before sell_until')
  const s = await status('fair-tape')
  assert.equal(s.unleased, 19)
  assert.equal(s.claimed, 1)
})

// Checks declaring an edge lost: it sold two serials offline and never
// reported them; the operator's declaration (who and why recorded) returns
// all 3 leased serials to the pool at once; when the edge comes back its
// report is refused (nothing claimed) and both buyers are listed.
test('an edge declared lost: serials back in the pool, its late report refused and listed', async () => {
  await makeDrop('lost-tape')
  const stall = await startStall('gone', 'lost-tape', 3)
  assert.equal((await status('lost-tape')).unleased, 17)
  assert.equal(await origin.stop(), 0)
  origin = undefined
  for (const key of ['gone-1', 'gone-2']) {
    const r = await cashSale('gone', 'lost-tape', key)
    assert.equal(r.status, 201, r.text)
  }
  assert.equal(await stall.proc.stop(), 0, stall.proc.log())
  origin = await startOrigin(originData, { port: originPort })

  const declared = JSON.parse(cli('edge', 'lost', String(stall.id), '--reason', 'stolen at the fair', '--json'))
  assert.equal(declared.returned, 3)
  assert.match(declared.by, /^key:[0-9a-f]{12}$/)
  assert.equal(declared.reason, 'stolen at the fair')
  assert.equal((await status('lost-tape')).unleased, 20)
  assert.deepEqual(await leasesOf(stall.id), [])
  const again = await client(origin.url, apiKey).post(`/v1/edges/${stall.id}/lost`, { reason: 'twice' }, idem())
  assert.equal(again.status, 409, again.text)

  stall.proc = await startEdge(stall.data, { syncIntervalS: 1 })
  let listed
  await waitFor('the lost edge\'s report to be listed', async () => {
    listed = JSON.parse(cli('edge', 'lost-sales', String(stall.id), '--json'))
    return listed.sales.length === 2
  })
  assert.equal(listed.lost, true)
  assert.deepEqual(listed.sales.map((s) => s.account).sort(), ['buyer-gone-1', 'buyer-gone-2'])
  for (const s of listed.sales) {
    assert.equal(s.amount, PRICE)
    assert.equal(s.verified, true)
    assert.ok(s.serial >= 1 && s.serial <= 20)
  }
  const text = cli('edge', 'lost-sales', String(stall.id))
  assert.match(text, /buyer-gone-1/)
  const s = await status('lost-tape')
  assert.equal(s.claimed, 0)
  assert.equal(s.unleased, 20)
})
