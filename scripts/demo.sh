#!/usr/bin/env bash
# `npm run demo`: the main job end to end on the local lab, with the embedded state store.
# On a fresh machine it installs what is missing first (npm packages, Debian packages, the
# lab's images the demo uses — the first build takes about five minutes, mostly n8n's npm
# install). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh

say() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
btw() { printf '$ btw %s\n' "$*" >&2; node bin/btw "$@"; }
json() { node -e 'const v=JSON.parse(require("fs").readFileSync(0,"utf8")); const r=process.argv[1].split(".").reduce((o,k)=>o?.[k],v); console.log(typeof r==="object"?JSON.stringify(r):r)' "$1"; }

say "Bringing the lab up: Docker-in-Docker servers with sshd, a local registry, images"
lab=$(npm run --silent lab -- up --json)

export BTW_HOME="${BTW_DEMO_HOME:-$HOME/.btw-demo}"
say "Initialising btw in $BTW_HOME (embedded state store, the lab's images, plain HTTP)"
btw init --domain lab.btw.test --tls off --timezone Europe/Paris --merge "$(json config <<<"$lab")" --non-interactive

say "Registering the lab's servers"
count=$(json servers.length <<<"$lab")
for i in $(seq 0 $((count - 1))); do
  name=$(json "servers.$i.name" <<<"$lab")
  if node bin/btw server show "$name" >/dev/null 2>&1; then
    printf 'server %s already registered\n' "$name" >&2
  else
    btw server add "$name" --host "$(json "servers.$i.host" <<<"$lab")" --port "$(json "servers.$i.port" <<<"$lab")" \
      --user "$(json "servers.$i.user" <<<"$lab")" --ssh-key "$(json "servers.$i.sshKey" <<<"$lab")" --capacity 12
  fi
done
# idempotent: a server registered by an older btw (or whose rules were flushed) takes no tenants without it
btw server isolate
btw server check
btw server list

say "The main job: btw tenant create acme --plan pro"
status=$(node bin/btw tenant show acme --json 2>/dev/null | json tenant.status || true)
if [ "$status" = "active" ]; then
  printf 'tenant acme is already active (re-run of the demo)\n' >&2
else
  btw tenant create acme --plan pro
fi
btw tenant show acme
btw tenant status acme

say "A request through the proxy: Host acme.lab.btw.test → $(json servers.0.host <<<"$lab"):80"
server_of_acme=$(node bin/btw tenant show acme --json | json tenant.server)
addr=$(node -e 'const l=JSON.parse(process.argv[1]); console.log(l.servers.find(s=>s.name===process.argv[2]).host)' "$lab" "$server_of_acme")
node -e '
  const [addr] = process.argv.slice(1);
  require("http").get({ host: addr, port: 80, path: "/healthz", headers: { Host: "acme.lab.btw.test" }, timeout: 15000 }, (res) => {
    let body = ""; res.on("data", (d) => (body += d));
    res.on("end", () => { console.log(`GET http://acme.lab.btw.test/healthz via ${addr} -> ${res.statusCode} ${body}`); process.exit(res.statusCode === 200 ? 0 : 1); });
  }).on("error", (e) => { console.error(e.message); process.exit(1); });
' "$addr"
btw status

say "Done. Try: BTW_HOME=$BTW_HOME node bin/btw tenant logs acme --tail 20"
