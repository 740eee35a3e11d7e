// Online checkout end to end, real processes on loopback: an origin (SQLite)
// whose payment provider is a local stand-in (tests/support/stripe_standin.mjs),
// and webhooks signed by the npm `stripe` package's own test helper
// (stripe.webhooks.generateTestHeaderString), not by our code.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { dropgate, tempDir, initData, startOrigin, client, cleanup } from '../support/origin.mjs'
import { startStandin } from '../support/stripe_standin.mjs'

const require = createRequire(new URL('../interop/package.json', import.meta.url))
const Stripe = require('stripe')
const stripe = new Stripe('sk_test_unused')

let dir, standin, origin, api, anon, apiKey
let counter = 0
const idem = () => ({ 'idempotency-key': `k-${process.pid}-${++counter}` })
const nowS = () => Math.floor(Date.now() / 1000)

async function makeDrop(slug, edition = 3, amount = 1500) {
  let r = await api.post('/v1/drops', { slug, title: `Tape ${slug}`, edition, price: { amount, currency: 'EUR' } }, idem())
  assert.equal(r.status, 201, r.text)
  r = await api.put(`/v1/drops/${slug}/assets/notes.txt`, new TextEncoder().encode('liner notes\n'))
  assert.equal(r.status, 201, r.text)
  r = await api.post(`/v1/drops/${slug}/publish`, {}, idem())
  assert.equal(r.status, 201, r.text)
}

// Starts a checkout; returns the order id, its session as the stand-in saw it, and a payment intent.
async function checkout(slug, account) {
  const r = await anon.post(`/v1/drops/${slug}/checkout`, { account })
  assert.equal(r.status, 201, r.text)
  const session = standin.received('/v1/checkout/sessions').find((s) => s.form.client_reference_id === r.json.order)
  assert.ok(session, 'the provider received no session for the order')
  return { ...r.json, session, pi: `pi_${r.json.order.slice(0, 8)}_${++counter}` }
}

function completedEvent(order, { amount = 1500, currency = 'eur', pi = order.pi, id } = {}) {
  return {
    id: id ?? `evt_${++counter}`, object: 'event', type: 'checkout.session.completed',
    data: { object: {
      id: `cs_for_${order.order}`, object: 'checkout.session',
      client_reference_id: order.order, payment_intent: pi, amount_total: amount, currency,
      payment_status: 'paid', metadata: { order_id: order.order },
    } },
  }
}

const refundedEvent = (pi, amount = 1500, extra = {}) => ({
  id: `evt_${++counter}`, object: 'event', type: 'charge.refunded',
  data: { object: { id: `ch_${counter}`, object: 'charge', payment_intent: pi, amount_refunded: amount, currency: 'eur', ...extra } },
})

// Posts an event as the provider would: the exact bytes, signed by the stripe package's helper.
async function deliver(event, { secret = 'whsec_new', timestamp = nowS(), header } = {}) {
  const payload = JSON.stringify(event)
  const signature = header ?? stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp })
  const res = await fetch(`${origin.url}/v1/webhooks/stripe`, {
    method: 'POST', body: payload,
    headers: { 'content-type': 'application/json', ...(signature ? { 'stripe-signature': signature } : {}) },
  })
  const text = await res.text()
  let json
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: res.status, text, json }
}

const order = async (id) => (await anon.get(`/v1/orders/${id}`)).json
const claimed = async (slug) => (await api.get(`/v1/drops/${slug}/status`)).json.claimed

before(async () => {
  dir = tempDir('dg-checkout-')
  standin = await startStandin()
  apiKey = initData(join(dir, 'data'), [
    `payment_api_base = "${standin.url}"`,
    'payment_secret_key = "sk_test_dropgate"',
    'webhook_secrets = "whsec_new, whsec_old"',
    'checkout_hold_ttl_s = 1800',
  ].join('\n') + '\n')
  origin = await startOrigin(join(dir, 'data'))
  api = client(origin.url, apiKey)
  anon = client(origin.url)
})
after(async () => {
  if (origin) assert.equal(await origin.stop(), 0, origin.log())
  if (standin) await standin.close()
  cleanup(dir)
})

