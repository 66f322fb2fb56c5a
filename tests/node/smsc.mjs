// A second, independent SMSC for the SMPP tests: the npm `smpp` package's server side and
// its character codecs, with the same behaviours and the same JSON control API as
// `smsgate smsc-sim` (docs/smsc-sim.md), so one test suite runs against both.
//
//   node smsc.mjs [--host 127.0.0.1] [--port 0] [--control-port 0] [--system-id ID]
//                 [--password PW] [--receipt-delay 0.5] [--no-receipts] ...
//
// Prints one JSON line {"implementation":"node","host",…,"smpp_port","control_port"} once
// both listeners are bound. What the npm package cannot do, this file does on top of it:
// raw short_message octets (its text filters are switched off, so UDH and encodings are
// seen as sent), one pending queue of deliver_sm re-sent on the next bind until answered.

import http from 'node:http';
import smpp from 'smpp';

const RECEIPT_STATES = {
  DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8,
};
const ID_BASE = 0x5a000000;
const ESM_RECEIPT = 0x04;
const UDHI = 0x40;
const ESC = 0x1b;
const GSM_EXTENSION_CODES = new Set([0x0a, 0x14, 0x28, 0x29, 0x2f, 0x3c, 0x3d, 0x3e, 0x40, 0x65]);
const BIND_KINDS = {
  bind_transmitter: 'transmitter', bind_receiver: 'receiver', bind_transceiver: 'transceiver',
};
const ENCODINGS = { gsm: 0, ucs2: 8, latin1: 3 };
const SPLITS = ['udh8', 'udh16', 'sar', 'payload'];
const LIMITS = { gsm: [160, 153, 152], ucs2: [70, 67, 66], latin1: [140, 134, 133] };

// Raw octets in and out: no automatic text decoding or UDH handling by the package.
for (const command of ['submit_sm', 'deliver_sm', 'data_sm']) {
  const param = smpp.commands[command].params.short_message;
  if (param) delete param.filter;
}
delete smpp.tlvs.message_payload.filter;

const DEFAULTS = {
  receipts: true,
  receipt_delay: 0.0,
  receipt_stat: 'DELIVRD',
  receipt_err: 0,
  receipt_command: 'deliver_sm',
  receipt_before_resp: false,
  receipt_tlvs: true,
  message_ids: 'hex',
  receipt_id_form: 'same',
  submit_resp_delay: 0.0,
  reject_status: 0,
  reject_prefixes: [],
  throttle_mps: 0.0,
  throttle_next: 0,
  bind_status: 0,
  drop_after_submits: 0,
};
const CHOICES = {
  receipt_stat: Object.keys(RECEIPT_STATES),
  receipt_command: ['deliver_sm', 'data_sm'],
  message_ids: ['hex', 'decimal'],
  receipt_id_form: ['same', 'padded', 'decimal', 'hex'],
};
const FLOATS = new Set(['receipt_delay', 'submit_resp_delay', 'throttle_mps']);

function checked(key, value) {
  if (!(key in DEFAULTS)) throw new Error(`unknown behaviour '${key}'`);
  const def = DEFAULTS[key];
  if (typeof def === 'boolean') {
    if (typeof value !== 'boolean') throw new Error(`${key} must be true or false`);
  } else if (typeof def === 'number') {
    const ok = typeof value === 'number' && value >= 0 && (FLOATS.has(key) || Number.isInteger(value));
    if (!ok) throw new Error(`${key} must be a non-negative ${FLOATS.has(key) ? 'number' : 'integer'}`);
    if (key === 'receipt_err' && value > 999) throw new Error('receipt_err must be 0-999');
  } else if (typeof def === 'string') {
    if (!CHOICES[key].includes(value)) throw new Error(`${key} must be one of ${CHOICES[key].join(', ')}`);
  } else if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new Error(`${key} must be a list of strings`);
  }
  return Array.isArray(value) ? [...value] : value;
}

