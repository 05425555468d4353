// FAKE WordPress REST API for tests — not WordPress. Implements the part of /wp-json/wp/v2
// the btw workflows use, with the real protocol's shapes and checks:
//   POST /wp-json/wp/v2/media   raw file body + Content-Disposition: attachment; filename=…
//                               → 201 {id, source_url, mime_type, media_details, …}
//   POST /wp-json/wp/v2/posts   JSON {title, content, status, excerpt, slug, featured_media}
//                               → 201 {id, link, status, featured_media, …}
//   GET  /wp-json/wp/v2/users/me, /posts, /posts/<id>, /media/<id>
//   GET  /wp-content/uploads/<file>  the uploaded bytes
// Every /wp-json call needs HTTP basic auth with the configured user and application password
// (401 rest_not_logged_in otherwise), like WordPress with application passwords.

import { parseBasicAuth, startFakeServer, type FakeServer, type FakeServerOptions, type RecordedRequest, type Reply } from "./http.js";

export interface FakeWordPressOptions extends FakeServerOptions {
  username: string;
  password: string;
}

export interface FakeMedia {
  id: number;
  filename: string;
  mimeType: string;
  bytes: Buffer;
  sourceUrl: string;
  postId: number | null;
}

export interface FakePost {
  id: number;
  title: string;
  content: string;
  excerpt: string;
  slug: string;
  status: string;
  featuredMedia: number;
  link: string;
}

export interface FakeWordPress extends FakeServer {
  readonly media: FakeMedia[];
  readonly posts: FakePost[];
  mediaRequests(): RecordedRequest[];
  postRequests(): RecordedRequest[];
}

function wpError(status: number, code: string, message: string): Reply {
  return { status, body: { code, message, data: { status } } };
}

function rendered(v: unknown): string {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { raw?: unknown }).raw === "string") return (v as { raw: string }).raw;
  return "";
}

