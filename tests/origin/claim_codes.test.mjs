// Claim codes end to end over HTTP and the CLI (real processes on loopback,
// SQLite): a batch reserves stock, its CSV is printable, a code redeems once
// through the claim path, a reused or guessed code is refused, guessing is
// throttled per address and per drop, and revoking puts unused codes' serials
// back on sale.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { dropgate, tempDir, initData, startOrigin, client, cleanup } from '../support/origin.mjs'

let dir, origin, api, apiKey
let keyCounter = 0
const idem = () => ({ 'idempotency-key': `k-${process.pid}-${++keyCounter}` })
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const CODE = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$/

// A redemption sent from `localAddress` (any 127.0.0.0/8 address on Linux),
// so that tests stand for different clients of the per-address limit.
function redeemFrom(localAddress, slug, body) {
  const data = JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: origin.port, method: 'POST', localAddress,
      path: `/v1/drops/${slug}/codes/redeem`,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
    }, (res) => {
      let text = ''
      res.on('data', (c) => { text += c })
      res.on('end', () => {
        let json
        try { json = JSON.parse(text) } catch { json = undefined }
        resolve({ status: res.statusCode, headers: res.headers, text, json })
      })
    })
    req.on('error', reject)
    req.end(data)
  })
}

function assertProblem(r, status, typeSuffix) {
  assert.equal(r.status, status, r.text)
  assert.ok(r.json && r.json.type.endsWith('/' + typeSuffix), `type of ${r.text}`)
}

async function makeDrop(slug, edition) {
  let r = await api.post('/v1/drops', { slug, title: slug, edition, per_buyer_limit: 5 }, idem())
  assert.equal(r.status, 201, r.text)
  r = await api.put(`/v1/drops/${slug}/assets/notes.txt`, new Uint8Array(Buffer.from('notes\n')))
  assert.equal(r.status, 201, r.text)
  r = await api.post(`/v1/drops/${slug}/publish`, {}, idem())
  assert.equal(r.status, 201, r.text)
}

const unleased = async (slug) => (await api.get(`/v1/drops/${slug}/status`)).json.unleased
const generate = (slug, count, label = 'flyers', headers = {}) =>
  api.post(`/v1/drops/${slug}/codes`, { count, label }, headers)

// A well-formed code (alphabet, length and check symbol as
// docs/formats/claim-codes.md says) that was never issued: what a guesser
// who read the format sends.
function wellFormedGuess() {
  const bytes = randomBytes(19)
  let random = ''
  for (const b of bytes) random += ALPHABET[b & 31]
  const check = ALPHABET[createHash('sha256').update('dropgate claim code ' + random).digest()[0] >> 3]
  return (random + check).match(/.{4}/g).join('-')
}

before(async () => {
  dir = tempDir('dg-codes-')
  // Lowered so the guessing test reaches both limits quickly.
  apiKey = initData(join(dir, 'data'),
    'code_redeems_per_address_per_min = 5\ncode_redeems_per_drop_per_min = 20\n')
  origin = await startOrigin(join(dir, 'data'))
  api = client(origin.url, apiKey)
  await makeDrop('flyers', 10)
  await makeDrop('other', 5)
  await makeDrop('guessme', 5)
})
after(async () => {
  if (origin) assert.equal(await origin.stop(), 0, origin.log())
  cleanup(dir)
})

// Checks that a batch takes its serials out of the pool, refuses to reserve
// more than is unleased, and that the CSV answer has a header row and one
// code per line in the documented format.
test('generate reserves stock and answers CSV for printing', async () => {
  assert.equal(await unleased('flyers'), 10)
  let r = await generate('flyers', 11)
  assertProblem(r, 409, 'conflict')
  assert.equal(await unleased('flyers'), 10)

  r = await generate('flyers', 3, 'flyers, "front desk"', { accept: 'text/csv' })
  assert.equal(r.status, 201, r.text)
  assert.match(r.headers.get('content-type'), /^text\/csv/)
  assert.equal(r.headers.get('cache-control'), 'no-store')
  const lines = r.text.trimEnd().split('\r\n')
  assert.equal(lines[0], 'code,drop,batch,label')
  assert.equal(lines.length, 4)
  for (const line of lines.slice(1)) {
    const [code, drop, batch] = line.split(',')
    assert.match(code, CODE)
    assert.equal(drop, 'flyers')
    assert.match(batch, /^\d+$/)
    assert.ok(line.endsWith(',"flyers, ""front desk"""'), line)
  }
  assert.equal(await unleased('flyers'), 7)
})