function patch(target, changes) {
  const staged = {};
  for (const [key, value] of Object.entries(changes)) staged[key] = checked(key, value);
  Object.assign(target, staged);
}

// -- text -----------------------------------------------------------------------------------

function encodeChars(body, encoding) {
  const chars = [...body]; // code points: an astral character stays whole
  if (encoding === 'gsm') {
    if (!smpp.encodings.ASCII.match(body)) throw new Error('text is not in the GSM 03.38 alphabet');
    return chars.map((ch) => [ch, smpp.gsmCoder.encode(ch, 0x00)]);
  }
  if (encoding === 'latin1') {
    if (!smpp.encodings.LATIN1.match(body)) throw new Error('text is not in Latin-1');
    return chars.map((ch) => [ch, smpp.encodings.LATIN1.encode(ch)]);
  }
  return chars.map((ch) => [ch, smpp.encodings.UCS2.encode(ch)]);
}

function udhFor(bits, ref, total, seq) {
  return bits === 16
    ? Buffer.from([6, 0x08, 4, ref >> 8, ref & 0xff, total, seq])
    : Buffer.from([5, 0x00, 3, ref & 0xff, total, seq]);
}

function makeParts(body, encoding, split, ref, maxPartLen) {
  const chars = encodeChars(body, encoding);
  if (split === 'payload') {
    return [{ text: body, octets: Buffer.concat(chars.map((c) => c[1])), esm_class: 0, concat: null, payload: true }];
  }
  const [single, udh8, udh16] = LIMITS[encoding];
  const size = encoding === 'ucs2' ? 2 : 1;
  let perPart = { udh8, udh16, sar: single }[split];
  const units = chars.reduce((n, c) => n + c[1].length / size, 0);
  if (maxPartLen == null) {
    if (units <= single) {
      return [{ text: body, octets: Buffer.concat(chars.map((c) => c[1])), esm_class: 0, concat: null, payload: false }];
    }
  } else {
    if (maxPartLen < 2) throw new Error('max_part_len must be at least 2');
    perPart = maxPartLen;
  }
  const groups = [];
  let chunk = [];
  let used = 0;
  for (const c of chars) {
    const n = c[1].length / size;
    if (used + n > perPart) {
      groups.push(chunk);
      chunk = [];
      used = 0;
    }
    chunk.push(c);
    used += n;
  }
  groups.push(chunk);
  const join = (g) => [g.map((c) => c[0]).join(''), Buffer.concat(g.map((c) => c[1]))];
  if (groups.length === 1) {
    const [t, o] = join(groups[0]);
    return [{ text: t, octets: o, esm_class: 0, concat: null, payload: false }];
  }
  if (groups.length > 255) throw new Error('text needs more than 255 parts');
  const bits = { udh8: 8, udh16: 16, sar: 0 }[split];
  ref &= bits === 8 ? 0xff : 0xffff;
  return groups.map((g, i) => {
    const [t, o] = join(g);
    const concat = { ref, total: groups.length, seq: i + 1, bits };
    return bits
      ? { text: t, octets: Buffer.concat([udhFor(bits, ref, groups.length, i + 1), o]), esm_class: UDHI, concat, payload: false }
      : { text: t, octets: o, esm_class: 0, concat, payload: false };
  });
}

function splitUdh(data) {
  if (!data.length) return [null, Buffer.alloc(0), false];
  const length = data[0];
  const header = data.subarray(1, 1 + length);
  const rest = data.subarray(1 + length);
  if (header.length !== length) return [null, Buffer.alloc(0), false];
  let concat = null;
  let i = 0;
  while (i + 2 <= header.length) {
    const iei = header[i];
    const iel = header[i + 1];
    const value = header.subarray(i + 2, i + 2 + iel);
    if (value.length !== iel) return [concat, rest, false];
    if (iei === 0x00 && iel === 3) concat = { ref: value[0], total: value[1], seq: value[2], bits: 8 };
    if (iei === 0x08 && iel === 4) concat = { ref: (value[0] << 8) | value[1], total: value[2], seq: value[3], bits: 16 };
    i += 2 + iel;
  }
  return [concat, rest, i === header.length];
}

