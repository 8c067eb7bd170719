// Example hunts: queries from the public MDE hunting-query corpus (/work/shared/corpus), kept only
// where they run on Ward's engine as written. Only the query text is stored; results always come
// from the server.
export interface Example {
  name: string;
  source: string;
  query: string;
}

export const examples: Example[] = [];
