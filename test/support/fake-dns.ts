// A DNS server on 127.0.0.1 (UDP, random port) answering from a table, for commands that
// look names up (BTW_DNS_SERVERS=127.0.0.1:<port>). A name in the table with no record of
// the asked type answers NODATA; a name not in the table answers NXDOMAIN. The table is read
// at each query: a test may add records after the server started.
import { createSocket, type Socket } from "node:dgram";

export interface FakeRecords {
  cname?: string;
  a?: string[];
  aaaa?: string[];
  /** one TXT record per value (a value over 255 bytes goes as several strings) */
  txt?: string[];
}

const TYPE = { A: 1, CNAME: 5, TXT: 16, AAAA: 28 } as const;

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, "").split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function rdataOf(type: number, value: string): Buffer {
  if (type === TYPE.A) return Buffer.from(value.split(".").map(Number));
  if (type === TYPE.CNAME) return encodeName(value);
  if (type === TYPE.TXT) {
    const bytes = Buffer.from(value, "utf8");
    const chunks: Buffer[] = [];
    for (let i = 0; i === 0 || i < bytes.length; i += 255) {
      const c = bytes.subarray(i, i + 255);
      chunks.push(Buffer.from([c.length]), c);
    }
    return Buffer.concat(chunks);
  }
  // AAAA: expand "::"
  const [head, tail] = value.includes("::") ? value.split("::") : [value, undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

function answer(query: Buffer, table: Record<string, FakeRecords>): Buffer {
  let i = 12;
  const labels: string[] = [];
  while (query[i]! !== 0) {
    labels.push(query.subarray(i + 1, i + 1 + query[i]!).toString("ascii"));
    i += query[i]! + 1;
  }
  const question = query.subarray(12, i + 5);
  const qtype = query.readUInt16BE(i + 1);
  const name = labels.join(".").toLowerCase();
  const rec = table[name];
  const answers: Buffer[] = [];
  const rr = (type: number, value: string) => {
    const data = rdataOf(type, value);
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(type, 0);
    fixed.writeUInt16BE(1, 2);
    fixed.writeUInt32BE(60, 4);
    fixed.writeUInt16BE(data.length, 8);
    answers.push(Buffer.concat([Buffer.from([0xc0, 0x0c]), fixed, data]));
  };
  if (rec?.cname && qtype === TYPE.CNAME) rr(TYPE.CNAME, rec.cname);
  if (qtype === TYPE.A) for (const a of rec?.a ?? []) rr(TYPE.A, a);
  if (qtype === TYPE.AAAA) for (const a of rec?.aaaa ?? []) rr(TYPE.AAAA, a);
  if (qtype === TYPE.TXT) for (const t of rec?.txt ?? []) rr(TYPE.TXT, t);
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(0x8180 | (rec ? 0 : 3), 2); // response, RD+RA, NOERROR or NXDOMAIN
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question, ...answers]);
}

export async function startFakeDns(table: Record<string, FakeRecords>): Promise<{ address: string; close(): Promise<void> }> {
  const socket: Socket = createSocket("udp4");
  socket.on("message", (msg, from) => {
    try {
      socket.send(answer(msg, table), from.port, from.address);
    } catch {
      // a malformed query gets no answer
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return { address: `127.0.0.1:${socket.address().port}`, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}
