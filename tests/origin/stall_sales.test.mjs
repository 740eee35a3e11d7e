// Stall sales end to end over HTTP, real processes on loopback (SQLite):
// payment readers registered with `dropgate reader`, receipts signed by the
// CLI and by npm `paseto` (an independent implementation) exchanged for
// serials exactly once per (reader, transaction) — repeated and concurrent —
// every refusal (price, currency, drop, forged, expired, revoked reader),
// declines by the reader and by the operator revoking the certificate, and
// cash sales under their Idempotency-Key.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { PublicProtocol } from '../interop/node_modules/paseto/index.js'
import {
  ImportPublicKeyFactory, ImportSecretKeyFactory, SignFactory, VerifyFactory,
} from '../interop/node_modules/paseto/v4/public.js'
import { dropgate, tempDir, initData, startOrigin, client, cleanup } from '../support/origin.mjs'

const v4 = new PublicProtocol(SignFactory, VerifyFactory, ImportPublicKeyFactory, ImportSecretKeyFactory)
let dir, origin, api, anon, apiKey, till, tillId, tillKeyId
let keyCounter = 0
const idem = () => ({ 'idempotency-key': `k-${process.pid}-${++keyCounter}` })

function cli(args, { ok = true } = {}) {
  const r = spawnSync(dropgate, args, { env: { ...process.env, DROPGATE_ORIGIN: origin.url, DROPGATE_API_KEY: apiKey } })
  if (ok) assert.equal(r.status, 0, `dropgate ${args.join(' ')}:\n${r.stderr}`)
  return { status: r.status, stdout: r.stdout.toString().trim(), stderr: r.stderr.toString() }
}

const sign = (txn, { drop = 'tape', amount = 1200, currency = 'EUR', key = till } = {}) =>
  cli(['reader', 'sign', '--key', key, '--drop', drop, '--amount', String(amount),
    '--currency', currency, '--txn', txn]).stdout

const exchange = (slug, receipt, account) =>
  anon.post(`/v1/drops/${slug}/receipts`, account ? { receipt, account } : { receipt })

function assertProblem(r, status, typeSuffix) {
  assert.equal(r.status, status, r.text)
  assert.match(r.headers.get('content-type'), /application\/problem\+json/)
  assert.ok(r.json.type.endsWith('/' + typeSuffix), `type ${r.json.type}: ${r.text}`)
}

async function makeDrop(slug, edition) {
  let r = await api.post('/v1/drops', { slug, title: slug, edition, price: { amount: 1200, currency: 'EUR' } }, idem())
  assert.equal(r.status, 201, r.text)
  r = await api.put(`/v1/drops/${slug}/assets/notes.txt`, new Uint8Array(Buffer.from('liner notes\n')))
  assert.equal(r.status, 201, r.text)
  r = await api.post(`/v1/drops/${slug}/publish`, {}, idem())
  assert.equal(r.status, 201, r.text)
}

async function npmSignedReceipt(claims, options = {}) {
  const secret = await v4.ImportSecretKey(readFileSync(join(till, 'secret.paserk'), 'utf8').trim())
  return v4.Sign(secret, {
    typ: 'receipt', iss: 'npm-till', jti: randomBytes(16).toString('base64url'), reader: tillId,
    amount: 1200, currency: 'EUR', drop: 'tape', ...claims,
  }, { footer: new TextEncoder().encode(JSON.stringify({ kid: tillKeyId })), expiresIn: 600, ...options })
}

before(async () => {
  dir = tempDir('dg-stall-')
  apiKey = initData(join(dir, 'data'))
  origin = await startOrigin(join(dir, 'data'))
  api = client(origin.url, apiKey)
  anon = client(origin.url)
  await makeDrop('tape', 30)
  await makeDrop('other', 3)
  till = join(dir, 'till')
  tillKeyId = cli(['reader', 'keygen', '--out', till]).stdout
  tillId = cli(['reader', 'register', '--name', 'till 1', '--key', till]).stdout
})
after(async () => {
  if (origin) assert.equal(await origin.stop(), 0, origin.log())
  cleanup(dir)
})

// Checks the reader's key folder (secret owner-only), its registration (id
// saved beside the key, listed by the operator) and that one key cannot be
// registered twice.
test('a reader makes its key and registers it once', async () => {
  assert.equal(statSync(join(till, 'secret.paserk')).mode & 0o777, 0o600)
  assert.match(tillId, /^rdr_/)
  assert.equal(readFileSync(join(till, 'reader-id'), 'utf8').trim(), tillId)
  const list = await api.get('/v1/readers')
  assert.equal(list.status, 200, list.text)
  const reader = list.json.readers.find((r) => r.id === tillId)
  assert.equal(reader.key_id, tillKeyId)
  assert.equal(reader.revoked_at, null)
  const again = await api.post('/v1/readers', { name: 'copy', public_key: reader.public_key }, idem())
  assertProblem(again, 409, 'reader-key-taken')
  assertProblem(await api.post('/v1/readers', { name: 'bad', public_key: 'k4.public.nope' }, idem()), 400, 'invalid-request')
  assert.equal((await anon.post('/v1/readers', { name: 'x', public_key: reader.public_key })).status, 401)
})

