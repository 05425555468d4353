// A prepared n8n database (issue 21): a Postgres data directory on which n8n has already run
// its ~180 migrations, made once per server and per (n8n image, Postgres image), and cloned
// into each new tenant's data volume before its first start. The tenant's Postgres then skips
// initdb and n8n skips its migrations: at create, only what cannot be prepared is done.
//
// Where it lives: /opt/btw/prepared/<key>/ on each server, key = sha256(recipe, n8n image id,
// Postgres image id) — made on the server from the images the tenant will run, so it works the
// same with the official images in production and with the lab's. Beside the tarball: its
// sha256 and a manifest naming the recipe and both image ids. Before every use both are checked
// (under the directory's lock); a mismatch (another version, a damaged file) is refused, said,
// and rebuilt.
//
// Never shared between tenants: a clone gets, before Postgres first starts on it,
// - the tenant's own database password (ALTER ROLE in single-user mode, read from stdin),
// - new ids for every row of n8n's `user` and `project` tables (the shell owner and its
//   personal project, the only identity n8n writes at migration time), and every foreign key
//   pointing at them (found in the catalogue, so a new n8n's new tables follow),
// while the encryption key, instance id (derived from it), JWT/HMAC secrets (derived too), API
// keys, owner password and webhook ids are the tenant's own and written after its n8n starts.
// The throwaway cluster's password and encryption key never leave the server.
//
// Pure builders: argv arrays quoted later by core/shell.ts; scripts take values as "$@".

import { UsageError } from "../../errors.js";

/** The data volume's mount point in the Postgres image (the compose file sets PGDATA to it). */
export const PGDATA = "/var/lib/postgresql/data";
/** Where prepared databases live on a server. */
export const PREPARED_ROOT = "/opt/btw/prepared";
/** Bumped when the way a prepared database is made changes: older ones are then rebuilt. */
export const PREPARED_RECIPE = "btw-prepared-1";

/** Exit codes of the script, beyond 0. */
export const PREPARE_FAILED = 10; // nothing was cloned: the create may go on without it
export const CLONE_FAILED = 11; // the clone failed part-way: the volume is left without PG_VERSION
export const NOT_READY = 12; // none ready yet (being made in the background): nothing was cloned

/**
 * What one throwaway n8n runs to migrate the database: the same DB settings as a tenant's,
 * everything that would reach out switched off, Postgres reached on the loopback of the
 * Postgres container whose network namespace it shares (no network of its own).
 */
const N8N_PREP_ENV = [
  "DB_TYPE=postgresdb",
  "DB_POSTGRESDB_HOST=127.0.0.1",
  "DB_POSTGRESDB_PORT=5432",
  "DB_POSTGRESDB_DATABASE=n8n",
  "DB_POSTGRESDB_USER=n8n",
  "N8N_LISTEN_ADDRESS=127.0.0.1",
  "N8N_PORT=5678",
  "N8N_DIAGNOSTICS_ENABLED=false",
  "N8N_VERSION_NOTIFICATIONS_ENABLED=false",
  "N8N_PERSONALIZATION_ENABLED=false",
  "N8N_HIRING_BANNER_ENABLED=false",
];

/**
 * The server side of prepare-and-clone, one `sh` script: $1 root, $2 n8n image, $3 Postgres
 * image, $4 recipe, $5 the tenant's data volume ("" to prepare only), $6 "rebuild" to force,
 * $7 "wait" to make a missing one now (else it is made in the background, detached from the
 * SSH session, and the create goes on without it: no create waits a minute for a database it
 * can do without). Stdin (clone only): the tenant's database password on the first line, then
 * the identity SQL. Prints `prepared <key> ready|built|building|busy [refused: why]` and
 * `clone done|earlier`. The script itself is in $PREP (to start its background run).
 */