// The hold comes first, then the session; the session carries the order, the
// drop's price and title, and ends no later than the hold.
test('a checkout holds a serial and opens a session at the provider for it', async () => {
  await makeDrop('tape-a')
  const before = nowS()
  const o = await checkout('tape-a', 'ann@example.com')
  const f = o.session.form
  assert.equal(o.session.headers.authorization, 'Bearer sk_test_dropgate')
  assert.match(o.session.headers['content-type'], /application\/x-www-form-urlencoded/)
  assert.equal(f.mode, 'payment')
  assert.equal(f['line_items[0][price_data][unit_amount]'], '1500')
  assert.equal(f['line_items[0][price_data][currency]'], 'eur')
  assert.equal(f['line_items[0][price_data][product_data][name]'], 'Tape tape-a')
  assert.equal(f['metadata[order_id]'], o.order)
  assert.ok(Number(f['metadata[hold_id]']) > 0)
  assert.equal(f.customer_email, 'ann@example.com')
  const holdEnds = Date.parse(o.expires_at) / 1000
  assert.ok(Number(f.expires_at) <= holdEnds, 'the session outlives the hold')
  assert.ok(Number(f.expires_at) >= before + 1800 - 5, 'the session is shorter than 30 minutes')
  assert.match(o.order, /^[A-Za-z0-9_-]{22}$/, '128 random bits, base64url')
  const view = await order(o.order)
  assert.equal(view.state, 'pending')
  assert.equal(view.checkout_url, o.checkout_url)
  assert.equal((await anon.get('/v1/orders/not-an-order')).status, 404)
})

// One claim per order, however often (and under whichever event id) the
// completion is delivered.
test('a valid completion claims the held serial once; redeliveries make no second claim', async () => {
  await makeDrop('tape-b')
  const o = await checkout('tape-b', 'bea@example.com')
  const event = completedEvent(o)
  const first = await deliver(event)
  assert.equal(first.status, 200, first.text)
  assert.equal(first.json.outcome, 'claimed')
  const view = await order(o.order)
  assert.equal(view.state, 'claimed')
  assert.ok(view.claim.serial >= 1)
  assert.match(view.claim.certificate, /^v4\.public\./)
  assert.match(view.claim.download_token, /^v4\.public\./)
  const again = await deliver(event)
  assert.equal(again.json.outcome, 'duplicate')
  const otherId = await deliver(completedEvent(o))
  assert.equal(otherId.status, 200, otherId.text)
  assert.equal((await order(o.order)).claim.serial, view.claim.serial)
  assert.equal(await claimed('tape-b'), 1)
  const metrics = (await anon.get('/metrics')).text
  assert.match(metrics, /dropgate_sales_total\{channel="checkout"\} [1-9]/)
  assert.match(metrics, /dropgate_webhook_events_total\{[^}]*outcome="duplicate"[^}]*\} 1/)
  assert.match(metrics, /dropgate_checkout_sessions_total [1-9]/)
})

// A crash after the claim committed and before the order (or the event id)
// was written, simulated by putting the order back as it was then: the
// redelivery, under a new event id, finds the claim by its order-keyed
// record and answers with the same serial, never a second one.
test('a redelivery after a crash between the claim and the order update makes no second claim', async () => {
  await makeDrop('tape-crash')
  const o = await checkout('tape-crash', 'ida@example.com')
  assert.equal((await deliver(completedEvent(o))).json.outcome, 'claimed')
  const serial = (await order(o.order)).claim.serial
  execFileSync('sqlite3', [join(dir, 'data', 'dropgate.db'),
    `UPDATE orders SET state = 'paid', serial = NULL WHERE id = '${o.order}'`])
  const redelivered = await deliver(completedEvent(o))
  assert.equal(redelivered.status, 200, redelivered.text)
  assert.equal(redelivered.json.outcome, 'claimed')
  assert.equal((await order(o.order)).claim.serial, serial)
  assert.equal(await claimed('tape-crash'), 1)
})