/** filename from `attachment; filename="x.png"` (or filename*=UTF-8''x.png) */
function dispositionFilename(h: string | undefined): string | null {
  if (!h) return null;
  const star = /filename\*\s*=\s*[^']*''([^;]+)/i.exec(h);
  if (star) return decodeURIComponent(star[1]!.trim());
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(h);
  return plain ? plain[1]!.trim() : null;
}

export async function startFakeWordPress(opts: FakeWordPressOptions): Promise<FakeWordPress> {
  const media: FakeMedia[] = [];
  const posts: FakePost[] = [];
  let nextId = 100;
  let server: FakeServer | undefined;
  const base = (): string => server!.url;

  const mediaJson = (m: FakeMedia): object => ({
    id: m.id,
    date: new Date().toISOString(),
    slug: m.filename.replace(/\.[^.]+$/, ""),
    type: "attachment",
    link: `${base()}/?attachment_id=${m.id}`,
    title: { rendered: m.filename },
    media_type: m.mimeType.startsWith("image/") ? "image" : "file",
    mime_type: m.mimeType,
    post: m.postId,
    source_url: m.sourceUrl,
    media_details: { filesize: m.bytes.length, sizes: {} },
  });
  const postJson = (p: FakePost): object => ({
    id: p.id,
    date: new Date().toISOString(),
    slug: p.slug,
    status: p.status,
    type: "post",
    link: p.link,
    title: { raw: p.title, rendered: p.title },
    content: { raw: p.content, rendered: p.content, protected: false },
    excerpt: { raw: p.excerpt, rendered: `<p>${p.excerpt}</p>`, protected: false },
    featured_media: p.featuredMedia,
    _links: { self: [{ href: `${base()}/wp-json/wp/v2/posts/${p.id}` }] },
  });

  server = await startFakeServer((req) => {
    if (req.method === "GET" && req.path.startsWith("/wp-content/uploads/")) {
      const m = media.find((x) => x.sourceUrl.endsWith(req.path));
      return m ? { status: 200, headers: { "content-type": m.mimeType }, body: m.bytes } : { status: 404, body: "not found" };
    }
    if (!req.path.startsWith("/wp-json/")) return { status: 404, body: "not found" };

    const auth = parseBasicAuth(req.headers.authorization);
    if (!auth || auth.user !== opts.username || auth.pass !== opts.password) {
      return wpError(401, "rest_not_logged_in", "You are not currently logged in.");
    }
    const route = req.path.replace(/\/+$/, "");

    if (req.method === "GET" && route === "/wp-json/wp/v2/users/me") {
      return { status: 200, body: { id: 1, name: opts.username, slug: opts.username } };
    }
    if (req.method === "POST" && route === "/wp-json/wp/v2/media") {
      const filename = dispositionFilename(req.headers["content-disposition"]);
      if (!filename) return wpError(400, "rest_upload_no_content_disposition", "No Content-Disposition supplied.");
      if (!req.body.length) return wpError(400, "rest_upload_no_data", "No data supplied.");
      const mimeType = (req.headers["content-type"] ?? "application/octet-stream").split(";")[0]!.trim();
      if (!/^image\/(png|jpeg|gif|webp)$/.test(mimeType)) {
        return wpError(500, "rest_upload_sideload_error", "Sorry, you are not allowed to upload this file type.");
      }
      const id = nextId++;
      const safe = filename.replace(/[^A-Za-z0-9._-]/g, "-");
      const m: FakeMedia = { id, filename: safe, mimeType, bytes: req.body, sourceUrl: `${base()}/wp-content/uploads/${id}-${safe}`, postId: null };
      media.push(m);
      return { status: 201, body: mediaJson(m) };
    }
    const mediaGet = /^\/wp-json\/wp\/v2\/media\/(\d+)$/.exec(route);
    if (req.method === "GET" && mediaGet) {
      const m = media.find((x) => x.id === Number(mediaGet[1]));
      return m ? { status: 200, body: mediaJson(m) } : wpError(404, "rest_post_invalid_id", "Invalid post ID.");
    }
    if (req.method === "POST" && route === "/wp-json/wp/v2/posts") {
      const b = (req.json ?? {}) as Record<string, unknown>;
      const title = rendered(b.title);
      if (!title && !rendered(b.content)) return wpError(400, "empty_content", "Content, title, and excerpt are empty.");
      const featured = b.featured_media === undefined ? 0 : Number(b.featured_media);
      if (featured !== 0 && !media.some((m) => m.id === featured)) {
        return wpError(400, "rest_invalid_featured_media", "Invalid featured media ID.");
      }
      const status = typeof b.status === "string" ? b.status : "draft";
      if (!["publish", "future", "draft", "pending", "private"].includes(status)) {
        return wpError(400, "rest_invalid_param", "Invalid parameter(s): status");
      }
      const id = nextId++;
      const slug = typeof b.slug === "string" && b.slug ? b.slug : `post-${id}`;
      const p: FakePost = {
        id,
        title,
        content: rendered(b.content),
        excerpt: rendered(b.excerpt),
        slug,
        status,
        featuredMedia: featured,
        link: status === "publish" ? `${base()}/${slug}/` : `${base()}/?p=${id}`,
      };
      posts.push(p);
      for (const m of media) if (m.id === featured && m.postId === null) m.postId = id;
      return { status: 201, body: postJson(p) };
    }
    if (req.method === "GET" && route === "/wp-json/wp/v2/posts") {
      return { status: 200, headers: { "x-wp-total": String(posts.length), "x-wp-totalpages": "1" }, body: posts.map(postJson) };
    }
    const postGet = /^\/wp-json\/wp\/v2\/posts\/(\d+)$/.exec(route);
    if (req.method === "GET" && postGet) {
      const p = posts.find((x) => x.id === Number(postGet[1]));
      return p ? { status: 200, body: postJson(p) } : wpError(404, "rest_post_invalid_id", "Invalid post ID.");
    }
    return wpError(404, "rest_no_route", "No route was found matching the URL and request method.");
  }, opts);

  const s = server;
  return {
    url: s.url,
    host: s.host,
    port: s.port,
    requests: s.requests,
    close: () => s.close(),
    media,
    posts,
    mediaRequests: () => s.requests.filter((r) => r.path.replace(/\/+$/, "") === "/wp-json/wp/v2/media" && r.method === "POST"),
    postRequests: () => s.requests.filter((r) => r.path.replace(/\/+$/, "") === "/wp-json/wp/v2/posts" && r.method === "POST"),
  };
}
