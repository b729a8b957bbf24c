import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";

/**
 * A random secret made once and kept in state as a secret: the program's own stand-in for
 * random.RandomPassword where the random provider plugin cannot be installed (`providers: builtin`).
 */
export const generatedSecretProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: { bytes: number }) {
    return { id: "generated-secret", outs: { bytes: inputs.bytes, result: crypto.randomBytes(inputs.bytes).toString("hex") } };
  },
  async diff(_id: string, olds: { bytes: number }, news: { bytes: number }) {
    return { changes: olds.bytes !== news.bytes, replaces: olds.bytes !== news.bytes ? ["bytes"] : [] };
  },
};

export class GeneratedSecret extends pulumi.dynamic.Resource {
  declare public readonly result: pulumi.Output<string>;

  constructor(name: string, args: { bytes: number }, opts: pulumi.CustomResourceOptions = {}) {
    super(generatedSecretProvider, name, { ...args, result: undefined }, { ...opts, additionalSecretOutputs: ["result"] }, "ai4artsed", "GeneratedSecret");
  }
}
