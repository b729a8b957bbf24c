/**
 * A stand-in for GitHub's REST API, the part the preview's PR comment uses (list, post and edit an
 * issue's comments, a page at a time): GitHub cannot be reached from tests. It keeps the comments
 * in memory, checks the token, and answers 403 to writes when told the token may not write.
 */
import * as http from "http";
import { AddressInfo } from "net";

export interface StandInComment {
  id: number;
  body: string;
  /** Who wrote it: the workflow's token writes as a bot. */
  user: { login: string; type: "Bot" | "User" };
}

/** The author of what the token writes, as GitHub names the workflow's token. */
export const TOKEN_USER = { login: "github-actions[bot]", type: "Bot" } as const;

export interface GitHubApiStandIn {
  /** What to set GITHUB_API_URL to. */
  readonly url: string;
  /** Comments by pull request number. */
  readonly comments: Map<number, StandInComment[]>;
  /** Each request: method and path. */
  readonly requests: string[];
  readOnly: boolean;
  close(): Promise<void>;
}

export async function startGitHubApi(token: string): Promise<GitHubApiStandIn> {
  const comments = new Map<number, StandInComment[]>();
  const requests: string[] = [];
  let nextId = 1000;
  const state = { readOnly: false };
  const server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const { pathname, searchParams } = new URL(request.url!, "http://stand-in");
      requests.push(`${request.method} ${pathname}`);
      const answer = (status: number, value: unknown) => response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
      if (request.headers.authorization !== `Bearer ${token}`) return answer(401, { message: "Bad credentials" });
      const list = pathname.match(/^\/repos\/[^/]+\/[^/]+\/issues\/(\d+)\/comments$/);
      const edit = pathname.match(/^\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/);
      if (list && request.method === "GET") {
        const perPage = Number(searchParams.get("per_page") ?? 30);
        const page = Number(searchParams.get("page") ?? 1);
        return answer(200, (comments.get(Number(list[1])) ?? []).slice((page - 1) * perPage, page * perPage));
      }
      if (state.readOnly && request.method !== "GET") return answer(403, { message: "Resource not accessible by integration" });
      if (list && request.method === "POST") {
        const comment: StandInComment = { id: nextId++, body: JSON.parse(body).body, user: { ...TOKEN_USER } };
        comments.set(Number(list[1]), [...(comments.get(Number(list[1])) ?? []), comment]);
        return answer(201, comment);
      }
      const found = edit && [...comments.values()].flat().find((c) => c.id === Number(edit[1]));
      if (found && request.method === "PATCH") {
        found.body = JSON.parse(body).body;
        return answer(200, found);
      }
      answer(404, { message: "Not Found" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    comments,
    requests,
    get readOnly() {
      return state.readOnly;
    },
    set readOnly(value: boolean) {
      state.readOnly = value;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
