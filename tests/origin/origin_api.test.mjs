// The origin end to end over HTTP, on the embedded SQLite store: drops,
// uploads, publishing, holds, claims with every refusal, idempotency,
// downloads (Range, ETag, HEAD, traversal), certificates, revocation, metrics.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import net from 'node:net'
import { dropgate, tempDir, initData, startOrigin, client, rawRequest, waitFor, cleanup } from '../support/origin.mjs'

let dir, origin, api, anon
const bigFile = randomBytes(3 * 1024 * 1024 + 17)
const smallFile = Buffer.from('liner notes\n')
const sha = (b) => createHash('sha256').update(b).digest('hex')
let keyCounter = 0
const idem = () => ({ 'idempotency-key': `k-${process.pid}-${++keyCounter}` })

async function makeDrop(slug, spec = {}, files = { 'side-a/01.flac': bigFile, 'notes.txt': smallFile }) {
  let r = await api.post('/v1/drops', { slug, title: slug, edition: 3, ...spec }, idem())
  assert.equal(r.status, 201, r.text)
  for (const [path, body] of Object.entries(files)) {
    r = await api.put(`/v1/drops/${slug}/assets/${path}`, new Uint8Array(body))
    assert.equal(r.status, 201, r.text)
    assert.equal(r.json.sha256, sha(body))
  }
  r = await api.post(`/v1/drops/${slug}/publish`, {}, idem())
  assert.equal(r.status, 201, r.text)
}

const claim = (slug, account, extra = {}, headers = idem()) =>
  api.post(`/v1/drops/${slug}/claims`, { account, ...extra }, headers)

function assertProblem(r, status, typeSuffix) {
  assert.equal(r.status, status, r.text)
  assert.match(r.headers.get('content-type'), /application\/problem\+json/)
  assert.equal(r.json.status, status)
  if (typeSuffix) assert.ok(r.json.type.endsWith('/' + typeSuffix), `type ${r.json.type}`)
  assert.ok(r.json.title && r.json.detail !== undefined)
}

before(async () => {
  dir = tempDir('dg-origin-')
  // Hold rate limits lowered so that tests can reach them (the file makes
  // about a dozen holds from 127.0.0.1 before the address test).
  const key = initData(join(dir, 'data'),
    'hold_ttl_s = 2\nholds_per_account_per_min = 3\nholds_per_address_per_min = 14\n')
  origin = await startOrigin(join(dir, 'data'))
  api = client(origin.url, key)
  anon = client(origin.url)
  await makeDrop('summer-tape')
})
after(async () => {
  if (origin) assert.equal(await origin.stop(), 0, origin.log())
  cleanup(dir)
})

test('health, readiness and the public keyring', async () => {
  assert.equal((await anon.get('/healthz')).status, 200)
  const ready = await anon.get('/readyz')
  assert.equal(ready.status, 200)
  assert.ok(ready.json.schema_version >= 1)
  const keys = await anon.get('/.well-known/dropgate/keys.json')
  assert.equal(keys.status, 200)
  assert.equal(keys.json.keys[0].status, 'current')
  assert.match(keys.json.keys[0].kid, /^k4\.pid\./)
})

test('operator routes need the API key', async () => {
  assertProblem(await anon.post('/v1/drops', { slug: 'x', title: 'x', edition: 1 }), 401)
  assertProblem(await client(origin.url, 'dg_op_wrong').post('/v1/drops', { slug: 'x', title: 'x', edition: 1 }), 401)
})

test('404 and 405 differ', async () => {
  assertProblem(await anon.get('/v1/nothing-here'), 404)
  const r = await anon.call('DELETE', '/v1/drops')
  assertProblem(r, 405)
  assert.match(r.headers.get('allow'), /GET/)
  assert.match(r.headers.get('allow'), /POST/)
})

test('the published manifest verifies with stock minisign and dropgate', async () => {
  const m = await anon.get('/v1/drops/summer-tape/manifest.json')
  assert.equal(m.status, 200)
  assert.equal(m.json.version, 1)
  assert.deepEqual(m.json.assets.map((a) => a.path), ['notes.txt', 'side-a/01.flac'])
  const sig = await anon.get('/v1/drops/summer-tape/manifest.json.minisig')
  const keys = await anon.get('/.well-known/dropgate/keys.json')
  writeFileSync(join(dir, 'manifest.json'), m.text)
  writeFileSync(join(dir, 'manifest.json.minisig'), sig.text)
  writeFileSync(join(dir, 'keys.json'), keys.text)
  const verified = spawnSync(dropgate, ['verify', 'manifest', join(dir, 'manifest.json'),
    '--public', join(dir, 'keys.json'), '--drop', 'summer-tape'])
  assert.equal(verified.status, 0, verified.stderr.toString())
})

