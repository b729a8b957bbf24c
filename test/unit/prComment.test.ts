/**
 * The preview's comment on the pull request (scripts/pr-comment.ts) against a stand-in for
 * GitHub's API (test/e2e/stand-ins/githubApi.ts): GitHub cannot be reached from tests.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { commentOnPullRequest, marker } from "../../scripts/pr-comment";
import { GitHubApiStandIn, startGitHubApi, TOKEN_USER } from "../e2e/stand-ins/githubApi";

const TOKEN = "ghs_stand-in-token";
let github: GitHubApiStandIn;

before(async () => {
  github = await startGitHubApi(TOKEN);
});

after(() => github.close());

const pr = (number: number, token = TOKEN) => ({ apiUrl: github.url, repository: "school/ai4artsed_webserver", number, token });

test("the first preview of a PR posts the plan; the next push's preview edits that comment, not another", async () => {
  // A long discussion (more than a page of comments), one of them a person quoting the marker.
  const discussion = Array.from({ length: 120 }, (_, i) => ({ id: i + 1, body: `comment ${i + 1}`, user: { login: "teacher", type: "User" as const } }));
  discussion[5].body = `${marker("development")}\nquoted by a person`;
  github.comments.set(11, discussion);
  assert.equal(await commentOnPullRequest(pr(11), "development", "### pulumi preview -s development\nplan 1"), "posted the plan of development on pull request #11");
  assert.equal(await commentOnPullRequest(pr(11), "development", "### pulumi preview -s development\nplan 2"), "updated the plan of development on pull request #11");
  const comments = github.comments.get(11)!;
  assert.equal(comments.length, 121, "one comment added, past the first page");
  assert.equal(comments[5].body, `${marker("development")}\nquoted by a person`, "a person's comment is never edited");
  assert.equal(comments[120].body, `${marker("development")}\n### pulumi preview -s development\nplan 2`);
  assert.deepEqual(comments[120].user, TOKEN_USER);
  // Another stack's plan (a PR retargeted to main) is a comment of its own.
  await commentOnPullRequest(pr(11), "production", "plan of production");
  assert.equal(github.comments.get(11)!.length, 122);
});

test("a token that may not write, or a bad one: no comment, a line that says why and where the plan is", async () => {
  github.readOnly = true;
  try {
    assert.match(await commentOnPullRequest(pr(12), "development", "plan"), /^no comment on the pull request: GitHub answered 403 to the write .*the plan is in the job summary$/);
  } finally {
    github.readOnly = false;
  }
  assert.match(await commentOnPullRequest(pr(12, "wrong"), "development", "plan"), /GitHub answered 401 to the read/);
  assert.equal(github.comments.get(12), undefined);
});