// Every refusal is a 400 problem of type webhook-signature, and nothing happens.
test('forged, stale, future-dated and unsigned webhooks are refused', async () => {
  await makeDrop('tape-c')
  const o = await checkout('tape-c', 'cat@example.com')
  const event = completedEvent(o)
  for (const [what, options] of [
    ['forged', { secret: 'whsec_attacker' }],
    ['stale', { timestamp: nowS() - 330 }],
    ['future-dated', { timestamp: nowS() + 330 }],  // beyond 300 s, whatever second the origin reads its clock in
    ['unsigned', { header: '' }],
    ['malformed', { header: 't=abc,v1=zz' }],
  ]) {
    const r = await deliver(event, options)
    assert.equal(r.status, 400, `${what}: ${r.text}`)
    assert.ok(r.json.type.endsWith('/webhook-signature'), `${what}: ${r.json.type}`)
  }
  const payload = JSON.stringify(event)
  const header = stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_new' })
  const tampered = await deliver({ ...event, id: 'evt_tampered' }, { header })
  assert.equal(tampered.status, 400, 'a body changed after signing passed')
  assert.equal((await order(o.order)).state, 'pending')
  assert.equal(await claimed('tape-c'), 0)
})

// Rotation: both configured secrets are accepted, and a header with several v1 values.
test('a webhook signed with the old secret during a rotation is accepted', async () => {
  await makeDrop('tape-d')
  const o = await checkout('tape-d', 'dan@example.com')
  const r = await deliver(completedEvent(o), { secret: 'whsec_old' })
  assert.equal(r.status, 200, r.text)
  assert.equal(r.json.outcome, 'claimed')
  const payload = JSON.stringify({ id: `evt_${++counter}`, type: 'invoice.paid' })
  const t = nowS()
  const unknown = stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_gone', timestamp: t })
  const known = stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_new', timestamp: t })
  const both = `${unknown},${known.split(',')[1]}`
  const res = await fetch(`${origin.url}/v1/webhooks/stripe`, { method: 'POST', body: payload, headers: { 'stripe-signature': both } })
  assert.equal(res.status, 200)
  assert.equal((await res.json()).outcome, 'ignored')
})

test('a payment of another amount or currency goes to review, not to a claim', async () => {
  await makeDrop('tape-e')
  const o = await checkout('tape-e', 'eve@example.com')
  const r = await deliver(completedEvent(o, { amount: 100 }))
  assert.equal(r.json.outcome, 'review')
  const o2 = await checkout('tape-e', 'eli@example.com')
  assert.equal((await deliver(completedEvent(o2, { currency: 'usd' }))).json.outcome, 'review')
  const view = await order(o.order)
  assert.equal(view.state, 'review')
  assert.match(view.note, /paid 100 EUR/)
  assert.equal(view.claim, undefined)
  assert.equal(await claimed('tape-e'), 0)
})

// A refund delivered before its completion is recorded; the completion then
// makes no claim, so no certificate ever exists for the refunded payment.
test('an out-of-order refund that arrives before the completion wins', async () => {
  await makeDrop('tape-f')
  const o = await checkout('tape-f', 'fay@example.com')
  const early = await deliver(refundedEvent(o.pi))
  assert.equal(early.status, 200, early.text)
  assert.equal(early.json.outcome, 'recorded_before_completion')
  const late = await deliver(completedEvent(o))
  assert.equal(late.json.outcome, 'reversed_before_completion')
  assert.equal((await order(o.order)).state, 'refunded')
  assert.equal(await claimed('tape-f'), 0)
})

