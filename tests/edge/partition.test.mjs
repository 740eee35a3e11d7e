// A network partition with real processes on loopback (SQLite): one origin,
// two edges, each reaching the origin only through a TCP proxy the test
// controls. Both edges sync online and hold a lease; both links are cut; then,
// at the same time, online buyers claim at the origin until it is sold out
// while both edges sell for cash offline from their leases (some
// Idempotency-Keys sent twice) until each refuses, and one edge is killed
// with kill -9 while sales are in flight, restarted, and sells on. The links
// heal and both edges reconcile. No serial may be sold twice, nothing an edge
// acknowledged may be lost, and the drop never sells more than its edition.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import {
  dropgate, tempDir, initData, startOrigin, startEdge, client, waitFor, cleanup, payloadOf,
  cashSale, metric,
} from '../support/origin.mjs'
import { startProxy } from '../support/proxy.mjs'

const SLUG = 'split-tape'
const PRICE = 1500
const EDITION = 40
const LEASE = 8  // serials each edge expects to sell offline (its lease)
let dir, originData, apiKey, origin, api
const edges = []  // {name, data, id, proxy, server}
let keyCounter = 0
const idem = () => ({ 'idempotency-key': `partition-${process.pid}-${++keyCounter}` })

// Every sale acknowledged (201): {where, key, serial, certId}. `where` is
// 'origin' or an edge's name.
const acknowledged = []
// Sales whose answer was lost when the edge was killed: {edge, key}.
const indeterminate = []
// Keys sent twice with the answers: {key, first, second}.
const repeats = []
const refusals = {}  // edge name -> the problem type that stopped its sales

async function sellAtEdge(edge, key) {
  return cashSale(edge.server.url, SLUG, key, { amount: PRICE, apiKey })
}

function record(where, key, r) {
  assert.equal(r.status, 201, r.text)
  assert.equal(typeof r.json.serial, 'number', r.text)
  acknowledged.push({ where, key, serial: r.json.serial, certId: payloadOf(r.json.certificate).jti })
}

// One edge's seller: sells until the edge refuses (within a bound, so an
// edge that never refuses fails rather than hangs); every third key is sent
// again after its answer and must get the same serial.
async function sellUntilRefused(edge, worker) {
  for (let i = 0; ; i++) {
    assert.ok(i < 2 * LEASE, `${edge.name} sold ${i} times from a lease of ${LEASE} without refusing`)
    const key = `${edge.name}-w${worker}-${i}`
    const r = await sellAtEdge(edge, key)
    if (r.status !== 201) {
      assert.ok([409, 429].includes(r.status), r.text)
      refusals[edge.name] = r.json.type
      return
    }
    record(edge.name, key, r)
    if (i % 3 === 0) repeats.push({ key, first: r.json.serial, second: (await sellAtEdge(edge, key)).json?.serial })
  }
}

// The online buyers: claim at the origin as operator until it says sold out.
async function claimOnline(worker) {
  for (let i = 0; i < EDITION; i++) {
    const key = `online-w${worker}-${i}`
    const r = await api.post(`/v1/drops/${SLUG}/claims`, { account: `online-${key}` }, { 'idempotency-key': key })
    if (r.status === 409 && r.json?.type === 'https://dropgate.dev/problems/sold-out') return
    record('origin', key, r)
  }
}

