// KQL for CodeMirror 6: a stream tokenizer (keywords, tabular operators after `|`, strings including
// @"verbatim", numbers, timespans, comments, table and column names), a highlight style, and a
// completion source fed by GET /api/advancedhunting/schema. The word lists follow what Ward's engine
// accepts (src/kql/parser.cc, binder.cc, functions.cc, aggregates.cc).
import { HighlightStyle, StreamLanguage, syntaxHighlighting, type StreamParser } from "@codemirror/language";
import type { Completion, CompletionContext, CompletionResult } from "@codemirror/autocomplete";
import { tags as t } from "@lezer/highlight";

export interface SchemaColumn {
  Name: string;
  Type: string;
}
export interface SchemaTable {
  Name: string;
  Columns: SchemaColumn[];
}
export interface HuntingSchema {
  Tables: SchemaTable[];
}

// Tabular operators (after `|`), as Ward's parser and binder know them.
export const tabularOperators: [string, string][] = [
  ["where", "Filters rows by a predicate"],
  ["filter", "Same as where"],
  ["project", "Selects and computes columns"],
  ["project-away", "Removes columns"],
  ["project-keep", "Keeps columns"],
  ["project-rename", "Renames columns"],
  ["project-reorder", "Reorders columns"],
  ["extend", "Adds computed columns"],
  ["summarize", "Aggregates rows by keys"],
  ["distinct", "Distinct combinations of columns"],
  ["count", "Counts rows"],
  ["take", "Returns up to N rows"],
  ["limit", "Same as take"],
  ["top", "Top N rows by an expression"],
  ["top-nested", "Hierarchical top"],
  ["sort", "Sorts rows"],
  ["order", "Same as sort"],
  ["join", "Joins with another table"],
  ["lookup", "Extends with columns of a lookup table"],
  ["union", "Rows of several tables"],
  ["mv-expand", "Expands a dynamic array into rows"],
  ["mvexpand", "Same as mv-expand"],
  ["parse", "Extracts columns from a string"],
  ["evaluate", "Runs a plugin (bag_unpack)"],
  ["invoke", "Invokes a tabular function (FileProfile)"],
  ["render", "Charts the result"],
  ["serialize", "Marks the row order as fixed"],
  ["as", "Names the result"],
  ["getschema", "The result's schema"],
  ["search", "Searches for a term"],
];

// Keywords used inside operators and statements.
export const keywords = [
  "let", "by", "on", "kind", "with", "asc", "desc", "nulls", "first", "last", "and", "or", "not", "in", "to",
  "between", "has", "has_cs", "hasprefix", "hassuffix", "has_any", "has_all", "contains", "contains_cs",
  "notcontains", "startswith", "startswith_cs", "endswith", "endswith_cs", "matches", "regex", "true", "false",
  "null", "typeof", "inner", "innerunique", "leftouter", "rightouter", "fullouter", "leftanti", "rightanti",
  "leftsemi", "rightsemi", "anti", "semi", "withsource", "isfuzzy", "print", "range", "step", "datatable",
  "materialize", "toscalar", "view", "set", "find", "project-smart", "bagexpansion", "with_itemindex",
];

export const chartTypes = [
  "timechart", "linechart", "areachart", "columnchart", "barchart", "piechart", "scatterchart", "table",
];

// Scalar functions (functions.cc) and aggregates (aggregates.cc).
export const scalarFunctions = (
  "abs ago array_concat array_index_of array_length array_slice bag_keys bag_pack base64_decode_toarray " +
  "base64_decode_tostring base64_decodestring base64_encode_tostring base64_encodestring bin bin_at case coalesce " +
  "column_ifexists countof datetime_add datetime_diff dayofmonth dayofweek dayofyear endofday endofmonth endofweek " +
  "endofyear exp extract extract_all extractjson floor format_datetime format_timespan getmonth gettype getyear " +
  "hash hash_md5 hash_sha1 hash_sha256 hourofday iff iif indexof ipv4_compare ipv4_is_in_range ipv4_is_private " +
  "isempty isnan isnotempty isnotnull isnull log log10 log2 make_string max_of min_of monthofyear new_guid next " +
  "notempty notnull now pack pack_array parse_csv parse_ipv4 parse_json parse_url parsejson pow prev rand replace " +
  "replace_regex replace_string reverse round row_cumsum row_number set_has_element split sqrt startofday " +
  "startofmonth startofweek startofyear strcat strcat_array strcat_delim strlen substring tobool toboolean " +
  "todatetime todecimal todouble todynamic toguid toint tolong tolower toobject toreal tostring totime totimespan " +
  "toupper trim trim_end trim_start url_decode url_encode url_encode_component datetime timespan dynamic long int " +
  "real double bool string guid"
).split(" ");

export const aggregateFunctions = (
  "count countif dcount dcountif sum sumif avg avgif min minif max maxif arg_max arg_min any take_any make_list " +
  "make_list_if make_set make_set_if make_bag make_bag_if makelist makeset percentile percentiles stdev variance " +
  "count_distinct"
).split(" ");

