// Anonymous edge enrolment (POST /v1/edges) under abuse: one client address
// can keep only a few enrolments pending, a flood from many addresses cannot
// lock out an operator's real `dropgate edge enroll`, and pending enrolments
// expire. Requests come from distinct loopback addresses (127.0.0.N), which
// the origin sees as distinct clients.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'
import http from 'node:http'
import { join } from 'node:path'
import { dropgate, tempDir, initData, startOrigin, client, waitFor, cleanup } from '../support/origin.mjs'

let dir, origin, api, shortTtl, shortApi
const perAddressMax = 3
const pendingMax = 100

// A fresh edge key as PASERK k4.public, and the enrolment body for it.
function enrolmentBody(name) {
  const { publicKey } = generateKeyPairSync('ed25519')
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
  return JSON.stringify({
    name,
    edge_key: 'k4.public.' + raw.toString('base64url'),
    secret_sha256: createHash('sha256').update(randomBytes(16)).digest('hex'),
  })
}

// POST /v1/edges from `localAddress`; resolves { status, json }.
function enrolFrom(baseUrl, localAddress, name = `edge-${localAddress}`) {
  const body = enrolmentBody(name)
  return new Promise((resolve, reject) => {
    const req = http.request(baseUrl + '/v1/edges', {
      method: 'POST', localAddress, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = ''
      res.on('data', (d) => { text += d })
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, json: JSON.parse(text || 'null') }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

before(async () => {
  dir = tempDir('dg-enrol-abuse-')
  const key = initData(join(dir, 'data'))
  origin = await startOrigin(join(dir, 'data'))
  api = client(origin.url, key)
  const shortKey = initData(join(dir, 'short'), 'edge_enrolment_ttl_s = 1\n')
  shortTtl = await startOrigin(join(dir, 'short'))
  shortApi = client(shortTtl.url, shortKey)
})
after(async () => {
  if (origin) assert.equal(await origin.stop(), 0, origin.log())
  if (shortTtl) assert.equal(await shortTtl.stop(), 0, shortTtl.log())
  cleanup(dir)
})

// The per-address limit: the fourth pending enrolment from one address is
// refused with 429 and problem+json; another address is not affected.
test('one address may keep only a few enrolments pending', async () => {
  for (let i = 0; i < perAddressMax; i++) {
    const r = await enrolFrom(origin.url, '127.0.0.2')
    assert.equal(r.status, 202, JSON.stringify(r.json))
  }
  const refused = await enrolFrom(origin.url, '127.0.0.2')
  assert.equal(refused.status, 429, JSON.stringify(refused.json))
  assert.match(refused.headers['content-type'], /application\/problem\+json/)
  assert.ok(refused.json.type.endsWith('/too-many-enrolments'), refused.json.type)
  assert.equal((await enrolFrom(origin.url, '127.0.0.3')).status, 202)
})

// More anonymous enrolments than the pending list holds, from many addresses:
// every one is accepted (the oldest pending make room), the list stays
// bounded, and the operator's real edge then enrols and can be approved.
test('an enrolment flood cannot lock out a real edge enrol', async () => {
  let accepted = 0
  for (let n = 10; accepted < pendingMax + 20; n++) {
    for (let i = 0; i < perAddressMax; i++) {
      const r = await enrolFrom(origin.url, `127.0.0.${n}`)
      assert.equal(r.status, 202, JSON.stringify(r.json))
      accepted++
    }
  }
  const edgeData = join(dir, 'edge')
  const out = execFileSync(dropgate, ['edge', 'enroll', '--data', edgeData, '--origin', origin.url,
    '--name', 'the-real-stall']).toString()
  const id = Number(out.match(/edge id:\s+(\d+)/)[1])
  const list = await api.get('/v1/edges')
  assert.equal(list.status, 200, list.text)
  const pending = list.json.edges.filter((e) => e.state === 'pending')
  assert.ok(pending.length <= pendingMax, `${pending.length} pending`)
  assert.ok(pending.some((e) => e.edge_id === id && e.name === 'the-real-stall'))
  const approved = await api.post(`/v1/edges/${id}/approve`, { drops: [] })
  assert.equal(approved.status, 200, approved.text)
})

// With edge_enrolment_ttl_s = 1, a pending enrolment leaves the operator's
// list, cannot be approved, and stops counting toward its address's limit.
test('pending enrolments expire', async () => {
  const ids = []
  for (let i = 0; i < perAddressMax; i++) {
    const r = await enrolFrom(shortTtl.url, '127.0.0.5')
    assert.equal(r.status, 202, JSON.stringify(r.json))
    ids.push(r.json.edge_id)
  }
  await waitFor('the enrolments to leave the list', async () => {
    const list = await shortApi.get('/v1/edges')
    return list.status === 200 && !list.json.edges.some((e) => ids.includes(e.edge_id))
  })
  const approve = await shortApi.post(`/v1/edges/${ids[0]}/approve`, { drops: [] })
  assert.equal(approve.status, 404, approve.text)
  assert.equal((await enrolFrom(shortTtl.url, '127.0.0.5')).status, 202)
})