// Checks that a CLI-signed receipt sells one serial with a certificate and
// download token, and that repeating it answers the same serial and
// certificate instead of selling a second one.
test('a receipt sells one serial, and a repeat returns the first answer', async () => {
  const receipt = sign('T-0001')
  const first = await exchange('tape', receipt, 'alice@example.com')
  assert.equal(first.status, 201, first.text)
  assert.equal(first.json.channel, 'receipt')
  assert.equal(first.json.account, 'alice@example.com')
  assert.ok(first.json.certificate.startsWith('v4.public.'))
  assert.ok(first.json.download_token.startsWith('v4.public.'))
  const repeat = await exchange('tape', receipt, 'mallory@example.com')
  assert.equal(repeat.status, 201, repeat.text)
  assert.equal(repeat.json.serial, first.json.serial)
  assert.equal(repeat.json.certificate, first.json.certificate)
  assert.equal(repeat.json.account, 'alice@example.com')
  // Re-signed by the reader (another token, same transaction): still the same sale.
  const resigned = await exchange('tape', sign('T-0001'))
  assert.equal(resigned.json.serial, first.json.serial)
  const sales = await api.get('/v1/drops/tape/sales')
  assert.equal(sales.json.sales.filter((s) => s.transaction === 'T-0001').length, 1)
})

// Checks that eight identical receipts sent at the same moment sell exactly
// one serial: every answer names it.
test('concurrent duplicates of one receipt sell one serial', async () => {
  const receipt = sign('T-race')
  const answers = await Promise.all(Array.from({ length: 8 }, () => exchange('tape', receipt)))
  for (const a of answers) assert.equal(a.status, 201, a.text)
  assert.equal(new Set(answers.map((a) => a.json.serial)).size, 1)
  const sales = await api.get('/v1/drops/tape/sales')
  assert.equal(sales.json.sales.filter((s) => s.transaction === 'T-race').length, 1)
  assert.equal(new Set(answers.map((a) => a.json.certificate)).size, 1)
  // With a named buyer (per-buyer limit 1), a duplicate that loses the race
  // meets the limit before the key: it still answers the first sale.
  const named = sign('T-race-named')
  const same = await Promise.all(Array.from({ length: 8 }, () => exchange('tape', named, 'dave@example.com')))
  for (const a of same) assert.equal(a.status, 201, a.text)
  assert.equal(new Set(same.map((a) => a.json.serial)).size, 1)
})

// Checks interop: a receipt signed by npm paseto with the reader's key is
// exchanged, and one signed with it in the past (expired) is refused.
test('a receipt signed by npm paseto sells; an expired one is refused', async () => {
  const r = await exchange('tape', await npmSignedReceipt({ txn: 'NPM-1' }))
  assert.equal(r.status, 201, r.text)
  assert.equal(r.json.channel, 'receipt')
  const expired = await npmSignedReceipt({ txn: 'NPM-2' }, { now: new Date(Date.now() - 3600_000) })
  const refused = await exchange('tape', expired)
  assertProblem(refused, 401, 'receipt-refused')
  assert.match(refused.json.detail, /expired/)
})

// Checks each refusal of a receipt's contents: another amount, another
// currency, another drop than the path's, another reader's id under this
// key, and a key no reader registered.
test('mismatched amount, currency, drop, reader or key are refused', async () => {
  assertProblem(await exchange('tape', sign('T-low', { amount: 1199 })), 422, 'price-mismatch')
  assertProblem(await exchange('tape', sign('T-usd', { currency: 'USD' })), 422, 'price-mismatch')
  assertProblem(await exchange('tape', sign('T-drop', { drop: 'other' })), 422, 'receipt-wrong-drop')
  assertProblem(await exchange('tape', await npmSignedReceipt({ txn: 'T-spoof', reader: 'rdr_someone' })), 401, 'receipt-refused')
  const stranger = join(dir, 'stranger')
  cli(['reader', 'keygen', '--out', stranger])
  const forged = cli(['reader', 'sign', '--key', stranger, '--reader', tillId, '--drop', 'tape',
    '--amount', '1200', '--txn', 'T-forged']).stdout
  assertProblem(await exchange('tape', forged), 401, 'receipt-refused')
  assertProblem(await exchange('tape', 'v4.public.garbage'), 401, 'receipt-refused')
})

// Checks that a revoked reader's receipts are refused while the other
// reader's still sell.
test('a revoked reader sells no more', async () => {
  const second = join(dir, 'till-2')
  cli(['reader', 'keygen', '--out', second])
  const secondId = cli(['reader', 'register', '--name', 'till 2', '--key', second]).stdout
  const receipt = sign('R-1', { key: second })
  cli(['reader', 'revoke', secondId])
  assertProblem(await exchange('tape', receipt), 403, 'reader-revoked')
  assert.equal((await exchange('tape', sign('T-still'))).status, 201)
})

