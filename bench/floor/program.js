// The least a Pulumi program does: load the SDK, read its config, register no resource. With
// floor:fail set it stops at once with a user-facing error rendered as its message, as the real
// program's config errors are (index.ts, UserError).
"use strict";
const util = require("util");
const pulumi = require("@pulumi/pulumi");

class UserError extends pulumi.RunError {
  [util.inspect.custom]() {
    return this.message;
  }
}

module.exports = async () => {
  if (new pulumi.Config().getBoolean("fail")) throw new UserError("floor:fail is set");
  return {};
};
