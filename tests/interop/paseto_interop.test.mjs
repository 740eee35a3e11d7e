// Interop with an independent PASETO implementation (npm `paseto`, v4.public):
// it must verify what `dropgate token issue` signs, and `dropgate token verify`
// must accept what it signs with the same key (imported from dropgate's PASERK files).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PublicProtocol } from 'paseto'
import {
  ImportPublicKeyFactory, ImportSecretKeyFactory, SignFactory, VerifyFactory,
} from 'paseto/v4/public'

const dropgate = process.env.DROPGATE_BIN
assert.ok(dropgate, 'set DROPGATE_BIN to the dropgate binary')
const v4 = new PublicProtocol(SignFactory, VerifyFactory, ImportPublicKeyFactory, ImportSecretKeyFactory)

let dir, keys, otherKeys, publicPaserk, secretPaserk, keyId
const encoder = new TextEncoder()

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'dg-interop-'))
  keys = join(dir, 'keys')
  otherKeys = join(dir, 'other')
  keyId = execFileSync(dropgate, ['keys', 'new', '--dir', keys]).toString().trim()
  execFileSync(dropgate, ['keys', 'new', '--dir', otherKeys])
  publicPaserk = readFileSync(join(keys, 'public.paserk'), 'utf8').trim()
  secretPaserk = readFileSync(join(keys, 'secret.paserk'), 'utf8').trim()
})
after(() => rmSync(dir, { recursive: true, force: true }))

function verifyWithDropgate(token, purpose = 'download', publicFile = join(keys, 'public.paserk')) {
  return spawnSync(dropgate, ['token', 'verify', '--public', publicFile, '--purpose', purpose, token])
}

test('npm paseto verifies a token issued by dropgate', async () => {
  const token = execFileSync(dropgate, [
    'token', 'issue', '--keys', keys, '--purpose', 'download', '--drop', 'summer-tape',
    '--account', 'buyer-17', '--ttl-s', '300', '--asset', 'side-a.flac',
  ]).toString().trim()
  const publicKey = await v4.ImportPublicKey(publicPaserk)
  const { claims, footer } = await v4.Verify(publicKey, token, { issuer: 'dropgate', subject: 'buyer-17' })
  assert.equal(claims.typ, 'download')
  assert.equal(claims.drop, 'summer-tape')
  assert.deepEqual(claims.assets, ['side-a.flac'])
  assert.equal(typeof claims.jti, 'string')
  const expiresInS = (Date.parse(claims.exp) - Date.parse(claims.iat)) / 1000
  assert.equal(expiresInS, 300)
  assert.deepEqual(JSON.parse(new TextDecoder().decode(footer)), { kid: keyId })
})

test('npm paseto refuses a dropgate token verified under another key', async () => {
  const token = execFileSync(dropgate, [
    'token', 'issue', '--keys', keys, '--purpose', 'download', '--drop', 'summer-tape',
    '--account', 'buyer-17',
  ]).toString().trim()
  const other = await v4.ImportPublicKey(readFileSync(join(otherKeys, 'public.paserk'), 'utf8').trim())
  await assert.rejects(v4.Verify(other, token))
})

async function npmSignedDownload(extra = {}, options = {}) {
  const secretKey = await v4.ImportSecretKey(secretPaserk)
  const claims = {
    typ: 'download', iss: 'dropgate', sub: 'buyer-42', drop: 'summer-tape', ver: 3,
    assets: ['*'], jti: 'npm-signed-1', ...extra,
  }
  return v4.Sign(secretKey, claims, {
    footer: encoder.encode(JSON.stringify({ kid: keyId })), expiresIn: 120, ...options,
  })
}

test('dropgate token verify accepts a token signed by npm paseto with the same key', async () => {
  const token = await npmSignedDownload()
  const result = verifyWithDropgate(token)
  assert.equal(result.status, 0, result.stderr.toString())
  const fields = JSON.parse(result.stdout.toString())
  assert.equal(fields.typ, 'download')
  assert.equal(fields.sub, 'buyer-42')
  assert.equal(fields.ver, 3)
  assert.equal(fields.jti, 'npm-signed-1')
  assert.equal(fields.kid, keyId)
})

test('dropgate refuses npm-signed tokens that are re-purposed, expired or under another key', async () => {
  const cert = await npmSignedDownload({ typ: 'cert' })
  let result = verifyWithDropgate(cert)
  assert.notEqual(result.status, 0)
  assert.match(result.stderr.toString(), /"download" token is needed/)

  const expired = await npmSignedDownload({}, { now: new Date(Date.now() - 3600_000) })
  result = verifyWithDropgate(expired)
  assert.notEqual(result.status, 0)
  assert.match(result.stderr.toString(), /expired/)

  result = verifyWithDropgate(await npmSignedDownload(), 'download', join(otherKeys, 'public.paserk'))
  assert.notEqual(result.status, 0)
  assert.match(result.stderr.toString(), /unknown key/)
})