function gsmValid(data) {
  for (let i = 0; i < data.length; i++) {
    if (data[i] >= 0x80) return false;
    if (data[i] === ESC) {
      if (i + 1 >= data.length || !GSM_EXTENSION_CODES.has(data[i + 1])) return false;
      i++;
    }
  }
  return true;
}

function ucs2Valid(data) {
  if (data.length % 2) return false;
  for (let i = 0; i < data.length; i += 2) {
    const unit = data.readUInt16BE(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      if (i + 2 >= data.length) return false;
      const next = data.readUInt16BE(i + 2);
      if (next < 0xdc00 || next > 0xdfff) return false;
      i += 2;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return false;
    }
  }
  return true;
}

function decodeText(data, dataCoding) {
  if (dataCoding === 0) return [smpp.encodings.ASCII.decode(data), gsmValid(data)];
  if (dataCoding === 8) return [smpp.encodings.UCS2.decode(data), ucs2Valid(data)];
  if (dataCoding === 1) return [data.toString('ascii'), data.every((b) => b < 0x80)];
  return [smpp.encodings.LATIN1.decode(data), dataCoding === 3];
}

function address(number) {
  if (/^\+\d+$/.test(number)) return [number.slice(1), 1, 1];
  if (/^\d+$/.test(number)) return [number, 0, 1];
  return [number, 5, 0];
}

function quoteId(messageId, issuedAs, form) {
  const value = issuedAs === 'hex' ? BigInt('0x' + messageId) : BigInt(messageId);
  if (form === 'padded') return messageId.padStart(16, '0');
  if (form === 'decimal') return value.toString(10);
  if (form === 'hex') return value.toString(16);
  return messageId;
}

function smppDate(d) {
  const two = (n) => String(n).padStart(2, '0');
  return two(d.getUTCFullYear() % 100) + two(d.getUTCMonth() + 1) + two(d.getUTCDate())
    + two(d.getUTCHours()) + two(d.getUTCMinutes());
}

// -- the SMSC -------------------------------------------------------------------------------

class Smsc {
  constructor(behaviour, systemId, password) {
    this.initial = { ...behaviour, reject_prefixes: [...behaviour.reject_prefixes] };
    this.behaviour = behaviour;
    this.systemId = systemId;
    this.password = password;
    this.sessions = new Map();
    this.submits = [];
    this.deliveries = [];
    this.nextSession = 1;
    this.nextDelivery = 1;
    this.nextMessage = ID_BASE + 1;
    this.nextRef = 1;
    this.accepted = [];
    this.timers = new Set();
  }

  accept(session) {
    const s = {
      id: this.nextSession++,
      peer: `${session.socket.remoteAddress}:${session.socket.remotePort}`,
      bind: null,
      system_id: '',
      bind_status: null,
      bound: false,
      open: true,
      unbinding: false,
      enquire_links: 0,
      inFlight: new Map(),
      smpp: session,
    };
    this.sessions.set(s.id, s);
    session.on('pdu', (pdu) => this.onPdu(s, pdu));
    session.on('error', () => {});
    session.on('close', () => this.closed(s));
  }

  receives(s) {
    return s.bound && !s.unbinding && (s.bind === 'receiver' || s.bind === 'transceiver');
  }

  transmits(s) {
    return s.bound && (s.bind === 'transmitter' || s.bind === 'transceiver');
  }

  send(s, pdu) {
    return s.open ? s.smpp.send(pdu) : false;
  }

  closed(s) {
    s.open = false;
    s.bound = false;
    for (const d of s.inFlight.values()) d.in_flight = false;
    s.inFlight.clear();
  }

