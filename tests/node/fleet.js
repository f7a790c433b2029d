// The fleet under test and the SDK's clients for it. tests/it/web.rs starts `fleetsh serve`
// and passes its address and owner key in the environment.
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { MethodKind, Timestamp } from '@bufbuild/protobuf';
import { createPromiseClient } from '@connectrpc/connect';
import { appRobotApi, commonApi, createViamClient } from '@viamrobotics/sdk';

function need(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run this suite through \`cargo test --test it web\` (tests/it/web.rs), which starts the fleet and sets it`);
  }
  return v;
}

export const fleet = {
  address: need('FLEETSH_ADDRESS'),
  keyId: need('FLEETSH_API_KEY_ID'),
  key: need('FLEETSH_API_KEY'),
  org: need('FLEETSH_ORG_ID'),
  location: need('FLEETSH_LOCATION_ID'),
};

// 'grpc-web' (the SDK's default: fetch over HTTP/1.1) or 'grpc' (connect-node over HTTP/2,
// through the SDK's transport hook).
export const transport = process.env.FLEETSH_TRANSPORT ?? 'grpc-web';
let made = 0;
export const hookCalls = () => made;
if (transport === 'grpc') {
  globalThis.VIAM = {
    GRPC_TRANSPORT_FACTORY: (opts) => {
      made += 1;
      return createGrpcTransport({ baseUrl: opts.baseUrl, httpVersion: '2' });
    },
  };
} else if (transport !== 'grpc-web') {
  throw new Error(`FLEETSH_TRANSPORT=${transport}: expected grpc-web or grpc`);
}

/** A ViamClient holding an API key. */
export function connect(keyId = fleet.keyId, key = fleet.key) {
  return createViamClient({
    serviceHost: fleet.address,
    credentials: { type: 'api-key', authEntity: keyId, payload: key },
  });
}

// RobotService/Log is not part of AppClient; a machine sends its logs with it. The client's
// transport (holding the token) carries it, so logs arrive the way a tail reads them.
const RobotService = {
  typeName: 'viam.app.v1.RobotService',
  methods: {
    log: { name: 'Log', I: appRobotApi.LogRequest, O: appRobotApi.LogResponse, kind: MethodKind.Unary },
  },
};

/** A function sending one log entry of a part, as the machine would. */
export function logSender(viam) {
  const robot = createPromiseClient(RobotService, viam.transport);
  return (part, message, level = 'info') =>
    robot.log({
      id: part,
      logs: [new commonApi.LogEntry({ host: 'node', level, time: Timestamp.now(), loggerName: 'node-test', message })],
    });
}

// What each call answered, reduced to its shape (field names, value types, list lengths,
// error codes), so that two runs through different transports can be compared by the Rust
// test: ids, secrets and times differ between runs, shapes must not.
const shapes = {};

function shape(v) {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(shape);
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (typeof v === 'bigint') return 'int64';
  if (typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = shape(v[k]);
    return out;
  }
  return typeof v;
}

/** Records `value`'s shape under `name` and returns it. */
export function record(name, value) {
  shapes[name] = shape(value === undefined ? null : JSON.parse(JSON.stringify(value, (_, x) => (typeof x === 'bigint' ? `${x}` : x))));
  return value;
}

/** Records the error code `promise` rejects with; fails when it resolves. */
export async function recordError(name, promise) {
  try {
    const v = await promise;
    throw new Error(`${name}: expected an error, got ${JSON.stringify(v)}`);
  } catch (e) {
    if (e.code === undefined) throw e;
    shapes[name] = { error: e.code };
    return e;
  }
}

export function writeShapes() {
  const out = process.env.FLEETSH_SHAPES;
  if (out) {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(shapes, null, 1));
  }
}
