// An edge end to end, real processes on loopback: one origin (SQLite) and one
// edge syncing every second. A buyer claims on the origin and downloads from
// the edge (files with Range/ETag/HEAD, the ZIP archive, resumed); the origin
// goes away and the edge keeps serving, refusing what it must; the origin comes
// back and every download is counted there exactly once. Then each refusal on
// its own: forged, unknown key, expired, another drop, one asset only, revoked
// certificate, a blob damaged on disk, traversal.
//
// The edge runs with clock_skew_s = 0 (DATA/edge.toml) so expiry is testable
// in seconds. Downloads are made only from the edge, so the origin's
// downloads_completed counts edge events alone; `completed` tallies them here.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import {
  dropgate, tempDir, initData, startOrigin, startEdge, client, rawRequest, waitFor, cleanup, pool,
} from '../support/origin.mjs'

const SLUG = 'summer-tape'
const OTHER = 'other-drop'      // carried by the edge too
const ELSEWHERE = 'elsewhere'   // published, not granted to the edge
const files = {
  'side-a/01.flac': randomBytes(3 * 1024 * 1024 + 17),
  'notes.txt': Buffer.from('liner notes\n'),
  'art/pochette-\u00e9t\u00e9.png': randomBytes(70_001),  // a UTF-8 name in the archive
}
const sha = (b) => createHash('sha256').update(b).digest('hex')

let dir, originData, edgeData, apiKey, origin, edge, api, anon, edgeId
let keyCounter = 0
const idem = () => ({ 'idempotency-key': `edge-${process.pid}-${++keyCounter}` })
// Completed downloads (GET answered 200/206 with its whole body) per drop.
const completed = { [SLUG]: 0, [OTHER]: 0, [ELSEWHERE]: 0 }

async function makeDrop(slug, edition, dropFiles) {
  let r = await api.post('/v1/drops', { slug, title: slug, edition }, idem())
  assert.equal(r.status, 201, r.text)
  for (const [path, body] of Object.entries(dropFiles)) {
    r = await api.put(`/v1/drops/${slug}/assets/${encodeURI(path)}`, new Uint8Array(body))
    assert.equal(r.status, 201, r.text)
    assert.equal(r.json.sha256, sha(body))
  }
  r = await api.post(`/v1/drops/${slug}/publish`, {}, idem())
  assert.equal(r.status, 201, r.text)
}

async function claim(slug, account) {
  const r = await api.post(`/v1/drops/${slug}/claims`, { account }, idem())
  assert.equal(r.status, 201, r.text)
  return r.json
}

const fileUrl = (slug, path, token) => `${edge.url}/v1/drops/${slug}/files/${encodeURI(path)}` +
  (token === undefined ? '' : `?token=${token}`)
const archiveUrl = (slug, token) => `${edge.url}/v1/drops/${slug}/archive.zip?token=${token}`

// Whether a response delivered the last byte of the file: a whole body, or a
// range that runs to the end (a resumed download completes there, once).
function reachesEnd(res) {
  if (res.status === 200) return true
  const range = (res.headers.get('content-range') || '').match(/^bytes (\d+)-(\d+)\/(\d+)$/)
  return res.status === 206 && range !== null && Number(range[2]) === Number(range[3]) - 1
}

// One request to the edge; the whole body is read. Counts completed downloads.
async function edgeGet(url, { method = 'GET', headers = {} } = {}) {
  const res = await fetch(url, { method, headers })
  const body = Buffer.from(await res.arrayBuffer())
  const m = new URL(url).pathname.match(/^\/v1\/drops\/([^/]+)\/(files\/|archive\.zip$)/)
  if (m && method === 'GET' && reachesEnd(res)) completed[m[1]] = (completed[m[1]] ?? 0) + 1
  let json
  try { json = JSON.parse(body.toString()) } catch { json = undefined }
  return { status: res.status, headers: res.headers, body, json, text: body.toString() }
}

// A refusal with the problem type of docs/api/problems.md (the origin's type
// where the origin refuses the same thing). A refused token also names its
// reason ("expired", "bad_signature"…).
function assertEdgeProblem(r, status, type, reason) {
  assert.equal(r.status, status, r.text)
  assert.match(r.headers.get('content-type'), /application\/problem\+json/)
  assert.equal(r.json.status, status)
  assert.equal(r.json.type, `https://dropgate.dev/problems/${type}`, r.text)
  assert.equal(r.json.reason, reason, r.text)
  assert.ok(r.json.title)
  assert.ok(!r.body.includes(files['notes.txt']), 'a refusal carried file bytes')
}

async function health() {
  const r = await fetch(`${edge.url}/healthz`)
  return { status: r.status, json: await r.json() }
}

async function metric(name) {
  const text = await (await fetch(`${edge.url}/metrics`)).text()
  const m = text.match(new RegExp(`^${name.replace(/[{}"]/g, (c) => '\\' + c)} (\\S+)$`, 'm'))
  return m ? Number(m[1]) : undefined
}

async function originDownloads(slug) {
  const r = await api.get(`/v1/drops/${slug}/status`)
  assert.equal(r.status, 200, r.text)
  return r.json.downloads_completed
}

// An event is appended when its response ends, possibly just after the client
// read the last byte, so the origin's counts are awaited (they must then stay).
async function waitForOriginCounts() {
  await waitFor(async () => `origin counts ${await originDownloads(SLUG)}/${await originDownloads(OTHER)} ` +
    `to reach ${completed[SLUG]}/${completed[OTHER]}`, async () =>
    (await originDownloads(SLUG)) === completed[SLUG] && (await originDownloads(OTHER)) === completed[OTHER])
}

// Issues a download token with `dropgate token issue` and the given key folder.
function issueToken(keysDir, slug, { ttlS = 300, assets = [], version = 1 } = {}) {
  const args = ['token', 'issue', '--keys', keysDir, '--purpose', 'download', '--drop', slug,
    '--account', 'cli-buyer', '--ttl-s', String(ttlS), '--issuer', 'dropgate', '--version', String(version)]
  for (const a of assets) args.push('--asset', a)
  return execFileSync(dropgate, args).toString().trim()
}

