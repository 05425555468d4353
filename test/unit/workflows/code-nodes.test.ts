import { describe, expect, it } from "vitest";
import { keywordVariations } from "../../fakes/openai.js";
import { codeOf, runCodeNode, type Item } from "./helpers.js";

const ENRICH = codeOf("WF1_seed_expansion.json", "Enrich keywords");
const CLUSTER = codeOf("WF2_clustering.json", "Build clusters");

/** What the OpenAI node (text → message, JSON output) hands on for each seed. */
function openAiAnswer(content: unknown): Item {
  return { json: { index: 0, message: { role: "assistant", content }, finish_reason: "stop" } };
}

interface Row {
  seed_id: number;
  keyword: string;
  intent: string;
  difficulty: number;
  language: string;
  word_count: number;
}

function enrich(seeds: { id: number; keyword: string; language: string }[], answers: unknown[], executionId = "42") {
  const out = runCodeNode(ENRICH, {
    input: answers.map(openAiAnswer),
    nodes: { "Read seeds": seeds.map((s) => ({ json: s })) },
    executionId,
  });
  expect(out).toHaveLength(1);
  return out[0]!.json as { batch: string; seeds: { id: number; variations: number }[]; rows: Row[] };
}

function cluster(rows: Row[], batch = "42") {
  const input = rows.map((r, i) => ({ json: { id: i + 1, batch, ...r } }));
  const out = runCodeNode(CLUSTER, { input });
  return out[0]?.json as { batch: string; clusters: { position: number; seed_id: number; label: string; keywords: string[]; keyword_ids: number[] }[] } | undefined;
}

describe("WF1 'Enrich keywords' (Code node as shipped)", () => {
  it("turns 220 variations of one seed into 220 rows of one batch", () => {
    const r = enrich([{ id: 7, keyword: "running shoes", language: "en" }], [{ variations: keywordVariations("running shoes", 220) }]);
    expect(r.batch).toBe("42");
    expect(r.rows).toHaveLength(220);
    expect(r.seeds).toEqual([{ id: 7, keyword: "running shoes", variations: 220 }]);
    expect(new Set(r.rows.map((x) => x.keyword)).size).toBe(220);
    for (const row of r.rows) {
      expect(row.seed_id).toBe(7);
      expect(row.language).toBe("en");
      expect(["informational", "commercial", "transactional", "navigational"]).toContain(row.intent);
      expect(row.difficulty).toBeGreaterThanOrEqual(5);
      expect(row.difficulty).toBeLessThanOrEqual(95);
      expect(row.word_count).toBe(row.keyword.split(" ").length);
    }
  });

  it("classifies search intent from cue words", () => {
    const r = enrich(
      [{ id: 1, keyword: "tents", language: "en" }],
      [{ variations: ["buy tents online", "best tents 2025", "how to pitch a tent", "tents official website", "tents vs tarps"] }],
    );
    expect(Object.fromEntries(r.rows.map((x) => [x.keyword, x.intent]))).toEqual({
      "buy tents online": "transactional",
      "best tents 2025": "commercial",
      "how to pitch a tent": "informational",
      "tents official website": "navigational",
      "tents vs tarps": "commercial",
    });
  });

  it("rates long-tail queries easier than head terms", () => {
    const r = enrich([{ id: 1, keyword: "tents", language: "en" }], [{ variations: ["tents", "how to choose a tent for a family of five"] }]);
    const d = Object.fromEntries(r.rows.map((x) => [x.keyword, x.difficulty]));
    expect(d["tents"]).toBeGreaterThan(d["how to choose a tent for a family of five"]! + 30);
  });

  it("normalises, de-duplicates and accepts a JSON string or a bare array", () => {
    const r = enrich(
      [
        { id: 1, keyword: "vélo", language: "fr" },
        { id: 2, keyword: "tents", language: "en" },
      ],
      [JSON.stringify({ variations: ["  Vélo  Électrique?", "vélo électrique", "“prix vélo”"] }), ["Tents", { keyword: "tent stakes" }]],
    );
    expect(r.rows.map((x) => [x.seed_id, x.keyword, x.language])).toEqual([
      [1, "vélo électrique", "fr"],
      [1, "prix vélo", "fr"],
      [2, "tents", "en"],
      [2, "tent stakes", "en"],
    ]);
    expect(r.rows[1]!.intent).toBe("transactional");
  });

  it("fails the execution when OpenAI gave nothing usable for a seed", () => {
    expect(() => enrich([{ id: 1, keyword: "tents", language: "en" }], ["not json"])).toThrow(/no keyword variations for seed "tents"/);
  });
});

describe("WF2 'Build clusters' (Code node as shipped)", () => {
  const rows = enrich([{ id: 7, keyword: "running shoes", language: "en" }], [{ variations: keywordVariations("running shoes", 220) }]).rows;

  it("groups ~200 keywords of a seed into 60 clusters of exactly 3 distinct keywords", () => {
    const r = cluster(rows)!;
    expect(r.batch).toBe("42");
    expect(r.clusters).toHaveLength(60);
    expect(r.clusters.map((c) => c.position)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const all = r.clusters.flatMap((c) => c.keyword_ids);
    expect(all).toHaveLength(180);
    expect(new Set(all).size).toBe(180);
    for (const c of r.clusters) {
      expect(c.keywords).toHaveLength(3);
      expect(c.keyword_ids).toHaveLength(3);
      expect(c.label).toBe(c.keywords[0]);
      expect(c.seed_id).toBe(7);
    }
  });

  it("puts keywords sharing words together", () => {
    const r = cluster(rows)!;
    const shared = (c: { keywords: string[] }): number => {
      const [a, b, d] = c.keywords.map((k) => new Set(k.split(" ").filter((w) => !["running", "shoes"].includes(w))));
      return [...a!].filter((w) => b!.has(w) || d!.has(w)).length;
    };
    // every cluster's primary keyword shares at least one non-seed word with a mate
    expect(r.clusters.filter((c) => shared(c) === 0)).toEqual([]);
  });

  it("is deterministic", () => {
    expect(cluster(rows)).toEqual(cluster([...rows]));
  });

  it("clusters each seed separately", () => {
    const two = enrich(
      [
        { id: 1, keyword: "tents", language: "en" },
        { id: 2, keyword: "kayaks", language: "en" },
      ],
      [{ variations: keywordVariations("tents", 30) }, { variations: keywordVariations("kayaks", 31) }],
    ).rows;
    const r = cluster(two)!;
    expect(r.clusters.filter((c) => c.seed_id === 1)).toHaveLength(10);
    expect(r.clusters.filter((c) => c.seed_id === 2)).toHaveLength(10);
    for (const c of r.clusters) expect(c.keywords.every((k) => k.includes(c.seed_id === 1 ? "tents" : "kayaks"))).toBe(true);
  });

  it("outputs nothing for an empty batch and nothing below 3 keywords", () => {
    expect(runCodeNode(CLUSTER, { input: [] })).toEqual([]);
    expect(cluster(rows.slice(0, 2))!.clusters).toEqual([]);
  });
});
