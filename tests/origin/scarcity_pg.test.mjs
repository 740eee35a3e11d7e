// Scarcity under real concurrency and real crashes, on PostgreSQL:
//  - a race: 10,000 claims from 64 concurrent clients for a 500-edition drop,
//    spread over two origin processes sharing one database;
//  - a crash: kill -9 an origin in the middle of a claim surge and restart it.
// Needs DG_TEST_POSTGRES_ADMIN (a postgresql:// URL to the throwaway test
// cluster's "postgres" database); ctest sets it from the pg fixture.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { tempDir, initData, startOrigin, client, pool, cleanup } from '../support/origin.mjs'

const admin = process.env.DG_TEST_POSTGRES_ADMIN
assert.ok(admin, 'DG_TEST_POSTGRES_ADMIN is not set: run this through ctest, which starts a throwaway PostgreSQL cluster')

function freshDatabase(name) {
  execFileSync('psql', [admin, '-q', '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`])
  execFileSync('psql', [admin, '-q', '-c', `CREATE DATABASE ${name}`])
  return admin.replace(/\/[^/]*$/, `/${name}`)
}

async function publishDrop(api, slug, edition) {
  let r = await api.post('/v1/drops', { slug, title: slug, edition, per_buyer_limit: 1 })
  assert.equal(r.status, 201, r.text)
  r = await api.put(`/v1/drops/${slug}/assets/track.flac`, new Uint8Array(randomBytes(4096)))
  assert.equal(r.status, 201, r.text)
  r = await api.post(`/v1/drops/${slug}/publish`)
  assert.equal(r.status, 201, r.text)
}

// One claim; network failures are reported, not thrown (a killed origin drops connections).
async function tryClaim(api, slug, account) {
  try {
    const r = await api.post(`/v1/drops/${slug}/claims`, { account }, { 'idempotency-key': `claim-${account}` })
    return { status: r.status, json: r.json, text: r.text }
  } catch (e) {
    return { status: 0, error: String(e) }
  }
}

test('10,000 concurrent claims over two origins sell exactly 500 distinct serials', { timeout: 300_000 }, async () => {
  const database = freshDatabase('dg_race')
  const dir = tempDir('dg-race-')
  const data = join(dir, 'data')
  const key = initData(data, '', database)
  const a = await startOrigin(data, { database, instance: 'race-a' })
  const b = await startOrigin(data, { database, instance: 'race-b' })
  try {
    const apis = [client(a.url, key), client(b.url, key)]
    await publishDrop(apis[0], 'race-drop', 500)
    const tasks = Array.from({ length: 10_000 }, (_, i) => () => tryClaim(apis[i % 2], 'race-drop', `buyer-${i}`))
    const results = await pool(tasks, 64)

    const byStatus = {}
    for (const r of results) byStatus[r.status] = (byStatus[r.status] || 0) + 1
    const won = results.filter((r) => r.status === 201)
    assert.deepEqual(byStatus, { 201: 500, 409: 9500 }, JSON.stringify(byStatus))
    for (const r of results.filter((r) => r.status === 409)) assert.ok(r.json.type.endsWith('/sold-out'), r.text)
    const serials = new Set(won.map((r) => r.json.serial))
    assert.equal(serials.size, 500)
    assert.ok([...serials].every((s) => s >= 1 && s <= 500))
    // Both processes sold: the leases really were shared out.
    const status = await apis[1].get('/v1/drops/race-drop/status')
    assert.equal(status.json.claimed, 500)
    assert.equal(status.json.remaining, 0)
  } finally {
    assert.equal(await a.stop(), 0, a.log())
    assert.equal(await b.stop(), 0, b.log())
    cleanup(dir)
  }
})

test('kill -9 mid-surge loses no acknowledged claim, sells nothing twice, and selling resumes', { timeout: 300_000 }, async () => {
  const database = freshDatabase('dg_crash')
  const dir = tempDir('dg-crash-')
  const data = join(dir, 'data')
  const key = initData(data, '', database)
  const edition = 300
  let origin = await startOrigin(data, { database, instance: 'crash-a' })
  let api = client(origin.url, key)
  await publishDrop(api, 'crash-drop', edition)

  // Surge; kill -9 once 80 claims were acknowledged.
  const acknowledged = new Map()  // serial -> owner id (the account's pseudonym in its certificate)
  let killed = false
  const tasks = Array.from({ length: 2000 }, (_, i) => async () => {
    if (killed) return { status: 0 }
    const r = await tryClaim(api, 'crash-drop', `first-${i}`)
    if (r.status === 201) {
      assert.ok(!acknowledged.has(r.json.serial), `serial ${r.json.serial} acknowledged twice`)
      acknowledged.set(r.json.serial, r.json.owner)
      if (acknowledged.size >= 80 && !killed) {
        killed = true
        origin.child.kill('SIGKILL')
      }
    }
    return r
  })
  await pool(tasks, 32)
  assert.ok(killed, 'the origin was killed mid-surge')
  assert.equal(await origin.stop(), 'SIGKILL')

  origin = await startOrigin(data, { database, instance: 'crash-a' })
  api = client(origin.url, key)
  try {
    // Every acknowledged claim survived, owned by the account it was acknowledged to.
    for (const [serial, owner] of acknowledged) {
      const cert = await api.get(`/v1/drops/crash-drop/certificates/${serial}`)
      assert.equal(cert.status, 200, `acknowledged serial ${serial} is missing`)
      const payload = JSON.parse(Buffer.from(cert.json.certificate.split('.')[2], 'base64url').subarray(0, -64))
      assert.equal(payload.sub, owner)
    }
    // Selling resumes until exactly the edition is sold: the dead process's
    // unsold leased serials came back, and no serial was sold twice.
    const after = await pool(Array.from({ length: edition + 50 }, (_, i) => () => tryClaim(api, 'crash-drop', `second-${i}`)), 16)
    const sold = new Set(acknowledged.keys())
    let committedBeforeKill = 0
    const status = await api.get('/v1/drops/crash-drop/status')
    assert.equal(status.json.claimed, edition, JSON.stringify(status.json))
    for (const r of after.filter((r) => r.status === 201)) {
      assert.ok(!sold.has(r.json.serial), `serial ${r.json.serial} sold twice`)
      sold.add(r.json.serial)
    }
    // Claims committed but not acknowledged before the kill account for the rest.
    for (let s = 1; s <= edition; s++) {
      if (!sold.has(s)) {
        const cert = await api.get(`/v1/drops/crash-drop/certificates/${s}`)
        assert.equal(cert.status, 200, `serial ${s} neither sold nor recorded`)
        committedBeforeKill++
      }
    }
    assert.equal(sold.size + committedBeforeKill, edition)
    assert.ok(after.every((r) => r.status === 201 || r.status === 409), 'no request errors after restart')
  } finally {
    assert.equal(await origin.stop(), 0, origin.log())
    cleanup(dir)
  }
})
