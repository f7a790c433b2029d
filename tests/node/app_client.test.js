// Every AppClient method of the unchanged TypeScript SDK against the local fleet, through the
// transport FLEETSH_TRANSPORT names. Each test builds on the ones before it (one fleet, fresh
// per run), so they run in order.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Struct } from '@bufbuild/protobuf';
import { Code } from '@connectrpc/connect';
import { appApi, createViamClient } from '@viamrobotics/sdk';
import { fleet, connect, logSender, record, recordError, writeShapes, transport, hookCalls } from './fleet.js';

const PACKAGE_TYPE_ML_MODEL = 2; // viam.app.packages.v1.PackageType; the SDK does not export it.

const viam = await connect();
// Records which AppClient methods the suite called: the last test requires all of them.
const called = new Set();
const app = new Proxy(viam.appClient, {
  get(target, name) {
    const v = target[name];
    if (typeof v !== 'function') return v;
    called.add(name);
    return v.bind(target);
  },
});
const { org, location: firstLoc } = fleet;
const s = {}; // ids made along the way

after(writeShapes);

const auth = (role, type, id, identity = '') =>
  new appApi.Authorization({
    authorizationType: 'role',
    authorizationId: `${type}_${role}`,
    resourceType: type,
    resourceId: id,
    organizationId: org,
    identityId: identity,
    identityType: 'api-key',
  });

const sendLog = logSender(viam);

test('organizations', async () => {
  const orgs = record('listOrganizations', await app.listOrganizations());
  assert.ok(orgs.some((o) => o.id === org), `listOrganizations has no ${org}`);
  const got = record('getOrganization', await app.getOrganization(org));
  assert.equal(got.id, org);
  s.ns = got.publicNamespace;
  assert.ok(s.ns, 'the first organization has a public namespace');
  const renamed = record('updateOrganization', await app.updateOrganization(org, 'node org'));
  assert.equal(renamed.name, 'node org');
  assert.equal(renamed.publicNamespace, s.ns);
  assert.equal(record('nsTaken', await app.getOrganizationNamespaceAvailability(s.ns)), false);
  assert.equal(record('getOrganizationNamespaceAvailability', await app.getOrganizationNamespaceAvailability('free-ns')), true);

  s.user = record('getUserIDByEmail', await app.getUserIDByEmail('admin@localhost'));
  assert.ok(s.user);
  const byUser = record('listOrganizationsByUser', await app.listOrganizationsByUser(s.user));
  assert.ok(byUser.some((o) => o.orgId === org), 'the owner user is in the organization');

  const peer = record('createOrganization', await app.createOrganization('node peer'));
  assert.equal(peer.name, 'node peer');
  s.peer = peer.id;
});

test('members and invites', async () => {
  const members = record('listOrganizationMembers', await app.listOrganizationMembers(org));
  assert.ok(members.members.some((m) => m.userId === s.user));
  const email = 'friend@example.com';
  const invite = record('createOrganizationInvite', await app.createOrganizationInvite(org, email, [auth('operator', 'organization', org)], false));
  assert.equal(invite.email, email);
  const updated = record(
    'updateOrganizationInviteAuthorizations',
    await app.updateOrganizationInviteAuthorizations(org, email, [auth('owner', 'location', firstLoc)], []),
  );
  assert.equal(updated.authorizations.length, 2);
  const resent = record('resendOrganizationInvite', await app.resendOrganizationInvite(org, email));
  assert.equal(resent.email, email);
  assert.ok((await app.listOrganizationMembers(org)).invites.some((i) => i.email === email));
  await app.deleteOrganizationInvite(org, email);
  assert.ok(!(await app.listOrganizationMembers(org)).invites.some((i) => i.email === email), 'deleted invite still listed');
});