const blobPath = (body) => join(edgeData, 'blobs', sha(body).slice(0, 2), sha(body))

// Flips `length` bytes at `offset` in place: same size, different content.
// (The edge may notice and remove the file as soon as it is written.)
function corrupt(path, offset, length) {
  const fd = openSync(path, 'r+')
  const sizeBefore = fstatSync(fd).size
  const bytes = Buffer.alloc(length)
  readSync(fd, bytes, 0, length, offset)
  for (let i = 0; i < length; i++) bytes[i] ^= 0xa5
  writeSync(fd, bytes, 0, length, offset)
  assert.equal(fstatSync(fd).size, sizeBefore)
  closeSync(fd)
}

function unzip(args, file) {
  return spawnSync('unzip', [...args, file], { maxBuffer: 256 * 1024 * 1024 })
}

before(async () => {
  dir = tempDir('dg-edge-')
  originData = join(dir, 'origin')
  edgeData = join(dir, 'edge')
  apiKey = initData(originData)
  origin = await startOrigin(originData)
  api = client(origin.url, apiKey)
  anon = client(origin.url)
  await makeDrop(SLUG, 40, files)
  await makeDrop(OTHER, 5, { 'b.txt': Buffer.from('other drop\n') })
  await makeDrop(ELSEWHERE, 5, { 'c.txt': Buffer.from('not here\n') })

  mkdirSync(edgeData)
  writeFileSync(join(edgeData, 'edge.toml'), 'clock_skew_s = 0\n')
  const enrolled = execFileSync(dropgate, ['edge', 'enroll', '--data', edgeData, '--origin', origin.url,
    '--name', 'test-stall']).toString()
  edgeId = Number(enrolled.match(/edge id:\s+(\d+)/)[1])
  const originKid = (await anon.get('/.well-known/dropgate/keys.json')).json.keys[0].kid
  assert.ok(enrolled.includes(`${originKid} (pinned)`), enrolled)

  const early = spawnSync(dropgate, ['edge', 'preload', '--data', edgeData])
  assert.equal(early.status, 1, 'preload before approval must fail')
  assert.match(early.stderr.toString(), /approve/)

  const approved = await api.post(`/v1/edges/${edgeId}/approve`, { drops: [SLUG, OTHER] }, idem())
  assert.equal(approved.status, 200, approved.text)
  const preload = spawnSync(dropgate, ['edge', 'preload', '--data', edgeData])
  assert.equal(preload.status, 0, preload.stdout.toString() + preload.stderr.toString())
  const report = preload.stdout.toString()
  assert.match(report, new RegExp(`^${SLUG} +1 +3 .* 3/3 .*ready$`, 'm'), report)
  assert.match(report, new RegExp(`^${OTHER} +1 +1 .* 1/1 .*ready$`, 'm'), report)

  edge = await startEdge(edgeData, { syncIntervalS: 1 })
  await waitFor('the edge to reach its origin', async () => {
    const h = await health()
    return h.status === 200 && h.json.origin_reachable && h.json.status === 'ok'
  })
})

after(async () => {
  // Both stop (and the folder goes) even when one of them fails to exit cleanly.
  const edgeExit = edge ? await edge.stop() : 0
  const originExit = origin ? await origin.stop() : 0
  cleanup(dir)
  assert.equal(edgeExit, 0, edge?.log())
  assert.equal(originExit, 0, origin?.log())
})

test('the edge carries exactly the granted drops, with the origin\'s signed manifests', async () => {
  const h = await health()
  assert.deepEqual(h.json.drops.map((d) => d.drop).sort(), [OTHER, SLUG].sort())
  assert.ok(h.json.grant_expires_in_s > 86_400)
  for (const slug of [SLUG, OTHER]) {
    const atEdge = await fetch(`${edge.url}/v1/drops/${slug}/manifest.json`)
    assert.equal(atEdge.status, 200)
    assert.equal(await atEdge.text(), (await anon.get(`/v1/drops/${slug}/manifest.json`)).text)
  }
  assert.equal((await fetch(`${edge.url}/v1/drops/${ELSEWHERE}/manifest.json`)).status, 404)
})

test('a buyer claims on the origin and downloads from the edge: sha256, Range, HEAD, ETag', async () => {
  const c = await claim(SLUG, 'buyer-1')
  const token = c.download_token
  for (const [path, body] of Object.entries(files)) {
    const r = await edgeGet(fileUrl(SLUG, path, token))
    assert.equal(r.status, 200, r.text)
    assert.equal(sha(r.body), sha(body), path)
    assert.equal(r.headers.get('etag'), `"${sha(body)}"`)
  }
  const big = files['side-a/01.flac']
  const url = fileUrl(SLUG, 'side-a/01.flac')
  const bearer = { authorization: `Bearer ${token}` }
  const ranged = await edgeGet(url, { headers: { ...bearer, range: 'bytes=100-199' } })
  assert.equal(ranged.status, 206)
  assert.equal(ranged.headers.get('content-range'), `bytes 100-199/${big.length}`)
  assert.deepEqual(ranged.body, big.subarray(100, 200))
  // The scheme is case-insensitive (RFC 9110 §11.1), as on the origin.
  const lower = await edgeGet(url, { headers: { authorization: `bearer ${token}`, range: 'bytes=0-9' } })
  assert.equal(lower.status, 206, lower.text)
  assert.deepEqual(lower.body, big.subarray(0, 10))
  const tail = await edgeGet(url, { headers: { ...bearer, range: 'bytes=-10' } })
  assert.equal(tail.status, 206)
  assert.deepEqual(tail.body, big.subarray(big.length - 10))
  const open = await edgeGet(url, { headers: { ...bearer, range: `bytes=${big.length - 1000}-` } })
  assert.equal(open.status, 206)
  assert.deepEqual(open.body, big.subarray(big.length - 1000))

  const head = await edgeGet(url, { method: 'HEAD', headers: bearer })
  assert.equal(head.status, 200)
  assert.equal(Number(head.headers.get('content-length')), big.length)
  assert.equal(head.headers.get('etag'), `"${sha(big)}"`)
  assert.equal(head.headers.get('accept-ranges'), 'bytes')
  assert.equal(head.body.length, 0)

  const cached = await edgeGet(url, { headers: { ...bearer, 'if-none-match': `"${sha(big)}"` } })
  assert.equal(cached.status, 304)
  assert.equal(cached.body.length, 0)
  const stale = await edgeGet(url, { headers: { ...bearer, 'if-none-match': `"${'0'.repeat(64)}"` } })
  assert.equal(stale.status, 200)
  assert.equal(sha(stale.body), sha(big))
  const unsatisfiable = await edgeGet(url, { headers: { ...bearer, range: `bytes=${big.length}-` } })
  assert.equal(unsatisfiable.status, 416)
  assert.equal(unsatisfiable.headers.get('content-range'), `bytes */${big.length}`)
})