// Checks the whole life of a code over HTTP: JSON generate, one redemption
// through the claim path (serial, certificate, download token, channel),
// a second use refused, another drop's code refused like an unknown one, and
// the listing's counts with no plaintext in it.
test('a code redeems once for one serial; reuse and wrong drop are refused', async () => {
  let r = await generate('flyers', 2, 'mail')
  assert.equal(r.status, 201, r.text)
  const { batch, codes } = r.json
  assert.equal(codes.length, 2)
  assert.equal(r.json.generated, 2)

  r = await redeemFrom('127.0.0.2', 'flyers', { code: codes[0].toLowerCase(), account: 'ann@example.com' })
  assert.equal(r.status, 201, r.text)
  assert.equal(r.json.channel, 'code')
  assert.ok(r.json.serial >= 1 && r.json.serial <= 10)
  assert.ok(r.json.certificate && r.json.download_token, r.text)

  r = await redeemFrom('127.0.0.2', 'flyers', { code: codes[0], account: 'bob@example.com' })
  assertProblem(r, 409, 'code-used')

  r = await redeemFrom('127.0.0.2', 'other', { code: codes[1] })
  assertProblem(r, 404, 'code-invalid')
  const wrongDrop = r.json.detail

  r = await redeemFrom('127.0.0.2', 'flyers', { code: codes[1].slice(0, -1) + (codes[1].endsWith('0') ? '1' : '0') })
  assertProblem(r, 400, 'code-malformed')

  r = await api.get('/v1/drops/flyers/codes')
  assert.equal(r.status, 200, r.text)
  const mine = r.json.batches.find((b) => b.batch === batch)
  assert.deepEqual([mine.generated, mine.used, mine.revoked, mine.unused], [2, 1, 0, 1])
  for (const code of codes) assert.ok(!r.text.includes(code))

  // An unknown code reads exactly like another drop's: nothing to learn.
  r = await redeemFrom('127.0.0.3', 'other', { code: wellFormedGuess() })
  assertProblem(r, 404, 'code-invalid')
  assert.equal(r.json.detail, wrongDrop)
})

// Checks that two redemptions of one code at once give one serial: one 201,
// one 409 code-used, and one claim more on the drop.
test('two redemptions of one code at once give one serial', async () => {
  const { codes } = (await generate('flyers', 1, 'race')).json
  const before = (await api.get('/v1/drops/flyers/status')).json.claimed
  const answers = await Promise.all([
    redeemFrom('127.0.0.4', 'flyers', { code: codes[0], account: 'racer-1' }),
    redeemFrom('127.0.0.5', 'flyers', { code: codes[0], account: 'racer-2' }),
  ])
  const statuses = answers.map((a) => a.status).sort()
  assert.deepEqual(statuses, [201, 409], answers.map((a) => a.text).join('\n'))
  assertProblem(answers.find((a) => a.status === 409), 409, 'code-used')
  assert.equal((await api.get('/v1/drops/flyers/status')).json.claimed, before + 1)
})

// Checks that guessing is throttled: one address gets 429 with Retry-After
// after its allowance (5 a minute here), while another address still gets
// answers; then many addresses together reach the drop's limit (20).
test('guessing is rate-limited per address and per drop', async () => {
  let attempts = 0
  for (let i = 0; i < 5; i++) {
    const r = await redeemFrom('127.0.1.1', 'guessme', { code: wellFormedGuess() })
    attempts++
    assertProblem(r, 404, 'code-invalid')
  }
  let r = await redeemFrom('127.0.1.1', 'guessme', { code: wellFormedGuess() })
  assertProblem(r, 429, 'too-many-redeems')
  assert.ok(Number(r.headers['retry-after']) >= 1, JSON.stringify(r.headers))
  assert.match(r.json.detail, /address/)

  r = await redeemFrom('127.0.1.2', 'guessme', { code: wellFormedGuess() })
  attempts++
  assertProblem(r, 404, 'code-invalid')

  let host = 3
  for (; attempts < 20; attempts++) {
    r = await redeemFrom(`127.0.1.${host++}`, 'guessme', { code: wellFormedGuess() })
    assertProblem(r, 404, 'code-invalid')
  }
  r = await redeemFrom(`127.0.1.${host++}`, 'guessme', { code: wellFormedGuess() })
  assertProblem(r, 429, 'too-many-redeems')
  assert.match(r.json.detail, /drop/)

  r = await api.get('/metrics')
  assert.match(r.text, /dropgate_code_redeem_refusals_total\{reason="rate_limited"\} 2/)
  assert.match(r.text, /dropgate_code_redeem_refusals_total\{reason="unknown"\} \d+/)
  assert.match(r.text, /dropgate_sales_total\{channel="code"\} 2/)
})

