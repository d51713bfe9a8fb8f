// Start a real AT Protocol PDS (with an in-memory PLC directory) on loopback for
// Watchhouse's Bluesky outlet tests, using @atproto/dev-env's TestNetworkNoAppView
// (SQLite and a disk blobstore in a temporary directory; no Docker, PostgreSQL or Redis).
//
// Creates one account, then prints ONE JSON line on stdout once ready:
//   {"ready": true, "url": ..., "handle": ..., "did": ..., "password": ...,
//    "app_password": ..., "admin_password": ..., "plc_url": ..., "start_ms": ..., ...}
// Everything else (PDS logs) goes to stderr. Stops cleanly on SIGTERM, SIGINT or
// when stdin is closed (so a killed parent never leaves a PDS behind).
//
// Usage: node serve.mjs [--port N] [--handle name.test] [--password secret]

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ADMIN_PASSWORD, TestNetworkNoAppView } from '@atproto/dev-env'

const started = performance.now()

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`)
  return index > 0 && index + 1 < process.argv.length
    ? process.argv[index + 1]
    : fallback
}

const port = Number(option('port', '0')) || undefined
const handle = option('handle', 'watchhouse.test')
const password = option('password', 'watchhouse-pds-password')

// dev-env logs through pino when LOG_ENABLED is set; keep stdout for our one line.
process.env.LOG_ENABLED = process.env.LOG_ENABLED ?? 'false'
// dev-env puts the PDS's SQLite files and blobs under os.tmpdir() and never removes them:
// give it a directory of this process's own, removed on exit.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'watchhouse-pds-'))
process.env.TMPDIR = work

let network = null
let stopping = false

async function stop(code) {
  if (stopping) return
  stopping = true
  try {
    if (network) await network.close()
  } catch (err) {
    console.error('pds: error while closing:', err)
    code = code || 1
  }
  fs.rmSync(work, { recursive: true, force: true })
  process.exit(code)
}

process.on('SIGTERM', () => stop(0))
process.on('SIGINT', () => stop(0))
process.stdin.on('end', () => stop(0))
process.stdin.on('close', () => stop(0))
process.stdin.resume()

try {
  // An explicit `port: undefined` would override dev-env's free port: leave it out.
  network = await TestNetworkNoAppView.create({ pds: port ? { port } : {} })
  // getAgent() in dev-env 0.5+, getClient() (an AtpAgent) before.
  const pds = network.pds
  const agent = pds.getAgent ? pds.getAgent() : pds.getClient()
  const created = await agent.com.atproto.server.createAccount({
    handle,
    email: `${handle.split('.')[0]}@example.test`,
    password,
  })
  await agent.login({ identifier: handle, password })
  const appPassword = await agent.com.atproto.server.createAppPassword({
    name: 'watchhouse-tests',
  })
  const line = {
    ready: true,
    url: network.pds.url,
    port: network.pds.port,
    plc_url: network.plc.url,
    handle: created.data.handle,
    did: created.data.did,
    password,
    app_password: appPassword.data.password,
    admin_password: ADMIN_PASSWORD,
    node: process.version,
    // From the modules loaded to the account made; and since the process began.
    start_ms: Math.round(performance.now() - started),
    uptime_ms: Math.round(process.uptime() * 1000),
  }
  process.stdout.write(JSON.stringify(line) + '\n')
} catch (err) {
  console.error('pds: failed to start:', err)
  await stop(1)
}