// The edge's resident memory, from /proc (kB there).
function rssBytes(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m)
  return Number(m[1]) * 1024
}

// Anonymous clients choose what the token cache sees. 10,000 junk tokens (half
// 15 KB of garbage, half well-formed with a broken signature, all distinct)
// must leave the edge's RSS within JUNK_RSS_GROWTH_MAX of where it was (the
// cache once kept every one: +44 MB for 3,000 of 15 KB), and a good token
// verified before the flood must still be answered from the cache.
const JUNK_RSS_GROWTH_MAX = 16 * 1024 * 1024
test('10,000 junk tokens leave the edge within a memory bound, and good tokens cached', async (t) => {
  const { download_token: good } = await claim(SLUG, 'buyer-flood')
  const goodUrl = fileUrl(SLUG, 'notes.txt', good)
  assert.equal((await edgeGet(goodUrl)).status, 200)
  const rssBefore = rssBytes(edge.child.pid)

  const [v, p, body, footer] = good.split('.')
  const junk = (i) => {
    if (i % 2 === 0) return `v4.public.${randomBytes(11_250).toString('base64url')}`  // 15,010 bytes
    const payload = Buffer.from(body, 'base64url')
    payload.writeUInt32BE(i, payload.length - 8)  // inside the signature: distinct, and never valid
    return `${v}.${p}.${payload.toString('base64url')}.${footer}`
  }
  const statuses = await pool(Array.from({ length: 10_000 }, (_, i) => async () => {
    const res = await fetch(fileUrl(SLUG, 'notes.txt'), { headers: { authorization: `Bearer ${junk(i)}` } })
    await res.arrayBuffer()
    return res.status
  }), 32)
  assert.deepEqual([...new Set(statuses)], [401])
  const growth = rssBytes(edge.child.pid) - rssBefore
  t.diagnostic(`RSS ${(rssBefore / 1048576).toFixed(1)} MiB, grew by ${(growth / 1048576).toFixed(1)} MiB`)
  assert.ok(growth < JUNK_RSS_GROWTH_MAX, `RSS grew by ${(growth / 1048576).toFixed(1)} MiB`)
  assert.ok((await metric('dropgate_edge_token_cache_bytes')) < 8 * 1024 * 1024)

  const hits = await metric('dropgate_edge_token_cache_total{result="hit"}')
  const misses = await metric('dropgate_edge_token_cache_total{result="miss"}')
  assert.equal((await edgeGet(goodUrl)).status, 200)
  assert.equal(await metric('dropgate_edge_token_cache_total{result="hit"}'), hits + 1)
  assert.equal(await metric('dropgate_edge_token_cache_total{result="miss"}'), misses)
})

// A frozen origin (SIGSTOP: it accepts connections and never answers) shows
// on /healthz within FROZEN_NOTICE_MAX_MS: sync calls give up after
// sync_timeout_s (default 5 s) without a byte, and a round that hears nothing
// for that long counts as unreachable. (With the HTTP client's 60 s timeout
// the edge said origin_reachable: true for up to a minute.)
const FROZEN_NOTICE_MAX_MS = 15_000
test('a frozen origin (SIGSTOP) is unreachable on /healthz within seconds, and reachable again after SIGCONT', async () => {
  await waitFor('the edge to reach its origin', async () => (await health()).json.origin_reachable)
  process.kill(origin.child.pid, 'SIGSTOP')
  try {
    const h = await waitFor('/healthz to say the frozen origin is unreachable',
      async () => { const r = await health(); return !r.json.origin_reachable && r }, { timeoutMs: FROZEN_NOTICE_MAX_MS })
    assert.equal(h.status, 200, 'an edge with a valid grant keeps serving')
    assert.equal(h.json.status, 'offline')
  } finally {
    process.kill(origin.child.pid, 'SIGCONT')
  }
  await waitFor('/healthz to say the origin is back', async () => {
    const r = await health()
    return r.json.origin_reachable && r.json.status === 'ok'
  }, { timeoutMs: 20_000 })
})