// The killed edge: a few sales, then several in flight when kill -9 lands
// (killed as soon as the first of them is answered), a restart on the same
// data, the answer for every key sent so far, then sales until refused.
async function sellThroughKill(edge) {
  for (let i = 0; i < 2; i++) {
    const key = `${edge.name}-pre-${i}`
    record(edge.name, key, await sellAtEdge(edge, key))
  }
  const keys = [0, 1, 2, 3].map((i) => `${edge.name}-inflight-${i}`)
  const inflight = keys.map((key) => sellAtEdge(edge, key).then((r) => ({ key, r }), () => ({ key })))
  await Promise.race(inflight)
  edge.server.child.kill('SIGKILL')
  for (const { key, r } of await Promise.all(inflight)) {
    if (r?.status === 201) record(edge.name, key, r)
    else indeterminate.push({ edge: edge.name, key })
  }
  await new Promise((resolve) => edge.server.child.exitCode !== null || edge.server.child.signalCode !== null
    ? resolve() : edge.server.child.on('exit', resolve))
  edge.server = await startEdge(edge.data, { syncIntervalS: 1 })
  // The restarted edge answers every acknowledged key with the same serial.
  for (const sale of acknowledged.filter((s) => s.where === edge.name)) {
    const again = await sellAtEdge(edge, sale.key)
    assert.equal(again.status, 201, again.text)
    assert.equal(again.json.serial, sale.serial, `edge ${edge.name} lost or changed acknowledged sale ${sale.key}`)
  }
  // A sale whose answer was lost is either recorded (and answered now) or
  // never happened; a 201 now is a sale like any other.
  for (const { key } of indeterminate.filter((s) => s.edge === edge.name)) {
    const r = await sellAtEdge(edge, key)
    if (r.status === 201) record(edge.name, key, r)
  }
  await sellUntilRefused(edge, 1)
}

before(async () => {
  dir = tempDir('dg-partition-')
  originData = join(dir, 'origin')
  apiKey = initData(originData)
  origin = await startOrigin(originData)
  api = client(origin.url, apiKey)
  let r = await api.post('/v1/drops', { slug: SLUG, title: SLUG, edition: EDITION, per_buyer_limit: 5,
    price: { amount: PRICE, currency: 'EUR' } }, idem())
  assert.equal(r.status, 201, r.text)
  r = await api.put(`/v1/drops/${SLUG}/assets/song.txt`, new Uint8Array(Buffer.from('split\n')))
  assert.equal(r.status, 201, r.text)
  r = await api.post(`/v1/drops/${SLUG}/publish`, {}, idem())
  assert.equal(r.status, 201, r.text)
  for (const name of ['north', 'south']) {
    const edge = { name, data: join(dir, name), proxy: await startProxy(origin.port) }
    mkdirSync(edge.data)
    // Asynchronous: the proxy runs in this process and must keep serving.
    const enrolled = (await promisify(execFile)(dropgate, ['edge', 'enroll', '--data', edge.data,
      '--origin', edge.proxy.url, '--name', name])).stdout
    edge.id = Number(enrolled.match(/edge id:\s+(\d+)/)[1])
    // Caps (20 sales, 500.00, 20.00 a sale) allow every sale of the lease.
    execFileSync(dropgate, ['edge', 'approve', String(edge.id), '--drops', SLUG,
      '--offline-sales', String(LEASE), '--cap-count', '20', '--cap-value', '50000', '--cap-per-sale', '2000',
      '--origin', origin.url, '--api-key', apiKey])
    edge.server = await startEdge(edge.data, { syncIntervalS: 1 })
    edges.push(edge)
  }
})

after(async () => {
  const exits = []
  for (const edge of edges) {
    if (edge.server) exits.push([edge.name, await edge.server.stop(), edge.server.log()])
    await edge.proxy.close()
  }
  const originExit = origin ? await origin.stop() : 0
  cleanup(dir)
  for (const [name, code, log] of exits) assert.equal(code, 0, `${name}:\n${log}`)
  assert.equal(originExit, 0, origin?.log())
})

// Checks both edges synced through their proxies while the links were up:
// each carries the drop, knows the operator keys and holds its lease (a sale
// of the wrong amount is refused for the amount, which is checked last).
test('both edges sync through their links and hold a lease', async () => {
  for (const edge of edges) {
    await waitFor(`${edge.name} to be ready to sell offline`, async () =>
      (await cashSale(edge.server.url, SLUG, 'probe', { amount: 1, apiKey })).status === 400)
    const leases = (await api.get(`/v1/edges/${edge.id}/leases`)).json.leases
    assert.equal(leases.reduce((n, l) => n + l.unsold, 0), LEASE)
  }
})

