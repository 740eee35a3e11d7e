// Scarcity under real concurrency and real crashes, on PostgreSQL:
//  - a race: 10,000 claims from 64 concurrent clients for a 500-edition drop,
//    spread over two origin processes sharing one database;
//  - crashes: kill -9 an origin as claims are acknowledged, restart it, four
//    times, and check a client-side journal of acknowledgements against it.
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
    assert.deepEqual(byStatus, { 201: 500, 409: 9500 }, JSON.stringify(byStatus))
    for (const r of results.filter((r) => r.status === 409)) assert.ok(r.json.type.endsWith('/sold-out'), r.text)
    // Both processes sold: claim i went to origin i % 2, and each acknowledged
    // some. Without this, an origin B that answered 409 to everything while A
    // sold all 500 would pass.
    const wonBy = [0, 1].map((o) => results.filter((r, i) => i % 2 === o && r.status === 201))
    assert.ok(wonBy[0].length >= 1 && wonBy[1].length >= 1,
      `origin A sold ${wonBy[0].length}, origin B sold ${wonBy[1].length}: both must sell`)
    // Together they sold exactly serials 1..500, each once.
    const serials = [...wonBy[0], ...wonBy[1]].map((r) => r.json.serial).sort((x, y) => x - y)
    assert.deepEqual(serials, Array.from({ length: 500 }, (_, i) => i + 1))
    const status = await apis[1].get('/v1/drops/race-drop/status')
    assert.equal(status.json.claimed, 500)
    assert.equal(status.json.remaining, 0)
  } finally {
    assert.equal(await a.stop(), 0, a.log())
    assert.equal(await b.stop(), 0, b.log())
    cleanup(dir)
  }
})

// A journal of acknowledgements against kill -9, several times over.
// Every claim the origin acknowledges (201) goes into a client-side journal
// (serial, account, Idempotency-Key, certificate) in the turn its answer
// arrives, and in that same turn, on the Nth acknowledgement of a cycle, the
// origin is killed with SIGKILL while ~32 other claims are in flight. It then
// restarts on the same database and the next cycle's surge begins; four
// cycles in all. After the last restart every journal entry must be in the
// origin: its serial's certificate is the one acknowledged, byte for byte,
// and replaying its Idempotency-Key answers the same serial; no serial is
// acknowledged twice, and the drop still sells out to exactly its edition.
// Why this catches an origin that acknowledges before committing: its
// acknowledgements reach the client while their batch is still being
// written, so the kill, sent the moment one arrives, lands before that
// batch's commit in some cycle; the claims in it are rolled back, and a
// journal entry then has no certificate (or its serial is sold again to
// someone else, which the duplicate check catches).
test('kill -9 as claims are acknowledged, four times: every journalled claim survives, none is sold twice', { timeout: 300_000 }, async () => {
  const database = freshDatabase('dg_crash')
  const dir = tempDir('dg-crash-')
  const data = join(dir, 'data')
  const key = initData(data, '', database)
  const edition = 400
  const cycles = 4
  const acksPerCycle = 40
  let origin = await startOrigin(data, { database, instance: 'crash-a' })
  let api = client(origin.url, key)
  await publishDrop(api, 'crash-drop', edition)

  const journal = []  // every acknowledged claim: { serial, account, key, certificate, cycle }
  let next = 0
  for (let cycle = 1; cycle <= cycles; cycle++) {
    let acked = 0
    let killed = false
    const cycleApi = api
    const cycleOrigin = origin
    const tasks = Array.from({ length: 1000 }, () => async () => {
      if (killed) return { status: -1 }  // not sent: the origin is already dead
      const account = `buyer-${next++}`
      const r = await tryClaim(cycleApi, 'crash-drop', account)
      if (r.status === 201) {
        // Journal first, then decide: no await between the answer and the kill.
        journal.push({ serial: r.json.serial, account, key: `claim-${account}`, certificate: r.json.certificate, cycle })
        if (++acked === acksPerCycle && !killed) {
          killed = true
          cycleOrigin.child.kill('SIGKILL')
        }
      }
      return r
    })
    const results = await pool(tasks, 32)
    assert.ok(killed, `cycle ${cycle}: the origin was killed after ${acksPerCycle} acknowledgements`)
    assert.equal(await origin.stop(), 'SIGKILL')
    // status 0: the connection died under the request, i.e. it was in flight.
    assert.ok(results.some((r) => r.status === 0), `cycle ${cycle}: claims were in flight when the origin died`)
    origin = await startOrigin(data, { database, instance: 'crash-a' })
    api = client(origin.url, key)
  }

  try {
    // No serial was acknowledged twice, across all cycles.
    const journalled = new Map()
    for (const entry of journal) {
      assert.ok(!journalled.has(entry.serial),
        `serial ${entry.serial} acknowledged to ${journalled.get(entry.serial)?.account} and to ${entry.account}`)
      journalled.set(entry.serial, entry)
    }
    assert.ok(journal.length >= cycles * acksPerCycle)
    // Every acknowledged claim is in the origin, with the certificate it was acknowledged with.
    for (const entry of journal) {
      const cert = await api.get(`/v1/drops/crash-drop/certificates/${entry.serial}`)
      assert.equal(cert.status, 200, `acknowledged serial ${entry.serial} (cycle ${entry.cycle}) is missing: ${cert.text}`)
      assert.equal(cert.json.certificate, entry.certificate, `serial ${entry.serial} has another certificate than the one acknowledged`)
    }
    // Selling resumes until exactly the edition is sold: the dead processes'
    // unsold leased serials came back, and no serial was sold twice.
    const after = await pool(Array.from({ length: edition }, (_, i) => () => tryClaim(api, 'crash-drop', `late-${i}`)), 16)
    assert.ok(after.every((r) => r.status === 201 || r.status === 409), 'no request errors after the last restart')
    const sold = new Set(journalled.keys())
    for (const r of after.filter((r) => r.status === 201)) {
      assert.ok(!sold.has(r.json.serial), `serial ${r.json.serial} sold twice`)
      sold.add(r.json.serial)
    }
    const status = await api.get('/v1/drops/crash-drop/status')
    assert.equal(status.json.claimed, edition, JSON.stringify(status.json))
    // Claims committed but never acknowledged (their answer died with the
    // process) account for the rest, each with a certificate.
    for (let serial = 1; serial <= edition; serial++) {
      if (sold.has(serial)) continue
      const cert = await api.get(`/v1/drops/crash-drop/certificates/${serial}`)
      assert.equal(cert.status, 200, `serial ${serial} neither sold nor recorded`)
    }
    // With nothing left to sell, each journalled Idempotency-Key still
    // answers its own serial: the stored answer survived with the claim.
    for (const entry of journal) {
      const replay = await tryClaim(api, 'crash-drop', entry.account)
      assert.equal(replay.status, 201, `replaying ${entry.key}: ${replay.text}`)
      assert.equal(replay.json.serial, entry.serial, `replaying ${entry.key}`)
    }
  } finally {
    assert.equal(await origin.stop(), 0, origin.log())
    cleanup(dir)
  }
})