test('locations and their secrets', async () => {
  const loc = record('createLocation', await app.createLocation(org, 'node loc'));
  assert.equal(loc.name, 'node loc');
  s.loc = loc.id;
  const child = await app.createLocation(org, 'node child', s.loc);
  assert.equal(child.parentLocationId, s.loc);
  assert.equal(record('getLocation', await app.getLocation(s.loc)).name, 'node loc');
  assert.equal(record('updateLocation', await app.updateLocation(s.loc, 'node loc 2')).name, 'node loc 2');
  const listed = record('listLocations', await app.listLocations(org));
  assert.deepEqual(
    listed.map((l) => l.name).sort(),
    ['node child', 'node loc 2', ...listed.filter((l) => l.id === firstLoc).map((l) => l.name)].sort(),
  );
  const before = record('locationAuth', await app.locationAuth(s.loc)).secrets.length;
  const more = record('createLocationSecret', await app.createLocationSecret(s.loc));
  assert.equal(more.secrets.length, before + 1);
  await app.deleteLocationSecret(s.loc, more.secrets.at(-1).id);
  assert.equal((await app.locationAuth(s.loc)).secrets.length, before);
  await app.deleteLocation(child.id);
  const e = await recordError('getLocation deleted', app.getLocation(child.id));
  assert.equal(e.code, Code.NotFound, e.message);
});

test('machines and parts', async () => {
  s.robot = record('newRobot', await app.newRobot(s.loc, 'node-bot'));
  assert.equal(record('getRobot', await app.getRobot(s.robot)).name, 'node-bot');
  assert.deepEqual(record('listRobots', await app.listRobots(s.loc)).map((r) => r.id), [s.robot]);
  assert.equal(record('updateRobot', await app.updateRobot(s.robot, s.loc, 'node-bot-2')).name, 'node-bot-2');
  const parts = record('getRobotParts', await app.getRobotParts(s.robot));
  assert.equal(parts.length, 1);
  assert.ok(parts[0].mainPart);
  s.part = parts[0].id;
  const part = record('getRobotPart', await app.getRobotPart(s.part));
  assert.equal(part.part.id, s.part);
  assert.ok(part.configJson.length > 0);
  const byName = record('getRobotPartByNameAndLocation', await app.getRobotPartByNameAndLocation(parts[0].name, s.loc));
  assert.equal(byName.part.id, s.part);
  const cfg = Struct.fromJson({ components: [{ name: 'arm1', api: 'rdk:component:arm', model: 'fake' }] });
  const up = record('updateRobotPart', await app.updateRobotPart(s.part, parts[0].name, cfg));
  assert.equal(up.robotConfig.toJson().components[0].name, 'arm1');
  assert.ok(record('getRobotPartHistory', await app.getRobotPartHistory(s.part)).length >= 1);

  const second = record('newRobotPart', await app.newRobotPart(s.robot, 'node-part-2'));
  await app.markPartAsMain(second);
  const mains = (await app.getRobotParts(s.robot)).filter((p) => p.mainPart).map((p) => p.id);
  assert.deepEqual(mains, [second]);
  await app.markPartAsMain(s.part);
  await app.markPartForRestart(s.part);
  const secrets = record('createRobotPartSecret', await app.createRobotPartSecret(s.part)).secrets;
  assert.ok(secrets.length >= 2, 'a new secret beside the first');
  await app.deleteRobotPartSecret(s.part, secrets.at(-1).id);
  assert.equal((await app.getRobotPart(s.part)).part.secrets.length, secrets.length - 1);
  await app.deleteRobotPart(second);
  assert.deepEqual((await app.getRobotParts(s.robot)).map((p) => p.id), [s.part]);
  assert.deepEqual(record('getRoverRentalRobots', await app.getRoverRentalRobots(org)), []);

  const summaries = record('listMachineSummaries', await app.listMachineSummaries(org));
  const mine = summaries.find((l) => l.locationId === s.loc);
  assert.ok(mine, 'listMachineSummaries has the location');
  assert.deepEqual(mine.machineSummaries.map((m) => m.machineId), [s.robot]);
});

