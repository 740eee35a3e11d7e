// A local stand-in for the payment provider's API (Stripe's REST API, the
// parts dropgate calls), so checkout is tested with no network: a node HTTP
// server that records every request it receives (method, path, headers, the
// form body decoded) and answers with the JSON shapes Stripe documents.
//
//   POST /v1/checkout/sessions → a checkout.session (id cs_test_…, url, …)
//   POST /v1/refunds           → a refund (id re_test_…, status "succeeded")
//
// As Stripe does, a repeated Idempotency-Key gets the first answer again.
// failRefunds(n) makes the next n refund requests fail with HTTP 500.
import http from 'node:http'

export async function startStandin() {
  const requests = []
  const answered = new Map() // Idempotency-Key → [status, body]
  let sessionCount = 0
  let refundCount = 0
  let refundFailures = 0
  const server = http.createServer((req, res) => {
    let raw = ''
    req.on('data', (chunk) => { raw += chunk })
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(raw))
      const record = { method: req.method, path: req.url, headers: req.headers, form }
      requests.push(record)
      const send = (status, body) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      if (req.headers.authorization !== 'Bearer sk_test_dropgate') {
        return send(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } })
      }
      const key = req.headers['idempotency-key']
      if (key && answered.has(key)) return send(...answered.get(key))
      let answer
      if (req.method === 'POST' && req.url === '/v1/checkout/sessions') {
        const id = `cs_test_${++sessionCount}`
        answer = [200, {
          id, object: 'checkout.session', mode: form.mode, status: 'open', payment_status: 'unpaid',
          url: `https://checkout.standin.test/c/pay/${id}`,
          client_reference_id: form.client_reference_id,
          amount_total: Number(form['line_items[0][price_data][unit_amount]']),
          currency: form['line_items[0][price_data][currency]'],
          expires_at: Number(form.expires_at),
          metadata: { order_id: form['metadata[order_id]'], hold_id: form['metadata[hold_id]'] },
        }]
      } else if (req.method === 'POST' && req.url === '/v1/refunds') {
        if (refundFailures > 0) {
          refundFailures--
          return send(500, { error: { type: 'api_error', message: 'stand-in: refunds are failing' } })
        }
        answer = [200, {
          id: `re_test_${++refundCount}`, object: 'refund', status: 'succeeded',
          amount: Number(form.amount), payment_intent: form.payment_intent,
          reason: form.reason, metadata: { order_id: form['metadata[order_id]'] },
        }]
      } else {
        return send(404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${req.url})` } })
      }
      if (key) answered.set(key, answer)
      send(...answer)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    received: (path) => requests.filter((r) => r.path === path),
    failRefunds(n) { refundFailures = n },
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}
