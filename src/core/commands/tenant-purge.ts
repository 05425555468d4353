// After `compose down --volumes`, anything still labelled with the tenant (a container or
// volume left by an interrupted create, a network Compose did not own) is removed by label.
// The slug travels as "$1" of a constant script, never spliced into it.
export const PURGE_BY_LABEL_SCRIPT = [
  'docker ps -aq --filter "label=btw.tenant=$1" | xargs -r docker rm -f >/dev/null',
  'docker volume ls -q --filter "label=btw.tenant=$1" | xargs -r docker volume rm >/dev/null',
  'docker network ls -q --filter "label=btw.tenant=$1" | xargs -r docker network rm >/dev/null',
  "true",
].join("; ");

export function purgeByLabel(slug: string): string[] {
  return ["sh", "-c", PURGE_BY_LABEL_SCRIPT, "sh", slug];
}
