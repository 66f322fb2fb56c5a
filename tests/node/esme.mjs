// The npm `smpp` package's client as an ESME of an SMSC peer, with the package's own text
// encoding and decoding: checks `smsgate smsc-sim` (smpplib's codec, our text code) against
// a codec it shares nothing with.
//
//   SMSC_PORT=… SYSTEM_ID=… PASSWORD=… MO_PARTS=n node esme.mjs
//
// Binds as a transceiver, submits a two-part UCS-2 message with a 16-bit concatenation UDH
// and a GSM one with extension characters, answers the receipts and the MO_PARTS deliver_sm
// the test injected before it started, and prints one JSON line with what it saw.

import smpp from 'smpp';

const { SMSC_PORT, SYSTEM_ID, PASSWORD } = process.env;
const moParts = Number(process.env.MO_PARTS || 0);
const session = smpp.connect({ host: '127.0.0.1', port: Number(SMSC_PORT) });
const seen = { resps: [], receipts: [], mo: [] };
const timer = setTimeout(() => fail('timed out'), 15000);

function fail(message) {
  process.stderr.write(message + '\n');
  process.exit(1);
}

function finishIfDone() {
  if (seen.receipts.length === 3 && seen.mo.length === moParts) {
    clearTimeout(timer);
    process.stdout.write(JSON.stringify(seen) + '\n');
    session.unbind(() => session.close());
  }
}

session.on('error', (e) => fail(String(e)));
session.on('deliver_sm', (pdu) => {
  session.send(pdu.response());
  const message = pdu.short_message.message;
  if (pdu.esm_class & smpp.ESM_CLASS.MC_DELIVERY_RECEIPT) {
    seen.receipts.push({ id: pdu.receipted_message_id, state: pdu.message_state, text: message });
  } else {
    const udh = (pdu.short_message.udh || []).map((ie) => [...ie]);
    seen.mo.push({ text: message, udh, data_coding: pdu.data_coding });
  }
  finishIfDone();
});

session.on('connect', () => {
  session.bind_transceiver({ system_id: SYSTEM_ID, password: PASSWORD }, (bind) => {
    if (bind.command_status !== 0) fail(`bind failed: ${bind.command_status}`);
    const submits = [
      { short_message: { udh: Buffer.from([6, 8, 4, 0x01, 0x02, 2, 1]), message: 'Zoë 😀 ' }, data_coding: 8 },
      { short_message: { udh: Buffer.from([6, 8, 4, 0x01, 0x02, 2, 2]), message: 'Ωμέγα' }, data_coding: 8 },
      { short_message: 'Price: {10€} [ok] ~ ^_^', data_coding: 0 }, // the package's GSM 03.38
    ];
    for (const s of submits) {
      session.submit_sm({ destination_addr: '447700900123', registered_delivery: 1, ...s }, (resp) => {
        seen.resps.push({ status: resp.command_status, id: resp.message_id });
      });
    }
  });
});
