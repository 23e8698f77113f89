// server.mjs runs npm's oidc-provider on 127.0.0.1 at a free port for
// latchkey's interoperability tests (e2e_interop_test.go). Once it listens
// it prints {"issuer": "http://127.0.0.1:PORT"} as one line on stdout, then
// one JSON line per event the tests watch for. It stops on SIGTERM or SIGINT.
//
// Environment: LK_CLIENT_ID, LK_CLIENT_SECRET, LK_REDIRECT_URI,
// LK_POST_LOGOUT_URI, LK_BACKCHANNEL_URI.
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

import { configuration } from './config.mjs';

const required = ['LK_CLIENT_ID', 'LK_CLIENT_SECRET', 'LK_REDIRECT_URI', 'LK_POST_LOGOUT_URI', 'LK_BACKCHANNEL_URI'];
const missing = required.filter((name) => !process.env[name]);
if (missing.length > 0) {
  console.error(`server.mjs: missing environment variables: ${missing.join(', ')}`);
  process.exit(2);
}

const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

const server = createServer();
const stop = () => {
  if (!server.listening) process.exit(0);
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// The issuer names the port, so the port is chosen before the provider is made.
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, configuration(process.env));
provider.on('grant.success', (ctx) => print({ event: 'grant.success', grant_type: ctx.oidc.params.grant_type }));
provider.on('backchannel.success', (ctx, client) => print({ event: 'backchannel.success', client_id: client.clientId }));
provider.on('backchannel.error', (ctx, err, client) => print({ event: 'backchannel.error', client_id: client.clientId, error: err.message }));
provider.on('server_error', (ctx, err) => console.error('server_error:', err));
server.on('request', provider.callback());

print({ issuer });