  close(s, abort) {
    if (!s.open) return;
    this.closed(s);
    if (abort) s.smpp.destroy();
    else s.smpp.close();
  }

  onPdu(s, pdu) {
    const command = pdu.command;
    if (command in BIND_KINDS) this.onBind(s, pdu);
    else if (command === 'enquire_link') {
      s.enquire_links++;
      this.send(s, pdu.response());
    } else if (command === 'unbind') {
      this.send(s, pdu.response());
      this.close(s, false);
    } else if (command === 'unbind_resp') {
      if (s.unbinding) this.close(s, false);
    } else if (command === 'submit_sm' || command === 'data_sm') {
      if (this.transmits(s)) this.onSubmit(s, pdu);
      else this.send(s, pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
    } else if (command === 'deliver_sm_resp' || command === 'data_sm_resp'
      || (command === 'generic_nack' && s.inFlight.has(pdu.sequence_number))) {
      this.onDeliveryResp(s, pdu);
    } else if (command === 'unknown') {
      this.send(s, pdu.response());
    } else if (!pdu.isResponse()) {
      this.send(s, new smpp.PDU('generic_nack', {
        sequence_number: pdu.sequence_number, command_status: smpp.ESME_RINVCMDID,
      }));
    }
  }

  onBind(s, pdu) {
    let status = 0;
    if (s.bound) status = smpp.ESME_RALYBND;
    else if (this.behaviour.bind_status) status = this.behaviour.bind_status;
    else if (this.systemId != null && pdu.system_id !== this.systemId) status = smpp.ESME_RINVSYSID;
    else if (this.password != null && pdu.password !== this.password) status = smpp.ESME_RINVPASWD;
    if (!s.bound) {
      s.bind = BIND_KINDS[pdu.command];
      s.system_id = pdu.system_id;
      s.bind_status = status;
    }
    this.send(s, pdu.response({ command_status: status, system_id: 'node-smsc' }));
    if (status === 0) {
      s.bound = true;
      if (this.receives(s)) this.sendPending(s);
    }
  }

  onSubmit(s, pdu) {
    const submit = this.record(s, pdu);
    this.submits.push(submit);
    const b = this.behaviour;
    if (b.drop_after_submits) {
      b.drop_after_submits -= 1;
      if (b.drop_after_submits === 0) {
        this.close(s, true);
        return;
      }
    }
    submit.status = this.verdict(submit);
    const respond = () => {
      const options = { command_status: submit.status };
      if (submit.message_id) options.message_id = submit.message_id;
      if (this.send(s, pdu.response(options))) submit.responded = true;
    };
    if (submit.status !== 0) {
      this.after(b.submit_resp_delay, respond);
      return;
    }
    submit.message_id = this.issueId();
    const plan = this.receiptPlan(submit);
    const receiptDelay = b.receipt_delay;
    if (plan && b.receipt_before_resp) {
      this.sendReceipt(submit, plan);
      this.after(b.submit_resp_delay, respond);
    } else {
      this.after(b.submit_resp_delay, () => {
        respond();
        if (plan) this.after(receiptDelay, () => this.sendReceipt(submit, plan));
      });
    }
  }

  record(s, pdu) {
    const short = Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
    const payload = Buffer.isBuffer(pdu.message_payload) ? pdu.message_payload : null;
    let octets = short.length || !payload ? short : payload;
    const esmClass = pdu.esm_class || 0;
    const dataCoding = pdu.data_coding || 0;
    let concat = null;
    let wellFormed = true;
    if (esmClass & UDHI) [concat, octets, wellFormed] = splitUdh(octets);
    const sar = pdu.sar_msg_ref_num === undefined ? null : {
      ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum,
    };
    const [text, valid] = decodeText(octets, dataCoding);
    return {
      session: s.id,
      sequence: pdu.sequence_number,
      command: pdu.command,
      service_type: pdu.service_type || '',
      source_addr: pdu.source_addr || '',
      source_addr_ton: pdu.source_addr_ton || 0,
      source_addr_npi: pdu.source_addr_npi || 0,
      destination_addr: pdu.destination_addr || '',
      dest_addr_ton: pdu.dest_addr_ton || 0,
      dest_addr_npi: pdu.dest_addr_npi || 0,
      esm_class: esmClass,
      data_coding: dataCoding,
      registered_delivery: pdu.registered_delivery || 0,
      udh: concat,
      sar,
      payload: Boolean(payload && payload.length) && !short.length,
      text,
      valid: valid && wellFormed,
      message_id: null,
      status: null,
      responded: false,
    };
  }

  verdict(submit) {
    const b = this.behaviour;
    if (b.throttle_next) {
      b.throttle_next -= 1;
      return smpp.ESME_RTHROTTLED;
    }
    const now = performance.now() / 1000;
    if (b.throttle_mps) {
      while (this.accepted.length && this.accepted[0] <= now - 1.0) this.accepted.shift();
      if (this.accepted.length >= b.throttle_mps) return smpp.ESME_RTHROTTLED;
    }
    if (b.reject_status) {
      const dest = submit.destination_addr.replace(/^\+/, '');
      const prefixes = b.reject_prefixes.map((p) => p.replace(/^\+/, ''));
      if (!prefixes.length || prefixes.some((p) => dest.startsWith(p))) return b.reject_status;
    }
    this.accepted.push(now);
    return 0;
  }

  issueId() {
    const value = this.nextMessage++;
    return this.behaviour.message_ids === 'hex' ? value.toString(16) : String(value);
  }

  receiptPlan(submit) {
    const b = this.behaviour;
    const wanted = submit.registered_delivery & 0x03;
    const finalOk = b.receipt_stat === 'DELIVRD';
    if (!b.receipts || wanted === 0 || (wanted === 2 && finalOk) || (wanted === 3 && !finalOk)) return null;
    return {
      stat: b.receipt_stat,
      err: b.receipt_err,
      command: b.receipt_command,
      tlvs: b.receipt_tlvs,
      quoted: quoteId(submit.message_id, b.message_ids, b.receipt_id_form),
      submitted: new Date(),
    };
  }

  sendReceipt(submit, plan) {
    const dlvrd = plan.stat === 'DELIVRD' ? '001' : '000';
    const body = `id:${plan.quoted} sub:001 dlvrd:${dlvrd} submit date:${smppDate(plan.submitted)} `
      + `done date:${smppDate(new Date())} stat:${plan.stat} err:${String(plan.err).padStart(3, '0')} `
      + `text:${[...submit.text].slice(0, 20).join('')}`;
    const octets = smpp.gsmCoder.encode(body, 0x00);
    const fields = {
      source_addr_ton: submit.dest_addr_ton,
      source_addr_npi: submit.dest_addr_npi,
      source_addr: submit.destination_addr,
      dest_addr_ton: submit.source_addr_ton,
      dest_addr_npi: submit.source_addr_npi,
      destination_addr: submit.source_addr,
      esm_class: ESM_RECEIPT,
      data_coding: 0,
    };
    if (plan.command === 'deliver_sm') fields.short_message = octets;
    else fields.message_payload = octets;
    if (plan.tlvs) {
      fields.receipted_message_id = plan.quoted;
      fields.message_state = RECEIPT_STATES[plan.stat];
    }
    this.deliver({
      id: this.nextDelivery++,
      kind: 'receipt',
      command: plan.command,
      source_addr: submit.destination_addr,
      destination_addr: submit.source_addr,
      esm_class: ESM_RECEIPT,
      data_coding: 0,
      text: body,
      message_id: submit.message_id,
      receipt_id: plan.quoted,
      stat: plan.stat,
      part: null,
    }, fields);
  }

  injectMo(from, to, body, encoding, split, maxPartLen) {
    const parts = makeParts(body, encoding, split, this.nextRef++, maxPartLen);
    const [src, srcTon, srcNpi] = address(from);
    const [dst, dstTon, dstNpi] = address(to);
    return parts.map((part) => {
      const fields = {
        source_addr_ton: srcTon,
        source_addr_npi: srcNpi,
        source_addr: src,
        dest_addr_ton: dstTon,
        dest_addr_npi: dstNpi,
        destination_addr: dst,
        esm_class: part.esm_class,
        data_coding: ENCODINGS[encoding],
      };
      if (part.concat && !part.concat.bits) {
        fields.sar_msg_ref_num = part.concat.ref;
        fields.sar_total_segments = part.concat.total;
        fields.sar_segment_seqnum = part.concat.seq;
      }
      if (part.payload) fields.message_payload = part.octets;
      else fields.short_message = part.octets;
      const delivery = {
        id: this.nextDelivery++,
        kind: 'mo',
        command: 'deliver_sm',
        source_addr: src,
        destination_addr: dst,
        esm_class: part.esm_class,
        data_coding: ENCODINGS[encoding],
        text: part.text,
        message_id: null,
        receipt_id: null,
        stat: null,
        part: part.concat,
      };
      this.deliver(delivery, fields);
      return delivery;
    });
  }

  deliver(d, fields) {
    Object.assign(d, {
      session: null, sequence: null, attempts: 0, resp_status: null, acked: false, in_flight: false,
    });
    Object.defineProperty(d, 'fields', { value: fields, enumerable: false });
    this.deliveries.push(d);
    const s = [...this.sessions.values()].find((x) => this.receives(x));
    if (s) this.sendDelivery(d, s);
  }

  sendDelivery(d, s) {
    const pdu = new smpp.PDU(d.command, { ...d.fields });
    d.attempts += 1;
    d.in_flight = true;
    d.session = s.id;
    this.send(s, pdu); // numbers the PDU
    d.sequence = pdu.sequence_number;
    s.inFlight.set(pdu.sequence_number, d);
  }

  sendPending(s) {
    for (const d of this.deliveries) if (!d.acked && !d.in_flight) this.sendDelivery(d, s);
  }

  onDeliveryResp(s, pdu) {
    const d = s.inFlight.get(pdu.sequence_number);
    if (!d) return;
    s.inFlight.delete(pdu.sequence_number);
    d.in_flight = false;
    d.resp_status = pdu.command_status;
    d.acked = pdu.command_status === 0;
  }

  drop() {
    const live = [...this.sessions.values()].filter((s) => s.open);
    for (const s of live) this.close(s, true);
    return live.length;
  }

  unbind() {
    const bound = [...this.sessions.values()].filter((s) => s.bound && !s.unbinding);
    for (const s of bound) {
      s.unbinding = true;
      this.send(s, new smpp.PDU('unbind'));
    }
    return bound.length;
  }

  reset() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.behaviour = { ...this.initial, reject_prefixes: [...this.initial.reject_prefixes] };
    this.submits = [];
    this.deliveries = [];
    this.accepted = [];
    for (const [id, s] of this.sessions) {
      if (!s.open) this.sessions.delete(id);
      else s.inFlight.clear();
    }
  }