export const PREPARE_AND_CLONE_SCRIPT = `set -eu
root=$1 n8n_image=$2 pg_image=$3 recipe=$4 vol=$5 force=$6 mode=$7
fail() { echo "btw-prepared: $2" >&2; exit "$1"; }
n8n_id=$(docker image inspect -f '{{.Id}}' "$n8n_image" </dev/null) || fail ${PREPARE_FAILED} "image $n8n_image is not on this server"
pg_id=$(docker image inspect -f '{{.Id}}' "$pg_image" </dev/null) || fail ${PREPARE_FAILED} "image $pg_image is not on this server"
key=$(printf '%s\\n%s\\n%s\\n' "$recipe" "$n8n_id" "$pg_id" | sha256sum | cut -c1-16)
dir=$root/$key
want=$(printf '{"recipe":"%s","n8nImage":"%s","n8nImageId":"%s","postgresImage":"%s","postgresImageId":"%s"}' "$recipe" "$n8n_image" "$n8n_id" "$pg_image" "$pg_id")
mkdir -p "$root" && chmod 700 "$root"
exec 9>"$root/.lock"
if [ "$mode" = wait ]; then
  flock -w 900 9 || fail ${PREPARE_FAILED} "$root/.lock busy for 900 s"
elif ! flock -s -n 9; then
  # creates share the lock to check and clone (two at once both clone); only a build holds it alone
  echo "prepared $key busy"; exit ${NOT_READY}
fi
why=""
if [ "$force" = rebuild ]; then why="rebuild asked"
elif [ ! -d "$dir" ]; then why=""
elif [ "$(head -n 1 "$dir/manifest.json" 2>/dev/null)" != "$want" ]; then why="its manifest names other images or another recipe"
elif ! (cd "$dir" && sha256sum -c --status pgdata.tar.sha256 2>/dev/null); then why="its checksum does not match"
else why=ok
fi
if [ "$why" = ok ]; then
  touch "$dir" # last used: what the prune below reads
  echo "prepared $key ready"
else
  [ -z "$why" ] || echo "prepared $key refused: $why; rebuilding"
  if [ "$mode" != wait ]; then
    flock -u 9
    setsid sh -c "$PREP" sh "$root" "$n8n_image" "$pg_image" "$recipe" "" "$force" wait </dev/null >"$root/.build-$key.log" 2>&1 &
    echo "prepared $key building"
    exit ${NOT_READY}
  fi
  # an underscore: no tenant's name (letters, digits, dashes) makes these container and volume names
  name=btw_prepared_$key tmp=$dir.tmp
  cleanup() { docker rm -f "$name-n8n" "$name-pg" >/dev/null 2>&1 || true; docker volume rm -f "$name-pgdata" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
  trap cleanup EXIT
  cleanup
  rm -rf "$dir"
  mkdir -m 700 "$tmp"
  pw=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \\n')
  key8=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \\n')
  umask 077
  printf 'POSTGRES_USER=n8n\\nPOSTGRES_DB=n8n\\nPOSTGRES_PASSWORD=%s\\nPGDATA=${PGDATA}\\n' "$pw" > "$tmp/pg.env"
  { printf '%s\\n' ${N8N_PREP_ENV.map((l) => `'${l}'`).join(" ")}; printf 'DB_POSTGRESDB_PASSWORD=%s\\nN8N_ENCRYPTION_KEY=%s\\n' "$pw" "$key8"; } > "$tmp/n8n.env"
  docker run -d --name "$name-pg" --network none --env-file "$tmp/pg.env" -v "$name-pgdata:${PGDATA}" "$pg_image" </dev/null >/dev/null || fail ${PREPARE_FAILED} "the throwaway Postgres did not start"
  docker run -d --name "$name-n8n" --network "container:$name-pg" --env-file "$tmp/n8n.env" "$n8n_image" </dev/null >/dev/null || fail ${PREPARE_FAILED} "the throwaway n8n did not start"
  rm -f "$tmp/pg.env" "$tmp/n8n.env"
  i=0
  # wget where the image has one (~0.02 s of CPU a poll), else a whole Node start (~0.3 s)
  until docker exec "$name-n8n" sh -c "if command -v wget >/dev/null 2>&1; then exec wget -q -T 4 -O /dev/null http://127.0.0.1:5678/healthz/readiness; else exec node -e \\"fetch('http://127.0.0.1:5678/healthz/readiness',{signal:AbortSignal.timeout(4000)}).then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))\\"; fi" </dev/null >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -lt 300 ] || fail ${PREPARE_FAILED} "the throwaway n8n was not ready after 300 s: $(docker logs --tail 3 "$name-n8n" 2>&1 | tr '\\n' ' ')"
    [ "$(docker inspect -f '{{.State.Running}}' "$name-n8n" 2>/dev/null)" = true ] || fail ${PREPARE_FAILED} "the throwaway n8n exited: $(docker logs --tail 3 "$name-n8n" 2>&1 | tr '\\n' ' ')"
    sleep 1
  done
  docker stop -t 30 "$name-n8n" </dev/null >/dev/null
  docker stop -t 60 "$name-pg" </dev/null >/dev/null
  # the archive comes out on stdout, written here by this shell: a container could not write
  # into $tmp (0700, root's) on an engine that remaps user namespaces
  docker run --rm --network none -v "$name-pgdata:/data:ro" --entrypoint tar "$pg_image" -C /data -cf - . </dev/null > "$tmp/pgdata.tar" || fail ${PREPARE_FAILED} "could not archive the prepared database"
  (cd "$tmp" && sha256sum pgdata.tar > pgdata.tar.sha256)
  printf '%s\\n' "$want" > "$tmp/manifest.json"
  # Nothing secret inside (the throwaway password is replaced in every clone): readable by
  # the clone, which runs as the image's postgres user.
  chmod 755 "$tmp" && chmod 644 "$tmp/pgdata.tar" "$tmp/pgdata.tar.sha256" "$tmp/manifest.json"
  cleanup_keep() { docker rm -f "$name-n8n" "$name-pg" >/dev/null 2>&1 || true; docker volume rm -f "$name-pgdata" >/dev/null 2>&1 || true; }
  cleanup_keep
  mv "$tmp" "$dir"
  trap - EXIT
  # the ones of images no create has used for 30 days (an n8n upgraded past them) go
  find "$root" -mindepth 1 -maxdepth 1 -type d -mtime +30 ! -name "$key" -exec rm -rf {} + 2>/dev/null || true
  echo "prepared $key built"
fi
[ -n "$vol" ] || exit 0
# Readers share the lock: a rebuild of this key waits for clones under way. One clone per
# volume at a time: a killed create's clone may still run when its re-run starts.
flock -s 9
exec 8>"$root/.clone-$vol.lock"
flock -w 900 8 || fail ${CLONE_FAILED} "another clone into $vol still runs"
docker run --rm -i --network none --user postgres -v "$vol:${PGDATA}" -v "$dir:/btw-prepared:ro" --entrypoint sh "$pg_image" -c "$CLONE" sh || exit ${CLONE_FAILED}
`;