test('a claim returns a serial, a certificate and a working download token', async () => {
  const pub = await anon.get('/v1/drops/summer-tape')
  assert.equal(pub.status, 200)
  assert.equal(pub.json.state, 'live')
  const before = pub.json.remaining
  const r = await claim('summer-tape', 'buyer-1')
  assert.equal(r.status, 201, r.text)
  assert.ok(r.json.serial >= 1 && r.json.serial <= 3)
  assert.equal((await anon.get('/v1/drops/summer-tape')).json.remaining, before - 1)

  const cert = spawnSync(dropgate, ['token', 'verify', '--public', join(dir, 'keys.json'), '--purpose', 'cert', r.json.certificate])
  assert.equal(cert.status, 0, cert.stderr.toString())
  const fields = JSON.parse(cert.stdout)
  assert.equal(fields.serial, r.json.serial)
  assert.equal(fields.edition, 3)
  // The certificate names its owner by the pseudonym the claim answer shows, not the account.
  assert.match(r.json.owner, /^own_[A-Za-z0-9_-]{24}$/)
  assert.equal(fields.sub, r.json.owner)

  const file = r.json.files.find((f) => f.path === 'side-a/01.flac')
  const body = Buffer.from(await (await fetch(file.url)).arrayBuffer())
  assert.equal(sha(body), sha(bigFile))

  const token = r.json.download_token
  const url = `${origin.url}/v1/drops/summer-tape/files/side-a/01.flac`
  const ranged = await fetch(url, { headers: { authorization: `Bearer ${token}`, range: 'bytes=100-199' } })
  assert.equal(ranged.status, 206)
  assert.equal(ranged.headers.get('content-range'), `bytes 100-199/${bigFile.length}`)
  assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), bigFile.subarray(100, 200))
  const tail = await fetch(url + `?token=${token}`, { headers: { range: `bytes=-10` } })
  assert.deepEqual(Buffer.from(await tail.arrayBuffer()), bigFile.subarray(bigFile.length - 10))
  const etag = `"${sha(bigFile)}"`
  const full = await fetch(url + `?token=${token}`, { method: 'HEAD' })
  assert.equal(full.status, 200)
  assert.equal(full.headers.get('etag'), etag)
  assert.equal(Number(full.headers.get('content-length')), bigFile.length)
  assert.equal((await fetch(url + `?token=${token}`, { headers: { 'if-none-match': etag } })).status, 304)
  const unsatisfiable = await fetch(url + `?token=${token}`, { headers: { range: `bytes=${bigFile.length}-` } })
  assert.equal(unsatisfiable.status, 416)
  assert.equal(unsatisfiable.headers.get('content-range'), `bytes */${bigFile.length}`)
})

// Each refusal is about the token or the file, not the address: the same
// address serves the file to a token of its own drop.
test('download refusals: no token, bad token, another drop, unknown file', async () => {
  const path = '/v1/drops/summer-tape/files/notes.txt'
  assertProblem(await anon.get(path), 401)
  assertProblem(await anon.get(`${path}?token=v4.public.garbage`), 401)
  await makeDrop('other-drop')
  const other = await claim('other-drop', 'buyer-9')
  assertProblem(await anon.get(`${path}?token=${other.json.download_token}`), 403, 'token-wrong-drop')
  assertProblem(await anon.get(`/v1/drops/other-drop/files/missing.txt?token=${other.json.download_token}`), 404)
  const own = await claim('summer-tape', 'buyer-refusals')
  assert.equal(own.status, 201, own.text)
  const served = await anon.get(`${path}?token=${own.json.download_token}`)
  assert.equal(served.status, 200, served.text)
  assert.equal(served.text, smallFile.toString())
})