  after(delay, action) {
    if (delay <= 0) {
      action();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      action();
    }, delay * 1000);
    this.timers.add(t);
  }

  sessionJson(s) {
    return {
      id: s.id, peer: s.peer, bind: s.bind, system_id: s.system_id, bind_status: s.bind_status,
      bound: s.bound, open: s.open, enquire_links: s.enquire_links,
    };
  }
}

// -- control API ----------------------------------------------------------------------------

function controlServer(smsc, smppPort) {
  const routes = {
    'GET /healthz': () => ({ ok: true, implementation: 'node', smpp_port: smppPort }),
    'GET /sessions': () => [...smsc.sessions.values()].map((s) => smsc.sessionJson(s)),
    'GET /submits': () => smsc.submits,
    'GET /deliveries': () => smsc.deliveries,
    'GET /behaviour': () => smsc.behaviour,
    'POST /behaviour': (body) => {
      patch(smsc.behaviour, body);
      return smsc.behaviour;
    },
    'POST /mo': (body) => {
      for (const key of ['from', 'to']) if (!(key in body)) throw new Error(`missing '${key}'`);
      const { from, to, body: text = '', encoding = 'gsm', split = 'udh8', max_part_len: maxPartLen = null } = body;
      if (![from, to, text].every((v) => typeof v === 'string')) throw new Error('from, to and body must be strings');
      if (!(encoding in ENCODINGS)) throw new Error('encoding must be one of gsm, ucs2, latin1');
      if (!SPLITS.includes(split)) throw new Error(`split must be one of ${SPLITS.join(', ')}`);
      if (maxPartLen !== null && !Number.isInteger(maxPartLen)) throw new Error('max_part_len must be an integer');
      const sent = smsc.injectMo(from, to, text, encoding, split, maxPartLen);
      return { parts: sent.length, deliveries: sent.map((d) => d.id) };
    },
    'POST /drop': () => ({ dropped: smsc.drop() }),
    'POST /unbind': () => ({ unbound: smsc.unbind() }),
    'POST /reset': () => {
      smsc.reset();
      return { ok: true };
    },
  };
  return http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url, 'http://x').pathname;
      const route = routes[`${req.method} ${path}`];
      let status = 200;
      let out;
      if (!route) {
        status = 404;
        out = { error: 'not found' };
      } else {
        try {
          const raw = Buffer.concat(chunks).toString('utf8').trim();
          const body = raw ? JSON.parse(raw) : {};
          if (typeof body !== 'object' || body === null || Array.isArray(body)) {
            throw new Error('the body must be a JSON object');
          }
          out = route(body);
        } catch (e) {
          status = 400;
          out = { error: e.message };
        }
      }
      const data = JSON.stringify(out);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
      res.end(data);
    });
  });
}

