// Running an origin as an operator would: a configured upload limit holds,
// a second `serve` on a port already taken fails without disturbing the
// origin that serves there (its seller and leases stay its own), and a
// failure of the server's own reaches its log, not its clients.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import net from 'node:net'
import { dropgate, tempDir, initData, startOrigin, client, waitFor, cleanup } from '../support/origin.mjs'

let dir, data, origin, api
let keyCounter = 0
const idem = () => ({ 'idempotency-key': `ops-${process.pid}-${++keyCounter}` })
const uploadBytesMax = 4096

// A port nobody listens on now, so the origin's default instance name
// (HOST:PORT) is the one a second `serve` on that port would take.
async function freePort() {
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

before(async () => {
  dir = tempDir('dg-serve-ops-')
  data = join(dir, 'data')
  const key = initData(data, `upload_bytes_max = ${uploadBytesMax}\n`)
  origin = await startOrigin(data, { port: await freePort() })
  api = client(origin.url, key)
})
after(async () => {
  if (origin) assert.equal(await origin.stop(), 0, origin.log())
  cleanup(dir)
})

// upload_bytes_max from dropgate.toml is what the upload route accepts: one
// byte more is 413 before the body is stored; exactly the limit is accepted.
test('an upload over upload_bytes_max is refused with 413', async () => {
  let r = await api.post('/v1/drops', { slug: 'small-files', title: 'Small files', edition: 5 }, idem())
  assert.equal(r.status, 201, r.text)
  r = await api.put('/v1/drops/small-files/assets/big.bin', new Uint8Array(uploadBytesMax + 1))
  assert.equal(r.status, 413, r.text)
  assert.match(r.headers.get('content-type'), /application\/problem\+json/)
  r = await api.put('/v1/drops/small-files/assets/fits.bin', new Uint8Array(uploadBytesMax))
  assert.equal(r.status, 201, r.text)
  assert.equal(r.json.size, uploadBytesMax)
})

// The second `serve` shares the data folder and the port, hence the instance
// name. It must fail to bind before registering a seller: registering would
// supersede the running origin's seller and return its leased serials to the
// pool, so the running origin's next claim from its lease would fail.
test('a second serve on a taken port fails and leaves the running origin its lease', async () => {
  let r = await api.post('/v1/drops', { slug: 'one-lease', title: 'One lease', edition: 100 }, idem())
  assert.equal(r.status, 201, r.text)
  r = await api.put('/v1/drops/one-lease/assets/a.txt', new Uint8Array(Buffer.from('a\n')))
  assert.equal(r.status, 201, r.text)
  r = await api.post('/v1/drops/one-lease/publish', {}, idem())
  assert.equal(r.status, 201, r.text)
  const first = await api.post('/v1/drops/one-lease/claims', { account: 'buyer-1' }, idem())
  assert.equal(first.status, 201, first.text)  // the origin now holds a lease of several serials

  const second = spawnSync(dropgate, ['serve', '--data', data, '--listen', `127.0.0.1:${origin.port}`],
    { timeout: 20000 })
  assert.equal(second.status, 1, second.stderr.toString())
  assert.match(second.stderr.toString(), new RegExp(`127\\.0\\.0\\.1:${origin.port}.*in use`, 'i'))

  // The next serial of the same lease sells, under the same seller.
  const next = await api.post('/v1/drops/one-lease/claims', { account: 'buyer-2' }, idem())
  assert.equal(next.status, 201, next.text)
  assert.equal(next.json.serial, first.json.serial + 1)
  assert.equal(origin.log().match(/seller started/g).length, 1, origin.log())
  assert.doesNotMatch(origin.log(), /seller replaced|lease refused/)
  assert.doesNotMatch(second.stderr.toString(), /seller started/)
  assert.match(second.stderr.toString(), /another origin/)
})

// Operator keys are held in memory (never looked up on an I/O thread) and
// refreshed from the store every second: a key that `dropgate init` adds
// while the origin runs works once the refresh has seen it, and a junk key
// never does.
test('a key made by init while the origin runs is accepted after the refresh', async () => {
  const newKey = initData(data)
  const fresh = client(origin.url, newKey)
  await waitFor('the new operator key to be accepted', async () => (await fresh.get('/v1/drops')).status === 200)
  assert.equal((await client(origin.url, newKey + 'x').get('/v1/drops')).status, 401)
})

// A failure of ours is a 500 that tells the client the generic type, a
// generic detail and the request id, and nothing else: here the disk fails
// (the folder an upload's blob must go into is a file), and the real error,
// which names a path on the server, reaches the log line of that request
// under the same request id, never the client.
test('a 500 sends the client only its request id and logs the error with it', async () => {
  let r = await api.post('/v1/drops', { slug: 'broken-disk', title: 'Broken disk', edition: 1 }, idem())
  assert.equal(r.status, 201, r.text)
  const bytes = Buffer.from('unstorable\n')
  const blobFolder = join(data, 'blobs', createHash('sha256').update(bytes).digest('hex').slice(0, 2))
  writeFileSync(blobFolder, 'not a folder')
  try {
    r = await api.put('/v1/drops/broken-disk/assets/a.txt', new Uint8Array(bytes))
  } finally {
    rmSync(blobFolder, { force: true })
  }
  assert.equal(r.status, 500, r.text)
  assert.deepEqual(Object.keys(r.json).sort(), ['detail', 'instance', 'status', 'title', 'type'])
  assert.equal(r.json.type, 'https://dropgate.dev/problems/internal')
  assert.equal(r.json.title, 'Internal error')
  assert.match(r.json.detail, /request id/)
  assert.equal(r.json.instance, r.headers.get('x-request-id'))
  assert.ok(!r.text.includes(dir) && !r.text.includes('blobs'), r.text)

  // Whole JSON lines only: the last one may still be arriving.
  const requestLine = () => origin.log().split('\n').filter((l) => l.startsWith('{') && l.endsWith('}'))
    .map((l) => JSON.parse(l)).find((l) => l.msg === 'request' && l.request_id === r.json.instance)
  const line = await waitFor(`the log line of request ${r.json.instance}`, requestLine)
  assert.equal(line.status, 500)
  assert.equal(line.level, 'error')
  assert.ok(line.error.includes(blobFolder), line.error)
})