// Checks the partition itself: with both links cut, the online buyers sell
// out the origin while each edge sells its whole lease and then refuses
// (lease exhausted, never a serial outside it), one edge surviving a kill -9
// with sales in flight; every acknowledged sale carries one serial, no serial
// is acknowledged twice across the origin and both edges, and a repeated
// Idempotency-Key got the same serial.
test('partitioned: origin and edges sell at once, no serial twice, one edge killed mid-sale', async (t) => {
  for (const edge of edges) edge.proxy.cut()
  // Proof the cut holds: the edges' syncs fail (their own metric would show
  // it, but a direct request through the proxy is simpler to observe).
  await assert.rejects(fetch(`${edges[0].proxy.url}/healthz`))
  await Promise.all([
    claimOnline(0), claimOnline(1),
    sellThroughKill(edges[0]),
    sellUntilRefused(edges[1], 0), sellUntilRefused(edges[1], 1),
  ])
  const count = (where) => acknowledged.filter((s) => s.where === where).length
  t.diagnostic(`acknowledged: origin ${count('origin')}, ${edges.map((e) => `${e.name} ${count(e.name)}`).join(', ')}; ` +
    `answers lost to the kill: ${indeterminate.length}; repeated keys: ${repeats.length}`)
  for (const edge of edges) {
    assert.equal(refusals[edge.name], 'https://dropgate.dev/problems/offline-no-lease', `${edge.name} stopped early`)
    const mine = acknowledged.filter((s) => s.where === edge.name)
    assert.equal(mine.length, LEASE, `${edge.name} sold ${mine.length} of its lease of ${LEASE}`)
  }
  const serials = acknowledged.map((s) => s.serial)
  const twice = serials.filter((s, i) => serials.indexOf(s) !== i)
  assert.deepEqual(twice, [], `serials acknowledged twice: ${JSON.stringify(acknowledged)}`)
  assert.ok(serials.every((s) => s >= 1 && s <= EDITION))
  assert.ok(acknowledged.length <= EDITION)
  assert.ok(repeats.length > 0)
  for (const r of repeats) assert.equal(r.second, r.first, `Idempotency-Key ${r.key} got another serial`)
})

// Checks reconciliation after the links heal (every edge sale still pending
// before, so the cut held): both edges report every sale
// (no pending sales left), and the origin then holds exactly the acknowledged
// sales: each as a claim under the certificate id its seller gave the buyer,
// the drop sold out at its edition and never beyond.
test('healed: every acknowledged sale is at the origin once, with its certificate', async () => {
  // The cut held: no edge reported a sale while partitioned.
  for (const edge of edges) assert.equal(await metric(edge.server.url, 'dropgate_offline_sales_pending'), LEASE)
  for (const edge of edges) edge.proxy.heal()
  for (const edge of edges) {
    await waitFor(`${edge.name} to report its sales`, async () =>
      (await metric(edge.server.url, 'dropgate_offline_sales_pending')) === 0, { timeoutMs: 30000 })
  }
  const atOrigin = new Map()  // serial -> certificate id, the origin's claims
  for (let serial = 1; serial <= EDITION; serial++) {
    const r = await fetch(`${origin.url}/v1/drops/${SLUG}/certificates/${serial}`)
    if (r.status === 200) atOrigin.set(serial, (await r.json()).certificate_id)
    else assert.equal(r.status, 404)
  }
  for (const sale of acknowledged) {
    assert.equal(atOrigin.get(sale.serial), sale.certId,
      `${sale.where} sale ${sale.key} (serial ${sale.serial}) is not at the origin with its certificate`)
  }
  assert.equal(atOrigin.size, acknowledged.length, 'the origin holds a claim nobody acknowledged')
  const status = (await api.get(`/v1/drops/${SLUG}/status`)).json
  assert.equal(status.claimed, acknowledged.length)
  assert.ok(status.claimed <= EDITION)
  assert.equal(status.claimed, EDITION, 'the origin and the edges together sell out')
})

// Missing on this branch: the origin does not yet take back serials an edge
// leased but never sold (unsold-serial release is built on another branch).
// Once it does, an edge that stops early must see its unsold serials return
// to the pool and be sold online.
test.todo('unsold leased serials are back in the pool (needs unsold-serial release)')
