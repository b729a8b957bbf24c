/**
 * The preview's plan as a comment on the pull request (scripts/ci.sh preview calls it): one
 * comment per stack, updated on each push to the PR rather than added again. It reads the text
 * from stdin and GitHub's variables from the environment (GITHUB_API_URL, GITHUB_REPOSITORY, and
 * GITHUB_TOKEN, PR_NUMBER from the workflow). Where the token may not write to the pull request
 * (no pull-requests: write), it says so and leaves the plan in the job summary: the job does
 * not fail for a comment.
 */

/** Marks the comment this script owns, per stack. */
export function marker(stack: string): string {
  return `<!-- ai4artsed-preview:${stack} -->`;
}

export interface PullRequest {
  /** https://api.github.com, or a GitHub Enterprise server's /api/v3. */
  readonly apiUrl: string;
  /** owner/name */
  readonly repository: string;
  readonly number: number;
  readonly token: string;
}

const PER_PAGE = 100;
const MAX_PAGES = 30;

interface PullRequestComment {
  readonly id: number;
  readonly body?: string;
  readonly user?: { login?: string; type?: string };
}

/** Post or update the stack's comment; what happened, in one line. */
export async function commentOnPullRequest(pr: PullRequest, stack: string, text: string): Promise<string> {
  const headers = { authorization: `Bearer ${pr.token}`, accept: "application/vnd.github+json", "content-type": "application/json", "x-github-api-version": "2022-11-28" };
  const api = (path: string, init: RequestInit = {}) => fetch(`${pr.apiUrl}/repos/${pr.repository}${path}`, { ...init, headers, signal: AbortSignal.timeout(30_000) });
  const body = JSON.stringify({ body: `${marker(stack)}\n${text}` });
  // Every page of the PR's comments: a long discussion has more than one.
  const comments: PullRequestComment[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const listed = await api(`/issues/${pr.number}/comments?per_page=${PER_PAGE}&page=${page}`);
    if (!listed.ok) return refused(listed.status, "read");
    const batch = (await listed.json()) as PullRequestComment[];
    comments.push(...batch);
    if (batch.length < PER_PAGE) break;
  }
  // Ours: the marker, written by a bot (the workflow's token), never a person's comment that quotes it.
  const existing = comments.filter((c) => c.body?.startsWith(marker(stack)) && c.user?.type === "Bot").pop();
  const written = existing
    ? await api(`/issues/comments/${existing.id}`, { method: "PATCH", body })
    : await api(`/issues/${pr.number}/comments`, { method: "POST", body });
  if (!written.ok) return refused(written.status, "write");
  return `${existing ? "updated" : "posted"} the plan of ${stack} on pull request #${pr.number}`;
}

function refused(status: number, what: string): string {
  return `no comment on the pull request: GitHub answered ${status} to the ${what} (a token without pull-requests: write); the plan is in the job summary`;
}

async function main(): Promise<void> {
  const stack = process.argv[2];
  const { GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN, PR_NUMBER } = process.env;
  if (!stack) throw new Error("usage: pr-comment.ts <stack> <plan.md");
  if (!GITHUB_TOKEN || !PR_NUMBER || !GITHUB_REPOSITORY) {
    console.log("[ci] no comment on the pull request: GITHUB_TOKEN or PR_NUMBER not set (the workflow sets both)");
    return;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const pr = { apiUrl: GITHUB_API_URL ?? "https://api.github.com", repository: GITHUB_REPOSITORY, number: Number(PR_NUMBER), token: GITHUB_TOKEN };
  const said = await commentOnPullRequest(pr, stack, Buffer.concat(chunks).toString()).catch(
    (err: Error) => `no comment on the pull request: GitHub's API did not answer (${err.message}); the plan is in the job summary`,
  );
  console.log(said.startsWith("no comment") ? `::warning title=PR comment::${said}` : `[ci] ${said}`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(`[ci] ${err.message}`);
    process.exitCode = 2;
  });
}
