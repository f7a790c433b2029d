// A page that uses the fleet as a web app would: the SDK's browser bundle (global `sdk`),
// an API key, gRPC-web over fetch. browser.test.js calls showFleet and reads the DOM.
'use strict';

const $ = (id) => document.getElementById(id);
const item = (list, text) => {
  const li = document.createElement('li');
  li.textContent = text;
  $(list).appendChild(li);
};

// Lists locations and machines, then tails the first machine's main part into #logs.
// Returns what it showed; a failure shows its message in #status and rejects.
window.showFleet = async ({ address, keyId, key }) => {
  try {
    const client = await sdk.createViamClient({
      serviceHost: address,
      credentials: { type: 'api-key', authEntity: keyId, payload: key },
    });
    const app = client.appClient;
    const [org] = await app.listOrganizations();
    const shown = { locations: [], machines: [] };
    for (const loc of await app.listLocations(org.id)) {
      item('locations', loc.name);
      shown.locations.push(loc.name);
      for (const robot of await app.listRobots(loc.id)) {
        item('machines', `${robot.name} (${loc.name})`);
        shown.machines.push({ id: robot.id, name: robot.name });
      }
    }
    const robot = shown.machines[0];
    const part = (await app.getRobotParts(robot.id)).find((p) => p.mainPart);
    $('part').textContent = part.name;
    // The SDK pushes each entry into the "queue"; this one shows it at once.
    const queue = { push: (e) => item('logs', `${e.level} ${e.message}`) };
    app.tailRobotPartLogs(part.id, queue, undefined, false).catch((e) => {
      $('status').textContent = `tail failed: ${e.message}`;
    });
    $('status').textContent = 'ready';
    return shown;
  } catch (e) {
    $('status').textContent = `error: ${e.message}`;
    $('status').className = 'error';
    throw e;
  }
};