test('the ZIP archive passes unzip -t, and a broken download resumes with Range', async () => {
  const { download_token: token } = await claim(SLUG, 'buyer-zip')
  const manifest = JSON.parse(await (await fetch(`${edge.url}/v1/drops/${SLUG}/manifest.json`)).text())
  const ordered = manifest.assets.map((a) => a.path)
  assert.deepEqual([...ordered].sort(), Object.keys(files).sort())

  const whole = await edgeGet(archiveUrl(SLUG, token))
  assert.equal(whole.status, 200, whole.text)
  assert.equal(whole.headers.get('content-type'), 'application/zip')
  assert.equal(Number(whole.headers.get('content-length')), whole.body.length)
  assert.match(whole.headers.get('content-disposition'), new RegExp(`filename="${SLUG}\\.zip"`))
  const etag = whole.headers.get('etag')
  assert.ok(etag)
  const wholeFile = join(dir, 'whole.zip')
  writeFileSync(wholeFile, whole.body)
  const tested = unzip(['-t'], wholeFile)
  assert.equal(tested.status, 0, tested.stdout.toString() + tested.stderr.toString())
  // Members in manifest order, named SLUG/PATH, bytes unchanged.
  const listed = unzip(['-Z1'], wholeFile)
  assert.equal(listed.status, 0, listed.stderr.toString())
  assert.equal(listed.stdout.toString().trim().split('\n').length, ordered.length)
  const all = unzip(['-p'], wholeFile)
  assert.equal(all.status, 0, all.stderr.toString())
  assert.deepEqual(sha(all.stdout), sha(Buffer.concat(ordered.map((p) => files[p]))))

  // A download broken at half, resumed with Range (and If-Range, as a browser does).
  const total = whole.body.length
  const half = Math.floor(total / 2)
  const first = await edgeGet(archiveUrl(SLUG, token), { headers: { range: `bytes=0-${half - 1}` } })
  assert.equal(first.status, 206)
  assert.equal(first.headers.get('content-range'), `bytes 0-${half - 1}/${total}`)
  assert.equal(first.body.length, half)
  const rest = await edgeGet(archiveUrl(SLUG, token), { headers: { range: `bytes=${half}-`, 'if-range': etag } })
  assert.equal(rest.status, 206)
  assert.equal(rest.headers.get('content-range'), `bytes ${half}-${total - 1}/${total}`)
  assert.equal(rest.headers.get('etag'), etag)
  const resumed = Buffer.concat([first.body, rest.body])
  assert.ok(resumed.equals(whole.body), 'the resumed archive differs from the whole one')
  const resumedFile = join(dir, 'resumed.zip')
  writeFileSync(resumedFile, resumed)
  const t2 = unzip(['-t'], resumedFile)
  assert.equal(t2.status, 0, t2.stdout.toString() + t2.stderr.toString())
  for (const path of ['notes.txt', 'side-a/01.flac']) {
    const member = spawnSync('unzip', ['-p', resumedFile, `${SLUG}/${path}`], { maxBuffer: 64 * 1024 * 1024 })
    assert.equal(member.status, 0, member.stderr.toString())
    assert.equal(sha(member.stdout), sha(files[path]), path)
  }
  // A range in the middle is the same bytes the whole archive has there.
  const mid = await edgeGet(archiveUrl(SLUG, token), { headers: { range: `bytes=${half - 50}-${half + 49}` } })
  assert.equal(mid.status, 206)
  assert.deepEqual(mid.body, whole.body.subarray(half - 50, half + 50))

  const changed = await edgeGet(archiveUrl(SLUG, token), { headers: { range: `bytes=${half}-`, 'if-range': '"zip0-stale"' } })
  assert.equal(changed.status, 200, 'a stale If-Range must get the whole archive')
  assert.equal(changed.body.length, total)
  const notModified = await edgeGet(archiveUrl(SLUG, token), { headers: { 'if-none-match': etag } })
  assert.equal(notModified.status, 304)
  const head = await edgeGet(archiveUrl(SLUG, token), { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(Number(head.headers.get('content-length')), total)
  const unsatisfiable = await edgeGet(archiveUrl(SLUG, token), { headers: { range: `bytes=${total}-` } })
  assert.equal(unsatisfiable.status, 416)
  assert.equal(unsatisfiable.headers.get('content-range'), `bytes */${total}`)
})

let offlineDownloads = 0

test('with the origin stopped (SIGTERM), the edge serves valid tokens and refuses bad ones', async () => {
  // Tokens the edge has never seen, claimed while the origin is up.
  const fresh = await claim(SLUG, 'buyer-offline')
  const other = await claim(OTHER, 'buyer-offline')
  const before = completed[SLUG] ?? 0
  assert.equal(await origin.stop('SIGTERM'), 0, origin.log())

  const h = await waitFor('the edge to notice the origin is gone', async () => {
    const r = await health()
    return !r.json.origin_reachable && r
  })
  assert.equal(h.status, 200, 'an edge with a valid grant keeps serving')
  assert.equal(h.json.status, 'offline')
  assert.ok(h.json.last_sync_error.length > 0)
  assert.deepEqual(h.json.drops.map((d) => d.drop).sort(), [OTHER, SLUG].sort())

  for (const [path, body] of Object.entries(files)) {
    const r = await edgeGet(fileUrl(SLUG, path, fresh.download_token))
    assert.equal(r.status, 200, r.text)
    assert.equal(sha(r.body), sha(body))
  }
  const zip = await edgeGet(archiveUrl(SLUG, fresh.download_token))
  assert.equal(zip.status, 200)
  const o = await edgeGet(fileUrl(OTHER, 'b.txt', other.download_token))
  assert.equal(o.status, 200)
  offlineDownloads = (completed[SLUG] - before) + 1

  assertEdgeProblem(await edgeGet(fileUrl(SLUG, 'notes.txt', 'v4.public.garbage')), 401, 'token-refused', 'malformed')
  assertEdgeProblem(await edgeGet(fileUrl(SLUG, 'notes.txt', 'not-a-token')), 401, 'token-refused', 'malformed')
  const keys = join(dir, 'offline-keys')
  execFileSync(dropgate, ['keys', 'new', '--dir', keys], { stdio: 'pipe' })
  assertEdgeProblem(await edgeGet(fileUrl(SLUG, 'notes.txt', issueToken(keys, SLUG))), 401, 'token-refused', 'unknown_key')
  assertEdgeProblem(await edgeGet(fileUrl(SLUG, 'notes.txt', other.download_token)), 403, 'token-wrong-drop')
  assertEdgeProblem(await edgeGet(fileUrl(SLUG, 'notes.txt')), 401, 'token-required')

  assert.equal(await metric('dropgate_edge_origin_reachable'), 0)
  const age = await metric('dropgate_edge_sync_age_seconds')
  assert.ok(age >= 0, `sync age ${age}`)
  await waitFor('dropgate_edge_sync_age_seconds to grow', async () =>
    (await metric('dropgate_edge_sync_age_seconds')) >= age + 1.5, { timeoutMs: 10000 })
  assert.equal(await metric('dropgate_edge_origin_reachable'), 0)
})

test('an edge killed with -9 while offline restarts offline, serving, its outbox intact', async () => {
  // The events of the offline downloads are appended once each response
  // ends, and are on disk a commit later (a crash may lose what is not).
  const h = await waitFor('the offline downloads to be recorded on disk', async () => {
    const r = await health()
    return r.json.outbox_depth >= offlineDownloads && r.json.outbox_unwritten === 0 && r
  })
  const depth = h.json.outbox_depth
  assert.equal(await edge.stop('SIGKILL'), 'SIGKILL')
  edge = await startEdge(edgeData, { syncIntervalS: 1 })
  const again = await waitFor('the restarted edge to try its origin', async () => {
    const r = await health()
    return r.json.last_sync_attempt_age_s !== null && r
  })
  assert.equal(again.status, 200)
  assert.equal(again.json.origin_reachable, false)
  assert.equal(again.json.status, 'offline')
  assert.equal(again.json.outbox_depth, depth, 'the outbox lost events to kill -9')
  // A token the restarted edge has never seen, signed with the origin's key.
  const c = await edgeGet(fileUrl(SLUG, 'notes.txt', issueToken(join(originData, 'keys'), SLUG)))
  assert.equal(c.status, 200, c.text)
  assert.deepEqual(c.body, files['notes.txt'])
})

test('when the origin comes back, the outbox drains and every download is counted once', async () => {
  origin = await startOrigin(originData, { port: origin.port })
  api = client(origin.url, apiKey)
  anon = client(origin.url)
  await waitFor(async () => `the outbox to drain: ${JSON.stringify((await health()).json)}`, async () => {
    const r = await health()
    return r.json.origin_reachable && r.json.status === 'ok' && r.json.outbox_depth === 0
  }, { timeoutMs: 20000 })
  assert.equal(await metric('dropgate_edge_origin_reachable'), 1)
  assert.ok((await metric('dropgate_edge_sync_age_seconds')) < 3)
  await waitForOriginCounts()
  assert.equal(await originDownloads(ELSEWHERE), 0)

  // A few more sync rounds push nothing twice.
  const rounds = await metric('dropgate_edge_syncs_total{result="ok"}')
  await waitFor('two more sync rounds', async () => (await metric('dropgate_edge_syncs_total{result="ok"}')) >= rounds + 2)
  assert.equal(await originDownloads(SLUG), completed[SLUG])
})

test('events pushed twice are stored once (the origin de-duplicates by edge and event id)', async () => {
  const grant = readFileSync(join(edgeData, 'grant.token'), 'utf8').trim()
  const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  const batch = {
    events: [1, 2, 3].map((i) => ({
      id: `replayed-${process.pid}-${i}`, kind: 'download.completed', drop: SLUG, account: 'buyer-replay', at,
      detail: { path: 'notes.txt', bytes: files['notes.txt'].length },
    })),
  }
  const push = () => client(origin.url).post('/v1/edge/events', batch, { authorization: `Bearer ${grant}` })
  const before = await originDownloads(SLUG)
  const first = await push()
  assert.equal(first.status, 200, first.text)
  assert.deepEqual(first.json, { received: 3, new: 3, refused: 0 })
  const second = await push()
  assert.equal(second.status, 200, second.text)
  assert.deepEqual(second.json, { received: 3, new: 0, refused: 0 })
  assert.equal(await originDownloads(SLUG), before + 3)
  completed[SLUG] += 3

  // A push over the 16 KiB an anonymous body may have is read when the
  // grant's signature verifies (checked as the header arrives), and refused
  // unread otherwise.
  const large = {
    events: Array.from({ length: 200 }, (_, i) => ({ ...batch.events[0], id: `large-${process.pid}-${i}` })),
  }
  assert.ok(JSON.stringify(large).length > 16 * 1024)
  assert.equal((await client(origin.url).post('/v1/edge/events', large)).status, 413)
  const forged = await client(origin.url).post('/v1/edge/events', large, { authorization: 'Bearer v4.public.forged' })
  assert.equal(forged.status, 413)
  const accepted = await client(origin.url).post('/v1/edge/events', large, { authorization: `Bearer ${grant}` })
  assert.equal(accepted.status, 200, accepted.text)
  assert.deepEqual(accepted.json, { received: 200, new: 200, refused: 0 })
  assert.equal(await originDownloads(SLUG), before + 203)
  completed[SLUG] += 200

  // Without the grant nothing is stored. An event for a drop the edge does not
  // carry is acknowledged as refused (so it cannot block the outbox behind it)
  // and not stored.
  assert.equal((await client(origin.url).post('/v1/edge/events', batch)).status, 401)
  const foreign = { events: [{ ...batch.events[0], id: 'foreign-1', drop: ELSEWHERE }] }
  const refused = await client(origin.url).post('/v1/edge/events', foreign, { authorization: `Bearer ${grant}` })
  assert.equal(refused.status, 200, refused.text)
  assert.deepEqual(refused.json, { received: 1, new: 0, refused: 1 })
  assert.equal(await originDownloads(ELSEWHERE), 0)
})

test('refused: forged tokens (a valid signature cannot be moved or altered)', async () => {
  const { download_token: genuine } = await claim(SLUG, 'buyer-forge')
  const [v, p, body, originFooter] = genuine.split('.')
  assert.equal(`${v}.${p}`, 'v4.public')
  // Signed by another key, but claiming the origin's key id.
  const keys = join(dir, 'forger-keys')
  execFileSync(dropgate, ['keys', 'new', '--dir', keys], { stdio: 'pipe' })
  const forged = issueToken(keys, SLUG).split('.')
  const moved = `${forged[0]}.${forged[1]}.${forged[2]}.${originFooter}`
  assertEdgeProblem(await edgeGet(fileUrl(SLUG, 'notes.txt', moved)), 401, 'token-refused', 'bad_signature')
  // The genuine token with one payload character changed.
  const i = 40
  const flipped = body.slice(0, i) + (body[i] === 'A' ? 'B' : 'A') + body.slice(i + 1)
  const altered = `${v}.${p}.${flipped}.${originFooter}`
  assertEdgeProblem(await edgeGet(fileUrl(SLUG, 'notes.txt', altered)), 401, 'token-refused', 'bad_signature')
  assertEdgeProblem(await edgeGet(archiveUrl(SLUG, altered)), 401, 'token-refused', 'bad_signature')
  // A certificate is not a download token.
  const cert = (await claim(SLUG, 'buyer-cert-as-token')).certificate
  assertEdgeProblem(await edgeGet(fileUrl(SLUG, 'notes.txt', cert)), 401, 'token-refused', 'wrong_purpose')
  assertEdgeProblem(await edgeGet(fileUrl(SLUG, 'notes.txt', 'v4.public.garbage')), 401, 'token-refused', 'malformed')
  // The genuine one still works.
  assert.equal((await edgeGet(fileUrl(SLUG, 'notes.txt', genuine))).status, 200)
})

test('refused: a token signed by a key the origin never had', async () => {
  const keys = join(dir, 'unknown-keys')
  execFileSync(dropgate, ['keys', 'new', '--dir', keys], { stdio: 'pipe' })
  const token = issueToken(keys, SLUG)
  assertEdgeProblem(await edgeGet(fileUrl(SLUG, 'notes.txt', token)), 401, 'token-refused', 'unknown_key')
  assertEdgeProblem(await edgeGet(archiveUrl(SLUG, token)), 401, 'token-refused', 'unknown_key')
  assertEdgeProblem(await edgeGet(fileUrl(SLUG, 'notes.txt'), { headers: { authorization: `Bearer ${token}` } }),
    401, 'token-refused', 'unknown_key')
})

test('refused: an expired token (clock_skew_s = 0)', async () => {
  // Lifetime 3 s: long enough to be served once, short enough to watch it expire.
  const token = issueToken(join(originData, 'keys'), SLUG, { ttlS: 3 })
  const ok = await edgeGet(fileUrl(SLUG, 'notes.txt', token))
  assert.equal(ok.status, 200, ok.text)  // now also in the edge's token cache
  const issuedAt = Date.now()
  const refused = await waitFor('the token to expire', async () => {
    const r = await edgeGet(fileUrl(SLUG, 'notes.txt', token))
    return r.status !== 200 && r
  }, { timeoutMs: 8000, intervalMs: 250 })
  assert.ok(Date.now() - issuedAt >= 1000, 'refused too early')
  assertEdgeProblem(refused, 401, 'token-refused', 'expired')
  assert.match(refused.json.detail, /expired/)
  assertEdgeProblem(await edgeGet(archiveUrl(SLUG, token)), 401, 'token-refused', 'expired')
})

// Edge and origin apply the same rule (docs/formats/tokens.md): a token is
// for the manifest version the server holds (1 here), an older one is stale,
// a newer one is not synced yet.
test('refused: a token for another manifest version (older: stale; newer: not synced yet)', async () => {
  const keys = join(originData, 'keys')
  const current = await edgeGet(fileUrl(SLUG, 'notes.txt', issueToken(keys, SLUG, { version: 1 })))
  assert.equal(current.status, 200, current.text)
  const stale = await edgeGet(fileUrl(SLUG, 'notes.txt', issueToken(keys, SLUG, { version: 0 })))
  assertEdgeProblem(stale, 401, 'token-stale')
  assert.match(stale.json.detail, /version 0 .* version 1 is current; ask for a fresh link/)
  for (const url of [fileUrl(SLUG, 'notes.txt', issueToken(keys, SLUG, { version: 999 })),
    archiveUrl(SLUG, issueToken(keys, SLUG, { version: 22 }))]) {
    const unsynced = await edgeGet(url)
    assertEdgeProblem(unsynced, 503, 'version-not-synced')
    assert.equal(unsynced.headers.get('retry-after'), '30')
  }
})

test('refused: a token for another drop, and a drop this edge does not carry', async () => {
  const other = await claim(OTHER, 'buyer-other')
  assertEdgeProblem(await edgeGet(fileUrl(SLUG, 'notes.txt', other.download_token)), 403, 'token-wrong-drop')
  assertEdgeProblem(await edgeGet(archiveUrl(SLUG, other.download_token)), 403, 'token-wrong-drop')
  assertEdgeProblem(await edgeGet(fileUrl(SLUG, 'b.txt', other.download_token)), 403, 'token-wrong-drop')
  const elsewhere = await claim(ELSEWHERE, 'buyer-elsewhere')
  assertEdgeProblem(await edgeGet(fileUrl(ELSEWHERE, 'c.txt', elsewhere.download_token)), 404, 'drop-not-carried')
  assertEdgeProblem(await edgeGet(archiveUrl(ELSEWHERE, elsewhere.download_token)), 404, 'drop-not-carried')
})

test('refused: a token for one file fetches neither the other files nor the archive', async () => {
  const token = issueToken(join(originData, 'keys'), SLUG, { assets: ['notes.txt'] })
  const ok = await edgeGet(fileUrl(SLUG, 'notes.txt', token))
  assert.equal(ok.status, 200)
  assert.deepEqual(ok.body, files['notes.txt'])
  assertEdgeProblem(await edgeGet(fileUrl(SLUG, 'side-a/01.flac', token)), 403, 'token-wrong-asset')
  assertEdgeProblem(await edgeGet(archiveUrl(SLUG, token)), 403, 'token-wrong-asset')
  const unknown = await edgeGet(fileUrl(SLUG, 'missing.txt', (await claim(SLUG, 'buyer-missing')).download_token))
  assert.equal(unknown.status, 404)
})

test('refused: a revoked certificate\'s download token, once the revocation list syncs', async () => {
  const refunded = await claim(SLUG, 'buyer-refund')
  const kept = await claim(SLUG, 'buyer-keep')
  const url = fileUrl(SLUG, 'notes.txt', refunded.download_token)
  assert.equal((await edgeGet(url)).status, 200)  // verified and cached before the revocation
  const r = await api.post(`/v1/drops/${SLUG}/certificates/${refunded.serial}/revoke`, { reason: 'refund' }, idem())
  assert.equal(r.status, 200, r.text)
  await waitFor('the revocation to reach the edge', async () =>
    (await edgeGet(url, { method: 'HEAD' })).status === 403, { timeoutMs: 15000, intervalMs: 200 })
  assertEdgeProblem(await edgeGet(url), 403, 'certificate-revoked')
  assertEdgeProblem(await edgeGet(archiveUrl(SLUG, refunded.download_token)), 403, 'certificate-revoked')
  assert.ok((await health()).json.revocation_list_age_s < 30)
  const still = await edgeGet(fileUrl(SLUG, 'notes.txt', kept.download_token))
  assert.equal(still.status, 200, 'revoking one certificate refused another')
})

test('a blob damaged on disk is never served, and is fetched again from the origin', async () => {
  const { download_token: token } = await claim(SLUG, 'buyer-damage')
  const big = files['side-a/01.flac']
  const bigUrl = fileUrl(SLUG, 'side-a/01.flac', token)
  assert.equal((await edgeGet(bigUrl, { method: 'HEAD' })).status, 200)
  const damagedBefore = await metric('dropgate_edge_blobs_damaged')
  const fetchedBefore = await metric('dropgate_edge_blobs_fetched_total')

  corrupt(blobPath(big), 4096, 64)
  const ranged = await edgeGet(bigUrl, { headers: { range: 'bytes=4096-4159' } })
  assertEdgeProblem(ranged, 503, 'blob-unavailable')
  assert.ok(Number(ranged.headers.get('retry-after')) > 0)
  const served = await waitFor('the damaged blob to be fetched again', async () => {
    const r = await edgeGet(bigUrl)
    if (r.status === 200) return r
    assertEdgeProblem(r, 503, 'blob-unavailable')
    return false
  }, { timeoutMs: 15000, intervalMs: 200 })
  assert.equal(sha(served.body), sha(big), 'the edge served damaged bytes')

  // The same through the archive: a damaged member refuses the whole archive.
  const notes = files['notes.txt']
  corrupt(blobPath(notes), 0, 4)
  assertEdgeProblem(await edgeGet(archiveUrl(SLUG, token)), 503, 'blob-unavailable')
  const zip = await waitFor('the archive to be whole again', async () => {
    const r = await edgeGet(archiveUrl(SLUG, token))
    if (r.status === 200) return r
    assertEdgeProblem(r, 503, 'blob-unavailable')
    return false
  }, { timeoutMs: 15000, intervalMs: 200 })
  const zipFile = join(dir, 'after-damage.zip')
  writeFileSync(zipFile, zip.body)
  const tested = unzip(['-t'], zipFile)
  assert.equal(tested.status, 0, tested.stdout.toString())
  const member = spawnSync('unzip', ['-p', zipFile, `${SLUG}/notes.txt`])
  assert.deepEqual(member.stdout, notes)
  assert.equal(readFileSync(blobPath(notes)).equals(notes), true)

  assert.ok((await metric('dropgate_edge_blobs_damaged')) >= damagedBefore + 2)
  assert.ok((await metric('dropgate_edge_blobs_fetched_total')) >= fetchedBefore + 2)
})

test('a small blob served from memory and damaged on disk is noticed without a download, and fetched again', async () => {
  const { download_token: token } = await claim(SLUG, 'buyer-held')
  const notes = files['notes.txt']
  const url = fileUrl(SLUG, 'notes.txt', token)
  const first = await edgeGet(url)
  assert.equal(first.status, 200)
  assert.deepEqual(first.body, notes)
  assert.ok((await metric('dropgate_edge_blob_memory_bytes')) >= notes.length, 'notes.txt is not held in memory')
  const damagedBefore = await metric('dropgate_edge_blobs_damaged')
  const fetchedBefore = await metric('dropgate_edge_blobs_fetched_total')

  corrupt(blobPath(notes), 2, 3)
  // No request touches the blob: the edge sees the write to its file itself.
  await waitFor('the edge to notice the damage', async () =>
    (await metric('dropgate_edge_blobs_damaged')) > damagedBefore, { timeoutMs: 5000, intervalMs: 20 })
  // Refused or served right while it is fetched again; never the damaged bytes.
  await waitFor('the damaged blob to be fetched again', async () => {
    const r = await edgeGet(url)
    if (r.status !== 200) {
      assertEdgeProblem(r, 503, 'blob-unavailable')
      return false
    }
    assert.deepEqual(r.body, notes, 'the edge served damaged bytes')
    return (await metric('dropgate_edge_blobs_fetched_total')) > fetchedBefore
  }, { timeoutMs: 15000, intervalMs: 100 })
  assert.equal(readFileSync(blobPath(notes)).equals(notes), true)
})

test('traversal attempts never reach a file outside the drop', async () => {
  const { download_token: token } = await claim(SLUG, 'buyer-trav')
  const paths = ['../../../../etc/passwd', '%2e%2e/%2e%2e/%2e%2e/etc/passwd', '..%2F..%2F..%2Fetc%2Fpasswd',
    '%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd', '%2Fetc%2Fpasswd', '/etc/passwd', '//etc/passwd',
    'side-a/..%2F..%2F..%2F..%2Fetc%2Fpasswd', 'side-a/../notes.txt', '.%2e/.%2e/etc/passwd',
    '..%5C..%5C..%5Cetc%5Cpasswd', '%252e%252e/%252e%252e/etc/passwd', 'notes.txt%00.png',
    `${'../'.repeat(40)}etc/passwd`, '%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd']
  const blobs = join(edgeData, 'blobs').replace(/^\//, '')
  const targets = [
    ...paths.map((p) => `/v1/drops/${SLUG}/files/${p}?token=${token}`),
    `/v1/drops/..%2F..%2F..%2Fetc/files/passwd?token=${token}`,
    `/v1/drops/%2e%2e/files/%2e%2e/%2e%2e/etc/passwd?token=${token}`,
    `/v1/drops/${SLUG}/files/../../../../${blobs}/${sha(files['notes.txt']).slice(0, 2)}/${sha(files['notes.txt'])}?token=${token}`,
    `/../../../../etc/passwd?token=${token}`,
    `/v1/drops/${SLUG}/../../../etc/passwd/archive.zip?token=${token}`,
  ]
  for (const target of targets) {
    const raw = await rawRequest(edge.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    const status = Number(raw.split(' ')[1])
    assert.ok([400, 403, 404].includes(status), `${target}: ${raw.slice(0, 120)}`)
    assert.ok(!raw.includes('root:'), `${target} leaked a system file`)
    assert.ok(!raw.includes('liner notes'), `${target} reached a blob by path`)
  }
  // The absolute form of the request target.
  const absolute = await rawRequest(edge.port,
    `GET http://x/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
  assert.ok(!absolute.includes('root:'))
  assert.ok([400, 404].includes(Number(absolute.split(' ')[1])), absolute.slice(0, 120))
})

// File names with characters that mean something in a URL (space, %, ?, #)
// or lie outside ASCII: every link a claim returns must fetch that very file
// from the origin (not 400, not 401 from a token cut short by '#' or '?'),
// and the same path and query must fetch it from the edge.
test('download links work for file names with spaces, %, ?, # and non-ASCII, on origin and edge', async () => {
  const ODD = 'odd-names'
  const oddFiles = {
    'a b.txt': Buffer.from('space\n'),
    '100%.txt': Buffer.from('percent\n'),
    'what?.txt': Buffer.from('question\n'),
    '#1.txt': Buffer.from('hash\n'),
    '\u00e9.txt': Buffer.from('e acute\n'),
    'dir x/\u00fc+&=;#2.txt': Buffer.from('nested, and more reserved characters\n'),
  }
  const encodePath = (p) => p.split('/').map(encodeURIComponent).join('/')
  let r = await api.post('/v1/drops', { slug: ODD, title: ODD, edition: 5 }, idem())
  assert.equal(r.status, 201, r.text)
  for (const [path, body] of Object.entries(oddFiles)) {
    r = await api.put(`/v1/drops/${ODD}/assets/${encodePath(path)}`, new Uint8Array(body))
    assert.equal(r.status, 201, r.text)
    assert.equal(r.json.path, path)
  }
  r = await api.post(`/v1/drops/${ODD}/publish`, {}, idem())
  assert.equal(r.status, 201, r.text)
  const c = await claim(ODD, 'buyer-odd-names')
  assert.deepEqual(c.files.map((f) => f.path).sort(), Object.keys(oddFiles).sort())
  for (const f of c.files) {
    const link = new URL(f.url)
    assert.equal(link.hash, '', `${f.path}: ${f.url}`)
    assert.equal(link.search, `?token=${c.download_token}`, `${f.path}: ${f.url}`)
    const res = await fetch(f.url)
    const body = Buffer.from(await res.arrayBuffer())
    assert.equal(res.status, 200, `${f.path}: ${f.url}: ${body}`)
    assert.equal(sha(body), sha(oddFiles[f.path]), f.path)
  }

  r = await api.post(`/v1/edges/${edgeId}/approve`, { drops: [SLUG, OTHER, ODD] }, idem())
  assert.equal(r.status, 200, r.text)
  await waitFor(`the edge to carry ${ODD}`,
    async () => (await fetch(`${edge.url}/v1/drops/${ODD}/manifest.json`)).status === 200, { timeoutMs: 20000 })
  for (const f of c.files) {
    const link = new URL(f.url)
    const res = await edgeGet(edge.url + link.pathname + link.search)
    assert.equal(res.status, 200, `${f.path}: ${link.pathname}: ${res.text}`)
    assert.equal(sha(res.body), sha(oddFiles[f.path]), f.path)
  }
})

test('every completed download is counted exactly once at the origin', async () => {
  await waitFor(async () => `the outbox to drain: ${JSON.stringify((await health()).json)}`, async () => {
    const r = await health()
    return r.json.origin_reachable && r.json.outbox_depth === 0
  }, { timeoutMs: 20000 })
  await waitForOriginCounts()
  const rounds = await metric('dropgate_edge_syncs_total{result="ok"}')
  await waitFor('two more sync rounds', async () => (await metric('dropgate_edge_syncs_total{result="ok"}')) >= rounds + 2)
  assert.equal(await originDownloads(SLUG), completed[SLUG])
  assert.equal(await originDownloads(OTHER), completed[OTHER])
  assert.equal(await metric('dropgate_edge_outbox_dropped_total'), 0)
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: await (await fetch(`${edge.url}/metrics`)).text() })
  assert.equal(promtool.status, 0, promtool.stdout.toString() + promtool.stderr.toString())
})

test('a re-approval reaches the edge at the next sync: a drop added is carried, a drop removed is not', async () => {
  const carried = async (slug) => (await fetch(`${edge.url}/v1/drops/${slug}/manifest.json`)).status === 200
  assert.equal(await carried(ELSEWHERE), false)
  let r = await api.post(`/v1/edges/${edgeId}/approve`, { drops: [SLUG, ELSEWHERE] }, idem())
  assert.equal(r.status, 200, r.text)
  await waitFor(`the edge to carry ${ELSEWHERE} and drop ${OTHER}`,
    async () => (await carried(ELSEWHERE)) && !(await carried(OTHER)), { timeoutMs: 20000 })
  assert.equal(await carried(SLUG), true)
  // Revoked: the origin refuses the grant, and the edge serves nothing.
  r = await api.post(`/v1/edges/${edgeId}/revoke`, {}, idem())
  assert.equal(r.status, 200, r.text)
  const c = await claim(SLUG, 'buyer-after-revoke')
  await waitFor('the edge to stop serving', async () =>
    (await fetch(fileUrl(SLUG, 'notes.txt', c.download_token))).status === 503, { timeoutMs: 20000 })
  assert.equal((await health()).status, 503)
})