test('traversal attempts never reach a file outside the drop', async () => {
  const c = await claim('summer-tape', 'buyer-trav')
  const token = c.json.download_token
  for (const path of ['../../../../etc/passwd', '%2e%2e/%2e%2e/etc/passwd', '..%2F..%2Fetc%2Fpasswd',
    '%2Fetc%2Fpasswd', '/etc/passwd', 'side-a/..%2Fnotes.txt', 'side-a/../notes.txt', '.%2e/secret']) {
    const raw = await rawRequest(origin.port,
      `GET /v1/drops/summer-tape/files/${path}?token=${token} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    const status = Number(raw.split(' ')[1])
    assert.ok([400, 403, 404].includes(status), `${path}: ${raw.slice(0, 80)}`)
    assert.ok(!raw.includes('root:'), `${path} leaked a system file`)
  }
})

test('idempotent retries return the same serial; a reused key with another body is refused', async () => {
  await makeDrop('idem-drop')
  const headers = { 'idempotency-key': 'same-key-1' }
  const first = await claim('idem-drop', 'buyer-i', {}, headers)
  const again = await claim('idem-drop', 'buyer-i', {}, headers)
  assert.equal(first.status, 201)
  assert.equal(again.status, 201)
  assert.equal(again.json.serial, first.json.serial)
  assert.equal(again.text, first.text)
  assert.equal((await anon.get('/v1/drops/idem-drop')).json.remaining, 2)
  assertProblem(await claim('idem-drop', 'buyer-other', {}, headers), 422, 'idempotency-key-reused')
})

// The store keeps a claim's answer as a short record and the replay rebuilds
// it: this checks the rebuilt answer is the first one byte for byte even after
// the drop was republished with another file (the replay must use the
// manifest the claim was made under, and re-sign the same download token).
test('a replayed claim answers byte for byte the first answer, after a republish too', async () => {
  await makeDrop('replay-drop')
  const headers = { 'idempotency-key': 'replay-key-1' }
  const first = await claim('replay-drop', 'buyer-r', {}, headers)
  assert.equal(first.status, 201, first.text)
  let r = await api.put('/v1/drops/replay-drop/assets/bonus.txt', new Uint8Array(Buffer.from('bonus\n')))
  assert.equal(r.status, 201, r.text)
  r = await api.post('/v1/drops/replay-drop/publish', {}, idem())
  assert.equal(r.status, 201, r.text)
  const again = await claim('replay-drop', 'buyer-r', {}, headers)
  assert.equal(again.status, 201, again.text)
  assert.equal(again.text, first.text)
  assert.equal(again.json.files.length, 2)
})

test('refusals: per-buyer limit (429), sold out (409)', async () => {
  await makeDrop('tiny-drop', { edition: 2 })
  assert.equal((await claim('tiny-drop', 'buyer-a')).status, 201)
  assertProblem(await claim('tiny-drop', 'buyer-a'), 429, 'per-buyer-limit')
  assert.equal((await claim('tiny-drop', 'buyer-b')).status, 201)
  assertProblem(await claim('tiny-drop', 'buyer-c'), 409, 'sold-out')
})

test('refusals: window not open and window closed (403)', async () => {
  const future = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z')
  await makeDrop('later-drop', { opens_at: future })
  assertProblem(await claim('later-drop', 'buyer-a'), 403, 'window-not-open')
  assert.equal((await anon.get('/v1/drops/later-drop')).json.state, 'scheduled')
  // Paused and resumed before its window opens, it stays scheduled and unsold
  // (a resume used to make it live at once).
  assert.equal((await api.post('/v1/drops/later-drop/pause', {}, idem())).status, 200)
  const resumed = await api.post('/v1/drops/later-drop/resume', {}, idem())
  assert.equal(resumed.status, 200, resumed.text)
  assert.equal(resumed.json.state, 'scheduled')
  assertProblem(await claim('later-drop', 'buyer-a'), 403, 'window-not-open')
  const past = (ms) => new Date(Date.now() - ms).toISOString().replace(/\.\d+Z$/, 'Z')
  await makeDrop('earlier-drop', { opens_at: past(7200_000), closes_at: past(3600_000) })
  assertProblem(await claim('earlier-drop', 'buyer-a'), 403, 'window-closed')
})

test('refusals: denied territory (451), and a territory is required when restricted', async () => {
  await makeDrop('eu-drop', { rights: { license: 'CC-BY-4.0', territories: { deny: ['US'] } } })
  assertProblem(await claim('eu-drop', 'buyer-us', { territory: 'US' }), 451, 'territory-denied')
  assertProblem(await claim('eu-drop', 'buyer-x'), 400, 'territory-required')
  assert.equal((await claim('eu-drop', 'buyer-fr', { territory: 'FR' })).status, 201)
})

test('refusals: a paused drop answers 503 with Retry-After, and resumes', async () => {
  await makeDrop('pause-drop')
  assert.equal((await api.post('/v1/drops/pause-drop/pause', {}, idem())).status, 200)
  const r = await claim('pause-drop', 'buyer-p')
  assertProblem(r, 503, 'drop-paused')
  assert.ok(Number(r.headers.get('retry-after')) > 0)
  assertProblem(await api.post('/v1/drops/pause-drop/pause', {}, idem()), 409, 'invalid-transition')
  const resumed = await api.post('/v1/drops/pause-drop/resume', {}, idem())
  assert.equal(resumed.status, 200, resumed.text)
  assert.equal(resumed.json.state, 'live')  // its window is open: live, though stored as scheduled
  assert.equal((await claim('pause-drop', 'buyer-p')).status, 201)
  assert.equal((await api.post('/v1/drops/pause-drop/close', {}, idem())).status, 200)
  assertProblem(await claim('pause-drop', 'buyer-q'), 403, 'window-closed')
  // A closed drop's files are final: removing one is refused (it used to be
  // removed), and the file is still listed in the operator's status.
  assertProblem(await api.call('DELETE', '/v1/drops/pause-drop/assets/notes.txt'), 409, 'drop-closed')
  const status = await api.get('/v1/drops/pause-drop/status')
  assert.match(status.text, /notes\.txt/)
})

test('a hold reserves a serial, returns it when it expires, and confirms into a claim', async () => {
  await makeDrop('hold-drop', { edition: 1 })
  const hold = await api.post('/v1/drops/hold-drop/holds', { account: 'buyer-h' }, idem())
  assert.equal(hold.status, 201, hold.text)
  assert.equal(hold.json.serial, 1)
  assertProblem(await claim('hold-drop', 'buyer-z'), 409, 'sold-out')  // the only serial is held
  // hold_ttl_s = 2, and the origin sweeps expired holds every second: wait
  // for the hold to expire (the drop shows its serial again) and for the
  // sweep that gives the serial back to the seller (holds_expired_total).
  const expiredCount = async () => Number(((await anon.get('/metrics')).text
    .match(/^dropgate_holds_expired_total (\d+)/m) || [0, 0])[1])
  const expiredBefore = await expiredCount()
  await waitFor('the hold to expire', async () => (await anon.get('/v1/drops/hold-drop')).json.remaining === 1,
    { timeoutMs: 10000 })
  await waitFor('the expired hold to be swept', async () => (await expiredCount()) > expiredBefore,
    { timeoutMs: 10000 })
  assertProblem(await api.post(`/v1/holds/${hold.json.hold_id}/confirm`, {}, idem()), 409, 'hold-gone')
  const second = await api.post('/v1/drops/hold-drop/holds', { account: 'buyer-h2' }, idem())
  assert.equal(second.status, 201, second.text)
  assert.equal(second.json.serial, 1)  // the expired hold's serial came back
  const confirmKey = idem()
  const confirmed = await api.post(`/v1/holds/${second.json.hold_id}/confirm`, { payment_ref: 'pay-1' }, confirmKey)
  assert.equal(confirmed.status, 201, confirmed.text)
  assert.equal(confirmed.json.serial, 1)
  assert.equal(confirmed.json.account, 'buyer-h2')
  // A confirm retried with its Idempotency-Key (the answer was lost on the
  // way) gets the first answer again, not 409 hold-gone for the used hold.
  const retried = await api.post(`/v1/holds/${second.json.hold_id}/confirm`, { payment_ref: 'pay-1' }, confirmKey)
  assert.equal(retried.status, 201, retried.text)
  assert.equal(retried.text, confirmed.text)
})

// One account cannot hold the whole edition: its holds count toward the
// per-buyer limit together with its claims, and the public drop counts held
// serials as not remaining.
test('holds count toward the per-buyer limit and the drop shows held serials', async () => {
  await makeDrop('hold-limit-drop', { edition: 3, per_buyer_limit: 1 }, { 'notes.txt': smallFile })
  const first = await api.post('/v1/drops/hold-limit-drop/holds', { account: 'buyer-x' }, idem())
  assert.equal(first.status, 201, first.text)
  assertProblem(await api.post('/v1/drops/hold-limit-drop/holds', { account: 'buyer-x' }, idem()), 429, 'per-buyer-limit')
  assertProblem(await claim('hold-limit-drop', 'buyer-x'), 429, 'per-buyer-limit')
  let pub = (await anon.get('/v1/drops/hold-limit-drop')).json
  assert.deepEqual([pub.remaining, pub.held, pub.sold_out], [2, 1, false])
  // Confirming the hold is the one serial the account may have.
  const confirmed = await api.post(`/v1/holds/${first.json.hold_id}/confirm`, {}, idem())
  assert.equal(confirmed.status, 201, confirmed.text)
  pub = (await anon.get('/v1/drops/hold-limit-drop')).json
  assert.deepEqual([pub.remaining, pub.held], [2, 0])
})

// Holds are rate-limited per account (3 a minute in this origin's config).
test('holds beyond the per-account rate answer 429 too-many-holds with Retry-After', async () => {
  await makeDrop('hold-rate-drop', { edition: 10, per_buyer_limit: 10 }, { 'notes.txt': smallFile })
  for (let i = 0; i < 3; i++) {
    const r = await api.post('/v1/drops/hold-rate-drop/holds', { account: 'buyer-rate' }, idem())
    assert.equal(r.status, 201, r.text)
  }
  const refused = await api.post('/v1/drops/hold-rate-drop/holds', { account: 'buyer-rate' }, idem())
  assertProblem(refused, 429, 'too-many-holds')
  assert.match(refused.json.detail, /account/)
  assert.ok(Number(refused.headers.get('retry-after')) >= 1)
})

// Ten parallel holds with one Idempotency-Key: exactly one hold is taken;
// every answer is that hold (a replay) or 409 idempotency-in-flight.
test('parallel holds with one Idempotency-Key take exactly one hold', async () => {
  await makeDrop('hold-idem-drop', { edition: 20, per_buyer_limit: 20 }, { 'notes.txt': smallFile })
  const headers = { 'idempotency-key': `parallel-hold-${process.pid}` }
  const answers = await Promise.all(Array.from({ length: 10 },
    () => api.post('/v1/drops/hold-idem-drop/holds', { account: 'buyer-par' }, headers)))
  const held = answers.filter((r) => r.status === 201)
  for (const r of answers) {
    if (r.status !== 201) assertProblem(r, 409, 'idempotency-in-flight')
  }
  assert.ok(held.length >= 1, answers.map((r) => r.text).join('\n'))
  assert.equal(new Set(held.map((r) => r.json.hold_id)).size, 1)
  assert.equal((await anon.get('/v1/drops/hold-idem-drop')).json.held, 1)
  const again = await api.post('/v1/drops/hold-idem-drop/holds', { account: 'buyer-par' }, headers)
  assert.equal(again.status, 201)
  assert.equal(again.text, held[0].text)
})

// A key longer than 128 characters is refused, not cut: cut to 128, these
// two different keys would replay each other's answer.
test('an Idempotency-Key over 128 characters is refused with 400', async () => {
  const long = 'k'.repeat(128)
  const a = await api.post('/v1/drops/summer-tape/holds', { account: 'buyer-long-a' }, { 'idempotency-key': long + 'a' })
  assertProblem(a, 400)
  assert.match(a.json.detail, /Idempotency-Key.*128/)
  assertProblem(await claim('summer-tape', 'buyer-long-b', {}, { 'idempotency-key': long + 'b' }), 400)
  assertProblem(await api.post('/v1/drops', { slug: 'long-key', title: 'x', edition: 1 }, { 'idempotency-key': long + 'c' }), 400)
  const exact = await api.post('/v1/drops', { slug: 'exact-key', title: 'x', edition: 1 }, { 'idempotency-key': long })
  assert.equal(exact.status, 201, exact.text)
})

// The per-address rate (14 a minute here) covers every account from one address.
test('holds beyond the per-address rate answer 429 too-many-holds', async () => {
  await makeDrop('hold-address-drop', { edition: 30, per_buyer_limit: 30 }, { 'notes.txt': smallFile })
  let refused
  for (let i = 0; i < 15 && !refused; i++) {
    const r = await api.post('/v1/drops/hold-address-drop/holds', { account: `buyer-addr-${i}` }, idem())
    if (r.status !== 201) refused = r
  }
  assert.ok(refused, 'no hold was refused')
  assertProblem(refused, 429, 'too-many-holds')
  assert.match(refused.json.detail, /address/)
  assert.ok(Number(refused.headers.get('retry-after')) >= 1)
})

// Publishing with nothing changed signs no new version; a change does.
test('publish with nothing changed keeps the version and says so', async () => {
  await makeDrop('republish-drop', {}, { 'notes.txt': smallFile })
  const again = await api.post('/v1/drops/republish-drop/publish', {}, idem())
  assert.equal(again.status, 200, again.text)
  assert.equal(again.json.version, 1)
  assert.equal(again.json.changed, false)
  assert.equal((await anon.get('/v1/drops/republish-drop/manifest.json')).json.version, 1)
  const put = await api.put('/v1/drops/republish-drop/assets/more.txt', new Uint8Array(Buffer.from('more\n')))
  assert.equal(put.status, 201, put.text)
  const changed = await api.post('/v1/drops/republish-drop/publish', {}, idem())
  assert.equal(changed.status, 201, changed.text)
  assert.equal(changed.json.version, 2)
  assert.equal(changed.json.changed, true)
})

// A sold-out drop says so, besides remaining 0.
test('a sold-out drop reports sold_out', async () => {
  await makeDrop('sell-out-drop', { edition: 1 }, { 'notes.txt': smallFile })
  assert.equal((await anon.get('/v1/drops/sell-out-drop')).json.sold_out, false)
  assert.equal((await claim('sell-out-drop', 'buyer-so')).status, 201)
  const pub = (await anon.get('/v1/drops/sell-out-drop')).json
  assert.deepEqual([pub.state, pub.remaining, pub.sold_out], ['live', 0, true])
  assert.equal((await api.get('/v1/drops/sell-out-drop/status')).json.sold_out, true)
})

test('certificates, revocation and the signed revocation list', async () => {
  await makeDrop('cert-drop')
  const c = await claim('cert-drop', 'buyer-c')
  const cert = await anon.get(`/v1/drops/cert-drop/certificates/${c.json.serial}`)
  assert.equal(cert.status, 200)
  assert.equal(cert.json.certificate, c.json.certificate)
  assert.equal(cert.json.revoked, false)
  assertProblem(await anon.get('/v1/drops/cert-drop/certificates/3'), 404)
  const revoked = await api.post(`/v1/drops/cert-drop/certificates/${c.json.serial}/revoke`, { reason: 'refund' }, idem())
  assert.equal(revoked.status, 200, revoked.text)
  assert.equal((await anon.get(`/v1/drops/cert-drop/certificates/${c.json.serial}`)).json.revoked, true)
  // The revoked claim's download token no longer downloads.
  assertProblem(await anon.get(`/v1/drops/cert-drop/files/notes.txt?token=${c.json.download_token}`), 403, 'certificate-revoked')
  const list = await anon.get('/v1/revocations.json')
  const listSig = await anon.get('/v1/revocations.json.minisig')
  assert.ok(list.json.revoked.some((r) => r.certificate_id === cert.json.certificate_id && r.serial === c.json.serial))
  writeFileSync(join(dir, 'revocations.json'), list.text)
  writeFileSync(join(dir, 'revocations.json.minisig'), listSig.text)
  const pub = execFileSync(dropgate, ['keys', 'minisign-pub', '--dir', join(dir, 'data', 'keys')]).toString()
  writeFileSync(join(dir, 'origin.pub'), pub)
  const v = spawnSync('minisign', ['-V', '-p', join(dir, 'origin.pub'), '-m', join(dir, 'revocations.json')])
  assert.equal(v.status, 0, v.stderr.toString() + v.stdout.toString())
})

// Anyone can walk serials 1..N: every certificate lookup must leave out who
// owns it (the account, often an email), in the JSON and inside the signed
// token, while the token still verifies offline and names a stable owner id.
test('the public certificate lookup never names the owner account, for any serial', async () => {
  await makeDrop('owners-drop', { per_buyer_limit: 2 })
  const accounts = ['ana@example.com', 'bob@example.com']
  const claims = [await claim('owners-drop', accounts[0]), await claim('owners-drop', accounts[1]),
    await claim('owners-drop', accounts[0])]
  for (const c of claims) assert.equal(c.status, 201, c.text)
  const keys = await anon.get('/.well-known/dropgate/keys.json')
  writeFileSync(join(dir, 'owners-keys.json'), keys.text)
  for (let serial = 1; serial <= 3; serial++) {
    const r = await anon.get(`/v1/drops/owners-drop/certificates/${serial}`)
    assert.equal(r.status, 200, r.text)
    const payload = Buffer.from(r.json.certificate.split('.')[2], 'base64url').subarray(0, -64).toString()
    for (const account of accounts) {
      assert.ok(!r.text.includes(account), `serial ${serial} lookup names ${account}: ${r.text}`)
      assert.ok(!r.text.includes(account.split('@')[0]), `serial ${serial} lookup: ${r.text}`)
      assert.ok(!payload.includes(account), `serial ${serial} token names ${account}: ${payload}`)
    }
    const mine = claims.find((c) => c.json.serial === serial)
    assert.equal(r.json.owner, mine.json.owner)
    assert.equal(r.json.certificate, mine.json.certificate)
    assert.match(r.json.manifest, /^[0-9a-f]{64}$/)
    const v = spawnSync(dropgate, ['token', 'verify', '--public', join(dir, 'owners-keys.json'), '--purpose', 'cert',
      r.json.certificate])
    assert.equal(v.status, 0, v.stderr.toString())
    const fields = JSON.parse(v.stdout)
    assert.equal(fields.sub, mine.json.owner)
    assert.equal(fields.manifest, r.json.manifest)
  }
  // The same account's owner id is stable within a drop; another account's differs.
  assert.match(claims[0].json.owner, /^own_/)
  assert.equal(claims[0].json.owner, claims[2].json.owner)
  assert.notEqual(claims[0].json.owner, claims[1].json.owner)
})

// A download token is for one manifest version. After a new publish, a token
// for the older version is refused as stale and the refusal names both
// versions; a token for a version never published is refused; a token for
// the current version downloads.
test('download tokens are bound to their manifest version', async () => {
  await makeDrop('versioned')
  const c = await claim('versioned', 'buyer-v')
  assert.equal(c.status, 201, c.text)
  const path = '/v1/drops/versioned/files/notes.txt?token='
  assert.equal((await anon.get(path + c.json.download_token)).status, 200)
  // Version 2 changes the files (so the publish is not an empty one).
  let r = await api.put('/v1/drops/versioned/assets/bonus.txt', new Uint8Array(Buffer.from('bonus\n')))
  assert.equal(r.status, 201, r.text)
  r = await api.post('/v1/drops/versioned/publish', {}, idem())
  assert.equal(r.status, 201, r.text)
  assert.equal(r.json.version, 2)

  const stale = await anon.get(path + c.json.download_token)
  assertProblem(stale, 401, 'token-stale')
  assert.match(stale.json.detail, /version 1 .*version 2 is current.*fresh link/)
  const keys = join(dir, 'data', 'keys')
  const mint = (version) => execFileSync(dropgate, ['token', 'issue', '--keys', keys, '--purpose', 'download',
    '--drop', 'versioned', '--account', 'buyer-v', '--version', String(version)]).toString().trim()
  assertProblem(await anon.get(path + mint(999)), 401, 'token-refused')
  assertProblem(await anon.get(path + mint(3)), 401, 'token-refused')
  const current = await anon.get(path + mint(2))
  assert.equal(current.status, 200, current.text)
  assert.equal(current.text, smallFile.toString())
  const fresh = await claim('versioned', 'buyer-v2')
  assert.equal(fresh.status, 201, fresh.text)
  assert.equal((await anon.get(path + fresh.json.download_token)).status, 200)
})

// Sizes and validation are not rate limits: a body or a list over its limit
// answers 413 (too-large), a malformed value 400; neither is 429, which would
// tell the client to retry the same request later.
test('refusals: a body or a list too large is 413, a malformed value 400, not 429', async () => {
  await makeDrop('sizes')
  const bigClaim = await claim('sizes', 'buyer-s', { payment_ref: 'x'.repeat(20 * 1024) })
  assertProblem(bigClaim, 413, 'too-large')
  const codes = Array.from({ length: 251 }, (_, i) => String.fromCharCode(65 + Math.floor(i / 26) % 26, 65 + i % 26))
  const tooMany = await api.post('/v1/drops', { slug: 'many-territories', title: 't', edition: 1,
    rights: { license: 'x', territories: { allow: codes } } }, idem())
  assertProblem(tooMany, 413, 'too-large')
  assert.match(tooMany.json.detail, /more than 250 items/)
  assertProblem(await api.post('/v1/drops', { slug: 'bad-edition', title: 't', edition: 'three' }, idem()), 400)
  assertProblem(await claim('sizes', 'buyer-s', { territory: 'france' }), 400)
})

// An asset's media type comes from its file name, whatever Content-Type the
// upload carried: the manifest and the download both say the derived type.
test('an upload\'s Content-Type is ignored: the media type comes from the file name', async () => {
  let r = await api.post('/v1/drops', { slug: 'typed', title: 'typed', edition: 2 }, idem())
  assert.equal(r.status, 201, r.text)
  const uploads = [
    ['page.html', 'application/x-www-form-urlencoded', 'text/html'],
    ['cover.png', 'text/plain', 'image/png'],
    ['notes.txt', 'image/png', 'text/plain'],
    ['data.unknownext', 'text/html', 'application/octet-stream'],
  ]
  for (const [path, sent] of uploads) {
    r = await api.put(`/v1/drops/typed/assets/${path}`, new Uint8Array(Buffer.from(path)), { 'content-type': sent })
    assert.equal(r.status, 201, r.text)
  }
  r = await api.post('/v1/drops/typed/publish', {}, idem())
  assert.equal(r.status, 201, r.text)
  const manifest = (await anon.get('/v1/drops/typed/manifest.json')).json
  const c = await claim('typed', 'buyer-t')
  assert.equal(c.status, 201, c.text)
  for (const [path, sent, expected] of uploads) {
    const type = manifest.assets.find((a) => a.path === path).type
    assert.ok(type === expected || type.startsWith(expected + ';'), `${path} sent as ${sent}: manifest says ${type}`)
    const res = await fetch(c.json.files.find((f) => f.path === path).url)
    assert.equal(res.status, 200)
    assert.ok(res.headers.get('content-type').startsWith(expected), `${path}: ${res.headers.get('content-type')}`)
  }
})

test('downloads count on completion; /metrics passes promtool', async () => {
  const metrics = async () => (await anon.get('/metrics')).text
  const count = (text, result) => Number((text.match(new RegExp(`dropgate_downloads_total\\{result="${result}"\\} (\\d+)`)) || [0, 0])[1])
  await makeDrop('count-drop', {}, { 'big.bin': randomBytes(48 * 1024 * 1024) })
  const c = await claim('count-drop', 'buyer-d')
  const before = await metrics()
  // An aborted download: read a little, then drop the connection.
  const url = `/v1/drops/count-drop/files/big.bin?token=${c.json.download_token}`
  await new Promise((resolve) => {
    const socket = net.connect(origin.port, '127.0.0.1', () => socket.write(`GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`))
    socket.once('data', () => { socket.destroy(); resolve() })
    socket.on('error', resolve)
  })
  const res = await fetch(origin.url + url)
  assert.equal((await res.arrayBuffer()).byteLength, 48 * 1024 * 1024)
  // A download is counted when its response is done, after the client has
  // the last byte: wait until both are counted, then check the counts.
  const afterText = await waitFor('the aborted and the completed download to be counted', async () => {
    const text = await metrics()
    return count(text, 'completed') > count(before, 'completed') && count(text, 'failed') > count(before, 'failed') && text
  })
  assert.equal(count(afterText, 'completed'), count(before, 'completed') + 1)
  assert.ok(count(afterText, 'failed') >= count(before, 'failed') + 1)
  assert.match(afterText, /dropgate_claims_total \d+/)
  const status = await api.get('/v1/drops/count-drop/status')
  assert.equal(status.json.downloads_completed, 1)
  assert.match(afterText, /dropgate_http_request_duration_seconds_bucket/)
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: afterText })
  assert.equal(promtool.status, 0, promtool.stdout.toString() + promtool.stderr.toString())
})

// The operator's list of drops comes a page at a time in slug order; walking
// the pages with a small limit yields every drop once, the same as one big
// page, each with its claimed count. Bad paging is refused, and the list is
// for operators only.
test('drops are listed for operators, a page at a time', async () => {
  const pages = []
  let after = ''
  for (;;) {
    const r = await api.get(`/v1/drops?limit=2${after ? `&after=${after}` : ''}`)
    assert.equal(r.status, 200, r.text)
    assert.ok(r.json.drops.length <= 2)
    pages.push(r.json)
    if (r.json.next_after === null) break
    assert.equal(r.json.next_after, r.json.drops.at(-1).slug)
    after = r.json.next_after
  }
  const walked = pages.flatMap((p) => p.drops)
  const slugs = walked.map((d) => d.slug)
  assert.deepEqual(slugs, [...new Set(slugs)].sort())
  assert.ok(pages.length >= 3, `${slugs.length} drops in ${pages.length} pages`)
  const whole = await api.get('/v1/drops')
  assert.deepEqual(whole.json.drops, walked)
  assert.equal(whole.json.next_after, null)
  const summer = walked.find((d) => d.slug === 'summer-tape')
  assert.equal(summer.claimed, (await api.get('/v1/drops/summer-tape/status')).json.claimed)
  assert.ok(summer.claimed >= 1)

  assertProblem(await anon.get('/v1/drops'), 401)
  assertProblem(await api.get('/v1/drops?limit=0'), 400)
  assertProblem(await api.get('/v1/drops?limit=101'), 400)
  assertProblem(await api.get('/v1/drops?limit=ten'), 400)
  assertProblem(await api.get('/v1/drops?after=Not%20A%20Slug'), 400)
})