// Checks revocation: a batch's unused codes are revoked and their serials
// come back (unleased rises by as many), the used code stays used, a
// revoked code is refused like an unknown one, and revoking one code works.
test('revoking unused codes puts their serials back on sale', async () => {
  let r = await generate('flyers', 3, 'to revoke')
  const { batch, codes } = r.json
  r = await redeemFrom('127.0.0.6', 'flyers', { code: codes[0] })
  assert.equal(r.status, 201, r.text)
  assert.match(r.json.account, /^code:\d+$/)  // no account given: made out to the code
  const stock = await unleased('flyers')

  r = await api.post('/v1/drops/flyers/codes/revoke', { code: codes[2] })
  assert.equal(r.status, 200, r.text)
  assert.deepEqual(r.json, { revoked: 1, already_used: 0 })
  r = await api.post('/v1/drops/flyers/codes/revoke', { batch })
  assert.deepEqual(r.json, { revoked: 1, already_used: 1 })
  assert.equal(await unleased('flyers'), stock + 2)

  r = await redeemFrom('127.0.0.6', 'flyers', { code: codes[1] })
  assertProblem(r, 404, 'code-invalid')
  r = await redeemFrom('127.0.0.7', 'flyers', { code: codes[0] })
  assertProblem(r, 409, 'code-used')
  r = await api.get('/v1/drops/flyers/codes')
  const listed = r.json.batches.find((b) => b.batch === batch)
  assert.deepEqual([listed.generated, listed.used, listed.revoked, listed.unused], [3, 1, 2, 0])
  r = await api.post('/v1/drops/flyers/codes/revoke', { batch: 999999 })
  assertProblem(r, 404, 'not-found')
})

// Checks the CLI: generate writes a new owner-only CSV with a header and one
// code a line and refuses to overwrite it; list and revoke talk to the origin.
test('dropgate codes generate, list and revoke', async () => {
  const env = { ...process.env, DROPGATE_ORIGIN: origin.url, DROPGATE_API_KEY: apiKey }
  const out = join(dir, 'codes.csv')
  let run = spawnSync(dropgate, ['codes', 'generate', '--drop', 'other', '--count', '2', '--label', 'cli', '--out', out], { env })
  assert.equal(run.status, 0, run.stderr.toString())
  assert.equal(statSync(out).mode & 0o777, 0o600)
  const lines = readFileSync(out, 'utf8').trimEnd().split('\r\n')
  assert.equal(lines[0], 'code,drop,batch,label')
  assert.equal(lines.length, 3)
  const code = lines[1].split(',')[0]
  assert.match(code, CODE)

  const before = readFileSync(out)
  run = spawnSync(dropgate, ['codes', 'generate', '--drop', 'other', '--count', '1', '--out', out], { env })
  assert.equal(run.status, 1)
  assert.match(run.stderr.toString(), /exists/)
  assert.deepEqual(readFileSync(out), before)

  const r = await redeemFrom('127.0.0.8', 'other', { code, account: 'cli-buyer' })
  assert.equal(r.status, 201, r.text)

  run = spawnSync(dropgate, ['codes', 'list', '--drop', 'other'], { env })
  assert.equal(run.status, 0, run.stderr.toString())
  assert.match(run.stdout.toString(), /2 generated, 1 used, 0 revoked, 1 unused/)
  const batch = lines[1].split(',')[2]
  run = spawnSync(dropgate, ['codes', 'revoke', '--drop', 'other', '--batch', batch], { env })
  assert.equal(run.status, 0, run.stderr.toString())
  assert.match(run.stdout.toString(), /Revoked 1 unused/)
  run = spawnSync(dropgate, ['codes', 'revoke', '--drop', 'other'], { env })
  assert.notEqual(run.status, 0)
})
