// The official twilio-node SDK against smsgate, unchanged but for baseUrl.
// Reads SMSGATE_URL, ACCOUNT_SID, AUTH_TOKEN and FROM; prints one JSON line of results.
import twilio from "twilio";

const { SMSGATE_URL, ACCOUNT_SID, AUTH_TOKEN, FROM } = process.env;
const client = twilio(ACCOUNT_SID, AUTH_TOKEN);
client.api.baseUrl = SMSGATE_URL;

const created = [];
for (let i = 0; i < 5; i++) {
  const m = await client.messages.create({ to: "+15558675310", from: FROM, body: `node ${i}` });
  created.push(m.sid);
}
const listed = await client.messages.list({ pageSize: 2 });
const fetched = await client.messages(created[0]).fetch();
let error = null;
try {
  await client.messages.create({ to: "+15558675310", from: "+15005550007", body: "x" });
} catch (e) {
  error = { status: e.status, code: e.code };
}
const key = await client.api.v2010.accounts(ACCOUNT_SID).newKeys.create({ friendlyName: "node" });
const viaKey = twilio(key.sid, key.secret, { accountSid: ACCOUNT_SID });
viaKey.api.baseUrl = SMSGATE_URL;
const sentWithKey = await viaKey.messages.create({ to: "+15558675311", from: FROM, body: "key" });

console.log(
  JSON.stringify({
    created,
    listed: listed.map((m) => m.sid),
    fetched: { sid: fetched.sid, body: fetched.body, status: fetched.status, numSegments: fetched.numSegments },
    error,
    sentWithKey: sentWithKey.accountSid,
  }),
);