/**
 * Runs in the tenant's Postgres image as user postgres, the tenant's data volume mounted:
 * extracts beside, renews the identity, then moves the files in with PG_VERSION last — a
 * data directory has PG_VERSION only once it is whole (a kill part-way leaves none, and the
 * re-run starts over; the volume is the new tenant's, empty of anyone's data until then).
 */
export const CLONE_SCRIPT = `set -eu
d=${PGDATA}
if [ -s "$d/PG_VERSION" ]; then echo "clone earlier"; exit 0; fi
find "$d" -mindepth 1 -delete
mkdir -m 700 "$d/.btw-clone"
tar -xf /btw-prepared/pgdata.tar -C "$d/.btw-clone"
chmod 700 "$d/.btw-clone"
out=$(postgres --single -j -D "$d/.btw-clone" -c log_min_error_statement=panic -c log_min_messages=error -c password_encryption=scram-sha-256 n8n)
case "$out" in *btw-clone-ok*) ;; *) echo "btw-prepared: the identity of the clone was not renewed" >&2; exit 1 ;; esac
for f in "$d/.btw-clone"/*; do [ "\${f##*/}" = PG_VERSION ] || mv "$f" "$d/"; done
mv "$d/.btw-clone/PG_VERSION" "$d/PG_VERSION"
rmdir "$d/.btw-clone"
echo "clone done"
`;

/** argv: prepare (and verify) the server's prepared database for these images; with `volume`, clone it there. */
export function prepareAndClone(opts: { n8nImage: string; postgresImage: string; volume?: string; rebuild?: boolean; wait?: boolean }): string[] {
  if (opts.volume !== undefined && !/^[a-z0-9][a-z0-9_.-]*$/.test(opts.volume)) throw new UsageError(`invalid volume name ${JSON.stringify(opts.volume)}`, { code: "invalid-volume" });
  // CLONE reaches the inner sh through the environment of the outer one, PREP its own
  // background run: set as prefix words (scripts, no secrets).
  return [
    "env", `CLONE=${CLONE_SCRIPT}`, `PREP=${PREPARE_AND_CLONE_SCRIPT}`,
    "sh", "-c", PREPARE_AND_CLONE_SCRIPT, "sh", PREPARED_ROOT, opts.n8nImage, opts.postgresImage, PREPARED_RECIPE, opts.volume ?? "", opts.rebuild ? "rebuild" : "", opts.wait ? "wait" : "",
  ];
}

