// FAKE SMTP server: speaks real SMTP (RFC 5321) on 127.0.0.1 — EHLO, STARTTLS (when given a
// certificate), AUTH PLAIN, MAIL FROM, RCPT TO, DATA with dot-unstuffing, QUIT — and keeps
// what it received. Not a mail server: it delivers nothing.

import net from "node:net";
import tls from "node:tls";
import type { AddressInfo } from "node:net";

export interface ReceivedMail {
  from: string;
  to: string[];
  data: string;
  /** the decoded AUTH PLAIN user, if any */
  user: string | null;
  /** whether the session had been upgraded with STARTTLS before the message */
  tls: boolean;
}

export interface FakeSmtp {
  readonly port: number;
  readonly received: ReceivedMail[];
  /** passwords that AUTH rejects: any other is accepted unless `password` is set */
  close(): Promise<void>;
}

export interface FakeSmtpOptions {
  /** offer STARTTLS with this key pair */
  tls?: { key: string; cert: string };
  /** the only password AUTH PLAIN accepts (default: any) */
  password?: string;
  /** the address to listen on (default 127.0.0.1; e2e: the lab bridge's, where the VMs reach it) */
  host?: string;
}

export async function startFakeSmtp(opts: FakeSmtpOptions = {}): Promise<FakeSmtp> {
  const received: ReceivedMail[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on("close", () => sockets.delete(raw));
    let sock: net.Socket = raw;
    let buffer = "";
    let inData = false;
    let dataLines: string[] = [];
    let mail: { from: string; to: string[]; user: string | null } = { from: "", to: [], user: null };
    let secure = false;
    let user: string | null = null;
    const say = (line: string) => sock.write(line + "\r\n");
    const onLine = (line: string) => {
      if (inData) {
        if (line === ".") {
          inData = false;
          received.push({ from: mail.from, to: mail.to, data: dataLines.join("\r\n") + "\r\n", user, tls: secure });
          say("250 2.0.0 queued by the fake");
        } else dataLines.push(line.startsWith("..") ? line.slice(1) : line);
        return;
      }
      const [verb = "", ...rest] = line.split(" ");
      const arg = rest.join(" ");
      switch (verb.toUpperCase()) {
        case "EHLO":
          sock.write(`250-fake-smtp greets ${arg}\r\n${opts.tls && !secure ? "250-STARTTLS\r\n" : ""}250-AUTH PLAIN\r\n250 8BITMIME\r\n`);
          break;
        case "STARTTLS": {
          if (!opts.tls || secure) return say("454 4.7.0 TLS not available");
          say("220 2.0.0 go ahead");
          raw.removeAllListeners("data");
          const t = new tls.TLSSocket(raw, { isServer: true, key: opts.tls.key, cert: opts.tls.cert });
          secure = true;
          sock = t;
          buffer = "";
          t.on("data", onData);
          t.on("error", () => raw.destroy());
          break;
        }
        case "AUTH": {
          const [mech, b64] = arg.split(" ");
          if (mech?.toUpperCase() !== "PLAIN" || !b64) return say("504 5.5.4 only AUTH PLAIN with an initial response");
          const [, u = "", p = ""] = Buffer.from(b64, "base64").toString("utf8").split("\0");
          if (opts.password !== undefined && p !== opts.password) return say("535 5.7.8 authentication failed");
          user = u;
          say("235 2.7.0 authenticated");
          break;
        }
        case "MAIL":
          mail = { from: arg.replace(/^FROM:<(.*)>.*$/i, "$1"), to: [], user };
          say("250 2.1.0 ok");
          break;
        case "RCPT":
          mail.to.push(arg.replace(/^TO:<(.*)>.*$/i, "$1"));
          say("250 2.1.5 ok");
          break;
        case "DATA":
          if (!mail.from || mail.to.length === 0) return say("503 5.5.1 MAIL and RCPT first");
          inData = true;
          dataLines = [];
          say("354 end with <CRLF>.<CRLF>");
          break;
        case "QUIT":
          say("221 2.0.0 bye");
          sock.end();
          break;
        default:
          say("502 5.5.2 not implemented by the fake");
      }
    };
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      let i: number;
      while ((i = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        onLine(line);
      }
    };
    raw.on("data", onData);
    raw.on("error", () => undefined);
    say("220 fake-smtp ESMTP (a test fake)");
  });
  await new Promise<void>((resolve) => server.listen(0, opts.host ?? "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
