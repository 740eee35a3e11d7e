// A TCP proxy a test controls, to put a network partition between two real
// processes on loopback: cut() destroys every open connection and closes each
// new one as soon as it is accepted; heal() lets connections through again.
import net from 'node:net'

export async function startProxy(targetPort, targetHost = '127.0.0.1') {
  let open = true
  const sockets = new Set()
  const track = (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)) }
  const server = net.createServer((client) => {
    client.on('error', () => {})
    if (!open) { client.destroy(); return }
    const upstream = net.connect(targetPort, targetHost)
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    track(client)
    track(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = server.address().port
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    cut() {
      open = false
      for (const s of sockets) s.destroy()
    },
    heal() { open = true },
    isOpen: () => open,
    close() {
      open = false
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(resolve))
    },
  }
}