test('logs, and a live tail', async () => {
  await sendLog(s.part, 'hello from node');
  await sendLog(s.part, 'something broke', 'error');
  const logs = record('getRobotPartLogs', await app.getRobotPartLogs(s.part));
  assert.deepEqual(logs.logs.map((l) => l.message).sort(), ['hello from node', 'something broke']);
  const errors = await app.getRobotPartLogs(s.part, undefined, ['error']);
  assert.deepEqual(errors.logs.map((l) => l.message), ['something broke']);

  // The SDK's tail pushes into the queue until the stream ends, which a live tail does not:
  // `node --test --test-force-exit` ends it with the process.
  const queue = [];
  const tail = app.tailRobotPartLogs(s.part, queue, undefined, false);
  tail.catch((e) => queue.push({ message: `tail failed: ${e}` }));
  // Entries written while the tail is open must arrive; keep writing until one does, so a
  // tail that opens late cannot miss them.
  const deadline = Date.now() + 10_000;
  let n = 0;
  while (!queue.some((l) => l.message.startsWith('live '))) {
    assert.ok(Date.now() < deadline, `the tail delivered nothing in 10 s: ${JSON.stringify(queue.map((l) => l.message))}`);
    await sendLog(s.part, `live ${n++}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(!queue.some((l) => l.message.startsWith('tail failed')), queue.map((l) => l.message).join('\n'));
  // The first live entry: which one it is depends on when the tail opened.
  record('tailRobotPartLogs', queue.filter((l) => l.message.startsWith('live ')).slice(0, 1));
});

test('fragments', async () => {
  const frag = record('createFragment', await app.createFragment(org, 'node-frag', Struct.fromJson({ components: [] })));
  assert.equal(frag.name, 'node-frag');
  assert.equal(record('getFragment', await app.getFragment(frag.id)).id, frag.id);
  const upd = record('updateFragment', await app.updateFragment(frag.id, 'node-frag-2', Struct.fromJson({ services: [] })));
  assert.equal(upd.name, 'node-frag-2');
  // show_public defaults to true in the SDK: public fragments only, and this one is private.
  assert.ok(!record('listFragments public', await app.listFragments(org)).some((f) => f.id === frag.id));
  assert.ok(record('listFragments', await app.listFragments(org, false)).some((f) => f.id === frag.id));
  await app.updateRobotPart(s.part, 'node-bot-2-main', Struct.fromJson({ fragments: [frag.id] }));
  const used = record('listMachineFragments', await app.listMachineFragments(s.robot));
  assert.deepEqual(used.map((f) => f.id), [frag.id]);
  const doomed = await app.createFragment(org, 'node-doomed', Struct.fromJson({}));
  await app.deleteFragment(doomed.id);
  const e = await recordError('getFragment deleted', app.getFragment(doomed.id));
  assert.equal(e.code, Code.NotFound, e.message);
});

test('keys, roles and permissions', async () => {
  const key = record('createKey', await app.createKey([auth('operator', 'organization', org)], 'node-key'));
  assert.ok(key.id && key.key);
  assert.ok(record('listKeys', await app.listKeys(org)).some((k) => k.apiKey.id === key.id));
  const rotated = record('rotateKey', await app.rotateKey(key.id));
  assert.ok(rotated.id && rotated.key && rotated.key !== key.key);
  const copy = record('createKeyFromExistingKeyAuthorizations', await app.createKeyFromExistingKeyAuthorizations(rotated.id));
  assert.ok(copy.id && copy.id !== rotated.id);

  await app.addRole(org, copy.id, 'operator', 'location', s.loc);
  const mine = (a) => a.identityId === copy.id && a.resourceId === s.loc;
  let grants = record('listAuthorizations', await app.listAuthorizations(org));
  assert.deepEqual(grants.filter(mine).map((a) => a.authorizationId), ['location_operator']);
  await app.changeRole(auth('operator', 'location', s.loc, copy.id), auth('owner', 'location', s.loc, copy.id));
  grants = await app.listAuthorizations(org, [s.loc]);
  assert.deepEqual(grants.filter(mine).map((a) => a.authorizationId), ['location_owner']);
  await app.removeRole(org, copy.id, 'owner', 'location', s.loc);
  assert.deepEqual((await app.listAuthorizations(org)).filter(mine), []);

  const asked = new appApi.AuthorizedPermissions({ resourceType: 'location', resourceId: s.loc, permissions: ['read_location'] });
  const granted = record('checkPermissions', await app.checkPermissions([asked]));
  assert.deepEqual(granted.map((p) => [p.resourceId, p.permissions]), [[s.loc, ['read_location']]]);

  const robotKey = await app.createKey([auth('owner', 'robot', s.robot)], 'node-robot-key');
  const robotKeys = record('getRobotAPIKeys', await app.getRobotAPIKeys(s.robot));
  assert.deepEqual(robotKeys.map((k) => k.apiKey.id), [robotKey.id]);

  await app.deleteKey(copy.id);
  assert.ok(!(await app.listKeys(org)).some((k) => k.apiKey.id === copy.id), 'deleted key still listed');
});

test('modules, registry items and apps', async () => {
  const mod = record('createModule', await app.createModule(org, 'nodemod'));
  assert.ok(mod.moduleId);
  s.module = mod.moduleId;
  const model = new appApi.Model({ api: 'rdk:component:arm', model: 'acme:nodemod:arm' });
  // The answer is the module's page in the registry, not its source URL.
  const url = record('updateModule', await app.updateModule(s.module, appApi.Visibility.PRIVATE, 'https://example.com/m', 'a node module', [model], 'run.sh'));
  assert.match(url, new RegExp(`${s.ns}/nodemod$`));
  assert.equal((await app.getModule(s.module)).url, 'https://example.com/m');
  const got = record('getModule', await app.getModule(s.module));
  assert.equal(got.description, 'a node module');
  assert.deepEqual(got.models.map((m) => m.model), ['acme:nodemod:arm']);
  assert.ok(record('listModules', await app.listModules(org)).some((m) => m.moduleId === s.module));

  await app.createRegistryItem(org, 'nodemodel', PACKAGE_TYPE_ML_MODEL);
  const items = record('listRegistryItems', await app.listRegistryItems(org, [], [], [], []));
  const item = items.find((i) => i.name === 'nodemodel');
  assert.ok(item, `listRegistryItems: ${items.map((i) => i.name)}`);
  await app.updateRegistryItem(item.itemId, PACKAGE_TYPE_ML_MODEL, 'weights', appApi.Visibility.PUBLIC);
  const reread = record('getRegistryItem', await app.getRegistryItem(item.itemId));
  assert.equal(reread.description, 'weights');
  assert.equal(reread.visibility, appApi.Visibility.PUBLIC);
  await app.deleteRegistryItem(item.itemId);
  assert.equal((await recordError('getRegistryItem deleted', app.getRegistryItem(item.itemId))).code, Code.NotFound);

  // AppClient.updateModule cannot declare apps; its generated client (the same transport) can.
  await app.client.updateModule({
    moduleId: s.module,
    visibility: appApi.Visibility.PRIVATE,
    url: 'https://example.com/m',
    description: 'a node module',
    entrypoint: 'run.sh',
    apps: [{ name: 'dashboard', type: 'multi_machine', entrypoint: 'dist/index.html', logoPath: 'static/logo.png' }],
  });
  const brand = record('getAppBranding', await app.getAppBranding(s.ns, 'dashboard'));
  assert.equal(brand.logoPath, 'static/logo.png');
  // The app's files come with an uploaded module version (a client-streaming upload that
  // gRPC-web cannot carry); without one the fleet says so.
  const e = await recordError('getAppContent', app.getAppContent(s.ns, 'dashboard'));
  assert.ok([Code.NotFound, Code.FailedPrecondition].includes(e.code), `${e.code}: ${e.message}`);
  assert.match(e.rawMessage, /version|upload/i);
});

test('metadata', async () => {
  const data = { team: 'blue', count: 3 };
  await app.updateOrganizationMetadata(org, data);
  assert.deepEqual(record('getOrganizationMetadata', await app.getOrganizationMetadata(org)), data);
  await app.updateLocationMetadata(s.loc, data);
  assert.deepEqual(record('getLocationMetadata', await app.getLocationMetadata(s.loc)), data);
  await app.updateRobotMetadata(s.robot, data);
  assert.deepEqual(record('getRobotMetadata', await app.getRobotMetadata(s.robot)), data);
  await app.updateRobotPartMetadata(s.part, data);
  assert.deepEqual(record('getRobotPartMetadata', await app.getRobotPartMetadata(s.part)), data);
  // Untouched things have none.
  assert.deepEqual(await app.getLocationMetadata(firstLoc), {});
});

test('sharing a location with another organization', async () => {
  // Sharing needs ownership of both organizations.
  await app.addRole(s.peer, fleet.keyId, 'owner', 'organization', s.peer);
  await app.shareLocation(s.peer, s.loc);
  const orgs = record('getOrganizationsWithAccessToLocation', await app.getOrganizationsWithAccessToLocation(s.loc));
  assert.deepEqual(orgs.map((o) => o.id).sort(), [org, s.peer].sort());
  await app.unshareLocation(s.peer, s.loc);
  assert.deepEqual((await app.getOrganizationsWithAccessToLocation(s.loc)).map((o) => o.id), [org]);
});

test('deleting machines, organizations and members', async () => {
  await app.deleteRobot(s.robot);
  assert.equal((await recordError('getRobot deleted', app.getRobot(s.robot))).code, Code.NotFound);
  await app.deleteOrganization(s.peer);
  assert.ok(!(await app.listOrganizations()).some((o) => o.id === s.peer), 'deleted organization still listed');
  // Locations block deleting an organization; the fleet says why.
  const e = await recordError('deleteOrganization with locations', app.deleteOrganization(org));
  assert.equal(e.code, Code.FailedPrecondition, e.message);
  await app.deleteOrganizationMember(org, s.user);
  const members = await app.listOrganizationMembers(org);
  assert.ok(!members.members.some((m) => m.userId === s.user), 'deleted member still listed');
});

test('a wrong API key is refused, and a call without a valid token is UNAUTHENTICATED', async () => {
  // Authenticate refuses bad credentials as the cloud does (goutils' errInvalidCredentials): UNAUTHENTICATED.
  const e = await recordError('bad key', connect(fleet.keyId, 'not-the-key'));
  assert.equal(e.code, Code.Unauthenticated, e.message);
  assert.match(e.rawMessage, /invalid credentials/);
  const forged = await createViamClient({ serviceHost: fleet.address, credentials: { type: 'access-token', payload: 'forged' } });
  const u = await recordError('forged token', forged.appClient.listOrganizations());
  assert.equal(u.code, Code.Unauthenticated, u.message);
  assert.ok(u.rawMessage.length > 0, 'the status has a message');
});

test('a key without the permission gets PERMISSION_DENIED naming the resource', async () => {
  const k = await app.createKey([auth('operator', 'organization', org)], 'node-operator');
  const operator = (await connect(k.id, k.key)).appClient;
  // An operator may read...
  assert.ok((await operator.listLocations(org)).length >= 1);
  // ...but not create.
  const e = await recordError('operator createLocation', operator.createLocation(org, 'not allowed'));
  assert.equal(e.code, Code.PermissionDenied);
  assert.ok(e.rawMessage.includes(org), `the message names the organization: ${e.rawMessage}`);
});

test('the suite ran through the transport it was asked for', () => {
  // connect-node's transport comes only through the SDK's hook; the default never calls it.
  assert.equal(hookCalls() > 0, transport === 'grpc', `${hookCalls()} transports made by the hook`);
});

test('every AppClient method of the SDK was called', () => {
  const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(viam.appClient)).filter((n) => n !== 'constructor');
  assert.ok(methods.length > 80, `only ${methods.length} methods found on AppClient`);
  assert.deepEqual(methods.filter((n) => !called.has(n)), [], 'AppClient methods this suite never called');
});