// -- command line ---------------------------------------------------------------------------

function parseArgs(argv) {
  const options = { host: '127.0.0.1', port: 2775, control_port: 8775, system_id: null, password: null };
  const behaviour = { ...DEFAULTS, reject_prefixes: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    let key = arg.slice(2).replaceAll('-', '_');
    if (key.startsWith('no_') && typeof DEFAULTS[key.slice(3)] === 'boolean') {
      behaviour[key.slice(3)] = false;
      continue;
    }
    if (typeof DEFAULTS[key] === 'boolean') {
      behaviour[key] = true;
      continue;
    }
    const raw = argv[++i];
    if (raw === undefined) throw new Error(`${arg} needs a value`);
    if (key in options) {
      options[key] = ['port', 'control_port'].includes(key) ? Number(raw) : raw;
    } else if (key in DEFAULTS) {
      const def = DEFAULTS[key];
      const value = Array.isArray(def) ? raw.split(',').map((p) => p.trim()).filter(Boolean)
        : typeof def === 'number' ? Number(raw) : raw;
      behaviour[key] = checked(key, value);
    } else {
      throw new Error(`unknown option ${arg}`);
    }
  }
  return [options, behaviour];
}

const [options, behaviour] = parseArgs(process.argv.slice(2));
const smsc = new Smsc(behaviour, options.system_id, options.password);
const server = smpp.createServer((session) => smsc.accept(session));
server.listen(options.port, options.host, () => {
  const smppPort = server.address().port;
  const control = controlServer(smsc, smppPort);
  control.listen(options.control_port, options.host, () => {
    process.stdout.write(JSON.stringify({
      implementation: 'node', host: options.host, smpp_port: smppPort, control_port: control.address().port,
    }) + '\n');
  });
  const stop = () => {
    smsc.drop();
    server.close();
    control.close();
    control.closeAllConnections?.();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
});
