// A small SMTP client (RFC 5321): EHLO, STARTTLS or implicit TLS, AUTH PLAIN, one message.
// Enough to tell the operator; no pooling, no retries (the caller records a failure).
// The password never appears in an error: failures name the step and the server's reply code.

import net from "node:net";
import tls from "node:tls";

export interface SmtpOptions {
  host: string;
  port: number;
  security: "starttls" | "tls" | "none";
  user?: string;
  password?: string;
  /** EHLO name */
  clientName: string;
  timeoutMs: number;
  /** extra CAs (tests); default: the system's */
  ca?: string;
}

export interface SmtpMail {
  from: string;
  to: readonly string[];
  /** the whole RFC 5322 message, CRLF line ends */
  data: string;
}

class Conversation {
  private buffer = "";
  private waiters: Array<(line: string) => void> = [];
  private lines: string[] = [];
  private failure: Error | null = null;

  constructor(public socket: net.Socket) {
    this.attach(socket);
  }

  attach(socket: net.Socket): void {
    this.socket = socket;
    this.buffer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.buffer += chunk;
      let i: number;
      while ((i = this.buffer.indexOf("\r\n")) >= 0) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        const w = this.waiters.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    const fail = (e: Error) => {
      this.failure ??= e;
      for (const w of this.waiters.splice(0)) w("");
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("the server closed the connection")));
  }

  private nextLine(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) =>
      this.waiters.push((line) => (this.failure && line === "" ? reject(this.failure) : resolve(line))),
    );
  }

  /** One reply (multi-line "250-…" … "250 …"); throws unless its code is `expect`. */
  async reply(step: string, expect: number): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.nextLine();
      lines.push(line);
      if (!/^\d{3}-/.test(line)) break;
    }
    const code = Number(lines[lines.length - 1]!.slice(0, 3));
    if (code !== expect) throw new Error(`SMTP ${step}: the server answered ${lines[lines.length - 1]!.slice(0, 120)}`);
    return lines;
  }

  send(text: string): void {
    this.socket.write(text);
  }
}

// SNI takes names only (RFC 6066); an IP address is still checked against the certificate.
const sni = (host: string) => (net.isIP(host) ? {} : { servername: host });

function connect(o: SmtpOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s =
      o.security === "tls"
        ? tls.connect({ host: o.host, port: o.port, ...sni(o.host), ...(o.ca ? { ca: o.ca } : {}) }, () => resolve(s))
        : net.connect({ host: o.host, port: o.port }, () => resolve(s));
    s.once("error", reject);
  });
}

function upgrade(socket: net.Socket, o: SmtpOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    socket.removeAllListeners("data");
    socket.removeAllListeners("error");
    socket.removeAllListeners("close");
    const t = tls.connect({ socket, host: o.host, ...sni(o.host), ...(o.ca ? { ca: o.ca } : {}) }, () => resolve(t));
    t.once("error", reject);
  });
}

/** Dot-stuffing (a line starting with "." gets another) and the terminating ".". */
export function smtpData(message: string): string {
  const body = message.replace(/\r?\n/g, "\r\n").replace(/^\./gm, "..");
  return (body.endsWith("\r\n") ? body : body + "\r\n") + ".\r\n";
}

export async function sendMail(o: SmtpOptions, mail: SmtpMail): Promise<void> {
  const socket = await connect(o);
  socket.setTimeout(o.timeoutMs, () => socket.destroy(new Error(`SMTP: no answer from the server within ${o.timeoutMs} ms`)));
  const c = new Conversation(socket);
  try {
    await c.reply("greeting", 220);
    c.send(`EHLO ${o.clientName}\r\n`);
    let ehlo = await c.reply("EHLO", 250);
    if (o.security === "starttls") {
      if (!ehlo.some((l) => /^250[- ]STARTTLS/i.test(l))) throw new Error("SMTP: the server does not offer STARTTLS (set security: tls or none)");
      c.send("STARTTLS\r\n");
      await c.reply("STARTTLS", 220);
      const secure = await upgrade(c.socket, o);
      secure.setTimeout(o.timeoutMs, () => secure.destroy(new Error(`SMTP: no answer from the server within ${o.timeoutMs} ms`)));
      c.attach(secure);
      c.send(`EHLO ${o.clientName}\r\n`);
      ehlo = await c.reply("EHLO", 250);
    }
    if (o.user) {
      if (o.password === undefined) throw new Error("SMTP: a user is configured but no password was given");
      c.send(`AUTH PLAIN ${Buffer.from(`\0${o.user}\0${o.password}`, "utf8").toString("base64")}\r\n`);
      await c.reply("AUTH", 235);
    }
    c.send(`MAIL FROM:<${mail.from}>\r\n`);
    await c.reply("MAIL FROM", 250);
    for (const to of mail.to) {
      c.send(`RCPT TO:<${to}>\r\n`);
      await c.reply(`RCPT TO ${to}`, 250);
    }
    c.send("DATA\r\n");
    await c.reply("DATA", 354);
    c.send(smtpData(mail.data));
    await c.reply("message", 250);
    c.send("QUIT\r\n");
  } finally {
    c.socket.end();
    c.socket.destroy();
  }
}