// Checks a reader's signed decline after the exchange: the sale becomes
// declined with its buyer listed, the certificate appears on the signed
// revocation list, and a repeat of the receipt is refused.
test('a decline revokes the certificate and shows the buyer', async () => {
  const sold = await exchange('tape', sign('T-dec'), 'bob@example.com')
  assert.equal(sold.status, 201, sold.text)
  const token = cli(['reader', 'decline', '--key', till, '--drop', 'tape', '--txn', 'T-dec',
    '--reason', 'card declined']).stdout
  const sent = cli(['reader', 'send-decline', '--token', token, '--json'])
  const sale = JSON.parse(sent.stdout)
  assert.equal(sale.state, 'declined')
  assert.equal(sale.serial, sold.json.serial)
  const certId = JSON.parse(Buffer.from(sold.json.certificate.split('.')[2], 'base64url')
    .subarray(0, -64).toString()).jti
  const list = await anon.get('/v1/revocations.json')
  assert.ok(list.json.revoked.some((r) => r.certificate_id === certId && r.serial === sold.json.serial), list.text)
  const declined = await api.get('/v1/drops/tape/sales?state=declined')
  const row = declined.json.sales.find((s) => s.transaction === 'T-dec')
  assert.equal(row.account, 'bob@example.com')
  assert.equal(row.decline_reason, 'card declined')
  assert.ok(declined.json.sales.every((s) => s.state === 'declined'))
  assertProblem(await exchange('tape', sign('T-dec')), 409, 'sale-declined')
  const listed = cli(['drop', 'sales', 'tape', '--state', 'declined']).stdout
  assert.match(listed, /T-dec .*bob@example.com .*declined \(card declined\)/)
})

// Checks that an operator's decline of a transaction not yet exchanged is
// remembered and refuses the later exchange.
test('a decline before the exchange refuses the receipt', async () => {
  const r = await api.post(`/v1/readers/${tillId}/declines`, { transaction: 'T-pre', reason: 'offline decline' })
  assert.equal(r.status, 200, r.text)
  assert.equal(r.json.serial, null)
  assertProblem(await exchange('tape', sign('T-pre')), 409, 'sale-declined')
  assertProblem(await api.post('/v1/readers/rdr_nobody/declines', { transaction: 'x' }), 404, 'not-found')
})

// Checks cash: a sale needs the price and an Idempotency-Key, a retry with
// the key answers the first serial, and the CLI records one too.
test('cash sales sell once per Idempotency-Key', async () => {
  const key = { 'idempotency-key': 'cash-sale-1' }
  const first = await api.post('/v1/drops/tape/cash', { amount: 1200, currency: 'EUR', reference: 'slip 1' }, key)
  assert.equal(first.status, 201, first.text)
  assert.equal(first.json.channel, 'cash')
  const retry = await api.post('/v1/drops/tape/cash', { amount: 1200, currency: 'EUR', reference: 'slip 1' }, key)
  assert.equal(retry.status, 201, retry.text)
  assert.equal(retry.json.serial, first.json.serial)
  // The same key with another body is not a retry.
  assertProblem(await api.post('/v1/drops/tape/cash', { amount: 1200, currency: 'EUR', reference: 'slip 2' }, key), 422, 'idempotency-key-reused')
  assertProblem(await api.post('/v1/drops/tape/cash', { amount: 1200, currency: 'EUR' }), 400, 'invalid-request')
  assertProblem(await api.post('/v1/drops/tape/cash', { amount: 1000, currency: 'EUR' }, idem()), 422, 'price-mismatch')
  assert.equal((await anon.post('/v1/drops/tape/cash', { amount: 1200, currency: 'EUR' }, idem())).status, 401)
  const printed = cli(['drop', 'cash', 'tape', '--amount', '1200', '--account', 'carol@example.com']).stdout
  assert.match(printed, /^Sold #\d+ of 30 to carol@example.com for cash/)
  const cash = (await api.get('/v1/drops/tape/sales?state=accepted')).json.sales.filter((s) => s.channel === 'cash')
  assert.equal(cash.length, 2)
  assert.equal(cash[0].reference, 'slip 1')
})

// Checks the metrics: sales by channel and declines are counted.
test('sales and declines are counted in /metrics', async () => {
  const text = (await anon.get('/metrics')).text
  const value = (re) => Number((text.match(re) || [])[1])
  assert.ok(value(/dropgate_sales_total\{channel="receipt"\} (\d+)/) >= 5, text)
  assert.equal(value(/dropgate_sales_total\{channel="cash"\} (\d+)/), 2)
  assert.equal(value(/dropgate_receipt_declines_total (\d+)/), 2)
})

// Checks the CLI's help and its refusal without a key folder.
test('dropgate reader explains itself', () => {
  for (const sub of ['keygen', 'register', 'sign', 'decline', 'send-decline', 'list', 'revoke']) {
    const help = spawnSync(dropgate, ['reader', sub, '--help'])
    assert.equal(help.status, 0)
    assert.match(help.stdout.toString(), /Usage|OPTIONS/i)
  }
  const missing = spawnSync(dropgate, ['reader', 'sign', '--key', join(dir, 'none'), '--drop', 'tape', '--amount', '1'])
  assert.notEqual(missing.status, 0)
  assert.match(missing.stderr.toString(), /dropgate: /)
})