/**
 * The clone's stdin: the password statement, then the statements renewing every id. Run by
 * `postgres --single -j` (statements end with ";" and an empty line). The password goes in
 * as a literal of a plain statement (log_min_error_statement=panic: never echoed in an error);
 * it is one of btw's generated secrets (letters and digits) — anything else is refused here.
 */
export function cloneInput(databasePassword: string): string {
  if (!/^[A-Za-z0-9]{16,128}$/.test(databasePassword)) throw new UsageError("the tenant's database password is not one btw generated (letters and digits)", { code: "invalid-secret" });
  return [
    "BEGIN;",
    `ALTER ROLE n8n PASSWORD '${databasePassword}';`,
    "SELECT set_config('btw.password', 'set', false);",
    "COMMIT;",
    "SET session_replication_role = replica;",
    RENEW_IDENTITY_SQL,
    "SET session_replication_role = origin;",
    "SELECT 'btw-clone-ok' AS done WHERE current_setting('btw.password', true) = 'set' AND current_setting('btw.identity', true) = 'renewed';",
  ].join("\n\n") + "\n\n";
}

/**
 * New ids for each row of n8n's `user` (uuid) and `project` (16 characters) tables, and every
 * single-column foreign key pointing at them, in one block: all or nothing. Foreign keys have
 * no ON UPDATE CASCADE in n8n's schema; replica mode skips their checks for these updates.
 */
export const RENEW_IDENTITY_SQL = `DO $btw$
DECLARE
  t record; r record; fk record; newid text;
BEGIN
  FOR t IN SELECT * FROM (VALUES ('user', 'uuid'), ('project', 'short')) AS v(tab, kind) LOOP
    -- n8n renaming these would leave the clone's identity shared: refuse rather than skip
    IF to_regclass(format('public.%I', t.tab)) IS NULL THEN RAISE EXCEPTION 'no table public.% in the prepared database', t.tab; END IF;
    FOR r IN EXECUTE format('SELECT id::text AS id FROM public.%I', t.tab) LOOP
      newid := CASE t.kind WHEN 'uuid' THEN gen_random_uuid()::text ELSE substr(md5(gen_random_uuid()::text), 1, 16) END;
      FOR fk IN
        SELECT n.nspname, c.relname, a.attname
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
        WHERE k.contype = 'f' AND k.confrelid = to_regclass(format('public.%I', t.tab)) AND array_length(k.conkey, 1) = 1
      LOOP
        EXECUTE format('UPDATE %I.%I SET %I = %L WHERE %I::text = %L', fk.nspname, fk.relname, fk.attname, newid, fk.attname, r.id);
      END LOOP;
      EXECUTE format('UPDATE public.%I SET id = %L WHERE id::text = %L', t.tab, newid, r.id);
    END LOOP;
  END LOOP;
  PERFORM set_config('btw.identity', 'renewed', false);
END
$btw$;`;

/** The script's report: the key, whether it was ready, built or refused (and why), and the clone. */
export function parsePrepareOutput(stdout: string): { key: string | null; prepared: "ready" | "built" | "building" | "busy" | null; refused: string | null; clone: "done" | "earlier" | null } {
  const key = /^prepared ([0-9a-f]{16}) /m.exec(stdout)?.[1] ?? null;
  const prepared = /^prepared [0-9a-f]{16} (ready|built|building|busy)$/m.exec(stdout)?.[1] as "ready" | "built" | "building" | "busy" | undefined;
  const refused = /^prepared [0-9a-f]{16} refused: (.*); rebuilding$/m.exec(stdout)?.[1] ?? null;
  const clone = /^clone (done|earlier)$/m.exec(stdout)?.[1] as "done" | "earlier" | undefined;
  return { key, prepared: prepared ?? null, refused, clone: clone ?? null };
}