const functionSet = new Set([...scalarFunctions, ...aggregateFunctions]);
const keywordSet = new Set(keywords);
const operatorSet = new Set(tabularOperators.map(([n]) => n));
const chartSet = new Set(chartTypes);

// Names known from the schema, for highlighting (updated when the schema loads).
const known = { tables: new Set<string>(), columns: new Set<string>() };
export function setHighlightSchema(schema: HuntingSchema): void {
  known.tables = new Set(schema.Tables.map((x) => x.Name));
  known.columns = new Set(schema.Tables.flatMap((x) => x.Columns.map((c) => c.Name)));
}

interface KqlState {
  afterPipe: boolean; // the next word is a tabular operator
  afterRender: boolean; // the next word is a chart type
  inString: null | { quote: string; verbatim: boolean };
}

const timespanUnit = /^(?:days?|d|hours?|hrs?|hr|h|minutes?|min|m|seconds?|sec|s|ms|millis(?:econds?|ec)?|milli|micro(?:s|seconds?|sec)?|ticks?|tick)\b/;

const kqlParser: StreamParser<KqlState> = {
  name: "kql",
  startState: () => ({ afterPipe: false, afterRender: false, inString: null }),
  copyState: (s) => ({ ...s, inString: s.inString ? { ...s.inString } : null }),
  token(stream, state) {
    if (state.inString) {
      const { quote, verbatim } = state.inString;
      while (!stream.eol()) {
        const ch = stream.next();
        if (!verbatim && ch === "\\") {
          stream.next();
          continue;
        }
        if (ch === quote) {
          if (verbatim && stream.peek() === quote) {
            stream.next();
            continue;
          }
          state.inString = null;
          break;
        }
      }
      return "string";
    }
    if (stream.eatSpace()) return null;
    if (stream.match("//")) {
      stream.skipToEnd();
      return "comment";
    }
    // Strings: "…", '…', @"verbatim", h"obfuscated".
    const str = stream.match(/^[@hH]?@?["']/);
    if (str) {
      const text = stream.current();
      state.inString = { quote: text[text.length - 1], verbatim: text.includes("@") };
      state.afterPipe = false;
      return kqlParser.token(stream, state) ?? "string";
    }
    if (stream.match(/^\d+(?:\.\d+)?(?:e[+-]?\d+)?/i)) {
      state.afterPipe = false;
      if (stream.match(timespanUnit)) return "timespan";
      return "number";
    }
    if (stream.match(/^[A-Za-z_$][\w$]*(?:-[A-Za-z]+(?=[\s(|,]|$))?/)) {
      const word = stream.current();
      const wasPipe = state.afterPipe;
      const wasRender = state.afterRender;
      state.afterPipe = false;
      state.afterRender = false;
      if (wasPipe && operatorSet.has(word)) {
        if (word === "render") state.afterRender = true;
        return "operator-name";
      }
      if (wasRender && chartSet.has(word)) return "chart";
      if (!word.includes("-") || !operatorSet.has(word)) {
        // A hyphen is only part of operator names; give it back otherwise.
        if (word.includes("-")) stream.backUp(word.length - word.indexOf("-"));
      }
      const w = stream.current();
      if (w === "let" || keywordSet.has(w)) return "keyword";
      if (functionSet.has(w) && stream.match(/^\s*\(/, false)) return "function";
      if (known.tables.has(w)) return "table";
      if (known.columns.has(w)) return "column";
      return "variable";
    }
    const ch = stream.next()!;
    if (ch === "|") {
      state.afterPipe = true;
      return "pipe";
    }
    if (ch === "[") {
      // ['Name'] bracketed names are left to the string rule.
      return "bracket";
    }
    if ("(){},;".includes(ch)) return "punctuation";
    if ("=!<>~+-*/%.:".includes(ch)) {
      stream.eatWhile(/[=!<>~]/);
      return "operator";
    }
    return null;
  },
  tokenTable: {
    "operator-name": t.controlKeyword,
    chart: t.atom,
    timespan: t.unit,
    function: t.function(t.variableName),
    table: t.typeName,
    column: t.propertyName,
    variable: t.variableName,
    pipe: t.separator,
    bracket: t.squareBracket,
    punctuation: t.punctuation,
  },
  languageData: { commentTokens: { line: "//" } },
};

// A fresh language instance re-tokenizes the document (used when the schema's names arrive).
export const makeKqlLanguage = () => StreamLanguage.define(kqlParser);

export const kqlHighlight = syntaxHighlighting(
  HighlightStyle.define([
    { tag: t.controlKeyword, color: "#1d4ed8", fontWeight: "600" },
    { tag: t.keyword, color: "#7c3aed" },
    { tag: t.atom, color: "#b45309", fontWeight: "600" },
    { tag: t.string, color: "#b91c1c" },
    { tag: t.number, color: "#047857" },
    { tag: t.unit, color: "#047857", fontStyle: "italic" },
    { tag: t.comment, color: "#64748b", fontStyle: "italic" },
    { tag: t.function(t.variableName), color: "#0e7490" },
    { tag: t.typeName, color: "#9d174d", fontWeight: "600" },
    { tag: t.propertyName, color: "#1e3a8a" },
    { tag: t.separator, color: "#475569", fontWeight: "700" },
    { tag: t.operator, color: "#475569" },
  ]),
);

// ---- completion

// The text of the statement the cursor is in, without strings and comments (so `|` or `;` inside
// them do not confuse the context).
function scrub(text: string): string {
  return text
    .replace(/\/\/[^\n]*/g, (m) => " ".repeat(m.length))
    .replace(/@?"(?:[^"\\\n]|\\.)*"?|@?'(?:[^'\\\n]|\\.)*'?/g, (m) => `"${" ".repeat(Math.max(0, m.length - 2))}"`.slice(0, m.length));
}

// Tables a query refers to: schema table names among its words (and `let` names bound to them are
// covered by the same scan).
export function referencedTables(query: string, schema: HuntingSchema): SchemaTable[] {
  const words = new Set(scrub(query).match(/[A-Za-z_]\w*/g) ?? []);
  return schema.Tables.filter((x) => words.has(x.Name));
}

const commonOps = new Set(["where", "project", "extend", "summarize", "join", "take", "top", "sort", "order", "render", "distinct", "union", "count"]);
const opCompletions: Completion[] = tabularOperators.map(([label, info]) => ({ label, type: "keyword", info, boost: commonOps.has(label) ? 3 : 1 }));
const fnCompletions: Completion[] = [
  ...aggregateFunctions.map((label) => ({ label, type: "function", detail: "aggregate", apply: `${label}(` })),
  ...scalarFunctions.map((label) => ({ label, type: "function", apply: `${label}(` })),
];
const kwCompletions: Completion[] = keywords.map((label) => ({ label, type: "keyword", boost: -1 }));
const chartCompletions: Completion[] = chartTypes.map((label) => ({ label, type: "enum", boost: 3 }));

export function kqlCompletions(getSchema: () => HuntingSchema | undefined) {
  return (ctx: CompletionContext): CompletionResult | null => {
    const word = ctx.matchBefore(/[\w-]*/);
    if (!word) return null;
    if (word.from === word.to && !ctx.explicit) {
      // Only open on a fresh word right after `|` or a space following an operator.
      const before = ctx.state.sliceDoc(Math.max(0, ctx.pos - 2), ctx.pos);
      if (!/\|\s?$/.test(before)) return null;
    }
    const full = ctx.state.doc.toString();
    const text = scrub(ctx.state.sliceDoc(0, word.from));
    // Inside a string or comment: nothing.
    const raw = ctx.state.sliceDoc(0, word.from);
    if (scrub(raw + "X").slice(-1) !== "X") return null;
    const stmtStart = text.lastIndexOf(";") + 1;
    const stmt = text.slice(stmtStart);
    const trimmed = stmt.replace(/\s+$/, "");
    const last = trimmed.slice(-1);
    const prevWord = (trimmed.match(/([A-Za-z_][\w-]*)$/) ?? [])[1] ?? "";
    const schema = getSchema();
    const tableOptions: Completion[] = (schema?.Tables ?? []).map((x) => ({ label: x.Name, type: "class", detail: "table", boost: 3 }));
    const lets = [...full.matchAll(/\blet\s+([A-Za-z_]\w*)\s*=/g)].map((m) => ({ label: m[1], type: "variable", detail: "let" }));

    let options: Completion[];
    if (last === "|") {
      options = opCompletions;
    } else if (prevWord === "render") {
      options = chartCompletions;
    } else if (
      trimmed === "" ||
      /\blet\s+[A-Za-z_]\w*\s*=$/.test(trimmed) ||
      /\b(union|join|lookup)(\s+kind\s*=\s*\w+)?$/.test(trimmed) ||
      /\b(union|join|lookup)(\s+kind\s*=\s*\w+)?\s*\($/.test(trimmed) ||
      (prevWord === "" && /\b(union)\b[^|]*,$/.test(trimmed))
    ) {
      options = [...tableOptions, ...lets, { label: "let", type: "keyword" }, { label: "print", type: "keyword" }, { label: "range", type: "keyword" }];
    } else {
      const refs = schema ? referencedTables(full, schema) : [];
      const seen = new Map<string, Completion>();
      for (const tbl of refs) {
        for (const c of tbl.Columns) {
          if (!seen.has(c.Name)) seen.set(c.Name, { label: c.Name, type: "property", detail: c.Type, boost: 2 });
        }
      }
      // Columns the query defines (extend X = …, summarize N = …, project Y = …).
      for (const m of scrub(full).matchAll(/(?:[,(]|\b(?:extend|project|summarize|by))\s*([A-Za-z_]\w*)\s*=(?![=~])/g)) {
        if (!seen.has(m[1])) seen.set(m[1], { label: m[1], type: "property", detail: "computed", boost: 1 });
      }
      if (/\b(count|summarize)\b[^|]*$/.test(stmt) && !seen.has("count_")) seen.set("count_", { label: "count_", type: "property", detail: "computed" });
      options = [...seen.values(), ...fnCompletions, ...kwCompletions, ...lets];
      if (!refs.length) options.push(...tableOptions);
    }
    return { from: word.from, options, validFor: /^[\w-]*$/ };
  };
}