test('a refund or a dispute after the claim revokes its certificate', async () => {
  await makeDrop('tape-g')
  const o = await checkout('tape-g', 'gus@example.com')
  await deliver(completedEvent(o))
  const serial = (await order(o.order)).claim.serial
  const r = await deliver(refundedEvent(o.pi))
  assert.equal(r.json.outcome, 'revoked')
  assert.equal((await order(o.order)).state, 'refunded')
  assert.equal((await anon.get(`/v1/drops/tape-g/certificates/${serial}`)).json.revoked, true)
  const o2 = await checkout('tape-g', 'gwen@example.com')
  await deliver(completedEvent(o2))
  const serial2 = (await order(o2.order)).claim.serial
  const dispute = { id: `evt_${++counter}`, type: 'charge.dispute.created', data: { object: { id: 'dp_1', object: 'dispute', payment_intent: o2.pi, amount: 1500, currency: 'eur' } } }
  assert.equal((await deliver(dispute)).json.outcome, 'revoked')
  assert.equal((await order(o2.order)).state, 'disputed')
  const list = (await anon.get('/v1/revocations.json')).json
  assert.ok(JSON.stringify(list).includes(`"serial":${serial2}`), JSON.stringify(list))
})

// Paid after the hold was gone, and the drop sold out: never a charge without
// a serial. The refund is queued before the provider is asked; it fails once,
// survives a restart of the origin, and the retry reaches the provider with
// the same Idempotency-Key (one refund). The order shows each step.
test('paid but sold out: a refund is requested, recorded, retried across a restart, and shown', async () => {
  await makeDrop('last-one', 1)
  const o = await checkout('last-one', 'hal@example.com')
  // The operator sells the held serial first (confirming the hold by hand):
  // the payment that follows finds its hold gone and the drop sold out.
  const hold = o.session.form['metadata[hold_id]']
  assert.equal((await api.post(`/v1/holds/${hold}/confirm`, {}, idem())).status, 201)
  standin.failRefunds(1)
  const r = await deliver(completedEvent(o))
  assert.equal(r.status, 200, r.text)
  assert.equal(r.json.outcome, 'refund_queued')
  let view = await order(o.order)
  assert.equal(view.state, 'refund_pending')
  assert.equal(view.note, 'sold-out')
  let refunds = (await api.get('/v1/refunds')).json.refunds
  const queued = refunds.find((x) => x.order === o.order)
  assert.equal(queued.state, 'failed')
  assert.equal(queued.attempts, 1)
  assert.equal(queued.amount, 1500)
  assert.equal(queued.payment_intent, o.pi)
  assert.match((await anon.get('/metrics')).text, /dropgate_refunds_queued 1/)

  assert.equal(await origin.stop(), 0, origin.log())
  origin = await startOrigin(join(dir, 'data'))
  api = client(origin.url, apiKey)
  anon = client(origin.url)
  // The operator sees the queue and retries through the CLI.
  // Asynchronous: the stand-in answering the origin runs in this process.
  const cli = (...args) => new Promise((resolve) => {
    execFile(dropgate, ['refunds', ...args, '--origin', origin.url, '--api-key', apiKey],
      (err, stdout, stderr) => resolve({ status: err ? err.code : 0, stdout, stderr }))
  })
  const listed = await cli('list')
  assert.equal(listed.status, 0, listed.stderr.toString())
  assert.match(listed.stdout.toString(), new RegExp(`${queued.id}  failed  1 attempt\\(s\\)  1500 EUR  sold-out  order ${o.order}`))
  const unknown = await cli('retry', '999999')
  assert.notEqual(unknown.status, 0)
  assert.match(unknown.stderr.toString(), /404/)
  const retried = await cli('retry', String(queued.id), '--json')
  assert.equal(retried.status, 0, retried.stderr.toString())
  assert.equal(JSON.parse(retried.stdout.toString()).state, 'succeeded')
  view = await order(o.order)
  assert.equal(view.state, 'refunded')
  const sent = standin.received('/v1/refunds').filter((x) => x.form['metadata[order_id]'] === o.order)
  assert.equal(sent.length, 2)
  assert.equal(sent[0].headers['idempotency-key'], sent[1].headers['idempotency-key'])
  assert.equal(sent[1].form.payment_intent, o.pi)
  assert.equal(sent[1].form.amount, '1500')
  assert.equal(await claimed('last-one'), 1)
})
