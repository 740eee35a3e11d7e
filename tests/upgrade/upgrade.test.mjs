// Upgrades keep data. Every folder in tests/upgrade/fixtures/ was made by a
// released dropgate (make_fixtures.sh; tests/upgrade/README.md): an origin on
// SQLite, an origin on PostgreSQL (a pg_dump), and for each an edge with the
// drop synced and downloads in its outbox that the origin never saw. This
// build, on a copy of each:
//  - opens and migrates the origin, and answers for the old drop, its claims
//    (certificate lookups, Idempotency-Key replays rebuilt from the old
//    records), its expired hold and its edge as the release did;
//  - sells and delivers a new serial of the old drop;
//  - runs the old edge against it: the edge serves the file it synced with a
//    token the origin issues now, and pushes the old outbox, which the
//    origin then counts.
// DG_UPGRADE_BACKENDS picks the backends (sqlite, postgresql; comma separated).
// postgresql needs DG_TEST_POSTGRES_ADMIN (ctest sets it from the pg fixture).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir, startOrigin, startEdge, client, waitFor, cleanup } from '../support/origin.mjs'

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures')
const BACKENDS = (process.env.DG_UPGRADE_BACKENDS ?? 'sqlite').split(',')
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin'
const sha = (bytes) => createHash('sha256').update(bytes).digest('hex')
let keyCounter = 0
const idem = () => ({ 'idempotency-key': `upgrade-${process.pid}-${++keyCounter}` })

// Fixture sets, oldest release first: [{ release, dir }] for one backend.
function fixtureSets(backend) {
  return readdirSync(FIXTURES).sort()
    .map((release) => ({ release, dir: join(FIXTURES, release, backend) }))
    .filter(({ dir }) => existsSync(join(dir, 'fixture.json')))
}

function psql(url, ...args) {
  return execFileSync(join(PG_BIN, 'psql'), ['-v', 'ON_ERROR_STOP=1', '-q', url, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] })
}

// Restores a plain-SQL dump into a new database of the test cluster; returns its URL.
function restoreDump(file, name) {
  const admin = process.env.DG_TEST_POSTGRES_ADMIN
  assert.ok(admin, 'DG_TEST_POSTGRES_ADMIN is not set: run this through ctest, which starts a throwaway PostgreSQL cluster')
  psql(admin, '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  psql(admin, '-c', `CREATE DATABASE ${name}`)
  const url = admin.replace(/\/[^/]*$/, `/${name}`)
  psql(url, '-f', file)
  return url
}

function dropDatabase(name) {
  psql(process.env.DG_TEST_POSTGRES_ADMIN, '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
}

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text()
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'))
  return m ? Number(m[1]) : undefined
}

async function getBytes(url) {
  const res = await fetch(url)
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

// The answer fields a replay must give exactly as the release gave them (file
// URLs carry the origin's address, which differs here).
const claimFacts = (c) => ({
  account: c.account, serial: c.serial, owner: c.owner, claimed_at: c.claimed_at,
  certificate: c.certificate, download_token: c.download_token,
})

for (const backend of BACKENDS) {
  test(`fixtures exist for ${backend}`, () => {
    // Never pass by finding nothing to check.
    assert.ok(fixtureSets(backend).length > 0, `no fixture set in ${FIXTURES} has ${backend}/fixture.json`)
  })
  for (const { release, dir: fixture } of fixtureSets(backend)) {
    test(`${release} on ${backend}: this build opens, migrates, serves and reconciles it`, { timeout: 120_000 },
      (t) => checkUpgrade(t, fixture, backend))
  }
}

async function checkUpgrade(t, fixture, backend) {
  const facts = JSON.parse(readFileSync(join(fixture, 'fixture.json'), 'utf8'))
  const slug = facts.drop.slug
  const dir = tempDir('dg-upgrade-')
  const originData = join(dir, 'origin')
  const edgeData = join(dir, 'edge')
  cpSync(join(fixture, 'origin'), originData, { recursive: true })
  cpSync(join(fixture, 'edge'), edgeData, { recursive: true })
  // Git keeps no file modes: secrets are their owner's only again, as the release left them.
  for (const f of ['origin/keys/secret.paserk', 'origin/keys/owner-id.secret', 'edge/keys/secret.paserk',
    'edge/enrollment.json']) {
    if (existsSync(join(dir, f))) chmodSync(join(dir, f), 0o600)
  }
  const dbName = `dg_upgrade_${process.pid}`
  const database = backend === 'postgresql' ? restoreDump(join(fixture, 'dump.sql'), dbName) : ''
  let origin, edge
  try {
    origin = await startOrigin(originData, { database, instance: 'upgrade-test' })
    const api = client(origin.url, facts.operator_key)
    const anon = client(origin.url)

    // Migrated: ready, at the fixture's schema version or a later one.
    const ready = await anon.get('/readyz')
    assert.equal(ready.status, 200, ready.text)
    assert.ok(ready.json.schema_version >= facts.schema_version, ready.text)
    // On PostgreSQL, claim rows no longer carry a foreign key to drops (a
    // trigger per inserted row; schema.cc, version 4): the claims below still go in.
    if (database) {
      const fkeys = psql(database, '-At', '-c', "SELECT count(*) FROM pg_constraint WHERE contype = 'f' " +
        "AND confrelid = 'drops'::regclass AND conrelid IN ('claims'::regclass, 'buyer_claims'::regclass)")
      assert.equal(fkeys.toString().trim(), '0')
    }

    // The old drop is live, and its manifest is byte for byte the one the release signed.
    const drop = await anon.get(`/v1/drops/${slug}`)
    assert.equal(drop.status, 200, drop.text)
    assert.equal(drop.json.state, 'live')
    assert.equal(drop.json.edition, facts.drop.edition)
    assert.equal(drop.json.manifest_version, facts.drop.manifest_version)
    const manifest = await anon.get(`/v1/drops/${slug}/manifest.json`)
    assert.equal(manifest.status, 200)
    assert.equal(sha(manifest.text), facts.drop.manifest_sha256)

    // The operator's key still works, and the counts are the release's: every
    // claim, no serial held (the pending hold expired), its downloads.
    const status = await api.get(`/v1/drops/${slug}/status`)
    assert.equal(status.status, 200, status.text)
    assert.equal(status.json.claimed, facts.claims.length)
    assert.equal(status.json.held, 0)
    assert.equal(status.json.remaining, facts.drop.edition - facts.claims.length)
    assert.equal(status.json.downloads_completed, facts.drop.downloads_completed)

    // Each old claim: its certificate is published as issued, and a retry with
    // its Idempotency-Key gets the first answer, rebuilt from the old record.
    const oldSerials = facts.claims.map((c) => c.serial)
    assert.equal(new Set(oldSerials).size, oldSerials.length)
    for (const c of facts.claims) {
      const cert = await anon.get(`/v1/drops/${slug}/certificates/${c.serial}`)
      assert.equal(cert.status, 200, cert.text)
      assert.equal(cert.json.certificate, c.certificate)
      assert.equal(cert.json.owner, c.owner)
      assert.equal(cert.json.revoked, false)
      const replay = await api.post(c.request_path, new TextEncoder().encode(c.request_body),
        { 'idempotency-key': c.idempotency_key, 'content-type': 'application/json' })
      assert.equal(replay.status, 201, `${c.request_path} replay: ${replay.text}`)
      assert.deepEqual(claimFacts(replay.json), claimFacts(c))
    }

    // The hold left pending expired: confirming it now is refused.
    const late = await api.post(`/v1/holds/${facts.pending_hold.hold_id}/confirm`, {}, idem())
    assert.equal(late.status, 409, late.text)
    assert.equal(late.json.type, 'https://dropgate.dev/problems/hold-gone')

    // New sales of the old drop: a claim and a confirmed hold, on fresh serials,
    // with certificates to look up.
    const fresh = await api.post(`/v1/drops/${slug}/claims`, { account: 'upgrade-buyer' }, idem())
    assert.equal(fresh.status, 201, fresh.text)
    const held = await api.post(`/v1/drops/${slug}/holds`, { account: 'upgrade-holder' }, idem())
    assert.equal(held.status, 201, held.text)
    const confirmed = await api.post(held.json.confirm_url, {}, idem())
    assert.equal(confirmed.status, 201, confirmed.text)
    assert.equal(confirmed.json.serial, held.json.serial)
    for (const c of [fresh.json, confirmed.json]) {
      assert.ok(!oldSerials.includes(c.serial) && c.serial >= 1 && c.serial <= facts.drop.edition, `serial ${c.serial}`)
      const cert = await anon.get(`/v1/drops/${slug}/certificates/${c.serial}`)
      assert.equal(cert.status, 200, cert.text)
      assert.equal(cert.json.certificate, c.certificate)
    }
    assert.notEqual(fresh.json.serial, confirmed.json.serial)

    // The origin delivers the old blob with the new token (one download more).
    const notes = facts.drop.files.find((f) => f.path === 'notes.txt')
    const fromOrigin = await getBytes(`${origin.url}/v1/drops/${slug}/files/notes.txt?token=${fresh.json.download_token}`)
    assert.equal(fromOrigin.status, 200)
    assert.equal(sha(fromOrigin.body), notes.sha256)
    const downloads = async () => (await api.get(`/v1/drops/${slug}/status`)).json.downloads_completed
    let expected = facts.drop.downloads_completed + 1
    await waitFor(async () => `the origin to count its download (${await downloads()} of ${expected})`,
      async () => (await downloads()) === expected)

    // The old edge is still enrolled and approved for the drop. Its grant lives
    // 30 days at most, so the operator approves it again (a fresh grant; the
    // fixture outlives the one it holds), and it is pointed at this origin's
    // address, which differs from the one it enrolled with.
    const edges = await api.get('/v1/edges')
    assert.equal(edges.status, 200, edges.text)
    const listed = edges.json.edges.find((e) => e.edge_id === facts.edge.edge_id)
    assert.ok(listed, edges.text)
    assert.equal(listed.key_id, facts.edge.key_id)
    assert.equal(listed.state, 'approved')
    assert.deepEqual(listed.drops, [slug])
    const approved = await api.post(`/v1/edges/${facts.edge.edge_id}/approve`, { drops: [slug] }, idem())
    assert.equal(approved.status, 200, approved.text)
    const enrollmentFile = join(edgeData, 'enrollment.json')
    const enrollment = JSON.parse(readFileSync(enrollmentFile, 'utf8'))
    enrollment.origin = origin.url
    writeFileSync(enrollmentFile, JSON.stringify(enrollment))

    // The edge pushes the old outbox: the origin then counts the release's
    // edge downloads, once each.
    edge = await startEdge(edgeData, { syncIntervalS: 1 })
    const health = async () => (await fetch(`${edge.url}/healthz`)).json()
    await waitFor(async () => `the edge to sync and empty its outbox: ${JSON.stringify(await health())}`,
      async () => { const h = await health(); return h.status === 'ok' && h.outbox_depth === 0 })
    expected += facts.edge_outbox_downloads_completed
    await waitFor(async () => `the origin to count the old outbox (${await downloads()} of ${expected})`,
      async () => (await downloads()) === expected)

    // The edge serves the files it synced under the release, with the token the
    // origin issued now, without fetching them again.
    await waitFor('the edge to carry the origin\'s current manifest', async () =>
      (await (await fetch(`${edge.url}/v1/drops/${slug}/manifest.json`)).text()) === (await anon.get(`/v1/drops/${slug}/manifest.json`)).text)
    for (const f of facts.drop.files) {
      const r = await getBytes(`${edge.url}/v1/drops/${slug}/files/${encodeURI(f.path)}?token=${fresh.json.download_token}`)
      assert.equal(r.status, 200, r.body.toString())
      assert.equal(sha(r.body), f.sha256, f.path)
      assert.equal(r.headers.get('etag'), `"${f.sha256}"`)
    }
    assert.equal(await metric(edge.url, 'dropgate_edge_blobs_fetched_total'), 0)
    // And reports those downloads too.
    expected += facts.drop.files.length
    await waitFor(async () => `the origin to count the edge's new downloads (${await downloads()} of ${expected})`,
      async () => (await downloads()) === expected)
    t.diagnostic(`${facts.release} (${backend}): ${facts.claims.length} old claims, ` +
      `${facts.edge_outbox_downloads_completed} old edge downloads reconciled`)
  } finally {
    // Both stop (and the copies go) even when a check failed.
    const edgeExit = edge ? await edge.stop() : 0
    const originExit = origin ? await origin.stop() : 0
    cleanup(dir)
    if (database) dropDatabase(dbName)
    assert.equal(edgeExit, 0, edge?.log())
    assert.equal(originExit, 0, origin?.log())
  }
}
